#!/usr/bin/env bash
# Set up, then run lint and the whole test suite. Every test runs on the embedded defaults, and also
# on PostgreSQL + Redis when GRIDLINE_TEST_POSTGRES_URL and GRIDLINE_TEST_REDIS_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
