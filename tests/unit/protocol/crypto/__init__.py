"""Unit tests of protocol.crypto."""
