#!/usr/bin/env bash
# Installs the dependencies, builds, and runs `taskwatchd --demo`: the daemon watching an
# in-process ModelArts simulator on loopback with a few dozen lively tasks. No cloud account
# needed. Every event is logged on stderr; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
exec build/bin/taskwatchd --demo "$@"
