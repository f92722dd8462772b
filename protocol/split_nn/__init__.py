"""Split neural network on Flower: the bank's ServerApp and the operator's ClientApp.

Model type "split_nn": bank_node/trainers/split_nn.py drives a job, the operator's
passive role is operator_node/roles/split_nn.py.

The bank (label holder) runs the ServerApp next to a SuperLink: its own bottom and top
models, the labels and the validation metrics. The operator (feature holder) runs the
ClientApp behind a SuperNode: its bottom model. Training runs in few, large rounds
(FedBCD, models/split_nn.py); a round is one Flower message and its reply:

  bank -> operator   round 0: the aligned positions of the training and validation
                     rows; later rounds: one (defended) gradient per training row and
                     the round's order of the training rows (the bank's minibatches)
  operator -> bank   one embedding per training row and per validation row

What each party learns:

- The bank learns, per round, one embedding (``embedding`` floats) of every aligned
  training and validation row: a learned, lossy function of the operator's features
  for that row. It sees ``rounds + 1`` such embeddings per row; they are not
  protected further (the operator bounds ``rounds`` in its node config). It also
  learns that the operator's ClientApp ran and, on failure, its error message.
- The operator learns, per round, the gradient of each training row's loss with
  respect to that row's embedding, after the label protection of
  models/label_protection.py (Marvell noise, on by default; its norm- and
  direction-attack leak is measured every round and reported to the bank). It also
  learns which aligned positions are training and validation rows, the round order,
  the model spec, the hyperparameters and everything in the run config (job id, the
  path of the bank's job directory). It never sees a label, a bank feature, a bank
  weight, a logit or a score.
- Flower carries aligned row positions only: no phone number or other identifier
  ever reaches Flower, its messages or its logs.
- A lookalike job (task "lookalike": labels = membership of the bank's seed audience,
  bank_node/lookalike.py) runs this protocol unchanged: the operator learns exactly
  what it learns in a credit job, with the seed's membership in place of the credit
  labels (protected the same way), never the seed list.

Job set-up and end go over the SplitNn gRPC service (service.py), inside an approved
job bound to an alignment:

- Prepare: the operator learns which of the job's approved features the bank
  selected and the number of rounds; the bank learns the number of columns of the
  operator's preprocessed features, its node's public key (of the certificate it
  already presents) and the rows per split (which it already knows).
- Start: the operator learns the SuperLink's host and port.
- Complete: the bank learns the name and version of the operator's registry entry.
- Scoring adds nothing: the bank's scores come from the final round's embeddings.

Trust: the operator runs its own installed ClientApp (never code from the app bundle)
and only for runs whose Flower App bundle (FAB) SHA-256 it pinned; the bank runs its
own installed ServerApp only for the runs it started itself. See deployment.py for
TLS, SuperNode authentication and process supervision.
"""
