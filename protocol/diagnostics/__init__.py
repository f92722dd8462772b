"""Diagnostics (diagnostics/chunked-stream/1): link throughput and chunked-stream
checks, no personal data involved.

What each party learns: the size and SHA-256 of random test payloads.

Modules: messages, serde (its only _pb2 code), service (servicer, client calls,
declaration).
"""
