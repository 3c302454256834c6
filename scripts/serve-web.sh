#!/usr/bin/env bash
# Serves the browser page (web/) with the shipped models and the test sets:
#   scripts/serve-web.sh [PORT]        # prints the URL; Ctrl-C stops it
# Installs onnxruntime-web from web/package-lock.json (npm ci) the first time, and
# fetches MNIST / Fashion-MNIST (for the page's test images) if they are missing.
# Extra export directories: scripts/serve-web.sh 8080 --mount NAME=DIR, then pick
# "custom" and enter NAME/ (or open http://127.0.0.1:8080/?model=NAME/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${1:-8080}"; [ $# -gt 0 ] && shift
# quiet when the data is there; what went wrong when it could not be fetched
if ! log="$(scripts/fetch-data.sh 2>&1)"; then
  echo "$log" >&2; echo "serve-web: scripts/fetch-data.sh failed" >&2; exit 1
fi
web_deps() { # npm ci when node_modules is missing or older than the lock file; one retry
  if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    (cd web && { npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 ||
      { echo "serve-web: npm ci failed; retrying once" >&2; sleep 5; npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2; }; }) ||
      { echo "serve-web: npm ci in web/ failed (onnxruntime-web and playwright-core from web/package-lock.json)" >&2; exit 1; }
  fi
}
web_deps
exec node web/serve.mjs --port "$port" "$@"
