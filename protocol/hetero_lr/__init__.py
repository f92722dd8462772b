"""Two-party logistic regression (hetero-lr/ckks-fourier/1): CKKS and masking, no
third party. The bank holds the labels and drives; the operator answers. The protocol
(notation, steps, masks, value bounds, range levels) is in party.py.

What each party learns over a whole run:
- its own inputs, and at the end its own weights (those of the best epoch);
- the bank: the loss summed over each evaluation chunk (a sample of the training rows
  and the validation rows), once per epoch and range level; per training batch and
  evaluation chunk, sum_i h(z_i), a count of the rows whose logit is near or beyond the
  sigmoid's valid range (exponentially small for rows near 0; a row at the range's
  edge counts >= 2 x the level's threshold, party.RangeLevel);
- the operator, from the calls themselves: at Setup which of its features passed the
  bank's selection, the number of the bank's inputs and the hyperparameters; the rows
  of every batch; the range level of every call (so, when some logit of the bank's
  batch or chunk left the range); from KeepBest each epoch whose validation loss
  improved, so the best epoch, and from Reveal when training stopped (early stopping).

Everything else a party decrypts carries a uniform 157-bit mask on every coefficient
of the plaintext polynomial: all slots' real and imaginary parts and the CKKS error.
The masked values are bounded by the protocol itself (clipped features, a bound on
each party's weight norm that follows from the step sizes, the sigmoid series'
bound), so each masked decryption is within a computed statistical distance of the
mask alone; over the default job on default_credit (30 epochs, batches of 4,096) the
two parties' views together are within 2^-43.4 of views made of masks only, 2^-38.3
at the policy's 200 epochs (tests/unit/protocol/hetero_lr/test_hiding.py); a masking
whose bound would hide less than 2^-48 on its own is refused. Neither party sees a
weight, logit, residual, gradient or label of the other, nor its own weights before
the reveal.

Results of decryptions that reach the peer: the masked weight steps (under the
decrypting party's own key, unreadable by the peer) and, at the reveal, their exact
integer sums. Both are computed from decrypted gradient sums after 40-bit flooding
(uniform noise 2^40 times a bound on the decryption error), so each flooded sum is
within 2^-40 of a value that does not depend on the decrypting party's secret key;
a revealed weight sums the steps of all T batches, which by a union bound is within
T 2^-40 (2^-32.5 per weight for the default job's 180 steps; under the Gaussian
error heuristic the bound E itself rests on, sqrt(T) 2^-41). The loss and range sums
stay with the bank.

The joint model is evaluated through protocol.evaluation, never here: once per epoch
the bank learns the validation split's logits as an unlinkable multiset of (logit,
label) pairs (each party adds its logit share of the evaluation pass, modulo
LrHyper.evaluation_modulus), and after training the multiset of (score, label) pairs
of each split (each party adds its partial score); no per-row score of the operator
ever reaches the bank. The logit shares come from the parties' decryptions of each
other's masked logits and are not flooded: the bank sees them only summed into a
logit rounded to 1/2^16 of the modulus, which depends on the ~2^-30 decryption errors
only for a logit that close to a rounding boundary.

Checkpoints and resume (checkpoint.py, node_core/checkpoint.py): each party keeps
its own state at every epoch boundary in its own state dir; what crosses is the
SHA-256 commitment of each party's checkpoint file (the peer learns only that hash
and that the epoch ended) and, at a resume, the epoch both hold. A resume restores
the operator's records with its state: it adds no evaluation, step or reveal an
uninterrupted run would not have, except that the work after the checkpoint is done
again under fresh masks (its losses are recomputed, not re-read). Each party's
checkpoint also holds its own logit shares of the validation split of every epoch up
to it (never sent), so the per-epoch validation AUC of a resumed job covers every
epoch, those before the checkpoint as an uninterrupted run would have them; the shares
of a pass done after the checkpoint are discarded with it, so no epoch's validation
multiset can be asked for twice. Evaluations are answered only after the reveal,
which deletes the checkpoints, so no resume can follow one.

Modules: messages, serde (its only _pb2 code), party (each side's math), checkpoint
(a party's state at an epoch boundary), service (servicer, client, declaration).
"""
