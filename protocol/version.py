"""Protocol and software versions, and the capabilities this build speaks."""

from __future__ import annotations

# Major version of the duet wire protocol. Two parties must speak the same major
# version; a change that breaks a message or a protocol step increments it.
PROTOCOL_VERSION = 1

SOFTWARE_VERSION = "0.1.0"

# Capabilities this build implements: "<protocol>/<suite>/<version>". The handshake
# intersects both parties' lists; a job needing a capability the peer lacks is refused
# before any data moves. Later protocols append their entries here.
CAPABILITIES: tuple[str, ...] = (
    "session/hello/1",
    "diagnostics/chunked-stream/1",
    "jobs/policy/1",
    "binning/paillier-iv/1",
    "hetero-lr/ckks-fourier/1",
    "psi/ecdh-x25519/1",
)
