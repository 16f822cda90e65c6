#!/bin/sh
# `cmake --install` into a temporary prefix puts every file where it belongs, with units that
# start the installed binary; `cpack -G DEB` makes a package with those files under /usr and
# /etc, the config as a conffile, library dependencies and maintainer scripts that start
# nothing. Both reuse the built taskwatchd (nothing is compiled).
# usage: install_package.sh BUILD_DIR SOURCE_DIR        exit 77 (skip) without dpkg-deb
set -eu
build=$1
src=$2
if ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "dpkg-deb not found (not Debian): skipped"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }

# 1. cmake --install into a temporary prefix.
p=$tmp/prefix
cmake --install "$build" --prefix "$p" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in bin/taskwatchd etc/taskwatch/taskwatch.yml lib/systemd/system/taskwatch.service \
    lib/systemd/system/taskwatch@.service share/taskwatch/taskwatch-rules.yml \
    share/taskwatch/taskwatch.json share/man/man1/taskwatchd.1 share/doc/taskwatch/README.md; do
    [ -f "$p/$f" ] && ok "installed $f" || fail "cmake --install did not install $f"
done
[ -e "$p/bin/modelarts-sim" ] && fail "the simulator is installed (it is a test tool)"
"$p/bin/taskwatchd" --version | grep -q '^taskwatchd [0-9]' || fail "installed taskwatchd --version"
cmp -s "$p/etc/taskwatch/taskwatch.yml" "$src/etc/taskwatch.example.yml" ||
    fail "etc/taskwatch/taskwatch.yml is not the example config"
grep -qx "ExecStart=$p/bin/taskwatchd --config $p/etc/taskwatch/taskwatch.yml" \
    "$p/lib/systemd/system/taskwatch.service" && ok "taskwatch.service starts the installed binary" ||
    fail "taskwatch.service: ExecStart= is not $p/bin/taskwatchd with $p/etc/taskwatch/taskwatch.yml"
grep -qx "ExecStart=$p/bin/taskwatchd --config $p/etc/taskwatch/%i.yml" \
    "$p/lib/systemd/system/taskwatch@.service" || fail "taskwatch@.service: ExecStart= is wrong"
if command -v systemd-analyze >/dev/null 2>&1; then
    for u in taskwatch.service taskwatch@vision.service; do
        out=$(MANPATH=$p/share/man systemd-analyze verify "$p/lib/systemd/system/$u" 2>&1) &&
            [ -z "$out" ] && ok "installed $u verifies, man page found" ||
            fail "systemd-analyze verify of the installed $u: $out"
    done
fi

# 2. The Debian package.
(cd "$build" && cpack -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$tmp"/pkg/taskwatch_*.deb)
ok "cpack made $(basename "$deb")"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = taskwatch ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")" ] ||
    fail "Version: $(field Version)"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
# Computed by dpkg-shlibdeps from the binary's libraries.
for lib in libc6 libssl3 libsqlite3-0 libsystemd0 libyaml-0-2 libprometheus-cpp-core; do
    field Depends | grep -q "$lib" || fail "Depends has no $lib: $(field Depends)"
done
[ $status -eq 0 ] && ok "control: $(field Package) $(field Version) $(field Architecture); Depends: $(field Depends)"

dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/taskwatchd ./etc/taskwatch/taskwatch.yml ./usr/lib/systemd/system/taskwatch.service \
    ./usr/lib/systemd/system/taskwatch@.service ./usr/share/taskwatch/taskwatch-rules.yml \
    ./usr/share/taskwatch/taskwatch.json ./usr/share/man/man1/taskwatchd.1; do
    grep -qx "$f" "$tmp/contents" && ok "package has $f" || fail "the package lacks $f"
done
grep -q 'modelarts-sim' "$tmp/contents" && fail "the package holds the simulator"
dpkg-deb -x "$deb" "$tmp/root"
grep -qx 'ExecStart=/usr/bin/taskwatchd --config %E/taskwatch/taskwatch.yml' \
    "$tmp/root/usr/lib/systemd/system/taskwatch.service" || fail "packaged unit: wrong ExecStart="
"$tmp/root/usr/bin/taskwatchd" --version >/dev/null || fail "packaged taskwatchd does not run"

dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/taskwatch/taskwatch.yml "$tmp/control/conffiles" && ok "conffiles: /etc/taskwatch/taskwatch.yml" ||
    fail "/etc/taskwatch/taskwatch.yml is not a conffile"
for script in postinst prerm postrm; do
    [ -x "$tmp/control/$script" ] || { fail "no executable $script"; continue; }
    sh -n "$tmp/control/$script" || fail "$script: syntax"
done
# Installed, not started: no maintainer script enables, starts or restarts a unit
# (try-restart on upgrade restarts only what already runs).
if grep -nE '(systemctl|deb-systemd-invoke)[^#]* (start|enable|restart|reload-or-restart)( |$)' \
    "$tmp/control/postinst"; then
    fail "postinst enables or starts the service"
else
    ok "postinst starts nothing"
fi
exit $status
