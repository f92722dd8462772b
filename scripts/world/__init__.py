"""Synthetic operator-and-bank world: subscribers, bank customers, hidden outcomes."""

GENERATOR_VERSION = "duet-world/1.0"
