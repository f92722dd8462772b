"""The evaluation of a joint model against a real operator (port 0, mutual TLS): the
bank learns multisets, not the operator's scores. The review's experiments run here:
two categorical operator features (6 distinct scores) are refused, and would have
given every row's category away without the rule; two jobs on the same two features
are refused by the budget, and with it raised the bank's best per-row estimate adds
nothing to what its own data predicts, where the old per-row partial scores gave
R^2 = 1; operator scores too flat against the bank's are refused, and would have let
the multiset's order pair rows with their scores. Plus per-epoch AUC and the order the
operator enforces on evaluations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest

from bank_node.evaluation import JointEvaluation
from bank_node.job_runner import validation_mask
from bank_node.jobspec import SplitSection
from bank_node.psi import run_psi
from bank_node.trainers.hetero_lr_driver import BankLrDriver, LrResult, LrSettings
from models.metrics import roc_auc
from models.preprocess import FeaturePreprocessor
from node_core.model_registry import ModelRegistry
from protocol.crypto.paillier_keys import generate_keypair
from protocol.domain import Split, StreamHeader
from protocol.errors import PeerCallError
from protocol.evaluation import serde as evaluation_serde
from protocol.evaluation.messages import VALUES_KIND, EvaluationParams, ScoreKind
from protocol.evaluation.party import encrypt_rows, partial_units
from protocol.evaluation.service import request_evaluation
from protocol.hetero_lr.party import DEFAULT_CLIP, LrHyper
from protocol.hetero_lr.service import HeteroLrClient
from protocol.jobs.messages import JobBinding, JobProposal, split_positions
from protocol.jobs.service import JobsClient
from protocol.proto.duet.v1 import evaluation_pb2_grpc
from protocol.psi.alignment import load_alignment
from protocol.psi.messages import PsiMode
from protocol.rpc import iterate_peer
from protocol.streams import chunk_stream
from tests.joint import JointSetup, joint_setup
from tests.nodes import Pki

RELAXED_RULES = {
    "max_rows_per_score": 1_000_000,
    "max_score_share": 1.0,
    "min_rank_mixing": 0.0,
}


def operator_extras(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns like the review's: two categories (3 x 2 cells) and two independent
    continuous features, all derived from the row's id so both runs agree."""
    x0, x1 = frame["o_x0"].to_numpy(), frame["o_x1"].to_numpy()
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "o_cat_a": np.where(x0 < -0.5, "low", np.where(x0 < 0.5, "mid", "high")),
            "o_cat_b": np.where(x1 < 0, "no", "yes"),
            "o_u1": rng.normal(size=len(frame)),
            "o_u2": rng.normal(size=len(frame)),
        }
    )


@dataclass
class TrainedJob:
    job_id: str
    bank_inputs: np.ndarray  # aligned rows, intercept last
    labels: np.ndarray
    positions: dict[Split, np.ndarray]
    operator_rows: np.ndarray  # the operator's dataset row per aligned position
    weights: np.ndarray
    evaluation: JointEvaluation
    result: LrResult


# Breast data has 569 rows that the bank's features nearly separate alone: its partial
# scores spread ~10, and no operator score mixes 200 rows of its order (the default).
BREAST_MIXING = 30.0


@contextmanager
def lr_setup(
    root: Path, pki: Pki, policy: dict[str, Any] | None = None
) -> Iterator[JointSetup]:
    with joint_setup(
        root,
        pki,
        policy={"min_rank_mixing": BREAST_MIXING, **(policy or {})},
        extra_operator_columns=operator_extras,
        categorical=("o_cat_a", "o_cat_b"),
    ) as setup:
        yield setup


@contextmanager
def bank_channel(setup: JointSetup) -> Iterator[grpc.Channel]:
    with setup.bank.channel("operator") as channel:
        yield channel


def train(
    setup: JointSetup,
    channel: grpc.Channel,
    job_id: str,
    features: tuple[str, ...],
    learning_rate: float = 0.5,
    epochs: int = 2,
) -> TrainedJob:
    """Propose, align, bind and train one job on the named operator features, with
    the validation AUC of every epoch; no score stage (the tests call it)."""
    ctx = setup.bank
    dataset = ctx.dataset("customers")
    jobs = JobsClient(channel, 30)
    decision = jobs.propose(
        JobProposal(job_id, "credit_risk", features, "hetero_lr", 569, 128)
    )
    indexes = tuple(f.index for f in decision.features)
    psi = run_psi(
        ctx, "operator", dataset, PsiMode.BOTH, channel=channel, job_id=job_id
    )
    assert psi.alignment is not None
    rows = psi.alignment.local_rows
    assert dataset.label is not None
    labels = dataset.label[rows].astype(np.int64)
    validation = validation_mask(labels, SplitSection(0.3, 42), rows)
    jobs.bind(JobBinding(job_id, psi.alignment.alignment_id, validation))
    bank_frame = dataset.features.iloc[rows].reset_index(drop=True)
    pre = FeaturePreprocessor.fit(
        bank_frame.iloc[np.flatnonzero(~validation)],
        {c: "numeric" for c in bank_frame.columns},
        clip=DEFAULT_CLIP,
    )
    x = np.c_[pre.transform(bank_frame), np.ones(len(rows))]
    positions = split_positions(validation)
    evaluation = JointEvaluation(channel, job_id, ctx.limits)
    driver = BankLrDriver(
        HeteroLrClient(channel, 60), job_id, x, labels.astype(float), positions,
        indexes,
        LrSettings(epochs=epochs, batch_size=128,
                   hyper=LrHyper(learning_rate=learning_rate), min_batch=64),
    )  # fmt: skip
    result = driver.train()
    operator_rows = _operator_rows(setup, psi.alignment.alignment_id)
    return TrainedJob(
        job_id, x, labels, positions, operator_rows, result.weights,
        evaluation, result,
    )  # fmt: skip


def _operator_rows(setup: JointSetup, alignment_id: str) -> np.ndarray:
    state = setup.operator.ctx.config.state_dir
    return load_alignment(state, alignment_id).local_rows


def score(job: TrainedJob, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """What the bank learns in the score stage, in integer units of 2^-24."""
    rows = job.positions[split]
    scores, labels = job.evaluation.partial_scores(
        split, job.bank_inputs[rows] @ job.weights, job.labels[rows]
    )
    return np.rint(np.ldexp(scores, 24)).astype(np.int64), labels


def refused(call) -> PeerCallError:
    with pytest.raises(PeerCallError) as info:
        call()
    return info.value


# ---- the distinct-score experiment -------------------------------------------------
def deconvolve(bank: np.ndarray, multiset: np.ndarray, values: int) -> np.ndarray:
    """The bank's attack on few operator values: the differences s_j - b_i that
    repeat most are the operator's values; row i has the one with b_i + v in the
    multiset (-1 when none or several)."""
    diffs = (multiset[None, :] - bank[:, None]).ravel()
    found, counts = np.unique(diffs, return_counts=True)
    top = found[np.argsort(counts)[-values:]]
    present = np.isin(bank[:, None] + top[None, :], multiset)
    guess = np.where(present.sum(axis=1) == 1, present.argmax(axis=1), -1)
    return guess


def test_distinct_score_job_is_refused_at_setup_if_policy_is_default(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare
    with lr_setup(tmp_path, pki) as setup, bank_channel(setup) as channel:
        # Execute
        error = refused(lambda: train(setup, channel, "cafe0001cafe0001", ("o_cat_*",)))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert "rows of the train split have identical values of the job's operator" in (
        error.details
    )
    assert "policy.max_rows_per_score = 2" in error.details


def test_distinct_score_attack_reads_every_category_if_the_rule_is_relaxed(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the rule that refuses it, switched off, so the test can fail
    with (
        lr_setup(tmp_path, pki, policy=RELAXED_RULES) as setup,
        bank_channel(setup) as channel,
    ):
        job = train(setup, channel, "cafe0002cafe0002", ("o_cat_*",))
        multiset, _ = score(job, Split.VALIDATION)
    rows = job.positions[Split.VALIDATION]
    bank = partial_units(job.bank_inputs[rows] @ job.weights)
    operator = pd.read_csv(setup.files.operator)
    cells = (operator["o_cat_a"] + operator["o_cat_b"]).to_numpy()
    truth = cells[job.operator_rows[rows]]
    # Execute
    guess = deconvolve(bank, multiset, values=6)
    # Assert: each recovered value is one category cell, for (nearly) every row
    found = guess >= 0
    purity = sum(
        pd.Series(truth[found & (guess == g)]).value_counts().iloc[0]
        for g in np.unique(guess[found])
    ) / len(truth)
    assert purity > 0.95


# ---- the two-job experiment --------------------------------------------------------
def _r2(target: np.ndarray, design: np.ndarray) -> float:
    x = np.c_[design, np.ones(len(design))]
    fit = x @ np.linalg.lstsq(x, target, rcond=None)[0]
    return 1 - float(
        ((target - fit) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    )


def rank_estimates(job: TrainedJob, split: Split, multiset: np.ndarray):
    """The bank's best per-row guess of the operator's score: the multiset element of
    the same rank as its own partial score, minus that score; by person (the
    operator's row), since each job has its own PSI order."""
    rows = job.positions[split]
    bank = partial_units(job.bank_inputs[rows] @ job.weights)
    estimate = np.sort(multiset)[np.argsort(np.argsort(bank))] - bank
    people = job.operator_rows[rows]
    order = np.argsort(people)
    return people[order], estimate[order], bank[order]


def test_second_model_on_the_same_rows_is_refused_if_policy_is_default(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: a first model on two features, evaluated
    with lr_setup(tmp_path, pki) as setup, bank_channel(setup) as channel:
        first = train(setup, channel, "beef0001beef0001", ("o_x0", "o_x1"))
        score(first, Split.VALIDATION)
        # Execute: the same features with another learning rate
        error = refused(
            lambda: train(setup, channel, "beef0002beef0002", ("o_x0", "o_x1"), 0.2)
        )
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert error.details.startswith(
        "1 earlier jobs of bank-a were evaluated on rows this job shares"
    )
    assert "(policy.max_models_per_rows = 1); the latest: job beef0001beef0001" in (
        error.details
    )


def test_two_job_attack_adds_nothing_to_the_banks_own_data_if_the_budget_is_raised(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: both jobs allowed; the bank keeps what it learns
    policy = {"max_models_per_rows": 2}
    with (
        lr_setup(tmp_path, pki, policy=policy) as setup,
        bank_channel(setup) as channel,
    ):
        jobs = [
            train(setup, channel, "beef0003beef0003", ("o_x0", "o_x1"), 0.5),
            train(setup, channel, "beef0004beef0004", ("o_x0", "o_x1"), 0.2),
        ]
        multisets = [
            score(job, Split.VALIDATION) and score(job, Split.TRAIN)[0] for job in jobs
        ]
        registry = ModelRegistry(
            setup.operator.ctx.config.state_dir, setup.operator.ctx.store
        )
        parts = {r.job_id: r.load() for r in registry.list()}
    operator = pd.read_csv(setup.files.operator)
    bank_file = pd.read_csv(setup.files.bank)
    # Execute: the bank's estimates per person, its own features, the truth, and
    # what the old PartialScores call sent (the operator's score of every row)
    (people, first, _), (again, second, _) = (
        rank_estimates(j, Split.TRAIN, ms)
        for j, ms in zip(jobs, multisets, strict=True)
    )
    frame = operator[["o_x0", "o_x1"]].iloc[people]
    truth = frame.to_numpy()
    own = bank_file[setup.files.bank_features].iloc[people].to_numpy()
    old = [
        FeaturePreprocessor.from_dict(parts[j.job_id]["preprocessor"]).transform(frame)
        @ np.asarray(parts[j.job_id]["weights"])
        for j in jobs
    ]
    # Assert: the same people (bank and operator files share the FATE row order)
    assert np.array_equal(people, again)
    for k in range(2):
        gain = _r2(truth[:, k], np.c_[own, first, second]) - _r2(truth[:, k], own)
        assert gain < 0.05
        assert _r2(truth[:, k], np.c_[old[0], old[1]]) > 0.999


# ---- operator scores flat against the bank's -----------------------------------------
def test_flat_operator_scores_are_refused_if_they_mix_few_rows(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: two operator features that are noise (tiny weights): their scores
    # move each row past ~15 others in the bank's order
    with lr_setup(tmp_path, pki) as setup, bank_channel(setup) as channel:
        job = train(setup, channel, "f1a70001f1a70001", ("o_u1", "o_u2"))
        # Execute
        error = refused(lambda: score(job, Split.VALIDATION))
    # Assert
    assert error.code == "PERMISSION_DENIED"
    assert "(policy.min_rank_mixing): the joint scores' order would follow" in (
        error.details
    )


def test_rank_attack_reads_flat_operator_scores_if_the_ratio_rule_is_relaxed(
    pki: Pki, tmp_path: Path
) -> None:
    # Prepare: the rule switched off, so the test can fail
    with (
        lr_setup(tmp_path, pki, policy={"min_rank_mixing": 0.0}) as setup,
        bank_channel(setup) as channel,
    ):
        job = train(setup, channel, "f1a70002f1a70002", ("o_u1", "o_u2"))
        multiset, _ = score(job, Split.VALIDATION)
        registry = ModelRegistry(
            setup.operator.ctx.config.state_dir, setup.operator.ctx.store
        )
        part = registry.list()[0].load()
    operator = pd.read_csv(setup.files.operator)
    # Execute
    people, estimate, _ = rank_estimates(job, Split.VALIDATION, multiset)
    frame = operator[["o_u1", "o_u2"]].iloc[people]
    scores = FeaturePreprocessor.from_dict(part["preprocessor"]).transform(frame) @ (
        np.asarray(part["weights"])
    )
    # Assert: the rank-matched estimate is the operator's score of many rows
    hits = np.abs(estimate - partial_units(scores)) <= 1
    assert hits.mean() > 0.2


# ---- per-epoch AUC and the order of evaluations -----------------------------------
@pytest.fixture(scope="module")
def trained(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[JointSetup, TrainedJob]]:
    root = Path(tmp_path_factory.mktemp("evaluation"))
    with lr_setup(root, pki) as setup, bank_channel(setup) as channel:
        yield setup, train(setup, channel, "d00d0001d00d0001", ("o_x*",), epochs=3)


def _shares(job: TrainedJob, epoch: int):
    labels = job.labels[job.positions[Split.VALIDATION]]
    shares = job.result.validation_shares.get(epoch, np.zeros(len(labels)))
    return job.evaluation.logit_shares(epoch, shares, labels, job.result.period)


def test_training_rounds_are_refused_if_validation_scores_are_not_yet_checked(
    trained: tuple[JointSetup, TrainedJob],
) -> None:
    # Prepare: the first test of the module, before any score stage
    _, job = trained
    # Execute
    error = refused(lambda: _shares(job, 1))
    # Assert
    assert (error.code, error.details) == (
        "FAILED_PRECONDITION",
        "job d00d0001d00d0001: training rounds are answered after the trained"
        " model's validation split is evaluated",
    )


def test_every_epoch_has_a_validation_auc_if_validation_scores_passed(
    trained: tuple[JointSetup, TrainedJob],
) -> None:
    # Prepare
    _, job = trained
    final, labels = score(job, Split.VALIDATION)
    # Execute
    aucs = [roc_auc(*reversed(_shares(job, e))) for e in (1, 2, 3)]
    # Assert: a joint model on breast data; the best epoch's AUC is the trained
    # model's, up to the logit shares' rounding
    assert all(0.9 < a <= 1 for a in aucs)
    best = job.result.best_epoch
    assert roc_auc(labels, final) == pytest.approx(aucs[best - 1], abs=2e-3)


def test_operator_records_only_which_split_and_round_it_answered(
    trained: tuple[JointSetup, TrainedJob],
) -> None:
    # Prepare
    setup, job = trained
    # Execute
    answered = [
        e.detail
        for e in setup.operator.ctx.store.audit_entries()
        if e.action == "evaluation.answered" and e.subject == job.job_id
    ]
    # Assert: the validation split, then epochs 1-3 (the previous test)
    assert [(d["split"], d["kind"], d["round"]) for d in answered] == [
        ("validation", "partial", 0),
        ("validation", "share", 1),
        ("validation", "share", 2),
        ("validation", "share", 3),
    ]
    assert {frozenset(d) for d in answered} == {
        frozenset({"split", "round", "kind", "rows", "seconds"})
    }


def test_evaluations_are_refused_if_repeated_or_of_the_wrong_split(
    trained: tuple[JointSetup, TrainedJob],
) -> None:
    # Prepare: the module's job, its validation split scored by now
    setup, job = trained
    score(job, Split.TRAIN)
    # Execute
    again = refused(lambda: score(job, Split.TRAIN))
    epoch = refused(lambda: _shares(job, 1) and _shares(job, 1))
    missing = refused(lambda: _shares(job, 9))
    train_split = refused(lambda: _train_split_shares(setup, job))
    # Assert
    assert (again.code, again.details) == (
        "PERMISSION_DENIED",
        "the train split of the trained model was already evaluated",
    )
    assert (epoch.code, epoch.details) == (
        "PERMISSION_DENIED",
        "the validation split of training pass 1 was already evaluated",
    )
    assert (missing.code, missing.details) == (
        "FAILED_PRECONDITION",
        "the validation split was not evaluated after training pass 9",
    )
    assert (train_split.code, train_split.details) == (
        "PERMISSION_DENIED",
        "evaluations in training are of the validation split only",
    )


def _train_split_shares(setup: JointSetup, job: TrainedJob) -> None:
    """A training round asked for the train split (the bank's client never does)."""
    public, private = generate_keypair()
    rows = len(job.positions[Split.TRAIN])
    params = EvaluationParams(
        job.job_id, Split.TRAIN, 2, ScoreKind.SHARE, public, rows, job.result.period
    )
    values = encrypt_rows(
        private, np.zeros(rows, dtype=np.int64), np.zeros(rows), ScoreKind.SHARE
    )
    with bank_channel(setup) as channel:
        request_evaluation(channel, params, values, 1 << 20, 60)


def test_evaluation_is_refused_before_the_values_are_read_if_rows_are_wrong(
    trained: tuple[JointSetup, TrainedJob],
) -> None:
    # Prepare: a request for one row too many, followed by bytes that are no
    # ciphertext vector (read first, they would be refused for that instead)
    setup, job = trained
    public, _ = generate_keypair()
    rows = len(job.positions[Split.VALIDATION]) + 1
    params = EvaluationParams(
        job.job_id, Split.VALIDATION, 0, ScoreKind.PARTIAL, public, rows, 0.0, 1.0
    )
    header = StreamHeader(VALUES_KIND, 7, job.job_id)
    upload = evaluation_serde.upload_to_proto(
        params, chunk_stream(header, [b"garbage"], 1 << 20)
    )
    # Execute
    with bank_channel(setup) as channel:
        stub = evaluation_pb2_grpc.EvaluationStub(channel)
        error = refused(
            lambda: list(iterate_peer("Evaluation/Evaluate", stub.Evaluate(upload)))
        )
    # Assert
    assert (error.code, error.details) == (
        "INVALID_ARGUMENT",
        f"EvaluateRequest.rows: the validation split has {rows - 1} rows, not {rows}",
    )
