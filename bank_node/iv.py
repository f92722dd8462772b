"""The bank's side of federated information value, and its own local IV.

Operator features: the bank encrypts (y, 1 - y) per training row under a fresh Paillier
key (owner CRT encryption, 2048 bits), the operator returns re-randomized per-bin sums
(protocol.binning), the bank decrypts one pair of counts per bin and computes WOE/IV
with models.woe. Bank features: binned and counted locally on the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd

from models.binning import BinningModel
from models.woe import WoeIv, woe_iv_from_counts, woe_iv_table
from protocol.binning import BinSumsRequest, label_packing, request_bin_sums
from protocol.crypto import paillier
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
    method: str,
    chunk_bytes: int,
    deadline_s: float,
) -> tuple[list[OperatorIv], dict[str, float]]:
    """IV of the operator's features on the job's training rows (aligned order)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    public_key, private_key = generate_keypair(KEY_BITS)
    timings["keygen_s"] = time.perf_counter() - started
    y = np.asarray(labels, dtype=np.int64)
    pairs = np.empty(2 * len(y), dtype=np.int64)
    pairs[0::2], pairs[1::2] = y, 1 - y
    mark = time.perf_counter()
    encrypted = paillier.owner_encrypt_vector(
        private_key, pairs, packing=label_packing(len(y))
    )
    timings["encrypt_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    reply = request_bin_sums(
        channel,
        BinSumsRequest(job_id, public_key, tuple(features), bins, method, encrypted),
        chunk_bytes,
        deadline_s,
    )
    timings["operator_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    counts = np.asarray(paillier.decrypt_packed(private_key, reply.sums)).reshape(-1, 2)
    timings["decrypt_s"] = time.perf_counter() - mark
    out, offset = [], 0
    for feature in reply.layout:
        block = counts[offset : offset + feature.bins]
        offset += feature.bins
        table = woe_iv_from_counts(block[:, 0], block[:, 1])
        out.append(OperatorIv(feature.feature, feature.name, table, feature.labels))
    timings["total_s"] = time.perf_counter() - started
    return out, timings


def bank_iv(
    frame: pd.DataFrame,
    labels: np.ndarray,
    categorical: list[str],
    *,
    bins: int,
    method: str,
) -> tuple[BinningModel, dict[str, WoeIv]]:
    """Local binning and IV of the bank's own features on the training rows."""
    binning = BinningModel.fit(
        frame,
        list(frame.columns),
        method=method,  # type: ignore[arg-type]
        n_bins=bins,
        categorical=categorical,
    )
    return binning, woe_iv_table(frame, labels, binning=binning)
