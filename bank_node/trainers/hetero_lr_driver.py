"""The bank's driver of two-party logistic regression (protocol.hetero_lr).

The bank chooses the batches (a fresh permutation of the training rows every epoch,
drawn over the bank's own row order so a seed gives the same batches whatever order
the PSI session aligned the rows in; batches of at least the operator's minimum
size), runs the three calls per batch, evaluates the training and validation loss
after every epoch (sums over evaluation chunks of the series loss, which is the
logistic loss to within 0.007 per row for |z| <= 8 and 0.13 at the range's edge), keeps
its logit shares of the validation split of every epoch (the trainer gets each epoch's
validation AUC from them with protocol.evaluation once training is over), keeps the
best epoch for early stopping, warns when the best epoch is the last one, and finally
learns its own weights while the operator learns its own. Every batch and chunk also
tells it whether a logit left the sigmoid's range: it then moves both parties to the
next range level (a wider period, more terms) and repeats an interrupted evaluation at
the new level, or stops with an error at the last level (protocol.hetero_lr.party,
"Range levels").

Checkpoints: after every epoch but the last (evaluation and KeepBest done, no step
pending) the bank writes its own state (its party's, the batch generator's, the
history and early-stopping bookkeeping, and its logit shares of the validation split
of every epoch so far) and both parties agree on the checkpoint (HeteroLr.Checkpoint).
A resumed driver asks the operator to Resume from the most recent checkpoint both
hold, restores the same state and continues with the next epoch: the same batches as
an uninterrupted run, new masks. The shares of the epochs up to the checkpoint come
back with it (the operator's own come back with the operator's checkpoint), so a
resumed job's report has the validation AUC of every epoch, each evaluated once; an
epoch trained after the checkpoint but before the interruption is discarded and
trained again, and only its new evaluation is ever answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from node_core.checkpoint import (
    Checkpoint,
    CheckpointError,
    JobCheckpoints,
    blob_array,
)
from protocol.crypto.ckks import PRECISE, CkksContext
from protocol.domain import Split
from protocol.hetero_lr import messages as m
from protocol.hetero_lr.checkpoint import (
    OWN_CONTEXT,
    PEER_CONTEXT,
    contexts,
    party_state,
    restore_party,
    restored_shares,
    shares_arrays,
)
from protocol.hetero_lr.party import (
    DEFAULT_CLIP,
    BankLrParty,
    LrHyper,
    ProtocolStateError,
    evaluation_chunks,
)
from protocol.hetero_lr.service import HeteroLrClient

Progress = Callable[[str], None]


def _party_blobs(saved: Checkpoint) -> dict[str, bytes]:
    names = [OWN_CONTEXT, PEER_CONTEXT]
    names += [k for k in saved.arrays if k.startswith("weight_")]
    return {k: saved.blob(k) for k in names}


@dataclass(frozen=True)
class LrSettings:
    epochs: int
    batch_size: int
    hyper: LrHyper
    min_batch: int = 1  # the operator's policy minimum of distinct rows per batch
    patience: int = 0
    clip: float = DEFAULT_CLIP
    seed: int = 7


@dataclass
class LrHistory:
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_auc: list[float | None] = field(default_factory=list)  # set later
    seconds: list[float] = field(default_factory=list)  # training batches
    evaluation_seconds: list[float] = field(default_factory=list)  # the losses
    auc_seconds: float = 0.0  # every epoch's validation AUC, after training
    range_level: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LrResult:
    weights: np.ndarray  # bank weights (last = intercept)
    best_epoch: int
    history: LrHistory
    seconds_per_epoch: float
    resumed_from: int = 0  # 0, or the checkpointed epoch a resume continued from
    warnings: tuple[str, ...] = ()
    # The bank's logit shares of the validation split (position order) after each
    # epoch, and their modulus (LrHyper.evaluation_modulus), for the epochs' AUC.
    validation_shares: dict[int, np.ndarray] = field(default_factory=dict)
    period: float = 0.0


def convergence_warning(best_epoch: int, epochs_run: int) -> str | None:
    """A warning when the best validation loss came at the last epoch run."""
    if epochs_run < 1 or best_epoch != epochs_run:
        return None
    return (
        f"the best validation loss came at the last epoch ({best_epoch} of"
        f" {epochs_run}): training may not have converged; more epochs or a larger"
        " learning rate may give a better model"
    )


def draw_batches(
    train_key: np.ndarray,
    batch_size: int,
    min_batch: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """One epoch's batches: positions within the train split, a fresh permutation
    split into batches of about batch_size rows, none below the operator's minimum
    (never a small trailing batch).

    `train_key[i]` is the bank's own row of train position i. The permutation is drawn
    over the positions sorted by it, so a seed gives the same people in the same
    batches whatever order the PSI session aligned the rows in.
    """
    n_train = len(train_key)
    stable = np.argsort(train_key, kind="stable")
    order = stable[rng.permutation(n_train)]
    count = max(1, -(-n_train // batch_size))
    count = max(1, min(count, n_train // max(min_batch, 1)))
    return list(np.array_split(order, count))


class BankLrDriver:
    def __init__(
        self,
        client: HeteroLrClient,
        job_id: str,
        features: np.ndarray,  # all aligned rows, preprocessed, intercept last
        labels: np.ndarray,  # all aligned rows (0/1)
        positions: Mapping[Split, np.ndarray],  # aligned positions of each split
        operator_features: Sequence[int],
        settings: LrSettings,
        progress: Progress = lambda _: None,
        *,
        stable_key: np.ndarray | None = None,  # bank row per aligned position
        checkpoints: JobCheckpoints | None = None,  # checkpoint every epoch here
        resume: bool = False,  # continue from the last common checkpoint
        on_resumed: Callable[[], None] = lambda: None,  # the operator resumed
    ) -> None:
        self._client = client
        self._job = job_id
        self._positions = positions
        self._settings = settings
        self._progress = progress
        self._checkpoints = checkpoints
        self.resumed_from = 0  # the epoch a resumed job continued from
        self._start = 0
        self._state: dict[str, Any] = {}
        self._shares: dict[int, np.ndarray] = {}  # restored validation shares
        h = settings.hyper
        saved: Checkpoint | None = None
        if resume:
            if checkpoints is None:
                raise ValueError("a resume needs the job's checkpoints")
            reply, saved = self._resume(client, job_id, checkpoints)
            on_resumed()
            own, peer = contexts(_party_blobs(saved))
            self._keys = own
        else:
            self._keys = CkksContext.create(PRECISE, galois_keys=False)
            reply = client.setup(
                m.LrSetup(
                    job_id=job_id,
                    bank_context=self._keys.public_bytes(),
                    bank_dim=features.shape[1],
                    operator_features=tuple(operator_features),
                    learning_rate=h.learning_rate,
                    optimizer=h.optimizer,
                    momentum=h.momentum,
                    lr_decay=h.lr_decay,
                    l2=h.l2,
                    batch_size=settings.batch_size,
                    sigmoid_terms=h.terms,
                    sigmoid_range=h.fit_range,
                    sigmoid_period=h.period,
                    clip=settings.clip,
                )
            )
            peer = CkksContext.from_bytes(reply.operator_context)
        train, validation = positions[Split.TRAIN], positions[Split.VALIDATION]
        if (reply.train_rows, reply.validation_rows) != (len(train), len(validation)):
            raise RuntimeError(
                "the operator's split sizes differ from the bank's: "
                f"{reply.train_rows}/{reply.validation_rows} vs "
                f"{len(train)}/{len(validation)}"
            )
        self.operator_dim = reply.operator_dim
        self.party = BankLrParty(
            features,
            reply.operator_dim,
            self._keys,
            peer,
            h,
            own_intercept=features.shape[1] - 1,
            labels=labels,
            clip=max(settings.clip, 1.0),
        )
        slots = self.party.slots
        # The operator's fixed evaluation chunks: the validation split, and the first
        # N/2 positions of the (pseudo-randomly ordered) train split as a sample.
        self._chunks = {
            Split.TRAIN: evaluation_chunks(min(slots, len(train)), slots),
            Split.VALIDATION: evaluation_chunks(len(validation), slots),
        }
        self._pending: tuple[bytes, ...] = ()
        self.shares = np.zeros(0)  # bank's logit shares of the last evaluated split
        self._pending_epoch = 0
        self._rng = np.random.default_rng(settings.seed)
        key = np.arange(len(features)) if stable_key is None else stable_key
        self._train_key = np.asarray(key)[train]
        if saved is not None:
            self._restore(saved)

    # ---- checkpoints (node_core/checkpoint.py, protocol/hetero_lr/checkpoint.py) ----
    @staticmethod
    def _resume(
        client: HeteroLrClient, job_id: str, checkpoints: JobCheckpoints
    ) -> tuple[m.LrSetupReply, Checkpoint]:
        """Ask the operator to resume from the most recent checkpoint both hold."""
        agreed = checkpoints.agreed()[: m.MAX_RESUME_CANDIDATES]
        if not agreed:
            raise CheckpointError(f"job {job_id} has no checkpoint to resume from")
        reply = client.resume(
            m.LrResume(
                job_id, tuple(m.CheckpointRef(a.epoch, a.digest) for a in agreed)
            )
        )
        chosen = reply.checkpoint
        return reply.setup, checkpoints.load(
            checkpoints.find(chosen.epoch, chosen.digest)
        )

    def _restore(self, saved: Checkpoint) -> None:
        meta = saved.meta
        if int(meta["operator_dim"]) != self.operator_dim:
            raise CheckpointError(
                "the operator's dimension differs from the checkpoint"
            )
        restore_party(self.party, meta["party"], _party_blobs(saved))
        self._rng.bit_generator.state = meta["rng"]
        self._state = dict(meta["driver"])
        try:
            self._shares = restored_shares(
                saved.arrays, saved.epoch, len(self._positions[Split.VALIDATION])
            )
        except ValueError as exc:
            raise CheckpointError(f"job {self._job}: {exc}") from None
        self._start = self.resumed_from = saved.epoch

    def _checkpoint(
        self,
        epoch: int,
        history: LrHistory,
        state: dict[str, Any],
        shares: Mapping[int, np.ndarray],
    ) -> None:
        """Both parties checkpoint the end of `epoch` (1-based) and agree on it."""
        store = self._checkpoints
        if store is None:
            return
        values, blobs = party_state(self.party)
        meta = {
            "party": values,
            "rng": self._rng.bit_generator.state,
            "operator_dim": self.operator_dim,
            "driver": {**state, "history": asdict(history)},
        }
        arrays = {k: blob_array(v) for k, v in blobs.items()}
        arrays |= shares_arrays(shares)
        own = store.write(epoch, meta, arrays)
        operator = self._client.checkpoint(m.LrCheckpoint(self._job, epoch, own))
        store.agree(epoch, bank=own, operator=operator, own="bank")

    def _take_pending(self) -> tuple[tuple[bytes, ...], int]:
        pending, epoch = self._pending, self._pending_epoch
        self._pending = ()
        return pending, epoch

    def _check_range(self) -> bool:
        """After a batch or chunk: if a logit left the range, move to the next range
        level (the next Forward carries it) and return True."""
        party = self.party
        if not party.out_of_range():
            return False
        level = party.series
        if party.level >= party.hyper.max_level:
            raise ProtocolStateError(
                f"a logit left +-{level.fit_range:g}, the sigmoid's widest range"
                f" (period {level.period:g}, {level.terms} terms): lower the learning"
                " rate, the clip or the number of features"
            )
        party.set_level(party.level + 1)
        wider = party.series
        self._progress(
            f"a logit left +-{level.fit_range:g}: the sigmoid now covers"
            f" +-{wider.fit_range:g} (period {wider.period:g}, {wider.terms} terms)"
        )
        return True

    def _batch(self, rows: np.ndarray, epoch: int) -> None:
        party = self.party
        party.start(self._positions[Split.TRAIN][rows])
        step, step_epoch = self._take_pending()
        fwd = self._client.forward(
            m.LrForward(
                self._job, epoch, Split.TRAIN, tuple(int(r) for r in rows),
                party.masked_logits(), step, step_epoch, range_level=party.level,
            )
        )  # fmt: skip
        harmonics = party.sigmoid_request(fwd.operator_logits)
        sig = self._client.sigmoid(m.LrSigmoid(self._job, tuple(harmonics)))
        share, products = party.backward_request(
            sig.masked_sigmoid, sig.negated_mask, sig.zone_mask
        )
        back = self._client.backward(
            m.LrBackward(self._job, epoch, share, tuple(products))
        )
        party.apply_step(list(back.bank_step), epoch)
        self._pending = tuple(
            party.masked_peer_step(list(back.operator_products), epoch)
        )
        self._pending_epoch = epoch
        self._check_range()

    def _loss(self, split: Split, epoch: int) -> float:
        """Mean logistic loss over the split's evaluation chunks, all evaluated at
        one range level (the evaluation restarts at the next level if a chunk had a
        logit out of range); keeps the bank's logit shares of the split's rows in
        `self.shares` (validation split)."""
        while True:
            total, count = 0.0, 0
            self.shares = np.zeros(len(self._positions[split]))
            for chunk in self._chunks[split]:
                total += self._chunk_loss(split, chunk, epoch) * len(chunk)
                count += len(chunk)
                if self._check_range():
                    break
            else:
                return total / count

    def _chunk_loss(self, split: Split, chunk: np.ndarray, epoch: int) -> float:
        party = self.party
        party.start(self._positions[split][chunk])
        step, step_epoch = self._take_pending()
        fwd = self._client.forward(
            m.LrForward(
                self._job, epoch, split, tuple(int(r) for r in chunk),
                party.masked_logits(), step, step_epoch, evaluation=True,
                range_level=party.level,
            )
        )  # fmt: skip
        terms = party.loss_terms(fwd.operator_logits)
        if split is Split.VALIDATION:
            # Modulo the last level's period, whatever this chunk's level: every
            # epoch's shares then sum to the logits modulo one public number.
            modulus = party.hyper.evaluation_modulus
            share = party.logit_share(fwd.operator_logits, modulus)
            self.shares[chunk] = share[: len(chunk)]
        reply = self._client.loss(m.LrLoss(self._job, tuple(terms)))
        return party.loss_value(reply.masked_loss, reply.mask_constant, reply.zone_mask)

    def train(self) -> LrResult:
        s = self._settings
        saved = self._state
        history = LrHistory(**saved.get("history", {}))
        # Restored with the checkpoint: each epoch's validation shares up to it.
        shares: dict[int, np.ndarray] = dict(self._shares)
        best = float(saved.get("best", np.inf))
        best_epoch, stale = int(saved.get("best_epoch", 0)), int(saved.get("stale", 0))
        if self.resumed_from:
            self._progress(f"resumed after epoch {self.resumed_from}")
        for epoch in range(self._start, s.epochs):
            started = time.perf_counter()
            batches = draw_batches(
                self._train_key, s.batch_size, s.min_batch, self._rng
            )
            for rows in batches:
                self._batch(rows, epoch)
            seconds = time.perf_counter() - started
            train_loss = self._loss(Split.TRAIN, epoch)
            val_loss = self._loss(Split.VALIDATION, epoch)
            shares[epoch + 1] = self.shares
            history.epochs.append(epoch + 1)
            history.train_loss.append(train_loss)
            history.validation_loss.append(val_loss)
            history.validation_auc.append(None)
            history.seconds.append(seconds)
            history.evaluation_seconds.append(time.perf_counter() - started - seconds)
            history.range_level.append(self.party.level)
            self._progress(
                f"epoch {epoch + 1}/{s.epochs}: train loss {train_loss:.4f}, "
                f"validation loss {val_loss:.4f} ({seconds:.1f} s)"
            )
            if val_loss < best - 1e-5:
                best, best_epoch, stale = val_loss, epoch + 1, 0
                self.party.keep_best()
                self._client.keep_best(m.LrKeepBest(self._job, epoch + 1))
            else:
                stale += 1
                if s.patience and stale >= s.patience:
                    self._progress(f"early stop: no validation gain for {stale} epochs")
                    break
            if epoch + 1 < s.epochs:  # the last epoch is followed by the reveal
                state = {"best": best, "best_epoch": best_epoch, "stale": stale}
                self._checkpoint(epoch + 1, history, state, shares)
        warning = convergence_warning(best_epoch, len(history.epochs))
        if warning is not None:
            self._progress(f"warning: {warning}")
        # Each side sends the exact integer sum of the masked steps it sent the other
        # (computed from flooded decryptions), up to the best epoch
        # (see protocol.hetero_lr.party).
        sent = tuple(self.party.reveal_sum())
        reveal = self._client.reveal(m.LrReveal(self._job, sent))
        weights = self.party.own_weights(reveal.bank_step_units)
        return LrResult(
            weights,
            best_epoch,
            history,
            float(np.mean(history.seconds)),
            resumed_from=self.resumed_from,
            warnings=() if warning is None else (warning,),
            validation_shares=shares,
            period=s.hyper.evaluation_modulus,
        )
