#!/usr/bin/env bash
# Fault soak: taskwatchd against modelarts-sim on loopback with every fault kind injected into
# 20 % of the requests (429s rarer, about 0.1/s each: a 429 pauses the whole endpoint, as it
# should, so at a share of every request the daemon would spend the soak paused), then checks
# and prints: the daemon is up at the end; its RSS at the end
# within +-5 % of its RSS after warm-up; every status transition the simulator made is in the
# outbox exactly once (ground truth: the simulator's GET /sim/transitions); every failure
# counted in taskwatch_poll_failures_total by reason, equal to the simulator's injected faults
# where they map one to one; at most 5 log lines in any second (task event lines aside).
# Exits non-zero with a "soak: FAILED: ..." line when a check fails.
#
# Usage: scripts/soak.sh [--tasks N] [--duration SECONDS] [--keep]
#   --tasks N           simulated tasks (default 5000)
#   --duration SECONDS  how long faults are injected, warm-up included (default 240)
#   --keep              keep the configuration, database and logs (path printed)
# Environment (advanced): SOAK_INTERVAL (poll interval s, default 5), SOAK_PHASE (simulator
# --phase-seconds, default 60), SOAK_WARMUP (s, default 60), SOAK_DATASETS (default 20),
# SOAK_FAULT_RATIO (0.2), SOAK_RSS_PERCENT (5), SOAK_LOG_LINES_PER_SECOND (5),
# SOAK_MAX_CONNECTIONS (64), BIN (build/bin).
# Builds nothing: needs build/bin/soak_tests, taskwatchd and modelarts-sim
# (cmake --build build --target soak_tests). The short version (300 tasks, 50 s) runs in
# ctest: ctest --test-dir build -L soak.
# Everything runs on 127.0.0.1 and stops when this script ends (Ctrl-C included).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-build/bin}
tasks=5000
duration=240
die() { echo "soak: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --tasks) [ $# -ge 2 ] || die "--tasks needs a value"; tasks=$2; shift 2 ;;
    --duration) [ $# -ge 2 ] || die "--duration needs a value"; duration=$2; shift 2 ;;
    --keep) export SOAK_KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $tasks =~ ^[0-9]+$ && $tasks -gt 0 ]] || die "--tasks '$tasks' is not a count > 0"
[[ $duration =~ ^[0-9]+$ && $duration -gt 0 ]] || die "--duration '$duration' is not whole seconds > 0"
for b in soak_tests taskwatchd modelarts-sim; do
    [ -x "$bin/$b" ] || die "$bin/$b not found: build first (cmake --build build --target soak_tests)"
done

export SOAK_TASKS=$tasks SOAK_DURATION=$duration
export SOAK_INTERVAL=${SOAK_INTERVAL:-5} SOAK_PHASE=${SOAK_PHASE:-60}
export SOAK_DATASETS=${SOAK_DATASETS:-20} SOAK_MAX_CONNECTIONS=${SOAK_MAX_CONNECTIONS:-64}
warmup=${SOAK_WARMUP:-60}
[ "$warmup" -lt "$duration" ] || warmup=$((duration / 4))
export SOAK_WARMUP=$warmup

# Its own process group, so that the trap stops the simulator and the daemon with it.
setsid "$bin/soak_tests" -ts=soak --no-intro --no-version &
pid=$!
trap 'kill -TERM -- -"$pid" 2>/dev/null || true; sleep 1; kill -KILL -- -"$pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
rc=0
wait "$pid" || rc=$?
trap - EXIT
[ "$rc" -eq 0 ] && echo "soak: passed" || echo "soak: FAILED (exit $rc)" >&2
exit "$rc"
