#!/usr/bin/env bash
# Set up everything the tests need (Debian packages, venv, npm) and run the whole suite:
# pytest (Python, WebTest, real Redis, Node's jsonwebtoken, headless Chromium) and the
# Talk plugin's own node tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --full
export FLASK_TALK_REQUIRE_REAL_PARTS=1   # a missing redis-server/node/chromium fails, never skips
echo "test.sh: static checks (mypy, ruff)"
.venv/bin/mypy
.venv/bin/ruff check flask_talk demo tests bench
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
