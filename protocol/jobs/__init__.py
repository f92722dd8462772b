"""Jobs (jobs/policy/1): proposals, approval status, binding to an alignment, outcome.

What each party learns: the operator learns the job's purpose, requested feature
patterns, model type, task (credit or lookalike: what the labels are, never a label),
row bound, batch size and, at binding, which aligned positions are validation rows;
the bank learns the decision and the operator's feature list under the names the
operator discloses. ListFeatures gives the bank, outside any job,
the names (or aliases) and kinds of the features its policy offers, and the operator
the patterns asked for; a pattern outside the policy is refused with the same answer
as in a proposal. No personal data crosses here.

Modules: messages, serde (its only _pb2 code), service (servicer, client,
declaration).
"""
