"""Test helper: a message as the peer receives it (serialised and parsed again)."""

from __future__ import annotations

from typing import Any, TypeVar

M = TypeVar("M", bound=Any)


def through_wire(msg: M) -> M:
    result: M = type(msg).FromString(msg.SerializeToString())
    return result


def with_fields(msg: M, **fields: Any) -> M:
    """A copy of `msg` with fields replaced (repeated fields replaced whole)."""
    out: M = type(msg)()
    out.CopyFrom(msg)
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(out, name)[:]
            getattr(out, name).extend(value)
        else:
            setattr(out, name, value)
    return out
