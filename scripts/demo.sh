#!/usr/bin/env bash
# Set up, then run Gridline with demo data on the embedded defaults (SQLite + embedded Redis in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/gridline run "$@"
