#!/usr/bin/env bash
# Installs the dependencies, builds, starts the ModelArts simulator on loopback and watches
# one of its tasks with `taskwatchd get` until it finishes. No cloud account needed.
# (Once the watch engine lands this becomes `taskwatchd --demo`.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2

demo=$(mktemp -d /tmp/taskwatch-demo-XXXXXX)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$demo"; }
trap cleanup EXIT

umask 077
echo "DEMOAK0000000000000001" > "$demo/ak"
head -c 30 /dev/urandom | base64 > "$demo/sk"
mkfifo "$demo/sim.out"
build/bin/modelarts-sim --self-signed "$demo/tls" --ak "$(cat "$demo/ak")" --sk-file "$demo/sk" \
    --tasks 24 --datasets 3 --phase-seconds 3 >"$demo/sim.out" 2>"$demo/sim.log" &
sim_pid=$!
read -r line <"$demo/sim.out"
url=${line#listening on }
echo "simulator: $url (log: $demo/sim.log)"

# The first value of "NAME":"..." in $tasks.
first_field() { [[ $tasks =~ \"$1\":\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}"; }
tasks=$(curl -sS --cacert "$demo/tls/ca.pem" "$url/sim/tasks")
project=$(first_field project_id)
dataset=$(first_field dataset_id)
task=$(first_field task_id)

cat >"$demo/config.yml" <<YML
state_dir: $demo/state
modelarts:
  endpoint: $url
  project_id: $project
  ca_file: $demo/tls/ca.pem
  auth:
    type: aksk
    ak_file: ak
    sk_file: sk
targets:
  - dataset_id: $dataset
    task_ids: [$task]
YML

build/bin/taskwatchd --config "$demo/config.yml" --check-config
for i in $(seq 1 40); do
    echo "--- taskwatchd get --dataset $dataset --task $task  (poll $i)"
    out=$(build/bin/taskwatchd get --config "$demo/config.yml" --dataset "$dataset" --task "$task")
    grep -E '"(status|progress|annotated_sample_count|total_sample_count|code|message|error_code)"' <<<"$out" | tr -s ' '
    status=$(grep -o '"status": *-\?[0-9]*' <<<"$out" | grep -o -- '-\?[0-9]*$')
    case "$status" in 2|3|5) echo "task finished (status $status)"; break ;; esac
    sleep 2
done
