#!/usr/bin/env bash
# Counts what one poll costs the daemon: taskwatchd polling modelarts-sim over AK/SK-signed
# keep-alive TLS on loopback, in the regimes below, over a measured window.
#
# Per poll (a poll is one get_task the simulator answered within the window):
#   CPU     CPU-seconds per 1,000 polls (utime+stime of every thread, /proc/PID/stat)
#   sys     syscalls (perf stat on raw_syscalls:sys_enter), and of them recv (recvmsg,
#           recvfrom, read), send (sendmsg, sendto, write), epoll_wait, timerfd_settime
#   wake    context switches, voluntary + involuntary, summed over the daemon's threads
#           (/proc/PID/task/*/status)
#   malloc  allocations and frees (an LD_PRELOAD counter, scripts/malloc-count.c, built
#           here with cc; its own cost is a relaxed atomic add per call)
# Regimes (REGIMES, default "fast split latency"):
#   fast     the simulator writes each answer at once
#   split    --split-writes: head and body in two writes, as many real gateways do
#   latency  --fault latency:1:delay=30ms..100ms: every answer waits, so they arrive alone;
#            interval 10s (LATENCY_INTERVAL), about what 16 connections keep up with, so
#            the run is not saturated and discovery's listings stay as rare as in the others
# Each run starts a fresh simulator and daemon: TASKS static tasks (2000) over DATASETS
# datasets (20), interval 1s, max_connections 16, a request budget that is not the limit;
# discovery lists each dataset once an interval (the lists/s column: not polls, but their
# cost is in the figures);
# the window (WINDOW s, 10) starts SETTLE s (3) after the first round was answered.
# The machine is shared: REPEAT=N (3) runs every regime N times, interleaved, and prints
# each run and the median of each column.
#
# Compare two builds in one run: DAEMONS="before=/tmp/old/taskwatchd after=build/bin/taskwatchd"
# (label=path; default "daemon=build/bin/taskwatchd"); every regime and repeat runs each.
# Usage: scripts/poll-counts.sh   (needs build/bin/taskwatchd and build/bin/modelarts-sim;
#        SIM=path overrides the simulator; KEEP=1 keeps the temporary folder)
# Needs perf (syscall tracepoints: root or perf_event_paranoid -1), cc, curl, awk.
set -euo pipefail
cd "$(dirname "$0")/.."

tasks=${TASKS:-2000}
datasets=${DATASETS:-20}
window=${WINDOW:-10}
settle=${SETTLE:-3}
repeat=${REPEAT:-3}
regimes=${REGIMES:-fast split latency}
latency_interval=${LATENCY_INTERVAL:-10s}
sim_bin=${SIM:-build/bin/modelarts-sim}
daemons=${DAEMONS:-daemon=build/bin/taskwatchd}

die() { echo "poll-counts: $*" >&2; exit 1; }
[ -x "$sim_bin" ] || die "$sim_bin not found: build first (cmake --build build --target modelarts-sim)"
for d in $daemons; do
    [[ $d == *=* ]] || die "DAEMONS: '$d' is not label=path"
    [ -x "${d#*=}" ] || die "DAEMONS: ${d#*=} not found or not executable"
done
for t in perf cc curl awk; do command -v "$t" >/dev/null || die "$t is needed"; done
for r in $regimes; do
    case $r in fast | split | latency) ;; *) die "REGIMES: unknown regime '$r' (fast, split, latency)" ;; esac
done

dir=$(mktemp -d /tmp/taskwatch-poll-counts-XXXXXX)
sim_pid=
daemon_pid=
. scripts/lib/bench-processes.sh # stop_pid, cleanup on exit

cc -O2 -shared -fPIC -o "$dir/malloc-count.so" scripts/malloc-count.c ||
    die "cannot build scripts/malloc-count.c"

ak=POLLCOUNTSAK0000000
printf '%s\n' "$ak" >"$dir/ak"
head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/sk"
echo >>"$dir/sk"
chmod 600 "$dir/sk"

clk_tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat"; }
switches_of() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
mallocs_of() { od -An -tu8 -N16 "$dir/malloc.count" | awk '{ print $1, $2 }'; }
json_number() { grep -o "\"$1\": *[0-9.eE+-]*" | sed -n 1p | sed 's/.*: *//'; }

url= ca=
start_sim() {
    local regime=$1 flags=()
    case $regime in
    split) flags=(--split-writes) ;;
    latency) flags=(--fault latency:1:delay=30ms..100ms) ;;
    esac
    rm -f "$dir/sim.out"
    mkfifo "$dir/sim.out"
    "$sim_bin" --self-signed "$dir/tls" --ak "$ak" --sk-file "$dir/sk" --static \
        --tasks "$tasks" --datasets "$datasets" "${flags[@]}" >"$dir/sim.out" 2>"$dir/sim.log" &
    sim_pid=$!
    exec 3<"$dir/sim.out"
    local line=
    read -r -t 30 line <&3 || true
    [[ $line == "listening on "* ]] || { cat "$dir/sim.log" >&2; die "modelarts-sim did not start"; }
    url=${line#listening on }
    ca="$dir/tls/ca.pem"
}
ctl() { curl -sS --fail --max-time 30 --cacert "$ca" "$url$1"; }

write_config() {
    local f=$1 interval=$2 all project
    all=$(ctl /sim/tasks) || die "cannot read $url/sim/tasks"
    project=$(grep -o '"project_id": *"[^"]*"' <<<"$all" | sed -n 1p | sed 's/.*: *"//; s/"$//')
    mapfile -t dataset_ids < <(grep -o '"dataset_id": *"[^"]*"' <<<"$all" | sed 's/.*: *"//; s/"$//' | sort -u)
    rm -rf "$dir/state"
    mkdir -p "$dir/state"
    {
        echo "listen: 127.0.0.1:0"
        echo "state_dir: $dir/state"
        echo "log_level: warn"
        echo "modelarts:"
        echo "  endpoint: $url"
        echo "  project_id: $project"
        echo "  ca_file: $ca"
        echo "  auth: {type: aksk, ak_file: ak, sk_file: sk}"
        echo "  max_connections: 16"
        echo "  max_requests_per_second: 20000"
        echo "poll:"
        echo "  interval: $interval"
        echo "  finished_interval: $interval"
        echo "targets:"
        for d in "${dataset_ids[@]}"; do echo "  - dataset_id: $d"; done
    } >"$f"
}

events=raw_syscalls:sys_enter
for s in recvmsg recvfrom read sendmsg sendto write epoll_wait timerfd_settime; do
    events+=",syscalls:sys_enter_$s"
done

# One measured run: LABEL DAEMON REGIME; appends a row to $dir/rows.
measure() {
    local label=$1 daemon=$2 regime=$3
    start_sim "$regime"
    local interval=1s
    [ "$regime" != latency ] || interval=$latency_interval
    write_config "$dir/taskwatch.yml" "$interval"
    : >"$dir/malloc.count"
    MALLOC_COUNT_FILE="$dir/malloc.count" LD_PRELOAD="$dir/malloc-count.so" \
        "$daemon" --config "$dir/taskwatch.yml" 2>"$dir/daemon.log" >&2 &
    daemon_pid=$!
    local start=$SECONDS got=0
    while :; do
        kill -0 "$daemon_pid" 2>/dev/null || { tail -n 20 "$dir/daemon.log" >&2; die "$label exited"; }
        got=$(ctl /sim/stats | json_number get_task)
        [ "${got:-0}" -ge $((tasks * 9 / 10)) ] && break
        [ $((SECONDS - start)) -lt 120 ] || die "$label: only $got polls after 120 s"
        sleep 0.2
    done
    sleep "$settle"
    local s0 s1 c0 c1 w0 w1 m0 m1
    s0=$(ctl /sim/stats); c0=$(cpu_of "$daemon_pid"); w0=$(switches_of "$daemon_pid"); m0=$(mallocs_of)
    perf stat -x, -o "$dir/perf.csv" -e "$events" -p "$daemon_pid" -- sleep "$window" 2>/dev/null ||
        die "perf stat failed (root or kernel.perf_event_paranoid=-1 needed)"
    s1=$(ctl /sim/stats); c1=$(cpu_of "$daemon_pid"); w1=$(switches_of "$daemon_pid"); m1=$(mallocs_of)
    local g0 g1 l0 l1
    g0=$(json_number get_task <<<"$s0"); g1=$(json_number get_task <<<"$s1")
    l0=$(json_number list_tasks <<<"$s0"); l1=$(json_number list_tasks <<<"$s1")
    stop_pid "$daemon_pid"; daemon_pid=
    stop_pid "$sim_pid"; sim_pid=
    exec 3<&-
    awk -F, -v label="$label" -v regime="$regime" -v polls="$((g1 - g0))" -v lists="$((l1 - l0))" -v win="$window" \
        -v cpu="$c0 $c1" -v wake="$w0 $w1" -v mal="$m0 $m1" '
        { n[$3] = $1 + 0 }
        END {
            split(cpu, c, " "); split(wake, w, " "); split(mal, m, " ")
            p = polls > 0 ? polls : 1
            printf "%s %s %.0f %.1f %.4f %.2f %.2f %.2f %.2f %.2f %.2f %.1f %.1f\n", label, regime,
                polls / win, lists / win, 1000 * (c[2] - c[1]) / p, n["raw_syscalls:sys_enter"] / p,
                (n["syscalls:sys_enter_recvmsg"] + n["syscalls:sys_enter_recvfrom"] + n["syscalls:sys_enter_read"]) / p,
                (n["syscalls:sys_enter_sendmsg"] + n["syscalls:sys_enter_sendto"] + n["syscalls:sys_enter_write"]) / p,
                n["syscalls:sys_enter_epoll_wait"] / p, n["syscalls:sys_enter_timerfd_settime"] / p,
                (w[2] - w[1]) / p, (m[3] - m[1]) / p, (m[4] - m[2]) / p
        }' "$dir/perf.csv" >>"$dir/rows"
    tail -n 1 "$dir/rows" | awk '{ printf "%-8s %-8s %7s %7s %8s %6s %5s %5s %6s %7s %6s %7s %7s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
}

header() { printf '%-8s %-8s %7s %7s %8s %6s %5s %5s %6s %7s %6s %7s %7s\n' "$@"; }
echo "poll-counts: $tasks tasks, interval 1s ($latency_interval with latency), 16 connections, ${window}s windows, $repeat repeat(s)"
header build regime polls/s lists/s CPU/1k sys recv send epoll timerfd wake malloc free
: >"$dir/rows"
for _ in $(seq "$repeat"); do
    for regime in $regimes; do
        for d in $daemons; do measure "${d%%=*}" "${d#*=}" "$regime"; done
    done
done
echo "median:"
header build regime polls/s lists/s CPU/1k sys recv send epoll timerfd wake malloc free
for regime in $regimes; do
    for d in $daemons; do
        awk -v l="${d%%=*}" -v r="$regime" '$1 == l && $2 == r' "$dir/rows" >"$dir/sel"
        row="${d%%=*} $regime"
        for col in 3 4 5 6 7 8 9 10 11 12 13; do
            row+=" $(awk -v c="$col" '{ print $c }' "$dir/sel" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
        done
        # shellcheck disable=SC2086
        header $row
    done
done
