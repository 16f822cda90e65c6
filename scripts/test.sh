#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite (unit, then e2e); then the
# sanitizer build's tests and the fuzzers (scripts/test-asan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
(cd build && ctest --output-on-failure --timeout 300 -j2)
scripts/test-asan.sh
