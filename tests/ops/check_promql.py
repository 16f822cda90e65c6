#!/usr/bin/python3
"""Checks the PromQL that ships with taskwatch against promtool and a live /metrics.

Every expression of the Grafana dashboard (panel targets and variable queries) must parse:
they are written, Grafana variables replaced, as recording rules into a file that
`promtool check rules` reads. Every metric name in the dashboard and in the alert rules must
be one that taskwatchd exports: a sample line of the given /metrics text starts with it.

usage: check_promql.py --metrics FILE --dashboard JSON --rules YAML
                       [--may-be-absent NAME ...] [--prometheus-own NAME ...]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

# Grafana's built-in interval variables, replaced by a duration of the same kind.
BUILTIN = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "atan2", "inf", "nan"}


def substitute(expr):
    """The expression with Grafana's $var, ${var} and [[var]] replaced."""
    def one(name):
        return BUILTIN.get(name, ".*")
    expr = re.sub(r"\$\{(\w+)(?::\w+)?\}", lambda m: one(m.group(1)), expr)
    expr = re.sub(r"\[\[(\w+)\]\]", lambda m: one(m.group(1)), expr)
    return re.sub(r"\$(\w+)", lambda m: one(m.group(1)), expr)


def metric_names(expr):
    """Metric names in a PromQL expression (no parser needed for what we write)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    s = re.sub(r"\{[^}]*\}", " ", s)                                          # matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                         # ranges
    # Label lists: by (...), without (...), on (...), ignoring (...), group_left (...).
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        word = m.group(0)
        rest = s[m.end():].lstrip()
        before = s[:m.start()]
        if re.search(r"[0-9.]$", before):  # part of a number or duration: 1e3, 5m
            continue
        if word in KEYWORDS or word in AGGREGATIONS or rest.startswith("("):
            continue
        names.add(word)
    return names


def dashboard_exprs(dash):
    """(where, PromQL) for every panel target and variable query of a dashboard."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f'panel "{p.get("title")}" {t.get("refId")}', t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "", re.S)
        if m:  # Grafana's label_values(selector, label): the selector is PromQL
            q = m.group(1)
        elif re.fullmatch(r"\s*(label_names|metrics|query_result)\(.*", q or "", re.S):
            q = re.sub(r"^\s*\w+\((.*)\)\s*$", r"\1", q, flags=re.S)
        out.append((f'variable "{v.get("name")}"', q))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--may-be-absent", nargs="*", default=[],
                    help="metrics the daemon exports only once they have a sample")
    ap.add_argument("--prometheus-own", nargs="*", default=["up"],
                    help="series Prometheus makes itself, not in /metrics")
    args = ap.parse_args()
    failed = False

    with open(args.dashboard) as f:
        dash = json.load(f)
    exprs = dashboard_exprs(dash)
    if not exprs:
        print("FAIL: the dashboard has no PromQL")
        return 1

    # 1. Every dashboard expression parses: promtool reads them as recording rules.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": substitute(e)} for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f, sort_keys=False)
        generated = f.name
    try:
        r = subprocess.run(["promtool", "check", "rules", generated],
                           capture_output=True, text=True)
    finally:
        os.unlink(generated)
    if r.returncode != 0:
        failed = True
        print("FAIL: promtool cannot parse the dashboard's PromQL:")
        print(r.stdout + r.stderr)
        for i, (where, e) in enumerate(exprs):
            if f'"dashboard:expr_{i}"' in r.stdout + r.stderr:
                print(f"  expr_{i}: {where}: {e}")
    else:
        print(f"ok: promtool parses all {len(exprs)} expressions of the dashboard")

    # 2. Every metric name is exported by the daemon.
    exported = set()
    with open(args.metrics) as f:
        for line in f:
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
            if m and not line.startswith("#"):
                exported.add(m.group(1))
    if not exported:
        print("FAIL: the /metrics text has no samples")
        return 1
    with open(args.rules) as f:
        alert_rules = yaml.safe_load(f)
    uses = [(where, e) for where, e in exprs]
    uses += [(f'alert {r.get("alert") or r.get("record")}', r["expr"])
             for g in alert_rules["groups"] for r in g["rules"]]
    used = {}
    for where, e in uses:
        for name in metric_names(substitute(e)):
            used.setdefault(name, []).append(where)
    for name in sorted(used):
        if name in exported or name in args.prometheus_own:
            continue
        if name in args.may_be_absent:
            print(f"note: {name} is not in /metrics yet (it appears with its first sample)")
            continue
        failed = True
        print(f"FAIL: {name} is not exported by taskwatchd; used by {', '.join(used[name])}")
    if not failed:
        print(f"ok: all {len(used)} metric names of the dashboard and the alert rules are in "
              "/metrics")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
