"""One party's logistic-regression state at an epoch boundary, for its own checkpoint.

`party_state` splits a party (BankLrParty or OperatorLrParty) into JSON-able values
and byte strings; `restore_party` puts them back into a party built from the same
features, keys and hyperparameters. What is saved is the party's own: its CKKS
context with its secret key (`own_context`; it never leaves its owner's state dir),
the peer's public context, its weights (ciphertexts under the peer's key), both
optimizer states (exact rationals as "num/den"), the weight bound, the range level,
the hiding ledger and the exact integer sums of the mask parts and masked steps the
reveal needs, with the best epoch's bookkeeping. At an epoch boundary no batch is in
flight (the last step was carried by the first evaluation chunk), so nothing else is.

`shares_arrays` / `restored_shares`: each party also keeps its own logit shares of the
validation split of every epoch up to the checkpoint (the per-epoch validation AUC is
computed from both parties' shares through protocol.evaluation after training). A
share alone is uniform modulo LrHyper.evaluation_modulus; it stays in its owner's
checkpoint and is never sent at a checkpoint or a resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from protocol.crypto.ckks import CkksContext
from protocol.hetero_lr.party import SCALE_BITS, StepState, _Party

OWN_CONTEXT = "own_context"
PEER_CONTEXT = "peer_context"
# Checkpoint arrays "validation_shares_<epoch>": this party's logit shares of the
# validation split (position order) in the evaluation after training pass <epoch>.
SHARES_PREFIX = "validation_shares_"


def shares_arrays(shares: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Each epoch's validation shares as checkpoint arrays."""
    return {
        f"{SHARES_PREFIX}{e}": np.asarray(v, dtype=np.float64)
        for e, v in shares.items()
    }


def restored_shares(
    arrays: Mapping[str, np.ndarray], epoch: int, rows: int
) -> dict[int, np.ndarray]:
    """The validation shares of the epochs up to a checkpoint taken after `epoch`,
    from its arrays (shares_arrays); ValueError if they do not fit the job."""
    out = {}
    for name, values in arrays.items():
        if not name.startswith(SHARES_PREFIX):
            continue
        number = name[len(SHARES_PREFIX) :]
        if not number.isdigit() or not 1 <= int(number) <= epoch:
            raise ValueError("the checkpoint's validation shares are damaged")
        shares = np.asarray(values, dtype=np.float64)
        if shares.shape != (rows,) or not np.all(np.isfinite(shares)):
            raise ValueError("the checkpoint's validation shares are damaged")
        out[int(number)] = shares
    return out


def _fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _unfraction(text: Any) -> Fraction:
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError("a checkpointed rational must be 'num/den'")
    return Fraction(text)


def _step_state(state: StepState) -> dict[str, Any]:
    return {
        "velocity": [_fraction(v) for v in state.velocity],
        "scale": [_fraction(s) for s in state.scale],
        "steps": state.steps,
        "rate_sum": state.rate_sum,
    }


def _restore_step(state: StepState, data: dict[str, Any]) -> None:
    velocity = [_unfraction(v) for v in data["velocity"]]
    scale = [_unfraction(s) for s in data["scale"]]
    if len(velocity) != len(state.velocity) or len(scale) != len(state.scale):
        raise ValueError("checkpointed optimizer state has the wrong dimension")
    state.velocity, state.scale = velocity, scale
    state.steps, state.rate_sum = int(data["steps"]), float(data["rate_sum"])


def party_state(party: _Party) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The party's state as (JSON values, byte strings)."""
    best = party._best
    values = {
        "level": party.level,
        "dims": [party.features.shape[1], party.peer_dim],
        "own_step": _step_state(party.own_step),
        "peer_step": _step_state(party.peer_step),
        "weight_bound": party.weight_bound,
        "hiding": {"distance": party.hiding.distance, "count": party.hiding.count},
        "mask_parts": [[str(u) for u in units] for units in party._mask_parts],
        "sent_steps": [[str(u) for u in units] for units in party._sent_steps],
        "best": [best[0], best[1], [_fraction(s) for s in best[2]]],
    }
    blobs = {
        OWN_CONTEXT: party.keys.secret_bytes(include_secret_key=True),
        PEER_CONTEXT: party.peer.public_bytes(),
    }
    for j, ciphertext in enumerate(party.weights):
        blobs[f"weight_{j}"] = party.peer_exact.dump(ciphertext)
    return values, blobs


def contexts(blobs: dict[str, bytes]) -> tuple[CkksContext, CkksContext]:
    """(own context with its secret key, the peer's public context)."""
    own = CkksContext.from_bytes(blobs[OWN_CONTEXT], allow_secret_key=True)
    peer = CkksContext.from_bytes(blobs[PEER_CONTEXT])
    return own, peer


def restore_party(
    party: _Party, values: dict[str, Any], blobs: dict[str, bytes]
) -> None:
    """Put a checkpointed state back into `party` (built from the same features,
    contexts and hyperparameters). ValueError if it does not fit."""
    d = party.features.shape[1]
    if [int(x) for x in values["dims"]] != [d, party.peer_dim]:
        raise ValueError("the checkpoint's dimensions differ from the job's")
    party.weights = [
        party.peer_exact.load(blobs[f"weight_{j}"], scale_bits=SCALE_BITS)
        for j in range(d)
    ]
    party.set_level(int(values["level"]))
    _restore_step(party.own_step, values["own_step"])
    _restore_step(party.peer_step, values["peer_step"])
    party.weight_bound = float(values["weight_bound"])
    party.hiding.distance = {
        str(k): float(v) for k, v in values["hiding"]["distance"].items()
    }
    party.hiding.count = {str(k): int(v) for k, v in values["hiding"]["count"].items()}
    party._mask_parts = [[int(u) for u in units] for units in values["mask_parts"]]
    party._sent_steps = [[int(u) for u in units] for units in values["sent_steps"]]
    best = values["best"]
    scale = [_unfraction(s) for s in best[2]]
    if len(scale) != d:
        raise ValueError("the checkpoint's best-epoch scale has the wrong dimension")
    party._best = (int(best[0]), int(best[1]), scale)
