"""Protocol and software versions, and the protocols this build speaks.

Each protocol declares itself in its service.py (`PROTOCOL`: capability, gRPC service,
retry-safe methods); this module lists them, and so the capabilities the handshake
advertises. A new protocol adds its package under protocol/ and one line here.
"""

from __future__ import annotations

from protocol.binning.service import PROTOCOL as BINNING
from protocol.diagnostics.service import PROTOCOL as DIAGNOSTICS
from protocol.domain import ProtocolDeclaration
from protocol.evaluation.service import PROTOCOL as EVALUATION
from protocol.hetero_lr.service import PROTOCOL as HETERO_LR
from protocol.jobs.service import PROTOCOL as JOBS
from protocol.psi.service import PROTOCOL as PSI
from protocol.scoring.service import PROTOCOL as SCORING
from protocol.secureboost.service import PROTOCOL as SECUREBOOST
from protocol.session.messages import Hello
from protocol.session.service import PROTOCOL as SESSION
from protocol.split_nn.service import PROTOCOL as SPLIT_NN

# Major version of the duet wire protocol. Two parties must speak the same major
# version; a change that breaks a message or a protocol step increments it.
PROTOCOL_VERSION = 1

SOFTWARE_VERSION = "0.1.0"

PROTOCOLS: tuple[ProtocolDeclaration, ...] = (
    SESSION,
    DIAGNOSTICS,
    JOBS,
    BINNING,
    HETERO_LR,
    PSI,
    EVALUATION,
    SECUREBOOST,
    SPLIT_NN,
    SCORING,
)

# Capabilities this build implements: "<protocol>/<suite>/<version>". The handshake
# intersects both parties' lists; a job needing a capability the peer lacks is refused
# before any data moves.
CAPABILITIES: tuple[str, ...] = tuple(p.capability for p in PROTOCOLS)


def local_hello(party_id: str, capabilities: tuple[str, ...] = CAPABILITIES) -> Hello:
    """This build's side of the handshake."""
    return Hello(party_id, PROTOCOL_VERSION, capabilities, SOFTWARE_VERSION)
