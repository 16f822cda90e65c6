#!/bin/sh
# etc/prometheus/taskwatch-rules.yml passes `promtool check rules`, its unit tests
# (taskwatch-rules.test.yml) pass `promtool test rules`, and those tests check every alert
# both firing and not firing.
# usage: prometheus_rules.sh RULES_DIR        exit 77 (skip) without promtool
set -eu
dir=$1
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found (Debian package prometheus): skipped"
    exit 77
fi
promtool check rules "$dir/taskwatch-rules.yml"
promtool test rules "$dir/taskwatch-rules.test.yml"
/usr/bin/python3 - "$dir/taskwatch-rules.yml" "$dir/taskwatch-rules.test.yml" <<'PY'
import sys, yaml
rules, tests = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
firing, quiet = set(), set()
for t in tests["tests"]:
    for case in t.get("alert_rule_test", []):
        (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
bad = 0
for a in alerts:
    for what, seen in (("firing", firing), ("not firing", quiet)):
        if a not in seen:
            print(f"FAIL: {a}: no test of it {what}")
            bad = 1
unknown = (firing | quiet) - set(alerts)
for a in sorted(unknown):
    print(f"FAIL: the tests name {a}, which is not in the rules")
    bad = 1
if not bad:
    print(f"ok: all {len(alerts)} alerts are tested firing and not firing")
sys.exit(bad)
PY
