#!/usr/bin/env bash
# Set up (if needed) and start the demo site on http://127.0.0.1:${PORT:-5000}/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DEMO_INSTANCE_PATH="${DEMO_INSTANCE_PATH:-$PWD/instance}"
# The demo's issuer follows the port it runs on, unless Talk's settings say otherwise.
export TALK_ROOT_URL="${TALK_ROOT_URL:-http://127.0.0.1:${PORT:-5000}/}"
echo "demo: open http://127.0.0.1:${PORT:-5000}/  (readers: alice, bob, carol; password <name>-demo-pass)"
exec .venv/bin/flask --app demo run --host 127.0.0.1 --port "${PORT:-5000}" "$@"
