#!/usr/bin/env bash
# Benchmarks the HTTPS client against modelarts-sim over keep-alive TLS on loopback:
# GETs of one task with 1, 16 and 256 connections; prints requests/s, the client's
# CPU-seconds per 1,000 requests, and the simulator's own CPU cost (GET/s per core).
# Usage: scripts/bench-client.sh [REQUESTS]   (build first: cmake --build build)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-60000}
bin=build/bin
dir=$(mktemp -d /tmp/taskwatch-bench-XXXXXX)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

mkfifo "$dir/sim.out"
# --no-auth: this measures transport and HTTP; signing costs the client ~2 us more a request.
"$bin/modelarts-sim" --self-signed "$dir/tls" --no-auth --static --tasks 1000 --datasets 10 \
    >"$dir/sim.out" 2>"$dir/sim.log" &
sim_pid=$!
read -r line <"$dir/sim.out"
url=${line#listening on }
ca="$dir/tls/ca.pem"
# The first value of "NAME":"..." in $tasks.
first_field() { [[ $tasks =~ \"$1\":\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}"; }
tasks=$(curl -sS --cacert "$ca" "$url/sim/tasks")
project=$(first_field project_id)
dataset=$(first_field dataset_id)
task=$(first_field task_id)
path="/v2/$project/datasets/$dataset/tasks/$task"

sim_cpu() { curl -sS --cacert "$ca" "$url/sim/stats" | grep -o '"cpu_seconds":[0-9.eE+-]*' | cut -d: -f2; }
sim_requests() { curl -sS --cacert "$ca" "$url/sim/stats" | grep -o '"requests_total":[0-9]*' | cut -d: -f2; }

echo "simulator $url, task $path, $requests requests a round"
for n in 1 16 256; do
    cpu0=$(sim_cpu); req0=$(sim_requests)
    "$bin/http_client_bench" --url "$url$path" --ca "$ca" --connections "$n" --requests "$requests"
    cpu1=$(sim_cpu); req1=$(sim_requests)
    awk -v c0="$cpu0" -v c1="$cpu1" -v r0="$req0" -v r1="$req1" -v n="$n" 'BEGIN {
        r = r1 - r0 - 2; c = c1 - c0;
        printf "  simulator: %d requests in %.2f CPU-s = %.0f GET/s per core (%d connections)\n", r, c, (c > 0 ? r / c : 0), n }'
done
