"""Real-time scoring (scoring/lr-partial/1): one consented applicant, one joint
logistic-regression model, one round trip.

The bank sends the job id of a finished joint model and the applicant's consent
proof (protocol/scoring/consent.py), whose signed record carries the applicant's
number: the one place an identifier crosses to the operator, inside the mutually
authenticated channel, next to its consent. The operator verifies the proof, looks
the number up, computes its partial logit z_o = x_o . w_o from its stored weights and
its own preprocessing, and returns it; the bank adds its own part
z_b = x_b . w_b + b and gives sigmoid(z_b + z_o).

What each party learns:
- the operator: the queried number (under the consent that authorizes it), the
  model (job id), the time, the request id; never the bank's features, weights,
  score or decision. Its answer is the same whatever the bank does with it.
- the bank: z_o for this person, and whether the number is a subscriber of the
  operator. For a linear model z_o is implied by the score itself: the bank knows
  z_b, so from sigmoid(z_b + z_o) it recovers z_o exactly. Encrypting z_o (Paillier
  or CKKS, decrypted by the bank) would hide nothing the score does not reveal, so it
  is returned in plaintext, as in the plaintext-partials baseline (FATE-Serving,
  SecretFlow Serving), and this says so rather than pretend to hide it. What bounds
  the bank's learning is the consent (one person, a purpose, a use limit) and the
  operator's quotas, not cryptography: over many consented queries the bank sees one
  scalar per person, a projection of the operator's features on w_o, never the
  features themselves. Tree and neural models, where encryption does narrow what the
  bank learns (the path taken, an embedding), are not scored yet: a model of another
  type is refused with "scoring not yet available for model type X".

Both nodes audit every query (request id, job id, consent id, keyed pseudonym of the
number, outcome), never the number itself.

Modules: consent (proofs and their checks), messages, serde (its only _pb2 code),
service (servicer, client, declaration).
"""
