#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: installs only what is missing.
#   scripts/setup.sh          -> Python venv + package (enough for the demo)
#   scripts/setup.sh --full   -> also Debian packages (chromium, redis-server, wrk) and npm packages
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$full" = 1 ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
extras=""
[ "$full" = 1 ] && extras="[test,bench]"   # the demo needs only the package itself
hash=$(cat setup.cfg pyproject.toml | sha1sum | cut -c1-12)
stamp=.venv/.installed$full-$hash
# A full install (with the test extras) also serves the demo.
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed1-$hash" ]; then
  echo "setup: installing Python packages"
  # pip's packaging chatter goes to a log; it is shown only if the install fails.
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e ".$extras"; } > .venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    echo "setup: pip install failed (log above)" >&2
    exit 1
  fi
  rm -f .venv/.installed$full-*
  touch "$stamp"
fi

if [ "$full" = 1 ]; then
  lockhash=$(sha1sum package-lock.json | cut -c1-12)
  if [ ! -f "node_modules/.installed-$lockhash" ]; then
    echo "setup: installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    touch "node_modules/.installed-$lockhash"
  fi
fi
