#!/usr/bin/env bash
# Command (2) of the README: set up .venv and run lint, type checks and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "[test] ruff"
.venv/bin/ruff check .
echo "[test] mypy"
.venv/bin/mypy protocol node_core operator_node bank_node models
echo "[test] generated code is current"
.venv/bin/python -m scripts.gen_protos --check
echo "[test] pytest (slow end-to-end tests included; -m \"not slow\" skips them, --extended adds the multi-minute ones)"
.venv/bin/python -m pytest -q "$@"
