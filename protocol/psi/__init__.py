"""Phone-number private set intersection: ECDH over X25519 (psi/ecdh-x25519/1).

Both parties hash each canonical number (protocol.identifiers) to the group with a
domain-separation tag, H(x) = SHA-512("duet-psi-v1|x25519|" | number)[:32] used as an
X25519 u-coordinate (see group.py for the choice), and blind it with a secret scalar:
the bank with b, the operator with a, both fresh per session by default. The bank sends
H(x)^b (secret random order) and gets H(x)^(ab) back; the operator sends H(y)^a (secret
random order) and the bank computes H(y)^(ab); equal double-blinded values are the same
number. Plain numbers and plain or salted hashes never leave a party: a 10^10 number
space makes any hash reversible by enumeration, a blinded value is not without the
scalar (DDH on Curve25519 and its twist).

Every session belongs to a job the operator approved (PsiOpen.job_id): a PSI job,
proposed with a purpose, a mode and a set size, or a model job's alignment in mode
both; one session per job, in that mode, of at most that size. Besides what the mode
reveals, the operator thus learns the job's purpose and description, and the bank the
operator's decision. Outside a job the operator answers only what its policy allows
without one: at most cardinality, off by default (operator_node/psi/policy.py).

What each party learns (honest-but-curious parties, as in FATE and SecretFlow):

- mode **intersection** -- the bank learns which of its records are in the
  intersection, and |Y|. The operator learns |X| only (its re-blinding is blind).
- mode **both** -- the bank learns the same; at Finish it sends the matched (upload
  position, operator position) pairs, so the operator learns which of *its* records are
  in the intersection, and |X|. Upload positions are a secret random order of the
  bank's, so they reveal nothing further. This is the FATE/SecretFlow default and is
  what training alignment needs: both parties also derive the same pseudonymous row
  keys and row order (alignment.py), so later protocols never name a person. The
  operator trusts the bank's pair list (honest-but-curious model).
- mode **cardinality** -- the operator returns H(x)^(ab) in a fresh secret order, so
  the bank learns only |X ∩ Y| and |Y|; the operator learns |X| only.

Unbalanced mode (for the operator's large base; off unless the operator enables it for
a counterpart, `limits.psi_allow_unbalanced`; not with cardinality): the operator's
scalar is fixed per counterpart, key epoch and data snapshot, its blinded
set H(y)^a is cached on both sides, and the bank un-blinds H(x)^(ab) to H(x)^a with
b^-1 instead of re-blinding the operator's set, so a repeated session costs work
proportional to the bank's set only. The price, on top of what the mode reveals:
(1) transmitted values repeat across the sessions of an epoch (the operator's H(y)^a
are the same in each, sent once and cached, or sent again identically), so those
sessions are linkable; (2) the bank's un-blinded
H(x)^a are stable within the epoch, so the bank can see how its own sets changed
between sessions in the operator's blinded terms and link a number's result across
them; (3) the bank keeps the operator's whole blinded base for the epoch, which would
be reversible by enumeration if the operator's epoch scalar ever leaked, so scalars
rotate per epoch and on every change of the operator's data, and are deleted by a
timer when their epoch ends (the bank deletes its copy of the set at its next PSI run
or housekeeping pass after that).
What the operator sees does not change: fresh H(x)^b in every session.

Anti-enumeration (operator side, per counterpart): sessions only inside approved jobs
(above), a minimum set size per query (so the answers for S and S plus one person are
not obtainable with tiny sets), a per-request maximum, and a daily budget of numbers
(sum of announced set sizes per UTC day; the operator cannot count distinct numbers
behind fresh blinding), 500,000 each by default. These bound how fast a bank could
take set differences; they do not make differencing impossible.

Modules: group (hash to group, scalars), pool (process pool over packed bytes),
matching (set logic, shuffles, row keys), alignment (the Alignment contract), messages
and serde (wire types), service (servicer adapter and client calls).
"""
