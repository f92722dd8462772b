"""Two-party logistic regression (hetero-lr/ckks-fourier/1): CKKS and masking, no
third party. The bank holds the labels and drives; the operator answers. The protocol
(notation, steps, masks) is in party.py.

What each party learns over a whole run: its own inputs; values hidden by the masks
(party.py); the bank, the training and validation loss summed over the evaluation rows
once per epoch; at the end, each party its own weights. No party decrypts a ciphertext
the other built from nothing but its own data, no decryption is ever sent back (the step
sums exchanged at the reveal are aggregates of masked decryptions mixed with gradients
the receiver does not know), and no party sees a weight, logit, residual, gradient or
label of the other: neither the operator's partial logits (which would span its feature
matrix after as many epochs as it has features) nor an exact gradient (whose residual
signs on small batches give the labels) is ever exposed. The joint model is evaluated
through protocol.evaluation, never here: once per epoch the bank learns the validation
split's logits as an unlinkable multiset of (logit, label) pairs (each party adds its
logit share of the evaluation pass), and after training the multiset of (score, label)
pairs of each split (each party adds its partial score); no per-row score of the
operator ever reaches the bank.

Modules: messages, serde (its only _pb2 code), party (each side's math), service
(servicer, client, declaration).
"""
