"""SecureBoost between the bank (labels, Paillier key) and the operator (features).

XGBoost-hist trees on vertically split data (Cheng et al. 2019; SecureBoost+ 2021),
lossless: the bank's model equals the plaintext reference of models.secureboost
exactly. Per tree that uses the operator's features the bank encrypts each sampled
row's fixed-point (g, h) of the tree's output as one Paillier plaintext, with its CRT
fast path (TreeGradients; a softmax grows one tree per class and round, so one message
each: packing all classes into one plaintext would make every histogram carry the
other classes' sums, multiplying the packing and decryption work by the number of
classes). Per tree level the bank names the nodes to build, each with its
encrypted (G, H) total (HistogramRequest); the operator sums the row ciphertexts into
the bins of its features (joint cells of feature groups, the largest cell recovered
from the total), re-randomizes every bin sum and packs many into one ciphertext
(HistogramReply). The bank decrypts, derives the larger sibling as parent - smaller
child in plaintext, evaluates every candidate of both parties and tells the operator
only which of its candidates won (SplitRequest); the operator keeps the threshold and
returns the rows going left (SplitReply). At the end the bank says how many trees the
model keeps (TrainingDone, after early stopping) and each party stores its part.
Prediction: per tree, the operator sends the leaves its own splits allow per row; the
bank intersects them with its own.

What each party learns (both honest-but-curious).

The operator:
- No gradient, hessian, label, margin or leaf value: only ciphertexts under the bank's
  key (rows' (g, h) and node totals); it never decrypts anything.
- The rows of each round: with subsample, which rows were drawn; with GOSS, which rows
  have the largest gradients (every row left out has a small one).
- For every tree it takes part in: the columns drawn for it, its shape, which party owns
  each split, which of its own candidates won (feature, bin, default direction), and
  the row set of every node except the two children of a bank split of which neither
  may split further (their partition is not sent: the operator would not need it).
  That exposes the bank's splits as row partitions and, in early trees, row sets that
  correlate with the labels.
- Leaf-set requests tell it nothing new: it computes them from its own splits.

The bank:
- Per node it asks about: the (G, H) sums of its own gradients over every value bin of
  every operator feature of the tree (re-randomized and packed, so nothing about which
  rows were combined beyond those sums). On small nodes such sums can reveal, by
  subset sums over gradients it knows, which rows share an operator bin.
- For every operator split: on which side each row of the node falls, and (for sampled
  rounds and validation) for all training / validation rows per operator tree, the
  leaves the operator's splits allow. So it learns, for every aligned row and operator
  split, whether the row's value is below the threshold, never the threshold itself.
- The number of value bins of each operator feature and the names or aliases the
  operator discloses; per operator split its feature and an opaque split id.

Mitigations (BoostParams):
- min_operator_rows = m (the operator's policy.min_batch_size is its floor, refused
  at setup if the job asks for less): histograms and operator splits only at nodes
  of at least m rows; smaller nodes split on the bank's features. Every (G, H) sum
  the bank decrypts is then a node's bin over a node of at least m rows (a bin may
  still hold few of them).
- bank_only_trees = k: the first k rounds use the bank's features only; the operator
  receives nothing for them (no gradients, no row sets), which hides the most
  label-correlated partitions of the first trees. What remains: later trees still
  expose node row sets and the bank still learns the operator splits' sides.
- goss and subsample trade the large-gradient leak above for speed; off by default.

The domain messages are protocol.secureboost.messages, their wire form
protocol/proto/duet/v1/secureboost.proto; protocol.secureboost.driver runs the calls in
order against the operator's party object or the gRPC client.
"""
