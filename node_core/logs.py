"""Structured logging that never carries phone numbers, resident IDs or names.

Code never logs identifiers in the first place (it logs counts, job ids, pseudonyms);
as defence in depth every record passes a redaction filter, by column role and by
shape:

- by role: every value of every identity column of every data source this process
  has loaded (the id column, raw and canonical, `identity` and `resident_id_columns`
  columns: names, resident IDs, contact numbers, customer ids) is registered by
  node_core.ingest, and any occurrence of one is masked as "[identity]" (values of at
  least 2 characters if they contain a non-ASCII character, as Chinese names do, else
  of at least 4; shorter ones say nothing about a person);
- by shape: anything shaped like a mainland mobile number or an 18-character resident
  ID is masked, also before any data is loaded;

in the message and its arguments, in extra fields of any type (a number or a list is
checked as its text and replaced by the masked text when it holds one), in exception
text and stack traces. The CLI's one-line errors pass the same `redact`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from node_core.config import LogConfig

_PHONE_RE = re.compile(
    r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9](?:[\s-]?[0-9]){8}(?![0-9])"
)
_RESIDENT_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


IDENTITY_MASK = "[identity]"


class IdentityValues:
    """The identity-column values seen by this process, as 64-bit hashes (8 bytes per
    value; the values themselves stay in their datasets), found in any text."""

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.int64)  # sorted, unique
        self._lengths: tuple[int, ...] = ()  # longest first
        self._starts: frozenset[str] = frozenset()  # first characters of the values
        self._lock = threading.Lock()

    def register(self, values: Iterable[object]) -> None:
        """Add the values (any type; None and NaN skipped; a whole float also as an
        integer, as a number column read as floats would print it)."""
        column = values if isinstance(values, pd.Series) else pd.Series(values)
        column = column[column.notna()]
        if column.empty:
            return
        texts = column.astype(str).str.strip()
        if pd.api.types.is_float_dtype(column.dtype):
            whole = column[(column % 1 == 0) & (column.abs() < 2**63)]
            texts = pd.concat([texts, whole.astype("int64").astype(str)])
        # Vectorised: values too short to name anyone are not registered.
        sizes = texts.str.len()
        texts = texts[(sizes >= 4) | ((sizes >= 2) & ~texts.str.isascii())]
        if texts.empty:
            return
        unique = pd.unique(texts.to_numpy(dtype=object))
        hashes = np.fromiter(map(hash, unique), dtype=np.int64, count=len(unique))
        lengths = {int(n) for n in texts.str.len().unique()}
        starts = {str(c) for c in texts.str[0].unique()}
        with self._lock:
            merged = np.concatenate([self._hashes, hashes])
            merged.sort()  # sort-based dedupe: np.union1d is far slower here
            keep = np.ones(merged.size, dtype=bool)
            keep[1:] = merged[1:] != merged[:-1]
            self._hashes = merged[keep]
            self._lengths = tuple(sorted(set(self._lengths) | lengths, reverse=True))
            self._starts = self._starts | starts

    def __len__(self) -> int:
        return int(self._hashes.size)

    @staticmethod
    def _found(candidates: list[str], hashes: np.ndarray) -> np.ndarray:
        probe = np.fromiter(
            map(hash, candidates), dtype=np.int64, count=len(candidates)
        )
        at = np.searchsorted(hashes, probe)
        at[at == hashes.size] = 0
        return np.flatnonzero(hashes[at] == probe)

    def redact(self, text: str) -> str:
        hashes, lengths, first = self._hashes, self._lengths, self._starts
        if not hashes.size or not text:
            return text
        masked = np.zeros(len(text), dtype=bool)
        starts = [i for i, ch in enumerate(text) if ch in first]
        for length in lengths:
            fits = [i for i in starts if i + length <= len(text)]
            if not fits:
                continue
            found = self._found([text[i : i + length] for i in fits], hashes)
            for k in found:
                masked[fits[k] : fits[k] + length] = True
        if not masked.any():
            return text
        out, i = [], 0
        while i < len(text):
            if masked[i]:
                while i < len(text) and masked[i]:
                    i += 1
                out.append(IDENTITY_MASK)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


# Filled by node_core.ingest with every identity column it reads.
IDENTITIES = IdentityValues()


def redact(text: str) -> str:
    """Mask registered identity values, then phone- and resident-ID-shaped text."""
    text = IDENTITIES.redact(text)
    return _PHONE_RE.sub("[phone]", _RESIDENT_ID_RE.sub("[resident-id]", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif value is not None and not isinstance(value, bool):
                text = str(value)  # what the formatters would write
                masked = redact(text)
                if masked != text:
                    setattr(record, key, masked)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, party_id: str) -> None:
        super().__init__()
        self._party = party_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "party": self._party,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, (int, float, bool)) else str(value)
                )
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self, party_id: str) -> None:
        super().__init__(f"%(asctime)s {party_id} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")
        }
        text = super().format(record)
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return text


def setup_logging(cfg: LogConfig, party_id: str) -> None:
    """Configure the root logger once for a node process."""
    handler: logging.Handler
    if cfg.file is not None:
        cfg.file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(cfg.file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter(party_id) if cfg.format == "json" else TextFormatter(party_id)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(cfg.level.upper())
