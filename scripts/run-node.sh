#!/usr/bin/env bash
# Command 1: install what is needed, build, and run the node on the embedded
# default configuration (etc/volnode.toml: DICOM AE VOLNODE on port 11112,
# console on http://127.0.0.1:8080/, data under ./var). Extra arguments go to
# `volnode serve`, e.g. scripts/run-node.sh --set dicom.port=11113
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root"
exec "$root/build/app/volnode" serve --config "$root/etc/volnode.toml" "$@"
