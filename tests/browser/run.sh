#!/usr/bin/env bash
# Runs the console's browser test: run.sh VOLNODE_BINARY SHARED_DATA_DIR OUTPUT_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
chromium="${VOLNODE_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "SKIP: no Chromium at $chromium (set VOLNODE_CHROMIUM to run the console browser test)"
  exit 77
fi
if ! command -v node >/dev/null; then
  echo "SKIP: Node.js is not installed; the console browser test needs it"
  exit 77
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  echo "installing playwright-core (npm ci in tests/browser)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL: npm ci in $here failed"; exit 1; }
fi
exec timeout --kill-after=10 400 node "$here/console.test.mjs" --volnode "$1" --data "$2" --out "$3" --chromium "$chromium"
