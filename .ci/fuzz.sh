#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset "fuzz": Debian's clang 14 with
# -fsanitize=fuzzer,address,undefined, folder build-fuzz/) and runs each one for a
# fixed time on a copy of its seed corpus. Fails when any target crashes, leaks,
# times out on one input or trips a sanitizer; the input that did it is left in
# build-fuzz/artifacts/<target>/ (see fuzz/README.md for what to do with it).
#
#   .ci/fuzz.sh                       every target, 30 s each
#   FUZZ_SECONDS=300 .ci/fuzz.sh      longer runs
#   .ci/fuzz.sh fuzz_config ...       only the named targets
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_JOBS (build parallelism, default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}

# target -> seed corpus folder under fuzz/corpus, dictionary under fuzz/ (may be empty)
declare -A corpus=(
  [fuzz_dicom_header]=dicom_header [fuzz_assembly]=assembly [fuzz_config]=config
  [fuzz_rules]=rules [fuzz_preset]=preset [fuzz_console_http]=console_http)
declare -A dict=(
  [fuzz_config]=toml.dict [fuzz_rules]=json.dict [fuzz_preset]=json.dict [fuzz_console_http]=http.dict)
all=(fuzz_config fuzz_rules fuzz_preset fuzz_dicom_header fuzz_assembly fuzz_console_http)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

if ! command -v clang++-14 >/dev/null 2>&1; then
  echo "fuzz: clang++-14 is missing (scripts/install-deps.sh --tests installs clang-14, libclang-rt-14-dev and llvm-14)" >&2
  exit 1
fi

cd "$root"
t0=$SECONDS
cmake --preset fuzz >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

echo "fuzz: build took $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"

# LeakSanitizer stays on (libFuzzer checks each input for leaks); abort so the
# report and the input are kept. UBSan is built with -fno-sanitize-recover.
export ASAN_OPTIONS="abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# clang's sanitizer runtimes symbolize stacks with llvm-symbolizer (package llvm-14).
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" && -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

failed=()
for t in "${targets[@]}"; do
  [[ -n "${corpus[$t]:-}" ]] || { echo "fuzz: unknown target $t" >&2; exit 2; }
  work="$build/corpus/$t"          # new inputs found by this run (not committed)
  artifacts="$build/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  # -malloc_limit_mb: no input of at most 64 KiB needs one allocation of 512 MiB; a
  # larger one is a length taken from the input and trusted (GDCM once zero-filled 2 GB).
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  [[ -n "${dict[$t]:-}" ]] && args+=(-dict="$root/fuzz/${dict[$t]}")
  echo "=== $t: ${seconds}s on fuzz/corpus/${corpus[$t]}"
  log="$build/$t.log"
  if "$build/fuzz/$t" "${args[@]}" "$work" "$root/fuzz/corpus/${corpus[$t]}" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE' "$log" || true
  else
    echo "fuzz: $t FAILED; last lines of $log:" >&2
    tail -60 "$log" >&2
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failures in ${failed[*]} (inputs under $build/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${seconds}s each without a finding"
