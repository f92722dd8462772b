"""Session handshake (session/hello/1): party ids, protocol version and capabilities.

What each party learns: the other's party id (already proven by its certificate),
protocol major version, software version and capability list. No personal data.

Modules: messages (Hello), serde (its only _pb2 code), party (the checks each side
makes), service (servicer, client call, declaration).
"""
