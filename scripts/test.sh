#!/usr/bin/env bash
# Set up, then run lint and the whole test suite. Every test runs on the embedded defaults, and also
# on PostgreSQL + Redis when GRIDLINE_TEST_POSTGRES_URL and GRIDLINE_TEST_REDIS_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two pytest-xdist workers (each with its own databases, see tests/conftest.py); `-n 0` (or any -n) given
# to this script wins, as the last one on the command line.
exec .venv/bin/pytest -n "${GRIDLINE_TEST_WORKERS:-2}" "$@"
