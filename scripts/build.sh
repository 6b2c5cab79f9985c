#!/usr/bin/env bash
# Configures and builds volnode in build/ (RelWithDebInfo, Ninja).
#   scripts/build.sh [extra cmake args...]
# VOLNODE_DEBUG_INFO=lines (what CI sets) keeps line tables only (-g1): backtraces and
# sanitizer reports still name function, file and line, and the build takes about a
# quarter less CPU than with full debug information (-g, the default: =full goes back).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VOLNODE_BUILD_DIR:-$root/build}
jobs=${VOLNODE_JOBS:-$(nproc)}
debug_info=()
case "${VOLNODE_DEBUG_INFO:-}" in
  "") ;;
  lines) debug_info=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG") ;;
  full) debug_info=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g -DNDEBUG") ;;
  *) echo "build.sh: VOLNODE_DEBUG_INFO is 'lines' or 'full', not '$VOLNODE_DEBUG_INFO'" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${debug_info[@]}" "$@" >/dev/null
cmake --build "$build" --parallel "$jobs"
