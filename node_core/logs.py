"""Structured logging that never carries phone numbers, resident IDs or names.

Code never logs identifiers in the first place (it logs counts, job ids, pseudonyms);
as defence in depth every record passes a redaction filter that masks anything shaped
like a mainland mobile number or an 18-character resident ID, in the message, in its
arguments, in extra fields and in exception text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from node_core.config import LogConfig

_PHONE_RE = re.compile(
    r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9](?:[\s-]?[0-9]){8}(?![0-9])"
)
_RESIDENT_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def redact(text: str) -> str:
    """Mask phone-shaped and resident-ID-shaped substrings."""
    return _PHONE_RE.sub("[phone]", _RESIDENT_ID_RE.sub("[resident-id]", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
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
