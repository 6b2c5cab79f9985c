#!/usr/bin/env bash
# Installs every Debian 12 package volnode needs to build, run and test.
# Idempotent: packages already present are left alone; safe to run repeatedly.
#   scripts/install-deps.sh          build + runtime dependencies
#   scripts/install-deps.sh --tests  also the test peers (Orthanc, dicom3tools, Chromium)
set -euo pipefail

runtime_and_build=(
  build-essential cmake pkg-config ninja-build  # GCC brings libasan8/libubsan1 (.ci/sanitizers.sh)
  libdcmtk-dev dcmtk                 # DICOM networking and data (SCP, SCU, tools)
  zlib1g-dev                         # deflated data sets, inflated by the guarded reader's pre-scan
  libinsighttoolkit5-dev             # volume assembly and preprocessing (GDCM inside)
  libvtk9-dev                        # offscreen volume rendering, surface meshing
  libopenmpi-dev                     # Debian's VTK CMake config asks for MPI
  libspdlog-dev libfmt-dev           # logging
  libsqlite3-dev sqlite3             # the index and the job queue
  libpq-dev                          # the index and the job queue on PostgreSQL (index.backend)
  nlohmann-json3-dev                 # REST API and JSON presets/rules
  libtomlplusplus-dev                # configuration file
  libcpp-httplib-dev libssl-dev      # service console (HTTP, optional TLS)
  libcli11-dev                       # command line
  xvfb xauth libgl1-mesa-dri         # headless X server + Mesa llvmpipe for VTK
  libgtest-dev googletest            # unit tests
)
test_peers=(
  orthanc                            # a real PACS for end-to-end tests
  orthanc-dicomweb                   # its DICOMweb plugin: the STOW-RS destination in tests
  dicom3tools                        # dciodvfy / dcentvfy conformance checks
  chromium                           # browser tests of the console
  curl procps
  postgresql-15                      # a real server for the PostgreSQL backend tests (ctest -L postgresql)
  clang-14 libclang-rt-14-dev         # libFuzzer targets (.ci/fuzz.sh, fuzz/README.md)
  llvm-14                            # llvm-symbolizer: readable stacks in fuzz findings
)

wanted=("${runtime_and_build[@]}")
# node/npm fetch three.js for the viewer (and playwright-core for browser tests);
# a machine that already has a Node.js (from any source) keeps it.
command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
if [[ "${1:-}" == "--tests" ]]; then wanted+=("${test_peers[@]}"); fi

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Orthanc's package starts a system service on install; tests run their own instance.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
