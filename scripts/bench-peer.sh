#!/usr/bin/env bash
# Side by side: taskwatchd and a Python asyncio + aiohttp poller (scripts/peer/modelarts_peer.py)
# against the same modelarts-sim, same tasks, interval, 16 connections and AK/SK signing, in three
# regimes (fast: 2,000 tasks at 1 s; latency: 10,000 at 15 s with 30-100 ms per request; fleet:
# 100,000 at 60 s). Prints one table: polls/s, CPU-s per 1,000 polls, RSS per task, /metrics
# scrape time, change-to-webhook p50/p99, the ratios and the goals. See scripts/bench_peer.py.
# Environment: REGIMES ("fast latency fleet"), SIDES, WINDOW, SCALE, CONNECTIONS, SPLIT=1,
# CHANGES, BIN, KEEP=1. Needs build/bin/{taskwatchd,modelarts-sim,http_client_bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/bench_peer.py "$@"
