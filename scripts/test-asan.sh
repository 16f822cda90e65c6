#!/usr/bin/env bash
# CI's sanitizer and fuzz phase, run by scripts/test.sh after the release build's tests.
# Builds the `asan` preset (clang-14: AddressSanitizer + UndefinedBehaviorSanitizer, halting at
# the first report, the code instrumented for libFuzzer too; no benchmarks, no e2e_tests) and
# runs under it: the unit and integration tests (the integration tests run the library's parts
# in-process, so they are sanitized themselves); the end-to-end tests of the release tree
# (build/) driving the sanitized taskwatchd and modelarts-sim; every fuzzer for
# TASKWATCH_FUZZ_SECONDS (8 s) each.
# A sanitizer report in any process, a child of a test too, fails the run.
# Prints how long the build and each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reports=$root/build/asan/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:log_path=$reports/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan

# After a test run that exited with $2: prints any report and fails.
check_reports() {
  if compgen -G "$reports/*" >/dev/null; then
    for f in "$reports"/*; do echo "== $f"; head -n 60 "$f"; done
    echo "asan: sanitizer reports above ($1)" >&2
    exit 1
  fi
  [ "$2" -eq 0 ] || exit "$2"
}

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
start=$(date +%s)
cmake --preset asan "${launcher[@]}"
cmake --build --preset asan
built=$(date +%s)
echo "asan: build took $((built - start)) s"

rc=0
(cd build/asan && ctest --output-on-failure --timeout 300 -j2 -L 'unit|integration') || rc=$?
check_reports "unit and integration tests" $rc
unit=$(date +%s)
echo "asan: unit and integration tests took $((unit - built)) s"

(cd build && TASKWATCH_TEST_BIN_DIR=$root/build/asan/bin \
   ctest --output-on-failure --timeout 300 -j2 -L e2e) || rc=$?
check_reports "end-to-end tests" $rc
e2e=$(date +%s)
echo "asan: end-to-end tests took $((e2e - unit)) s"

# libFuzzer reports its own findings (and needs the sanitizers' output on stderr).
unset ASAN_OPTIONS UBSAN_OPTIONS
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build/asan && ctest --output-on-failure --timeout 300 -j2 -L fuzz)
cat build/asan/tests/fuzz/*/summary
fuzz=$(date +%s)
echo "asan: fuzzers took $((fuzz - e2e)) s; the whole phase $((fuzz - start)) s"
