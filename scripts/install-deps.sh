#!/usr/bin/env bash
# Installs what taskwatch needs to build and test, from Debian 12's packages only.
set -euo pipefail
pkgs=(cmake g++ make pkg-config git
      libboost1.81-dev libboost-json1.81-dev libssl-dev prometheus-cpp-dev doctest-dev
      libsqlite3-dev libyaml-dev libsystemd-dev libcrypt-dev)
if [ "${1:-}" = "--test" ]; then
  # promtool and prometheus: /metrics checks; chromium (+ a font): the status page test.
  pkgs+=(openssl sqlite3 curl ca-certificates prometheus chromium fonts-dejavu-core)
  # The ops tests: systemd-analyze (units), python3-yaml (rules and dashboard checks), man-db
  # (groff checks the man page; verify finds it), dpkg-dev and file (cpack's DEB generator
  # computes library dependencies with dpkg-shlibdeps).
  pkgs+=(systemd python3-yaml man-db dpkg-dev file)
  # The webhook tests: python3 runs the test receiver; a real Alertmanager (not started as a
  # service: the test runs its own on loopback).
  pkgs+=(python3 prometheus-alertmanager)
  # The proxy tests: a real HTTP CONNECT proxy with basic auth (the test starts its own).
  pkgs+=(tinyproxy)
  # The sanitizer build and the fuzzers (scripts/test-asan.sh); llvm-14 symbolizes their reports.
  pkgs+=(clang-14 libclang-rt-14-dev llvm-14)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
