"""The bank's side of evaluation (protocol.evaluation), for any model type.

Per job, one Paillier key (2048 bits, made at the first evaluation): the bank encrypts
its part of each row's score with the row's label, the operator adds its own part,
shuffles and packs, and the bank decrypts the multiset of (score, label) pairs, sorted
(protocol/evaluation/__init__.py states what each party learns). A trainer calls
`partial_scores` in its score stage, validation split first: only then does the
operator answer `logit_shares`, once per training epoch.
"""

from __future__ import annotations

import time

import grpc
import numpy as np

from protocol.crypto.paillier_keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from protocol.domain import Split
from protocol.evaluation.messages import FINAL_ROUND, EvaluationParams, ScoreKind
from protocol.evaluation.party import (
    decrypt_pairs,
    encrypt_rows,
    partial_units,
    share_units,
)
from protocol.evaluation.service import request_evaluation
from protocol.transport import TransportLimits

KEY_BITS = 2048


class JointEvaluation:
    """The bank's evaluations of one job; `seconds` adds up their wall time."""

    def __init__(
        self, channel: grpc.Channel, job_id: str, limits: TransportLimits
    ) -> None:
        self._channel = channel
        self._job_id = job_id
        self._limits = limits
        self._keys: tuple[PaillierPublicKey, PaillierPrivateKey] | None = None
        self.seconds = 0.0

    def _key(self) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
        if self._keys is None:
            self._keys = generate_keypair(KEY_BITS)
        return self._keys

    def _run(
        self,
        split: Split,
        round: int,
        kind: ScoreKind,
        units: np.ndarray,
        labels: np.ndarray,
        modulus: float,
        bank_spread: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        public, private = self._key()
        params = EvaluationParams(
            self._job_id, split, round, kind, public, len(units), modulus, bank_spread
        )
        reply = request_evaluation(
            self._channel,
            params,
            encrypt_rows(private, units, labels, kind),
            self._limits.chunk_bytes,
            self._limits.stream_deadline_s,
        )
        out = decrypt_pairs(private, reply.pairs, kind, modulus)
        self.seconds += time.perf_counter() - started
        return out

    def partial_scores(
        self, split: Split, partial: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The trained model's joint scores (logits) of a split with their labels, as
        a multiset; `partial` is the bank's part of each row's logit (its spread goes
        to the operator, which checks its own against it)."""
        low, high = np.percentile(partial, [1, 99])
        return self._run(
            split, FINAL_ROUND, ScoreKind.PARTIAL, partial_units(partial), labels,
            0.0, float(high - low),
        )  # fmt: skip

    def logit_shares(
        self, epoch: int, shares: np.ndarray, labels: np.ndarray, modulus: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The validation split's logits in training epoch `epoch` (>= 1), centred
        modulo `modulus`, with their labels, from the bank's shares."""
        return self._run(
            Split.VALIDATION,
            epoch,
            ScoreKind.SHARE,
            share_units(shares, modulus),
            labels,
            modulus,
        )
