"""The select-features stage: information value of both parties' features on the
training rows, then selection by IV threshold and/or top-k.

The operator's IV is federated (bank_node/iv.py, protocol/binning); the bank's is
local on the same rows. The job spec's [binning] and [selection] tables set the bins,
the method and the selection rule; a job needs at least one operator feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd

from bank_node.iv import OperatorIv, bank_iv, operator_iv
from bank_node.jobspec import JobSpec
from models.binning import BinningModel
from models.woe import WoeIv, select_features
from node_core.config import ConfigError
from protocol.transport import TransportLimits


@dataclass(frozen=True, kw_only=True)
class FeatureSelection:
    bank_binning: BinningModel  # all bank features, fitted on the training rows
    bank_ivs: dict[str, WoeIv]
    operator_ivs: list[OperatorIv]
    bank: list[str]  # chosen bank columns, in bank_ivs order
    operator: list[int]  # chosen operator feature indexes, ascending
    iv_timings: dict[str, float]


def choose(
    spec: JobSpec, bank_ivs: dict[str, WoeIv], op_ivs: list[OperatorIv]
) -> tuple[list[str], list[int]]:
    """The features both parties' IVs select, by the spec's [selection] rule."""
    sel = spec.selection
    iv = {f"bank:{k}": v.iv for k, v in bank_ivs.items()}
    iv |= {f"operator:{o.index}": o.table.iv for o in op_ivs}
    chosen = select_features(iv, min_iv=sel.min_iv, top_k=sel.top_k)
    bank = [c.split(":", 1)[1] for c in chosen if c.startswith("bank:")]
    operator = [int(c.split(":", 1)[1]) for c in chosen if c.startswith("operator:")]
    if not operator:
        raise ConfigError(
            f"{spec.source}: selection: no operator feature passes the"
            " selection; lower selection.min_iv or raise selection.top_k"
        )
    return [c for c in bank_ivs if c in bank], sorted(operator)


def select(
    channel: grpc.Channel,
    job_id: str,
    spec: JobSpec,
    bank_frame: pd.DataFrame,
    bank_kinds: dict[str, str],
    train_labels: np.ndarray,
    train: np.ndarray,
    operator_features: list[int],
    limits: TransportLimits,
    min_bin_rows: int = 0,
) -> FeatureSelection:
    """IV of every requested feature of both parties, then the selection."""
    op_ivs, iv_timings = operator_iv(
        channel,
        job_id,
        train_labels,
        operator_features,
        bins=spec.binning.bins,
        method=spec.binning.method,
        chunk_bytes=limits.chunk_bytes,
        deadline_s=limits.stream_deadline_s,
    )
    categorical = [c for c in bank_frame if bank_kinds[c] == "categorical"]
    bank_binning, bank_ivs = bank_iv(
        bank_frame.iloc[train],
        train_labels,
        categorical,
        bins=spec.binning.bins,
        method=spec.binning.method,
        min_bin_rows=min_bin_rows,
    )
    chosen_bank, chosen_op = choose(spec, bank_ivs, op_ivs)
    return FeatureSelection(
        bank_binning=bank_binning,
        bank_ivs=bank_ivs,
        operator_ivs=op_ivs,
        bank=chosen_bank,
        operator=chosen_op,
        iv_timings=iv_timings,
    )
