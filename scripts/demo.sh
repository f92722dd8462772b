#!/usr/bin/env bash
# Command (1) of the README: set up .venv, then run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
