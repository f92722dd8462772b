"""The split-NN trainer (model type "split_nn", protocol.split_nn over Flower).

The bank's inputs are its selected features standardised on the training rows and
clipped to +-clip (categories as indicators); the operator prepares its own the same
way (operator_node/roles/split_nn.py). The train stage:

1. SplitNn.Prepare: the operator writes its selected features for the aligned rows
   and answers with their width and its SuperNode's public key;
2. the bank writes its job data (features, labels, split) to its job folder, starts
   its SuperLink (TLS with the certificate of `split_nn.superlink_cert`, SuperNode
   authentication on) and the executor of its pinned ServerApp, and registers the
   operator's key;
3. SplitNn.Start: the operator checks the SuperLink and starts its SuperNode;
4. the bank submits the run (the pinned app bundle) and follows its rounds: each
   round shows in the job's progress; a run that fails, a round the operator does
   not answer within `round_timeout_s`, a Flower process that dies, or the stage's
   deadline fails the job on both sides;
5. SplitNn.Complete: the operator registers its bottom model; the bank stops its
   Flower processes (in every case).

The same trainer serves the lookalike task (`[model] task = "lookalike"`): the
runner hands it labels = "this aligned customer is in the bank's seed audience"
(bank_node/lookalike.py) in place of the label column, and nothing else changes. The
operator learns only what a credit split-NN job discloses (the proposal's task and
purpose aside): the seed list never crosses, its membership reaches the operator only
through the label-protected gradients, as a credit job's labels do, so label
protection (Marvell, `defence`) stays on for lookalike jobs too.

The score stage reads the scores the ServerApp computed from the final round's
embeddings: the bank learns nothing from the operator beyond the rounds' embeddings
(protocol/split_nn/__init__.py). The report gets the rounds (training loss,
validation AUC), the label-protection leak, and a bank-only logistic regression on
the same rows as the baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bank_node.trainers.base import ModelReport, ScoredSplit, Trainer, TrainingContext
from models.preprocess import FeaturePreprocessor
from models.report import EpochMetrics
from node_core.config import ConfigError, NodeConfig, TomlLoader
from node_core.model_registry import ModelPart
from protocol.domain import Split
from protocol.errors import FailedPrecondition
from protocol.split_nn import messages as m
from protocol.split_nn.service import PROTOCOL, SplitNnClient

MODEL_TYPE = "split_nn"
BANK_ONLY_NOTE = (
    "logistic regression on the bank's own inputs only, same rows and split, trained"
    " locally in plaintext: what the bank gets without the operator"
)
# Seconds to start the Flower processes and finish, on top of the rounds.
SLACK_S = 120.0


@dataclass(frozen=True)
class SplitNnOptions:
    """The [model] table of a split_nn job (models/split_nn.py, label_protection.py)."""

    rounds: int = 10  # FedBCD rounds: one Flower round trip each
    # Rows per minibatch of both parties' local passes (at least the operator's
    # policy.min_batch_size).
    batch_size: int = 512
    learning_rate: float = 2e-3  # of both parties' optimizers, at round 1
    optimizer: Literal["adam", "sgd"] = "adam"  # both parties'
    lr_floor: float = 0.1  # cosine decay to this fraction of learning_rate
    bank_local_epochs: int = 2  # the bank's passes per round over fixed embeddings
    operator_local_epochs: int = 1  # the operator's passes per round
    embedding: int = 8  # width of the operator's embedding (what the bank receives)
    operator_hidden: tuple[int, ...] = (32,)  # hidden widths of the operator's bottom
    bank_hidden: tuple[int, ...] = (
        16,
    )  # the bank's bottom ([] = features as they are)
    top_hidden: tuple[int, ...] = (16,)  # the top model's hidden widths
    activation: str = "relu"  # relu, tanh or gelu
    # Label protection of the gradients the operator receives: "marvell" (optimised
    # noise, models/label_protection.py) or "none".
    defence: Literal["marvell", "none"] = "marvell"
    defence_scale: float = 24.0  # Marvell's s: noise power relative to the class gap
    defence_batch: int = 4096  # rows per protection batch
    defence_floor: float = 16.0  # noise floor across the class gap
    clip: float = 5.0  # standardised bank features clipped to +-clip
    seed: int = 7  # of the operator's bottom-model initialisation
    round_timeout_s: float = 0.0  # 0 = the node's split_nn.round_timeout_s


def _spec(options: SplitNnOptions, bank: int, operator: int) -> Any:
    from models.split_nn import SplitNnSpec

    return SplitNnSpec(
        bank_features=bank,
        operator_features=operator,
        embedding=options.embedding,
        operator_hidden=tuple(options.operator_hidden),
        bank_hidden=tuple(options.bank_hidden),
        top_hidden=tuple(options.top_hidden),
        activation=options.activation,
    )


def _hyper(options: SplitNnOptions) -> Any:
    from models.split_nn import TrainHyper

    return TrainHyper(
        rounds=options.rounds,
        batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        bank_local_epochs=options.bank_local_epochs,
        operator_local_epochs=options.operator_local_epochs,
        optimizer=options.optimizer,
        lr_floor=options.lr_floor,
    )


def _defence(options: SplitNnOptions) -> Any:
    from models.label_protection import DefenceSpec

    return DefenceSpec(
        kind=options.defence,
        scale=options.defence_scale,
        batch_size=options.defence_batch,
        across_floor=options.defence_floor,
    )


# Keys of the models' errors ("rounds: ...") -> keys of the [model] table.
_KEYS = {
    "defence.scale": "defence_scale",
    "defence.batch_size": "defence_batch",
    "defence.across_floor": "defence_floor",
    "defence": "defence",
}


@dataclass
class NnModel:
    """The bank's side of a trained model and where its run left its files."""

    job_dir: Path
    spec: Any  # models.split_nn.SplitNnSpec
    preprocessor: FeaturePreprocessor
    inputs: np.ndarray  # all aligned rows, preprocessed (float32)
    metrics: dict[str, Any]
    run_id: int
    operator_model: m.NnCompleteReply


class SplitNnTrainer(Trainer[SplitNnOptions, NnModel]):
    model_type: ClassVar[str] = MODEL_TYPE
    capabilities: ClassVar[tuple[str, ...]] = (PROTOCOL.capability,)
    options_type: ClassVar[type[Any]] = SplitNnOptions
    # Lookalike: the same protocol on seed-membership labels (bank_node/lookalike.py).
    tasks: ClassVar[tuple[str, ...]] = ("credit", "lookalike")

    def check_options(self, loader: TomlLoader, options: SplitNnOptions) -> None:
        from models.split_nn import SplitNnSpecError

        for build in (lambda: _spec(options, 1, 1), lambda: _hyper(options)):
            try:
                build()
            except SplitNnSpecError as exc:
                key, _, why = str(exc).partition(": ")
                loader.fail(f"model.{_KEYS.get(key, key)}", why or str(exc))
        try:
            _defence(options)
        except ValueError as exc:
            key, _, why = str(exc).partition(": ")
            loader.fail(f"model.{_KEYS.get(key, key)}", why)
        if not 0 < options.clip <= 100:
            loader.fail("model.clip", "must be > 0 and at most 100")
        if options.round_timeout_s and not 1 <= options.round_timeout_s <= 3600:
            loader.fail("model.round_timeout_s", "must be between 1 and 3600 (or 0)")

    # ---- train -------------------------------------------------------------------
    def _inputs(
        self, context: TrainingContext, options: SplitNnOptions
    ) -> tuple[np.ndarray, FeaturePreprocessor]:
        frame = context.bank.frame
        kinds = {c: context.bank.kinds[c] for c in frame.columns}
        train = context.positions[Split.TRAIN]
        pre = FeaturePreprocessor.fit(frame.iloc[train], kinds, clip=options.clip)
        return pre.transform(frame).astype(np.float32), pre

    def check_node(self, config: NodeConfig) -> str | None:
        settings = config.split_nn
        ca = settings.superlink_ca or config.tls.ca
        if (
            settings.superlink_cert is None
            or settings.superlink_key is None
            or ca is None
        ):
            return (
                "split_nn: a split-NN job needs the SuperLink's certificate"
                " (split_nn.superlink_cert, superlink_key, superlink_ca)"
            )
        return None

    def train(self, context: TrainingContext, options: SplitNnOptions) -> NnModel:
        from models.split_nn import SplitNnSpecError
        from protocol.split_nn.bank import BankData
        from protocol.split_nn.deployment import BankFlower

        config = _config(context)
        settings = config.split_nn
        cert, key = settings.superlink_cert, settings.superlink_key
        ca = settings.superlink_ca or config.tls.ca
        problem = self.check_node(config)
        if problem is not None or cert is None or key is None or ca is None:
            raise ConfigError(f"{config.source}: {problem}")
        inputs, pre = self._inputs(context, options)
        client = SplitNnClient(context.channel, context.limits.compute_deadline_s)
        prepared = client.prepare(
            m.NnPrepare(context.job_id, context.operator.indexes, options.rounds)
        )
        positions = context.positions
        if (prepared.train_rows, prepared.validation_rows) != (
            len(positions[Split.TRAIN]),
            len(positions[Split.VALIDATION]),
        ):
            raise FailedPrecondition(
                "the operator's bound rows differ from the bank's"
                f" ({prepared.train_rows}/{prepared.validation_rows})"
            )
        try:
            spec = _spec(options, inputs.shape[1], prepared.operator_columns)
        except SplitNnSpecError as exc:
            raise ConfigError(f"model: {exc}") from None
        context.progress(
            f"split-nn: bank {inputs.shape[1]} and operator"
            f" {prepared.operator_columns} input columns, {options.rounds} rounds"
        )
        job_dir = config.state_dir / "split_nn" / context.job_id
        validation = np.zeros(len(context.labels), dtype=bool)
        validation[positions[Split.VALIDATION]] = True
        # The bank's model seed stays None (OS-random): never derived from the run
        # config, which the operator receives.
        BankData(inputs, context.labels.astype(np.int64), validation).save(job_dir)
        timeout = options.round_timeout_s or settings.round_timeout_s
        flower = BankFlower(
            job_dir / "flower",
            cert,
            key,
            ca,
            host=settings.superlink_host,
            port=settings.superlink_port or None,
        )
        try:
            flower.start()
            node_id = flower.register_supernode(prepared.node_public_key, "operator")
            client.start(m.NnStart(context.job_id, flower.host, flower.port))
            run = m.SplitNnRun(
                job_id=context.job_id,
                spec=spec,
                hyper=_hyper(options),
                defence=_defence(options),
                seed=options.seed,
                operator_node_id=node_id,
                bank_job_dir=str(job_dir),
                round_timeout_s=timeout,
            )
            run_id = flower.submit(run)
            context.progress(f"split-nn: run {run_id} submitted")
            outcome = flower.wait(
                run_id,
                job_dir,
                (options.rounds + 1) * timeout + SLACK_S,
                lambda r: context.progress(_round_line(r)),
            )
            operator_model = client.complete(m.NnComplete(context.job_id))
        finally:
            flower.stop()
        return NnModel(
            job_dir, spec, pre, inputs, outcome.metrics, run_id, operator_model
        )

    # ---- score, report, registry -------------------------------------------------
    def score(
        self, context: TrainingContext, options: SplitNnOptions, model: NnModel
    ) -> dict[Split, ScoredSplit]:
        """The ServerApp's scores of both splits from the final round's embeddings
        (no further message to the operator)."""
        from protocol.split_nn.server_app import SCORES_FILE

        path = model.job_dir / SCORES_FILE
        with np.load(path, allow_pickle=False) as saved:
            logits = {
                Split.TRAIN: np.asarray(saved["train"], dtype=np.float64),
                Split.VALIDATION: np.asarray(saved["validation"], dtype=np.float64),
            }
        out = {}
        for split, values in logits.items():
            rows = context.positions[split]
            if values.shape != (len(rows),):
                raise FailedPrecondition(f"{path}: {split.value} scores do not match")
            out[split] = ScoredSplit(
                1.0 / (1.0 + np.exp(-values)), context.labels[rows]
            )
        return out

    def describe(
        self, context: TrainingContext, options: SplitNnOptions, model: NnModel
    ) -> ModelReport:
        rounds = model.metrics.get("rounds", [])
        leak = model.metrics.get("leak", {})
        seconds = [float(r["seconds"]) for r in rounds]
        defended = options.defence != "none"
        return ModelReport(
            history=tuple(
                EpochMetrics(
                    int(r["round"]),
                    train_loss=float(r["train_loss"]),
                    validation_auc=float(r["validation_auc"]),
                )
                for r in rounds
            ),
            best_epoch=len(rounds),
            seconds_per_epoch=sum(seconds) / max(len(seconds), 1),
            bank_only_auc=bank_only_auc(model.inputs, context),
            bank_only_note=BANK_ONLY_NOTE,
            privacy=privacy_lines(leak, defended, options.rounds),
        )

    def model_part(
        self, context: TrainingContext, options: SplitNnOptions, model: NnModel
    ) -> ModelPart:
        from protocol.split_nn.server_app import BANK_MODEL_FILE

        with np.load(model.job_dir / BANK_MODEL_FILE, allow_pickle=False) as saved:
            arrays = {k: np.asarray(saved[k]) for k in saved.files}
        return ModelPart(
            kind="split_nn.bank",
            payload={
                "spec": asdict(model.spec),
                "hyper": asdict(_hyper(options)),
                "inputs": model.preprocessor.output_names,
                "preprocessor": model.preprocessor.to_dict(),
                "operator_features": list(context.operator.indexes),
                "operator_model": {
                    "name": model.operator_model.model_name,
                    "version": model.operator_model.model_version,
                },
                "run_id": model.run_id,
                "leak": model.metrics.get("leak", {}),
                "arrays": arrays_to_payload(arrays),
            },
        )


def _config(context: TrainingContext) -> NodeConfig:
    if context.config is None:
        raise FailedPrecondition("the split-NN trainer needs the node's configuration")
    return context.config


def _round_line(r: dict[str, Any]) -> str:
    return (
        f"split-nn round {r['round']}/{r['rounds']}: train loss"
        f" {r['train_loss']:.4f}, validation AUC {r['validation_auc']:.4f},"
        f" leak norm {r['norm_leak']:.3f} direction {r['direction_leak']:.3f}"
        f" ({r['seconds']:.1f} s)"
    )


def privacy_lines(leak: dict[str, Any], defended: bool, rounds: int) -> tuple[str, ...]:
    """What each party learned in this job (protocol/split_nn/__init__.py), with the
    measured label leak of the gradients the operator received."""
    norm = leak.get("norm_attack_auc")
    direction = leak.get("direction_attack_auc")
    measured = (
        f" Measured leak (max over batches of |AUC - 0.5| + 0.5): norm attack"
        f" {norm:.3f}, direction attack {direction:.3f}."
        if isinstance(norm, float) and isinstance(direction, float)
        else ""
    )
    return (
        f"Training: the bank learned {rounds + 1} embeddings of every aligned row (a"
        " learned function of the operator's features), never an operator feature"
        " value; the operator learned each training row's embedding gradient, "
        + ("with Marvell label-protection noise" if defended else "WITHOUT protection")
        + ", and which rows are training and validation rows, never a label, bank"
        " feature, bank weight or score." + measured,
        "Prediction: the scores come from the final round's embeddings; no further"
        " message to the operator. Flower carried aligned row positions only.",
    )


def arrays_to_payload(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        k: {"shape": list(v.shape), "dtype": v.dtype.str, "values": v.ravel().tolist()}
        for k, v in arrays.items()
    }


def arrays_from_payload(payload: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(v["values"], dtype=np.dtype(v["dtype"])).reshape(v["shape"])
        for k, v in payload.items()
    }


def bank_only_auc(inputs: np.ndarray, context: TrainingContext) -> float:
    """Validation AUC of logistic regression on the bank's inputs alone."""
    train = context.positions[Split.TRAIN]
    validation = context.positions[Split.VALIDATION]
    labels = context.labels
    model = LogisticRegression(max_iter=2000)
    model.fit(inputs[train], labels[train])
    auc = roc_auc_score(labels[validation], model.decision_function(inputs[validation]))
    return float(auc) if math.isfinite(auc) else 0.5
