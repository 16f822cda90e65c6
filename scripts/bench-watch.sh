#!/usr/bin/env bash
# Benchmarks the watch engine end to end: taskwatchd --config polling 10,000 tasks of
# modelarts-sim over AK/SK-signed keep-alive TLS on loopback.
#
# The simulator serves TASKS static tasks (default 10000) over DATASETS datasets (20);
# taskwatchd watches them through discovery targets (one per dataset, no task_ids), with
# max_connections 16 and a request budget high enough not to be the limit. Runs:
#   baseline  one configured task (same daemon, same TLS pool): the RSS floor
#   15s       interval 15s (finished_interval too, so every task is polled each interval),
#             max_requests_per_second 2000; measured over 3 intervals that start half an
#             interval after the first round ended (rounds stay bunched: the window holds
#             exactly three of them)
#   1s        interval 1s, max_requests_per_second 20000: the stress figure (saturation)
# Warm-up ends when the daemon logged task.discovered for every task (it lists each type;
# a daemon that left auto-grouping out would be taken as done when its count stays put).
# Prints, per run: the time and size of GET /metrics while it polls (5 scrapes), polls/s (the simulator's get_task count over the window), the daemon's
# CPU-seconds per 1,000 polls (utime+stime from /proc/PID/stat over the same window), the
# simulator's CPU share, the daemon's VmRSS and VmHWM, and RSS per watched task
# ((RSS - baseline RSS) / watched tasks), against the goals below.
#
# Usage: scripts/bench-watch.sh            (builds nothing: needs build/bin/taskwatchd
#                                           and build/bin/modelarts-sim)
# Environment: TASKS, DATASETS, WINDOW_15S (45), WINDOW_1S (20), BIN (build/bin),
#              RUNS ("baseline 15s 1s": the runs to make, in order; RSS per task needs
#              the baseline first),
#              KEEP=1 keeps the temporary folder (logs, configs, databases),
#              PERF=FILE records a perf call graph of the daemon over the window of run
#              PERF_RUN (1s or 15s; default 1s).
# Needs curl, awk, grep. Uses about 1.5 cores while it runs: run nothing heavy beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

tasks=${TASKS:-10000}
datasets=${DATASETS:-20}
window_15s=${WINDOW_15S:-45}
window_1s=${WINDOW_1S:-20}
bin=${BIN:-build/bin}
goal_cpu=0.05    # CPU-seconds per 1,000 polls
goal_kib=4       # KiB of RSS per watched task

die() { echo "bench-watch: $*" >&2; exit 1; }
for b in taskwatchd modelarts-sim; do
    [ -x "$bin/$b" ] || die "$bin/$b not found: build first (cmake --build build)"
done
for t in curl awk grep; do command -v "$t" >/dev/null || die "$t is needed"; done

dir=$(mktemp -d /tmp/taskwatch-bench-watch-XXXXXX)
sim_pid=
daemon_pid=
. scripts/lib/bench-processes.sh # stop_pid, cleanup on exit

# Credentials: realistic AK/SK signing on every request.
ak=BENCHWATCHAK0000000
printf '%s\n' "$ak" >"$dir/ak"
head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/sk"
echo >>"$dir/sk"
chmod 600 "$dir/sk"

mkfifo "$dir/sim.out"
"$bin/modelarts-sim" --self-signed "$dir/tls" --ak "$ak" --sk-file "$dir/sk" --static \
    --tasks "$tasks" --datasets "$datasets" >"$dir/sim.out" 2>"$dir/sim.log" &
sim_pid=$!
exec 3<"$dir/sim.out"
line=
read -r -t 30 line <&3 || true
[[ $line == "listening on "* ]] || { cat "$dir/sim.log" >&2; die "modelarts-sim did not start (no 'listening on' line within 30 s)"; }
url=${line#listening on }
ca="$dir/tls/ca.pem"

ctl() { curl -sS --fail --max-time 30 --cacert "$ca" "$url$1"; }
# The number after "NAME": in the JSON on stdin (first occurrence).
json_number() { grep -o "\"$1\": *[0-9.eE+-]*" | sed -n 1p | sed 's/.*: *//'; }
sim_stats() { ctl /sim/stats; }

all_tasks=$(ctl /sim/tasks) || die "cannot read $url/sim/tasks"
# Project and datasets as the simulator made them.
project=$(grep -o '"project_id": *"[^"]*"' <<<"$all_tasks" | sed -n 1p | sed 's/.*: *"//; s/"$//')
mapfile -t dataset_ids < <(grep -o '"dataset_id": *"[^"]*"' <<<"$all_tasks" | sed 's/.*: *"//; s/"$//' | sort -u)
one_task=$(grep -o '"task_id": *"[^"]*"' <<<"$all_tasks" | sed -n 1p | sed 's/.*: *"//; s/"$//')
total=$(grep -o '"task_id": *"' <<<"$all_tasks" | wc -l)
grouping=$(grep -o '"type": *"auto-grouping"' <<<"$all_tasks" | wc -l)
listable=$((total - grouping))
[ -n "$project" ] && [ "${#dataset_ids[@]}" -gt 0 ] && [ "$listable" -gt 0 ] ||
    die "unexpected /sim/tasks answer (project '$project', ${#dataset_ids[@]} datasets, $listable listable tasks)"
unset all_tasks
echo "simulator $url: $total static tasks over ${#dataset_ids[@]} datasets ($grouping auto-grouping, which the list API shows only when asked by type)"

clk_tck=$(getconf CLK_TCK)
# utime+stime of a process in seconds.
cpu_of() { awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
kib_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
discovered_count() { grep -c 'type=task.discovered' "$1" 2>/dev/null || true; }

# Writes the config of one run to $dir/NAME.yml; targets: "all" or "one".
write_config() {
    local name=$1 interval=$2 rps=$3 targets=$4 f="$dir/$1.yml"
    mkdir -p "$dir/state-$name"
    {
        echo "listen: 127.0.0.1:0"
        echo "state_dir: $dir/state-$name"
        echo "log_level: info"
        echo "modelarts:"
        echo "  endpoint: $url"
        echo "  project_id: $project"
        echo "  ca_file: $ca"
        echo "  auth: {type: aksk, ak_file: ak, sk_file: sk}"
        echo "  max_connections: 16"
        echo "  max_requests_per_second: $rps"
        echo "poll:"
        echo "  interval: $interval"
        echo "  finished_interval: $interval"
        echo "targets:"
        if [ "$targets" = one ]; then
            echo "  - dataset_id: ${dataset_ids[0]}"
            echo "    task_ids: [$one_task]"
        else
            for d in "${dataset_ids[@]}"; do echo "  - dataset_id: $d"; done
        fi
    } >"$f"
}

start_daemon() {
    local name=$1
    "$bin/taskwatchd" --config "$dir/$name.yml" 2>"$dir/$name.log" >&2 &
    daemon_pid=$!
    sleep 0.5
    kill -0 "$daemon_pid" 2>/dev/null || { tail -n 20 "$dir/$name.log" >&2; daemon_pid=; die "taskwatchd ($name) exited at start"; }
}

# Waits until the daemon logged task.discovered WANT times, or at least MIN times and no
# more for 10 s (a daemon that leaves unlisted types out); fails after TIMEOUT s.
# Sets `watched` to the count.
wait_discovered() {
    local name=$1 want=$2 min=$3 timeout=$4 start=$SECONDS n=0 last=-1 since=$SECONDS
    while :; do
        n=$(discovered_count "$dir/$name.log")
        [ "$n" -ge "$want" ] && break
        if [ "$n" != "$last" ]; then last=$n; since=$SECONDS; fi
        [ "$n" -ge "$min" ] && [ $((SECONDS - since)) -ge 10 ] && break
        kill -0 "$daemon_pid" 2>/dev/null || { tail -n 20 "$dir/$name.log" >&2; die "taskwatchd ($name) died during warm-up"; }
        [ $((SECONDS - start)) -lt "$timeout" ] ||
            { tail -n 5 "$dir/$name.log" >&2; die "taskwatchd ($name): $n of $want tasks discovered after ${timeout}s"; }
        sleep 0.2
    done
    watched=$n
    echo "  warm-up: $n tasks discovered and polled once in $((SECONDS - start)) s"
}

baseline_kib=
# Runs one measured window: NAME INTERVAL RPS TARGETS SETTLE WINDOW WANT MIN
run() {
    local name=$1 interval=$2 rps=$3 targets=$4 settle=$5 window=$6 want=$7 min=$8 watched=0
    echo "run $name: interval $interval, max_requests_per_second $rps, max_connections 16"
    write_config "$name" "$interval" "$rps" "$targets"
    start_daemon "$name"
    wait_discovered "$name" "$want" "$min" 300
    sleep "$settle"
    local s0 s1 c0 c1 sc0 sc1 t0 t1 perf_pid=
    s0=$(sim_stats); c0=$(cpu_of "$daemon_pid"); t0=$(date +%s.%N)
    # PERF=FILE: a call-graph profile of the daemon over the 1s window (adds a few % CPU).
    if [ -n "${PERF:-}" ] && [ "$name" = "${PERF_RUN:-1s}" ]; then
        perf record -F 999 ${PERF_CALLGRAPH:--g} -o "$PERF" -p "$daemon_pid" -- sleep "$window" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    sleep "$window"
    [ -z "$perf_pid" ] || wait "$perf_pid" || echo "  perf record failed" >&2
    s1=$(sim_stats); c1=$(cpu_of "$daemon_pid"); t1=$(date +%s.%N)
    kill -0 "$daemon_pid" 2>/dev/null || die "taskwatchd ($name) died during the window"
    local rss hwm
    rss=$(kib_of "$daemon_pid" VmRSS); hwm=$(kib_of "$daemon_pid" VmHWM)
    local g0 g1 l0 l1 e0 e1
    g0=$(json_number get_task <<<"$s0"); g1=$(json_number get_task <<<"$s1")
    l0=$(json_number list_tasks <<<"$s0"); l1=$(json_number list_tasks <<<"$s1")
    sc0=$(json_number cpu_seconds <<<"$s0"); sc1=$(json_number cpu_seconds <<<"$s1")
    e0=$(grep -c 'level=warn\|level=error' "$dir/$name.log" || true)
    # /metrics while polling goes on: 5 scrapes, as Prometheus would make them.
    local web scrape_line=
    web=$(grep -o 'msg="serving HTTP" url=[^ ]*' "$dir/$name.log" | sed -n 1p | sed 's/.*url=//')
    if [ -n "$web" ] && [ "$name" != baseline ]; then
        local times=() bytes=0 t
        for _ in 1 2 3 4 5; do
            t=$(curl -sS -o /dev/null --max-time 30 -w '%{time_total} %{size_download}' "${web}metrics") || break
            times+=("${t% *}"); bytes=${t#* }
        done
        if [ "${#times[@]}" -eq 5 ]; then
            scrape_line=$(printf '%s\n' "${times[@]}" | sort -n | awk -v b="$bytes" '{ v[NR] = $1 } END {
                printf "  GET /metrics while polling: median %.1f ms, max %.1f ms, %.1f MB (5 scrapes)", 1000 * v[3], 1000 * v[5], b / 1e6 }')
        fi
    fi
    stop_pid "$daemon_pid"; daemon_pid=
    if [ "$name" = baseline ]; then baseline_kib=$rss; fi
    awk -v g="$((g1 - g0))" -v l="$((l1 - l0))" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
        -v sc0="$sc0" -v sc1="$sc1" -v rss="$rss" -v hwm="$hwm" -v base="${baseline_kib:-}" \
        -v watched="$watched" -v name="$name" -v gc="$goal_cpu" -v gk="$goal_kib" -v warns="$e0" 'BEGIN {
        w = t1 - t0; c = c1 - c0; sc = sc1 - sc0
        printf "  window %.1f s: %d get_task (%.0f polls/s), %d list_tasks; daemon %.2f CPU-s (%.0f%% of a core), simulator %.2f CPU-s (%.0f%%)\n", \
            w, g, g / w, l, c, 100 * c / w, sc, 100 * sc / w
        if (g > 0) {
            per = 1000 * c / g
            printf "  daemon CPU per 1,000 polls: %.4f s   (goal < %.2f: %s)\n", per, gc, per < gc ? "met" : "MISSED"
        }
        printf "  daemon RSS %.1f MiB (peak %.1f MiB)\n", rss / 1024, hwm / 1024
        if (name != "baseline" && base != "") {
            kib = (rss - base) / watched
            printf "  RSS per watched task: %.2f KiB  ((%d - %d baseline) KiB / %d tasks; goal < %d KiB: %s)\n", \
                kib, rss, base, watched, gk, kib < gk ? "met" : "MISSED"
        }
        if (warns > 0) printf "  note: %d warn/error lines in the daemon log\n", warns
    }'
    [ -z "$scrape_line" ] || echo "$scrape_line"
}

echo "goals: < $goal_cpu CPU-s per 1,000 polls, < $goal_kib KiB RSS per watched task"
for r in ${RUNS:-baseline 15s 1s}; do
    case $r in
    baseline) run baseline 15s 2000 one 2 10 1 1 ;;
    15s) run 15s 15s 2000 all 7.5 "$window_15s" "$total" "$listable" ;;
    1s) run 1s 1s 20000 all 5 "$window_1s" "$total" "$listable" ;;
    *) die "RUNS: unknown run '$r' (baseline, 15s, 1s)" ;;
    esac
done
