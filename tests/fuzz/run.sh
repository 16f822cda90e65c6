#!/usr/bin/env bash
# One fuzz test: replays the crash inputs kept for TARGET, then fuzzes it for SECONDS from its
# seed corpus. New inputs and crash files go to ./TARGET/ (the build tree), never to the sources.
# Prints one line of figures: executions, seconds, executions per second, corpus size.
# Usage: run.sh FUZZER SOURCE_DIR TARGET SECONDS
set -euo pipefail
fuzzer=$1 src=$2 target=$3 seconds=$4
work=$PWD/$target
mkdir -p "$work/corpus"
log=$work/log

mapfile -t kept < <(find "$src/regressions/$target" -type f ! -name '.*' 2>/dev/null | sort)
if [ ${#kept[@]} -gt 0 ]; then
  if ! "$fuzzer" "${kept[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $target: a kept crash input fails again" >&2
    exit 1
  fi
fi

start=$(date +%s.%N)
if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$work/" "$work/corpus" "$src/corpus/$target" >"$log" 2>&1; then
  tail -n 80 "$log"
  echo "fuzz $target: crash; the input is in $work/ (crash-*, leak-*, timeout-* or oom-*)" >&2
  exit 1
fi
end=$(date +%s.%N)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
units=$(find "$work/corpus" "$src/corpus/$target" -type f | wc -l)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
echo "fuzz $target: ${#kept[@]} kept inputs replayed; $runs executions in $secs s ($rate exec/s); corpus $units inputs" |
  tee "$work/summary"
