"""Flower records <-> split-NN domain messages: the only place Flower types are parsed.

Arrays travel as Flower ``Array`` objects (``np.save`` with ``allow_pickle=False``
and loaded the same way); every array read here is checked for its dtype kind and
shape before use, and every config value for its type and range. Malformed input
raises :class:`protocol.errors.InvalidArgument` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from models.label_protection import DefenceSpec
from models.split_nn import SplitNnSpec, SplitNnSpecError, TrainHyper
from protocol.errors import InvalidArgument
from protocol.split_nn.messages import (
    JOB_ID_RE,
    PHASE_INIT,
    PHASES,
    EmbeddingReply,
    EmbeddingRequest,
    SplitNnRun,
)

CONFIG = "config"
ARRAYS = "arrays"
MAX_ROUND_TIMEOUT_S = 3600.0


# ---- run config -----------------------------------------------------------------


def _widths_to_text(widths: tuple[int, ...]) -> str:
    return ",".join(str(w) for w in widths)


def _widths_from_text(key: str, text: str) -> tuple[int, ...]:
    if not text.strip():
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidArgument(
            f"run config {key}: expected comma-separated integers, got {text!r}"
        ) from None


def run_to_config(run: SplitNnRun) -> dict[str, bool | int | float | str]:
    """The run config overrides the bank submits (flat keys, Flower's UserConfig)."""
    spec, hyper, defence = run.spec, run.hyper, run.defence
    return {
        "job-id": run.job_id,
        "seed": run.seed,
        "operator-node-id": str(run.operator_node_id),
        "bank-job-dir": run.bank_job_dir,
        "round-timeout": float(run.round_timeout_s),
        "bank-features": spec.bank_features,
        "operator-features": spec.operator_features,
        "embedding": spec.embedding,
        "operator-hidden": _widths_to_text(spec.operator_hidden),
        "bank-hidden": _widths_to_text(spec.bank_hidden),
        "top-hidden": _widths_to_text(spec.top_hidden),
        "activation": spec.activation,
        "rounds": hyper.rounds,
        "batch-size": hyper.batch_size,
        "learning-rate": float(hyper.learning_rate),
        "bank-local-epochs": hyper.bank_local_epochs,
        "operator-local-epochs": hyper.operator_local_epochs,
        "optimizer": hyper.optimizer,
        "lr-floor": float(hyper.lr_floor),
        "defence": defence.kind,
        "defence-scale": float(defence.scale),
        "defence-batch": defence.batch_size,
        "defence-floor": float(defence.across_floor),
    }


def _get(config: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in config:
        raise InvalidArgument(f"run config: missing key {key!r}")
    value = config[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise InvalidArgument(
            f"run config {key}: expected {kind.__name__}, got {type(value).__name__}"
        )
    return value


def run_from_config(config: Mapping[str, Any]) -> SplitNnRun:
    """Parse and validate Flower's run config (both parties call this)."""
    job_id = _get(config, "job-id", str)
    if not JOB_ID_RE.match(job_id):
        raise InvalidArgument("run config job-id: must be 32 lowercase hex characters")
    node_text = _get(config, "operator-node-id", str)
    if not node_text.isdigit():
        raise InvalidArgument("run config operator-node-id: must be a decimal node id")
    timeout = _get(config, "round-timeout", float)
    if not 1.0 <= timeout <= MAX_ROUND_TIMEOUT_S:
        raise InvalidArgument(
            f"run config round-timeout: must be between 1 and {MAX_ROUND_TIMEOUT_S:.0f}"
            f" seconds, got {timeout}"
        )
    try:
        spec = SplitNnSpec(
            bank_features=_get(config, "bank-features", int),
            operator_features=_get(config, "operator-features", int),
            embedding=_get(config, "embedding", int),
            operator_hidden=_widths_from_text(
                "operator-hidden", _get(config, "operator-hidden", str)
            ),
            bank_hidden=_widths_from_text(
                "bank-hidden", _get(config, "bank-hidden", str)
            ),
            top_hidden=_widths_from_text("top-hidden", _get(config, "top-hidden", str)),
            activation=_get(config, "activation", str),
        )
        hyper = TrainHyper(
            rounds=_get(config, "rounds", int),
            batch_size=_get(config, "batch-size", int),
            learning_rate=_get(config, "learning-rate", float),
            bank_local_epochs=_get(config, "bank-local-epochs", int),
            operator_local_epochs=_get(config, "operator-local-epochs", int),
            optimizer=_get(config, "optimizer", str),
            lr_floor=_get(config, "lr-floor", float),
        )
        defence = DefenceSpec(
            kind=_get(config, "defence", str),
            scale=_get(config, "defence-scale", float),
            batch_size=_get(config, "defence-batch", int),
            across_floor=_get(config, "defence-floor", float),
        )
    except (SplitNnSpecError, ValueError) as err:
        if isinstance(err, InvalidArgument):
            raise
        raise InvalidArgument(f"run config: {err}") from None
    return SplitNnRun(
        job_id=job_id,
        spec=spec,
        hyper=hyper,
        defence=defence,
        seed=_get(config, "seed", int),
        operator_node_id=int(node_text),
        bank_job_dir=_get(config, "bank-job-dir", str),
        round_timeout_s=timeout,
    )


# ---- arrays -----------------------------------------------------------------------


def _array(record: ArrayRecord, key: str, kind: str, ndim: int) -> np.ndarray:
    if key not in record:
        raise InvalidArgument(f"message: missing array {key!r}")
    item = record[key]
    if not isinstance(item, Array):
        raise InvalidArgument(f"message: {key!r} is not an array")
    try:
        value = item.numpy()
    except (TypeError, ValueError) as err:
        raise InvalidArgument(f"message: array {key!r} cannot be read: {err}") from None
    if value.dtype.kind not in kind or value.ndim != ndim:
        raise InvalidArgument(
            f"message: array {key!r} must be {ndim}-D of kind {kind!r},"
            f" got {value.ndim}-D {value.dtype}"
        )
    return value


def _config(content: RecordDict) -> ConfigRecord:
    if CONFIG not in content.config_records:
        raise InvalidArgument(f"message: missing config record {CONFIG!r}")
    return content.config_records[CONFIG]


def _arrays(content: RecordDict) -> ArrayRecord:
    if ARRAYS not in content.array_records:
        raise InvalidArgument(f"message: missing array record {ARRAYS!r}")
    return content.array_records[ARRAYS]


def _round(config: ConfigRecord) -> int:
    value = config.get("round")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument("message: 'round' must be a non-negative integer")
    return value


def request_to_record(request: EmbeddingRequest) -> RecordDict:
    arrays: dict[str, Array] = {}
    fields = {
        "train-positions": request.train_positions,
        "validation-positions": request.validation_positions,
        "gradients": request.gradients,
        "order": request.order,
    }
    for key, value in fields.items():
        if value is not None:
            arrays[key] = Array(np.ascontiguousarray(value))
    return RecordDict(
        {
            CONFIG: ConfigRecord(
                {"round": request.round_index, "phase": request.phase}
            ),
            ARRAYS: ArrayRecord(arrays),
        }
    )


def request_from_record(content: RecordDict) -> EmbeddingRequest:
    config = _config(content)
    phase = config.get("phase")
    if phase not in PHASES:
        raise InvalidArgument(f"message: unknown phase {phase!r}")
    arrays = _arrays(content)
    round_index = _round(config)
    if phase == PHASE_INIT:
        return EmbeddingRequest(
            round_index=round_index,
            phase=phase,
            train_positions=_array(arrays, "train-positions", "iu", 1).astype(np.int64),
            validation_positions=_array(arrays, "validation-positions", "iu", 1).astype(
                np.int64
            ),
        )
    return EmbeddingRequest(
        round_index=round_index,
        phase=str(phase),
        gradients=_array(arrays, "gradients", "f", 2),
        order=_array(arrays, "order", "iu", 1).astype(np.int64),
    )


def reply_to_record(reply: EmbeddingReply) -> RecordDict:
    return RecordDict(
        {
            CONFIG: ConfigRecord({"round": reply.round_index}),
            ARRAYS: ArrayRecord(
                {
                    "train-embeddings": Array(np.ascontiguousarray(reply.train)),
                    "validation-embeddings": Array(
                        np.ascontiguousarray(reply.validation)
                    ),
                }
            ),
        }
    )


def reply_from_record(content: RecordDict) -> EmbeddingReply:
    arrays = _arrays(content)
    return EmbeddingReply(
        round_index=_round(_config(content)),
        train=_array(arrays, "train-embeddings", "f", 2),
        validation=_array(arrays, "validation-embeddings", "f", 2),
    )


def arrays_to_record(arrays: Mapping[str, np.ndarray]) -> ArrayRecord:
    """Model state (models.split_nn.state_to_arrays) as an ArrayRecord."""
    return ArrayRecord(
        {key: Array(np.ascontiguousarray(v)) for key, v in arrays.items()}
    )


def arrays_from_record(record: ArrayRecord) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key in record:
        item = record[key]
        if not isinstance(item, Array):
            raise InvalidArgument(f"state: {key!r} is not an array")
        out[key] = item.numpy()
    return out
