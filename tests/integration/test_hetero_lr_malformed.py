"""Malformed logistic-regression calls against a running operator: a corrupted CKKS
context, garbage or wrong-scale ciphertexts and a wrong-length reveal are
INVALID_ARGUMENT with a message (never INTERNAL, no traceback in the log), and none
of them changes the job's state: the same call made correctly afterwards succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrSettings
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import Split
from protocol.errors import PeerCallError
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.party import LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.psi.messages import PsiMode
from tests.joint import joint_setup
from tests.nodes import Pki

JOB = "bad0c0debad0c0de"


class Bound:
    """A bound job and what the bank needs to set up LR on it."""

    def __init__(self, client, x, labels, positions) -> None:
        self.client = client
        self.x, self.labels, self.positions = x, labels, positions

    def driver(self) -> BankLrDriver:
        return BankLrDriver(
            self.client, JOB, self.x, self.labels, self.positions, [0, 1, 2],
            LrSettings(epochs=1, batch_size=128, hyper=LrHyper(), min_batch=64),
        )  # fmt: skip

    def setup_request(self, context: bytes) -> m.LrSetup:
        h = LrHyper()
        return m.LrSetup(
            JOB, context, self.x.shape[1], (0, 1, 2), h.learning_rate, h.optimizer,
            h.momentum, h.lr_decay, h.l2, 128, h.terms, h.fit_range, h.period, 8.0,
        )  # fmt: skip


@pytest.fixture(scope="module")
def bound(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bound]:
    root = Path(tmp_path_factory.mktemp("lr-malformed"))
    with joint_setup(root, pki, policy={"min_batch_size": 64}) as setup:
        ctx = setup.bank
        dataset = ctx.dataset("customers")
        with ctx.channel("operator") as channel:
            jobs = JobsClient(channel, 10)
            jobs.propose(
                JobProposal(JOB, "credit_risk", ("o_*",), "hetero_lr", 569, 128)
            )
            psi = run_psi(
                ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=JOB
            )
            assert psi.alignment is not None
            rows = psi.alignment.local_rows
            labels = dataset.label[rows]
            validation = validation_mask(labels, SplitSection(0.3, 42), rows)
            jobs.bind(JobBinding(JOB, psi.alignment.alignment_id, validation))
            x = dataset.features.iloc[rows].to_numpy()
            yield Bound(
                HeteroLrClient(channel, 30),
                np.c_[x, np.ones(len(x))],
                labels,
                split_positions(validation),
            )


def refused(call) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


def no_internal_errors(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if "internal error" in r.getMessage()]


def garbage_like(blob: bytes) -> bytes:
    """Same length as a real ciphertext, random bytes after SEAL's header."""
    rng = np.random.default_rng(0)
    return blob[:16] + rng.integers(0, 256, len(blob) - 16, dtype=np.uint8).tobytes()


Trained = tuple[Bound, BankLrDriver, PeerCallError]


@pytest.fixture(scope="module")
def trained(bound: Bound) -> Trained:
    """A setup with a corrupted context (its error), then a correct setup."""
    corrupted = bytearray(CkksContext.create(PRECISE, galois_keys=False).public_bytes())
    corrupted[200:260] = b"x" * 60
    error = refused(lambda: bound.client.setup(bound.setup_request(bytes(corrupted))))
    return bound, bound.driver(), error


def test_setup_refuses_a_corrupted_ckks_context_without_attaching_the_job(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare / Execute: the fixture sent a corrupted context, then set up correctly
    _, driver, error = trained
    # Assert
    assert error.code == "INVALID_ARGUMENT"
    assert error.details.startswith("LrSetupRequest: the CKKS context does not parse")
    assert driver.operator_dim > 0  # the correct setup that followed succeeded
    assert no_internal_errors(caplog)


def _forward(driver: BankLrDriver, rows: np.ndarray) -> bytes:
    party = driver.party
    party.start(driver._positions[Split.TRAIN][rows])
    step, step_epoch = driver._take_pending()
    reply = driver._client.forward(
        m.LrForward(
            JOB, 0, Split.TRAIN, tuple(int(r) for r in rows), party.masked_logits(),
            step, step_epoch, range_level=party.level,
        )
    )  # fmt: skip
    return reply.operator_logits


def test_malformed_ciphertexts_are_refused_and_the_batch_goes_on_if_resent(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare
    bound, driver, _ = trained
    party, client = driver.party, bound.client
    logits = _forward(driver, np.arange(128))
    harmonics = party.sigmoid_request(logits)
    errors = []
    # Execute: a garbage harmonic, a real one at the wrong scale, then the real call
    garbage = [garbage_like(harmonics[0]), *harmonics[1:]]
    errors.append(refused(lambda: client.sigmoid(m.LrSigmoid(JOB, tuple(garbage)))))
    scaled = party.exact.dump(party.exact.encrypt([0.5], scale_bits=40))
    wrong_scale = [scaled, *harmonics[1:]]
    errors.append(refused(lambda: client.sigmoid(m.LrSigmoid(JOB, tuple(wrong_scale)))))
    reply = client.sigmoid(m.LrSigmoid(JOB, tuple(harmonics)))
    share, products = party.backward_request(
        reply.masked_sigmoid, reply.negated_mask, reply.zone_mask
    )
    bad_products = (products[0], garbage_like(products[1]), *products[2:])
    errors.append(
        refused(lambda: client.backward(m.LrBackward(JOB, 0, share, bad_products)))
    )
    errors.append(
        refused(
            lambda: client.backward(
                m.LrBackward(JOB, 0, garbage_like(share), tuple(products))
            )
        )
    )
    back = client.backward(m.LrBackward(JOB, 0, share, tuple(products)))
    # Assert: each refusal is INVALID_ARGUMENT naming the call; the real calls worked
    assert [e.code for e in errors] == ["INVALID_ARGUMENT"] * 4
    assert errors[0].details.startswith(
        "LrSigmoidRequest: not a valid SEAL ciphertext for this context"
    )
    assert errors[1].details == (
        "LrSigmoidRequest: expected a ciphertext at scale 2^70, got 1099511627776.0"
    )
    assert errors[2].details.startswith("LrBackwardRequest: not a valid SEAL")
    assert errors[3].details.startswith("LrBackwardRequest: not a valid SEAL")
    assert len(back.operator_products) == driver.operator_dim
    assert no_internal_errors(caplog)
    party.apply_step(list(back.bank_step), 0)
    driver._pending = tuple(party.masked_peer_step(list(back.operator_products), 0))


def test_reveal_refuses_a_wrong_length_sum_and_still_reveals_if_resent(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: the pending step of the last batch is carried by an evaluation chunk
    bound, driver, _ = trained
    driver._loss(Split.VALIDATION, 0)
    driver.party.keep_best()
    bound.client.keep_best(m.LrKeepBest(JOB, 1))
    sent = tuple(driver.party.reveal_sum())
    # Execute
    error = refused(lambda: bound.client.reveal(m.LrReveal(JOB, sent[:-1])))
    reply = bound.client.reveal(m.LrReveal(JOB, sent))
    # Assert
    assert error.code == "INVALID_ARGUMENT"
    assert error.details == (
        f"LrRevealRequest: expected {len(sent)} step sums, got {len(sent) - 1}"
    )
    weights = driver.party.own_weights(reply.bank_step_units)
    assert np.isfinite(weights).all() and np.abs(weights).max() > 0
    assert no_internal_errors(caplog)
