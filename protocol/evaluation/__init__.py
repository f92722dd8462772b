"""Evaluation of a joint model (evaluation/paillier-shuffle/1): the bank learns the
model's scores on a split as an unlinkable multiset of (score, label) pairs, and from
it every metric exactly.

Flow: the bank encrypts, for each row of the split in position order, its own part of
the row's score packed with the row's label in one integer, under its own Paillier key
(owner CRT encryption, 2048 bits); the operator adds its own per-row part (its
"addend"), puts the rows in a secret, uniformly random order, re-randomizes every
ciphertext (flooding) and packs them into few ciphertexts; the bank decrypts those and
reads the pairs. Two kinds of parts (party.py gives the encodings):
- PARTIAL: each party's partial score of a trained model (the joint score is their
  sum, exact at 2^-24): the score stage of a job;
- SHARE: additive shares of the logit modulo the model's period (the bank reduces the
  sum to the centred range): one round per training epoch on the validation split,
  where neither party knows its part of the logit, only a share of the sum; the
  parties keep their shares of every epoch (in their own checkpoints too, so a
  resumed job keeps those of the epochs before its checkpoint), and the operator
  answers these rounds once the trained model's validation scores (PARTIAL) passed
  its rules.
Any model type whose operator side can give a per-row addend uses it
(operator_node/evaluation.py serves it generically).

What each party learns (tests/integration/test_evaluation.py runs the attacks):
- the operator: nothing about the bank's scores or labels (it only holds ciphertexts
  under the bank's key, and re-randomizes them before they leave); which split and
  round the bank evaluated (audited);
- the bank: the multiset of (joint score, label) pairs of the split, from which it
  computes AUC, KS, lift and gains, calibration and stability exactly; not which row
  a pair belongs to (the order is the operator's secret permutation, and the packed
  ciphertexts' randomness does not depend on it); in SHARE mode nothing about the
  shares' carries beyond 2^-40 over a job (party.py). What the multiset still says
  about the operator's contribution, to a bank that knows its own part of every row,
  is bounded by the operator's refusal rules, in its policy and checked on the
  trained model's scores before any multiset of the job leaves (training rounds are
  answered only after the validation split's scores passed; the operator cannot see
  its scores while its weights are encrypted) (operator_node/evaluation_rules.py):
  * bunches: if rows share one operator addend v (or nearly), b_i + v appears in the
    multiset for each of them, which singles those rows out; the operator refuses a
    split where a window of spread / 10^k (k = 2..8) holds more rows than chance
    coincidences would hide (`policy.max_score_share` of the rows at 1/100 of the
    spread, falling with the square root of the width, or the Poisson tail of the
    chance count where it is small, never fewer than `policy.max_rows_per_score`),
    checked on identical feature rows at setup (they get one score under any
    weights) and on the partial scores before answering;
  * order: if the operator's scores are flat against the bank's, the multiset sorts
    like the bank's partial scores and the bank pairs the k-th joint score with its
    k-th row; the operator refuses unless its scores move each row past about
    `policy.min_rank_mixing` others (n * its spread / the bank's, which the bank
    sends with its request);
  * several models over the same rows: at most `policy.max_models_per_rows` jobs per
    `policy.model_budget_days` may be evaluated on sets of rows that share at least
    `policy.min_batch_size` rows (checked at Jobs.Bind and spent at a job's first
    evaluation), since two score vectors of the same rows could be solved for the
    features behind them.
  Left to the bank beyond the evaluation: the distribution of the operator's scores
  in aggregate, and for the most extreme of its own partial scores a weak chance
  (about 2.6 / min_rank_mixing on average) of guessing which joint score is theirs.
  The per-epoch multisets of the same rows are close to each other (the weights move
  little between epochs), so they say little more than the trained model's; they are
  covered by the same check on the trained model's scores, not by one per epoch.

Modules: messages, serde (its only _pb2 code), party (each side's Paillier work),
service (servicer, client, declaration).
"""
