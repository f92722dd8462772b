"""The operator's side of federated binning: bin locally, sum ciphertexts per bin.

The operator bins each requested feature on the job's training rows with
models.binning (equal-frequency by default, missing values in their own bin), merges
bins until every occupied one holds at least the policy's minimum of rows
(policy.min_bin_rows, default min_batch_size), adds the bank's encrypted label
indicators per bin and re-randomizes every sum before it leaves
(protocol/binning/__init__.py states what each party learns). It never decrypts
anything.
"""

from __future__ import annotations

import logging
import re
import time

import numpy as np

from models.binning import BinningModel
from node_core.node import NodeContext
from operator_node.job_desk import JobDesk
from operator_node.job_session import JobSession
from protocol.binning.messages import (
    BinSumsParams,
    BinSumsReply,
    BinSumsRequest,
    FeatureBins,
)
from protocol.binning.party import sum_bins
from protocol.domain import Peer, Split
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied

log = logging.getLogger(__name__)


# The once-per-job step this service takes (JobSession.claim).
STEP = "information value"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def coarse_label(label: str) -> str:
    """A bin label with its edges at 2 significant digits: quantile edges are actual
    subscribers' values, and the exact ones are not the bank's to see."""
    return _NUMBER.sub(lambda m: f"{float(m.group()):.2g}", label)


class OperatorBinning:
    """Handler of the Binning service."""

    def __init__(self, ctx: NodeContext, desk: JobDesk) -> None:
        self._ctx = ctx
        self._desk = desk

    def _checked(
        self, peer: Peer, params: BinSumsParams
    ) -> tuple[JobSession, np.ndarray]:
        """The job's session and training positions, if this request may run."""
        session = self._desk.session(peer, params.job_id)
        train = session.positions()[Split.TRAIN]
        if session.taken(STEP):
            raise FailedPrecondition(f"job {params.job_id}: {STEP} was already done")
        policy = self._ctx.config.counterpart(peer.party_id).policy
        minimum = max(policy.min_batch_size, policy.bin_rows)
        if len(train) < minimum:
            raise PermissionDenied(
                f"information value needs at least {minimum} training rows"
                " (policy.min_batch_size, policy.min_bin_rows)"
            )
        unknown = [f for f in params.features if not 0 <= f < len(session.columns)]
        if unknown:
            raise InvalidArgument(
                f"BinSumsRequest.features: unknown feature index {unknown[0]}"
            )
        return session, train

    def admit(self, peer: Peer, params: BinSumsParams) -> int:
        """Checked before the bank's labels are read: the number of ciphertexts due
        (one per training row)."""
        return len(self._checked(peer, params)[1])

    def bin_sums(self, peer: Peer, request: BinSumsRequest) -> BinSumsReply:
        started = time.perf_counter()
        params = request.params
        session, train = self._checked(peer, params)
        if len(request.labels.ciphertexts) != len(train):
            raise InvalidArgument(
                f"BinSumsUpload.labels: {len(request.labels.ciphertexts)} ciphertexts"
                f" for {len(train)} training rows"
            )
        # Once per job, claimed only when the request is known to be well-formed:
        # repeated calls with chosen "labels" would let a bank read bins of single
        # rows by differencing.
        session.claim(STEP)
        policy = self._ctx.config.counterpart(peer.party_id).policy
        columns = [session.columns[f] for f in params.features]
        frame = session.features().iloc[train][columns]
        categorical = [c for c in columns if session.kind(c) == "categorical"]
        binning = BinningModel.fit(
            frame,
            columns,
            method=params.method,
            n_bins=params.bins,
            categorical=categorical,
            min_bin_rows=policy.bin_rows,
        )
        bins = binning.transform(frame)
        layout = []
        for index, column in zip(params.features, columns, strict=True):
            n_bins = binning.n_bins[column]
            name = session.display_name(index, policy.disclose_feature_names)
            labels = (
                tuple(coarse_label(label) for label in binning.labels(column))
                if policy.disclose_feature_names
                else tuple(f"bin {b + 1}" for b in range(n_bins))
            )
            layout.append(FeatureBins(index, name, n_bins, labels))
        sums = sum_bins(
            request.labels,
            [(bins[c], binning.n_bins[c]) for c in columns],
        )
        self._ctx.store.append_audit(
            "binning.sums",
            counterpart=peer.party_id,
            subject=params.job_id,
            detail={
                "features": columns,  # which of its features the bank asked about
                "bins": params.bins,
                "method": params.method,
                "rows": len(train),
                "min_bin_rows": policy.bin_rows,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return BinSumsReply(tuple(layout), sums)
