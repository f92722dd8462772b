"""The bank's side of federated information value, and its own local IV.

Operator features: the bank encrypts (y, 1 - y) per training row under a fresh Paillier
key (owner CRT encryption, 2048 bits), the operator returns re-randomized per-bin sums
(protocol/binning), the bank decrypts one pair of counts per bin and computes WOE/IV
with models.woe. Bank features: binned and counted locally on the same rows, with the
same minimum of rows per occupied bin as the operator's (so both IVs are computed
alike).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd

from models.binning import BinningModel
from models.woe import WoeIv, woe_iv_from_counts, woe_iv_table
from protocol.binning.messages import BinSumsParams, Method
from protocol.binning.party import decrypt_counts, encrypt_labels
from protocol.binning.service import request_bin_sums
from protocol.crypto.paillier_keys import generate_keypair

KEY_BITS = 2048


@dataclass(frozen=True)
class OperatorIv:
    index: int
    name: str
    table: WoeIv
    labels: tuple[str, ...]


def operator_iv(
    channel: grpc.Channel,
    job_id: str,
    labels: np.ndarray,
    features: list[int],
    *,
    bins: int,
    method: Method,
    chunk_bytes: int,
    deadline_s: float,
) -> tuple[list[OperatorIv], dict[str, float]]:
    """IV of the operator's features on the job's training rows (aligned order)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    public_key, private_key = generate_keypair(KEY_BITS)
    timings["keygen_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    encrypted = encrypt_labels(private_key, labels)
    timings["encrypt_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    reply = request_bin_sums(
        channel,
        BinSumsParams(job_id, public_key, tuple(features), bins, method),
        encrypted,
        chunk_bytes,
        deadline_s,
    )
    timings["operator_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    counts = decrypt_counts(private_key, reply)
    timings["decrypt_s"] = time.perf_counter() - mark
    out = [
        OperatorIv(f.feature, f.name, woe_iv_from_counts(pos, neg), f.labels)
        for f, (pos, neg) in zip(reply.layout, counts, strict=True)
    ]
    timings["total_s"] = time.perf_counter() - started
    return out, timings


def bank_iv(
    frame: pd.DataFrame,
    labels: np.ndarray,
    categorical: list[str],
    *,
    bins: int,
    method: Method,
    min_bin_rows: int = 0,
) -> tuple[BinningModel, dict[str, WoeIv]]:
    """Local binning and IV of the bank's own features on the training rows."""
    binning = BinningModel.fit(
        frame,
        list(frame.columns),
        method=method,
        n_bins=bins,
        categorical=categorical,
        min_bin_rows=min_bin_rows,
    )
    return binning, woe_iv_table(frame, labels, binning=binning)
