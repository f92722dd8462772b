#!/usr/bin/env bash
# Create or refresh .venv with the project's pinned dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.duet-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "[setup] installing pinned dependencies into .venv (first run takes ~2 minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first and exactly pinned: an unpinned resolve would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$stamp" > .venv/.duet-stamp
fi
