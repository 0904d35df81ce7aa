#!/usr/bin/env bash
# Set up, then run Gridline with demo data on the embedded defaults (SQLite + embedded Redis in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Demo only, unless set otherwise: SMS sign-in codes (app, grid workers) appear in the console's log while
# no Twilio account sends them, and the city platform signs its orders with a public demo secret.
export GRIDLINE_DEMO__SHOW_CODES="${GRIDLINE_DEMO__SHOW_CODES:-true}"
export GRIDLINE_CITY__PLATFORMS__BEIJING__SECRET="${GRIDLINE_CITY__PLATFORMS__BEIJING__SECRET:-demo-city-secret}"
exec .venv/bin/gridline run "$@"
