#!/bin/sh
# The Grafana dashboard's PromQL parses (promtool), and every metric name of the dashboard and
# of the alert rules is in the /metrics of a live taskwatchd (tests/ops/live_metrics.cpp).
# usage: dashboard_metrics.sh LIVE_METRICS_BIN SOURCE_DIR     exit 77 (skip) without promtool
set -eu
live=$1
src=$2
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found (Debian package prometheus): skipped"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$live" >"$tmp/metrics.txt"
echo "ok: /metrics of a live taskwatchd: $(grep -vc '^#' "$tmp/metrics.txt") samples"
# taskwatch_webhook_delivery_failures_total{webhook,reason} has a series from a webhook's first
# failed delivery on (README, Metrics): none has failed here.
/usr/bin/python3 "$src/tests/ops/check_promql.py" --metrics "$tmp/metrics.txt" \
    --dashboard "$src/etc/grafana/taskwatch.json" --rules "$src/etc/prometheus/taskwatch-rules.yml" \
    --may-be-absent taskwatch_webhook_delivery_failures_total
