"""Domain types of the Binning service (see binning.proto for the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocol.crypto.paillier_keys import PaillierPublicKey
from protocol.crypto.paillier_vector import CiphertextVector

LABELS_KIND = "binning.labels"  # StreamHeader.kind of the bank's ciphertexts
SUMS_KIND = "binning.sums"  # and of the operator's per-bin sums
Method = Literal["quantile", "width"]
METHODS: tuple[Method, ...] = ("quantile", "width")
MIN_BINS, MAX_BINS = 2, 64


@dataclass(frozen=True)
class BinSumsParams:
    """What the bank asks for: features, bins per feature and method, under its key."""

    job_id: str
    public_key: PaillierPublicKey
    features: tuple[int, ...]
    bins: int
    method: Method


@dataclass(frozen=True)
class BinSumsRequest:
    params: BinSumsParams
    labels: CiphertextVector  # one packed (y, 1 - y) ciphertext per training row


@dataclass(frozen=True)
class FeatureBins:
    feature: int
    name: str
    bins: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class BinSumsReply:
    layout: tuple[FeatureBins, ...]
    sums: CiphertextVector  # (positives, negatives) per bin, layout order, packed
