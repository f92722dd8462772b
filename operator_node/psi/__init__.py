"""The operator's passive role in the PSI (protocol/psi).

Modules: sessions (the Psi service's handler: sessions, pipelining, audit), data (the
served numbers, cached per file version), policy (checks before any data moves), quota
(the daily budget), epochs (unbalanced mode's per-epoch blinded sets).
"""
