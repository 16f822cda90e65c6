# Sourced by the benchmark scripts that start modelarts-sim and taskwatchd themselves
# (bench-watch.sh, poll-counts.sh): stopping them, and cleaning up on any exit. The script
# sets dir (its temporary folder), sim_pid and daemon_pid; KEEP=1 keeps the folder.

# Stops one process by its pid: TERM, then KILL if it is still there after 5 s.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$daemon_pid"
    stop_pid "$sim_pid"
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
