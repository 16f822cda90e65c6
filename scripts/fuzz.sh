#!/usr/bin/env bash
# A longer fuzzing run than CI's: builds the `asan` preset's fuzzers if needed and runs TARGET
# (all of them, one after the other, when omitted) for SECONDS each (default 300). The corpus
# grows in build/asan/fuzz-corpus/TARGET, seeded from tests/fuzz/corpus/TARGET; a crash stops
# the run and leaves its input in build/asan/fuzz-corpus/ (keep it in tests/fuzz/regressions/
# TARGET/ once fixed, and CI replays it).
# Usage: scripts/fuzz.sh [TARGET] [SECONDS]    targets: see tests/fuzz/CMakeLists.txt
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(task_json task_list error_body config web_config server client)
if [ $# -ge 1 ] && [ -n "$1" ] && [ "$1" != all ]; then targets=("$1"); fi
seconds=${2:-300}

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
[ -f build/asan/CMakeCache.txt ] || cmake --preset asan "${launcher[@]}" >/dev/null
cmake --build --preset asan --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for t in "${targets[@]}"; do
  out=build/asan/fuzz-corpus/$t
  mkdir -p "$out"
  echo "== fuzz_$t for $seconds s (corpus $out)"
  build/asan/bin/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build/asan/fuzz-corpus/$t-" \
    "$out" "tests/fuzz/corpus/$t"
done
