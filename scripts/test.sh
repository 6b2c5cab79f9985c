#!/usr/bin/env bash
# Command 2: install what is needed (with the test peers: Orthanc, dicom3tools,
# Chromium), build, and run the whole test suite. Tests start and stop their
# own servers (volnode, Orthanc, Xvfb) on loopback ports, by process id.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VOLNODE_BUILD_DIR:-$root/build}
data="$root/../shared/data"
if [[ -z "${VOLNODE_SHARED_DATA:-}" && ! -d "$data" ]]; then
  echo "test.sh: the real DICOM test data is missing: expected $data (or set VOLNODE_SHARED_DATA)" >&2
  exit 1
fi
"$root/scripts/install-deps.sh" --tests
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 900 --parallel "${VOLNODE_TEST_JOBS:-2}"
