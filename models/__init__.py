"""Learning math shared by both parties; no network I/O and no wire (protobuf) types."""
