#!/usr/bin/env bash
# The benchmark in one command: install what is missing (Debian wrk and node, the venv with
# the bench extra, npm ci), then the token-core micro-benchmark and the load benchmark
# (flask-talk vs the Node reference). Arguments go to bench/run.py, e.g.
#   bench/run.sh --rounds 5 --flask-servers gunicorn-sync,gunicorn-gthread,granian,uwsgi
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --full >&2
echo "== token core (bench/micro.py) =="
.venv/bin/python bench/micro.py
echo
echo "== load (bench/run.py) =="
exec .venv/bin/python bench/run.py "$@"
