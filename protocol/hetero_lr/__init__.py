"""Two-party logistic regression (hetero-lr/ckks-fourier/1): CKKS and masking, no
third party. The bank holds the labels and drives; the operator answers. The protocol
(notation, steps, masks) is in party.py.

What each party learns over a whole run: its own inputs; values hidden by the masks
(party.py); the bank, the training and validation loss summed over the evaluation rows
once per epoch; at the end, each party its own weights. The operator also learns, from
the calls themselves: at Setup which of its features passed the bank's selection, the
number of the bank's inputs and the hyperparameters; the rows of every batch; and from
KeepBest each epoch whose validation loss improved, so the best epoch, and from Reveal
when training stopped (early stopping). No party decrypts a ciphertext
the other built from nothing but its own data, no decryption is ever sent back (the step
sums exchanged at the reveal are aggregates of masked decryptions mixed with gradients
the receiver does not know), and no party sees a weight, logit, residual, gradient or
label of the other: neither the operator's partial logits (which would span its feature
matrix after as many epochs as it has features) nor an exact gradient (whose residual
signs on small batches give the labels) is ever exposed. After training, the bank
receives the operator's partial scores X_o w_o once per split (batch prediction; a model
needs at least the policy's minimum of operator features).

Modules: messages, serde (its only _pb2 code), party (each side's math), service
(servicer, client, declaration).
"""
