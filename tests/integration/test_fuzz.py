"""Malformed messages and chunks to every method of every service of a running operator
node: never INTERNAL (or UNKNOWN, or a hang), never a traceback in its log, and the node
still serves afterwards. Calls name an approved job bound to an alignment, a job with
logistic regression set up, a job with SecureBoost set up, and an open PSI session, so
they get past "no such job" into the handlers; damaged copies of well-formed payloads
(labels, ciphertexts, gradients, node totals) reach the decoders."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from models.secureboost.params import BoostParams
from protocol.binning import serde as binning_serde
from protocol.binning.messages import LABELS_KIND, BinSumsParams
from protocol.binning.party import encrypt_labels
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.crypto.paillier_keys import generate_keypair
from protocol.domain import Split, StreamHeader
from protocol.errors import PeerCallError
from protocol.evaluation import serde as evaluation_serde
from protocol.evaluation.messages import VALUES_KIND, EvaluationParams, ScoreKind
from protocol.evaluation.party import encrypt_rows
from protocol.hetero_lr import messages as m
from protocol.hetero_lr import serde as lr_serde
from protocol.hetero_lr.party import PRODUCT_BITS, SCALE_BITS, LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.ids import new_hex_id
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.proto.duet.v1 import (
    binning_pb2,
    common_pb2,
    evaluation_pb2,
    hetero_lr_pb2,
    secureboost_pb2,
)
from protocol.psi.group import SUITE
from protocol.psi.messages import PsiMode, PsiOpen
from protocol.psi.service import open_session
from protocol.scoring import serde as scoring_serde
from protocol.scoring.consent import ConsentRecord, sign_consent
from protocol.scoring.messages import ScoreQuery
from protocol.secureboost import serde as sbt_serde
from protocol.secureboost.bank_party import BankSbtParty
from protocol.secureboost.service import SecureBoostClient
from protocol.serde import chunk_header_to_proto
from protocol.session.service import handshake
from protocol.transport import health_check
from protocol.version import local_hello
from tests.fuzz import Case, Fuzzer, call, cases, methods, services
from tests.joint import joint_setup
from tests.nodes import Pki

BOUND = "f022f022f022f022"  # approved and bound, nothing else done
LR = "f0221a2bf0221a2b"  # bound, logistic regression set up
PSI = "f0225e55f0225e55"  # approved PSI job with an open session
SBT = "f022b005f022b005"  # bound, SecureBoost set up
SBT_FRESH = "f022b00ef022b00e"  # a bound SecureBoost job, not set up
OPERATOR_COLUMNS = 20  # the operator's o_* columns of breast
CASES_PER_METHOD = 40
TIMEOUT_S = 20.0
BAD = ("INTERNAL", "UNKNOWN", "DEADLINE_EXCEEDED")
HYPER = LrHyper()
SETUP, FORWARD, SIGMOID = (
    f"duet.v1.HeteroLr.{name}" for name in ("Setup", "Forward", "Sigmoid")
)


@dataclass
class Target:
    channel: grpc.Channel
    session_id: str
    bound_train_rows: int
    lr: BankLrDriver
    lr_positions: dict[Split, np.ndarray]
    setup: m.LrSetup  # well-formed, for BOUND
    sbt: BankSbtParty  # SBT's bank side, set up
    sbt_client: SecureBoostClient  # SBT's, set up
    sbt_fresh: BankSbtParty  # SBT_FRESH's bank side, not set up


def _bind(
    ctx, channel: grpc.Channel, job_id: str, model: str = "hetero_lr"
) -> tuple[np.ndarray, np.ndarray]:
    dataset = ctx.dataset("customers")
    jobs = JobsClient(channel, 30)
    jobs.propose(JobProposal(job_id, "credit_risk", ("o_*",), model, 569, 128))
    psi = run_psi(
        ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=job_id
    )
    assert psi.alignment is not None
    rows = psi.alignment.local_rows
    validation = validation_mask(dataset.label[rows], SplitSection(0.3, 42), rows)
    jobs.bind(JobBinding(job_id, psi.alignment.alignment_id, validation))
    return rows, validation


@pytest.fixture(scope="module")
def target(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = Path(tmp_path_factory.mktemp("fuzz"))
    with joint_setup(root, pki, policy={"max_jobs_per_day": 1000}) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            _, bound_validation = _bind(ctx, channel, BOUND)
            rows, validation = _bind(ctx, channel, LR)
            x = dataset.features.iloc[rows].to_numpy()
            positions = split_positions(validation)
            settings = LrSettings(epochs=1, batch_size=128, hyper=HYPER, min_batch=64)
            driver = BankLrDriver(
                HeteroLrClient(channel, 60), LR, np.c_[x, np.ones(len(x))],
                dataset.label[rows], positions, [0, 1, 2], settings,
            )  # fmt: skip
            setup_request = m.LrSetup(
                BOUND, CkksContext.create(PRECISE, galois_keys=False).public_bytes(),
                x.shape[1] + 1, (0, 1, 2), HYPER.learning_rate, HYPER.optimizer,
                HYPER.momentum, HYPER.lr_decay, HYPER.l2, 128, HYPER.terms,
                HYPER.fit_range, HYPER.period, 0.0,
            )  # fmt: skip
            JobsClient(channel, 30).propose(
                JobProposal(PSI, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            opened = open_session(
                channel, PsiOpen(PsiMode.BOTH, 100, SUITE, job_id=PSI), 30
            )
            sbt_bank = _sbt_bank(ctx, channel, SBT)
            sbt_client = SecureBoostClient(channel, SBT, 60, 1 << 20)
            sbt_bank.accept_setup(sbt_client.setup(sbt_bank.setup_request()))
            yield Target(
                channel,
                opened.session_id,
                int((~bound_validation).sum()),
                driver,
                positions,
                setup_request,
                sbt_bank,
                sbt_client,
                _sbt_bank(ctx, channel, SBT_FRESH),
            )


def _sbt_bank(ctx, channel: grpc.Channel, job_id: str) -> BankSbtParty:
    """A bound SecureBoost job's bank side (the operator's job columns: o_*)."""
    dataset = ctx.dataset("customers")
    rows, validation = _bind(ctx, channel, job_id, "secureboost")
    x = dataset.features.iloc[rows].to_numpy(dtype=float)
    y = dataset.label[rows]
    positions = split_positions(validation)
    train, valid = positions[Split.TRAIN], positions[Split.VALIDATION]
    _, private_key = generate_keypair(2048)
    return BankSbtParty(
        job_id, x[train], y[train], BoostParams(n_trees=2, min_operator_rows=64),
        private_key, names=tuple(dataset.features.columns),
        operator_features=tuple(range(OPERATOR_COLUMNS)),
        validation=(x[valid], y[valid]),
    )  # fmt: skip


SERVICES = {s.full_name: s for s in services()}


def _assert_still_serving(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    assert health_check(target.channel, 10) == "SERVING"
    assert handshake(target.channel, local_hello("bank-a"), "operator", 10)


def _send(target: Target, method: str, messages: list[Message]) -> tuple[str, str]:
    descriptor = next(
        d for s in SERVICES.values() for d in s.methods if d.full_name == method
    )
    case = Case(descriptor, "mutated", [x.SerializeToString() for x in messages])
    return call(target.channel, case, TIMEOUT_S)


def test_bin_sums_never_answers_internal_if_the_upload_is_damaged(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: a well-formed upload for the bound job, then damaged copies of it.
    fuzzer = Fuzzer(seed=11)
    public, private = generate_keypair(2048)
    labels = np.zeros(target.bound_train_rows, dtype=np.int64)
    payload = common_pb2.Chunk(
        data=binning_serde.vector_to_bytes(encrypt_labels(private, labels))
    )
    params = binning_serde.params_to_proto(
        BinSumsParams(BOUND, public, (0, 1), 5, "quantile")
    )
    # Execute
    outcomes = []
    for _ in range(CASES_PER_METHOD):
        request, damaged = fuzzer.mutate(params), fuzzer.mutate(payload)
        header = StreamHeader(LABELS_KIND, len(damaged.data), BOUND)
        outcomes.append(
            _send(
                target,
                "duet.v1.Binning.BinSums",
                [
                    binning_pb2.BinSumsUpload(request=request),
                    binning_pb2.BinSumsUpload(labels=chunk_header_to_proto(header)),
                    binning_pb2.BinSumsUpload(labels=damaged),
                ],
            )
        )
    # Assert
    assert not [o for o in outcomes if o[0] in BAD], outcomes
    codes = [code for code, _ in outcomes]
    first_ok = codes.index("OK") if "OK" in codes else len(codes)
    assert "FAILED_PRECONDITION" not in codes[:first_ok], outcomes
    _assert_still_serving(target, caplog)


def test_evaluation_never_answers_internal_if_the_upload_is_damaged(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: a well-formed upload of the LR job's validation split (its model
    # offers evaluations; its weights are not revealed, so a well-formed request is
    # refused only after its ciphertexts were read), then damaged copies of it.
    fuzzer = Fuzzer(seed=13)
    public, private = generate_keypair(2048)
    rows = len(target.lr_positions[Split.VALIDATION])
    values = encrypt_rows(
        private, np.zeros(rows, dtype=np.int64), np.zeros(rows), ScoreKind.PARTIAL
    )
    payload = common_pb2.Chunk(data=evaluation_serde.vector_to_bytes(values))
    params = evaluation_serde.params_to_proto(
        EvaluationParams(LR, Split.VALIDATION, 0, ScoreKind.PARTIAL, public, rows)
    )
    # Execute
    outcomes = []
    for _ in range(CASES_PER_METHOD):
        request, damaged = fuzzer.mutate(params), fuzzer.mutate(payload)
        header = StreamHeader(VALUES_KIND, len(damaged.data), LR)
        outcomes.append(
            _send(
                target,
                "duet.v1.Evaluation.Evaluate",
                [
                    evaluation_pb2.EvaluateUpload(request=request),
                    evaluation_pb2.EvaluateUpload(values=chunk_header_to_proto(header)),
                    evaluation_pb2.EvaluateUpload(values=damaged),
                ],
            )
        )
    # Assert
    assert not [o for o in outcomes if o[0] in BAD], outcomes
    assert {code for code, _ in outcomes} <= {
        "INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND", "PERMISSION_DENIED"
    }, outcomes  # fmt: skip
    _assert_still_serving(target, caplog)


def _forward(target: Target, rows: list[int]) -> m.LrForward:
    """A well-formed training Forward of the LR job (nothing pending)."""
    party = target.lr.party
    party.start(target.lr_positions[Split.TRAIN][rows])
    return m.LrForward(LR, 0, Split.TRAIN, tuple(rows), party.masked_logits(), (), 0)


def _valid_sigmoid(target: Target, request: hetero_lr_pb2.LrSigmoidRequest) -> bool:
    """Would the operator accept this Sigmoid? The right job and count of harmonics,
    each a valid ciphertext under the bank's key (a flipped bit in a ciphertext can
    leave it valid: nobody could tell)."""
    party = target.lr.party
    if request.job_id != LR or len(request.bank_harmonics) != 2 * party.series.terms:
        return False
    try:
        for blob in request.bank_harmonics:
            party.exact.load(blob, scale_bits=SCALE_BITS)
    except ValueError:
        return False
    return True


def test_hetero_lr_never_answers_internal_if_its_inputs_are_damaged(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: damaged copies of well-formed Setup (for the bound job) and Sigmoid
    # requests, and Forward requests with damaged logits, each sent while the job is
    # in the phase that accepts it; damaged copies that are still valid are skipped.
    fuzzer = Fuzzer(seed=5)
    client = HeteroLrClient(target.channel, 60)
    party = target.lr.party
    setups: list[tuple[str, str]] = []
    forwards: list[tuple[str, str]] = []
    sigmoids: list[tuple[str, str]] = []
    setup = lr_serde.setup_to_proto(target.setup)
    # Execute
    for _ in range(CASES_PER_METHOD):
        setups.append(_send(target, SETUP, [fuzzer.mutate(setup)]))
    forward = lr_serde.forward_to_proto(_forward(target, list(range(128))))
    for _ in range(CASES_PER_METHOD):
        bad = hetero_lr_pb2.LrForwardRequest()
        bad.CopyFrom(forward)
        bad.bank_logits = fuzzer.damaged(forward.bank_logits)
        try:
            party.peer_exact.load(bad.bank_logits, scale_bits=PRODUCT_BITS)
        except ValueError:
            forwards.append(_send(target, FORWARD, [bad]))
    logits = client.forward(lr_serde.forward_from_proto(forward)).operator_logits
    sigmoid = m.LrSigmoid(LR, tuple(party.sigmoid_request(logits)))
    for _ in range(CASES_PER_METHOD):
        bad = fuzzer.mutate(lr_serde.sigmoid_to_proto(sigmoid))
        if not _valid_sigmoid(target, bad):
            sigmoids.append(_send(target, SIGMOID, [bad]))
    try:  # refused inputs changed no state: the well-formed call still works
        after = "OK" if client.sigmoid(sigmoid).masked_sigmoid else "empty"
    except PeerCallError as exc:
        after = f"{exc.code}: {exc.details}"
    # Assert
    assert not [o for o in setups if o[0] in BAD], setups
    assert len(forwards) >= CASES_PER_METHOD // 2
    assert {code for code, _ in forwards} == {"INVALID_ARGUMENT"}, forwards
    assert len(sigmoids) >= CASES_PER_METHOD // 2
    assert not [o for o in sigmoids if o[0] in (*BAD, "OK")], sigmoids
    assert after == "OK"
    _assert_still_serving(target, caplog)


def test_secureboost_never_answers_internal_if_its_inputs_are_damaged(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: damaged copies of a well-formed Setup (for the job not set up), of the
    # first tree's gradients upload and of its root histogram request (for the job set
    # up), each sent while the job is in the phase that accepts it.
    fuzzer = Fuzzer(seed=12)
    outcomes: list[tuple[str, int, str, str]] = []
    bank = target.sbt
    client = target.sbt_client

    def damaged(method: str, make: Callable[[], list[Message]]) -> None:
        for i in range(CASES_PER_METHOD):
            sent = _send(target, f"duet.v1.SecureBoost.{method}", make())
            outcomes.append((method, i, *sent))

    setup = sbt_serde.setup_to_proto(target.sbt_fresh.setup_request())
    bank.start_round()
    bank.start_tree()
    gradients = bank.tree_gradients()
    assert gradients is not None
    train_rows = bank.setup_request().train_rows
    upload = list(sbt_serde.gradients_to_proto(SBT, gradients, train_rows, 1 << 20))
    head, header, *data = upload

    def damaged_upload() -> list[Message]:
        if fuzzer.rng.random() < 0.5:
            tree = secureboost_pb2.SbtGradientsUpload(tree=fuzzer.mutate(head.tree))
            return [tree, header, *data]
        chunk = fuzzer.rng.randrange(len(data))
        bad = secureboost_pb2.SbtGradientsUpload(
            gradients=fuzzer.mutate(data[chunk].gradients)
        )
        return [head, header, *data[:chunk], bad, *data[chunk + 1 :]]

    # Execute
    damaged("Setup", lambda: [fuzzer.mutate(setup)])
    damaged("Gradients", damaged_upload)
    try:  # a damaged upload may have been well-formed after all
        client.accept_gradients(gradients)
    except PeerCallError as exc:
        assert exc.code == "FAILED_PRECONDITION", exc
    request = bank.histogram_request()
    assert request is not None
    root = sbt_serde.histogram_request_to_proto(SBT, request)

    def damaged_histograms() -> list[Message]:
        msg = secureboost_pb2.SbtHistogramRequest()
        msg.CopyFrom(root)
        node = fuzzer.rng.randrange(len(msg.nodes))
        msg.nodes[node].CopyFrom(fuzzer.mutate(msg.nodes[node]))
        return [fuzzer.mutate(msg) if fuzzer.rng.random() < 0.3 else msg]

    damaged("Histograms", damaged_histograms)
    # Assert
    bad = [o for o in outcomes if o[2] in BAD]
    assert not bad, "\n".join(map(str, bad))
    assert {o[2] for o in outcomes if o[0] == "Setup"} >= {"INVALID_ARGUMENT"}
    assert {o[2] for o in outcomes if o[0] == "Gradients"} >= {"INVALID_ARGUMENT"}
    _assert_still_serving(target, caplog)


def test_scoring_never_answers_internal_if_a_well_formed_request_is_damaged(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: a signed, well-formed query for the LR job (still training, so the
    # best a query gets is NOT_FOUND; damaged copies must never get INTERNAL)
    fuzzer = Fuzzer(seed=14)
    now = int(time.time())
    record = ConsentRecord(
        new_hex_id(), "13800138000", "credit_risk", ("score",), now - 5, now + 600,
        "bank-a", "0" * 64, 5,
    )  # fmt: skip
    proof = sign_consent(record, Ed25519PrivateKey.generate())
    query = ScoreQuery(new_hex_id(), LR, proof)
    well_formed = scoring_serde.score_query_to_proto(query)
    # Execute
    outcomes = [
        _send(target, "duet.v1.Scoring.Score", [fuzzer.mutate(well_formed)])
        for _ in range(CASES_PER_METHOD)
    ]
    outcomes.append(_send(target, "duet.v1.Scoring.Score", [well_formed]))
    # Assert
    bad = [o for o in outcomes if o[0] in BAD]
    assert not bad, "\n".join(map(str, bad))
    assert {o[0] for o in outcomes} >= {"INVALID_ARGUMENT"}
    assert outcomes[-1][0] == "NOT_FOUND"  # the LR job has no model part yet
    _assert_still_serving(target, caplog)


# Last: its random Jobs.Finish calls may end the jobs the tests above use.
@pytest.mark.parametrize("service", list(SERVICES))
def test_service_never_answers_internal_if_every_method_gets_malformed_input(
    target: Target, service: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare
    fuzzer = Fuzzer(seed=sum(map(ord, service)), job_ids=(BOUND, LR, SBT))
    # Execute
    outcomes = [
        (case.method.name, case.name, *call(target.channel, case, TIMEOUT_S))
        for method in methods(SERVICES[service])
        for case in cases(fuzzer, method, CASES_PER_METHOD, target.session_id)
    ]
    # Assert
    bad = [o for o in outcomes if o[2] in BAD]
    assert not bad, "\n".join(map(str, bad))
    _assert_still_serving(target, caplog)


def test_fuzz_covers_every_service_if_a_proto_declares_one() -> None:
    # Prepare: every duet service declared in the generated code
    folder = Path(binning_pb2.__file__).parent
    declared = {
        s.full_name
        for path in folder.glob("*_pb2.py")
        for s in importlib.import_module(
            f"{binning_pb2.__package__}.{path.stem}"
        ).DESCRIPTOR.services_by_name.values()
    }
    # Execute
    fuzzed = set(SERVICES)
    # Assert
    assert declared <= fuzzed, declared - fuzzed
