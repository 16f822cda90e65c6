#!/usr/bin/env bash
# Benchmarks webhook delivery: deliveries/s, the daemon's CPU-seconds per 1,000 deliveries, and
# the latency from a change in the simulator to its arrival at the receiver (p50, p99).
# See scripts/bench_webhook.py for what it runs. Needs build/bin/taskwatchd, modelarts-sim,
# python3, openssl and sqlite3. Uses both cores while it runs: run nothing heavy beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/bench_webhook.py "$@"
