#!/usr/bin/env bash
# One command: install everything, then run the all-in-one controller on the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/filament up "$@"
