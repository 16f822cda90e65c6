#!/bin/sh
# The units in systemd/ are valid for this systemd (`systemd-analyze verify`: no finding at
# all) and hardened (`systemd-analyze security --offline=yes`: exposure 2.0 or less).
# verify wants ExecStart= to exist, so it runs on copies that start the built taskwatchd.
# usage: systemd_units.sh TASKWATCHD UNIT_DIR        exit 77 (skip) without systemd-analyze
set -eu
taskwatchd=$1
units=$2
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not found (Debian package systemd): skipped"
    exit 77
fi
[ -x "$taskwatchd" ] || { echo "FAIL: $taskwatchd is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in taskwatch.service taskwatch@.service; do
    [ -f "$units/$f" ] || { echo "FAIL: $units/$f is missing"; exit 1; }
    grep -q '^ExecStart=/usr/bin/taskwatchd ' "$units/$f" ||
        { echo "FAIL: $f: ExecStart= does not start /usr/bin/taskwatchd"; exit 1; }
    # What the daemon relies on (the rest is judged by verify and security below).
    for line in 'Type=notify' 'WatchdogSec=' 'ExecReload=/bin/kill -HUP $MAINPID' \
        'Restart=on-failure' 'DynamicUser=yes' 'ConfigurationDirectory=taskwatch' \
        'LoadCredential=sk:' 'UMask=0077'; do
        grep -qF "$line" "$units/$f" || { echo "FAIL: $f: no $line"; exit 1; }
    done
    sed "s#^ExecStart=/usr/bin/taskwatchd #ExecStart=$taskwatchd #" "$units/$f" >"$tmp/$f"
done

status=0
for unit in taskwatch.service taskwatch@vision.service; do
    # --man=no: Documentation=man:taskwatchd(1) is installed with the package, not here.
    if ! out=$(systemd-analyze verify --man=no "$tmp/$unit" 2>&1); then
        echo "FAIL: systemd-analyze verify $unit failed:"; echo "$out"; status=1
    elif [ -n "$out" ]; then
        echo "FAIL: systemd-analyze verify $unit has findings:"; echo "$out"; status=1
    else
        echo "ok: systemd-analyze verify $unit: no findings"
    fi

    report=$(systemd-analyze security --offline=yes --no-pager "$tmp/$unit" 2>&1) || true
    exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$exposure" ]; then
        echo "FAIL: systemd-analyze security $unit gave no exposure level:"; echo "$report"
        status=1
    elif awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
        echo "FAIL: $unit: exposure $exposure > $max_exposure; what is left open:"
        printf '%s\n' "$report" | grep '✗'
        status=1
    else
        echo "ok: $unit: exposure $exposure (at most $max_exposure)"
    fi
done
exit $status
