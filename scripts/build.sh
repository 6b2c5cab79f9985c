#!/usr/bin/env bash
# Configures and builds volnode in build/ (RelWithDebInfo, Ninja).
#   scripts/build.sh [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VOLNODE_BUILD_DIR:-$root/build}
jobs=${VOLNODE_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" --parallel "$jobs"
