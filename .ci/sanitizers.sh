#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (CMake
# preset "asan", folder build-asan/) and runs it with ctest. Any ASan report
# (heap overflow, use after free, ...) or UBSan report (signed overflow, bad
# shift, misaligned load, invalid enum/bool, ...) fails the test that hit it.
#
#   .ci/sanitizers.sh                 the four core unit suites (default, see below)
#   .ci/sanitizers.sh all             every test executable (slow on a small machine:
#                                     VTK/ITK code under ASan, Orthanc and browser tests)
#   .ci/sanitizers.sh test_core ...   the named test executables only
#
# Environment: VOLNODE_SANITIZER_JOBS (build/ctest parallelism, default 2).
#
# Options and why:
#   detect_leaks=0   LeakSanitizer is off: DCMTK keeps global dictionaries and codec
#                    registries, and VTK/ITK object factories and Mesa allocate once and
#                    never free; their reports drown real leaks. Our own objects are RAII.
#   abort_on_error=1 a report ends the test process, so ctest marks the test failed.
#   halt_on_error=1  (UBSan) the first undefined behaviour ends the test too.
#   ASan/UBSan reports also go to build-asan/sanitizer-logs/<exe>.<pid> for the record.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-asan"
jobs=${VOLNODE_SANITIZER_JOBS:-2}

default_targets=(test_core test_storage test_scp test_volume)
if [[ "${1:-}" == "all" ]]; then
  targets=(all)
elif (($# > 0)); then
  targets=("$@")
else
  targets=("${default_targets[@]}")
fi

cd "$root"
cmake --preset asan >/dev/null
# Note: every test executable depends on the volnode binary (integration tests start
# it), so building one suite also builds the whole application under ASan.
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

logs="$build/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"

status=0
if [[ "${targets[0]}" == "all" ]]; then
  (cd "$build" && ctest --output-on-failure --timeout 900 --parallel "$jobs") || status=$?
else
  # Named suites: run each gtest executable directly (from tests/, as ctest would).
  for t in "${targets[@]}"; do
    echo "=== $t"
    (cd "$build/tests" && "./$t" --gtest_brief=1) || { status=$?; echo "sanitizers: $t failed ($status)" >&2; }
  done
fi
if compgen -G "$logs/*" >/dev/null; then
  echo "sanitizers: reports in $logs:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; head -40 "$f" >&2; done
  status=1
fi
exit $status
