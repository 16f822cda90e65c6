#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite: the release build's unit,
# integration, end-to-end and short soak tests (every ctest label), then the sanitizer and fuzz
# phase (scripts/test-asan.sh: the clang-14 ASan/UBSan build's unit and integration tests, the
# end-to-end tests against the sanitized binaries, every fuzzer for a few seconds).
# TASKWATCH_ASAN=0 skips that phase (a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
(cd build && ctest --output-on-failure --timeout 300 -j2)
echo "test: release build and tests took $(($(date +%s) - start)) s"
if [ "${TASKWATCH_ASAN:-1}" = 1 ]; then
  scripts/test-asan.sh
fi
echo "test: everything took $(($(date +%s) - start)) s"
