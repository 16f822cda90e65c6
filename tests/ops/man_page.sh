#!/bin/sh
# docs/taskwatchd.1 documents every option and command that `taskwatchd --help` lists, and
# groff formats it without a warning.
# usage: man_page.sh TASKWATCHD MAN_PAGE
set -eu
taskwatchd=$1
page=$2
help=$("$taskwatchd" --help)
# The page's words: roff's \- is a hyphen; font changes (\fB, \fI, \fR, \fP) are not text.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")
# Options (--config, -c, ...) and commands (the first word after "taskwatchd" that is not one).
options=$(printf '%s\n' "$help" | grep -oE '(^|[ [])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' [' | sort -u)
commands=$(printf '%s\n' "$help" | sed -n 's/^ *taskwatchd \([a-z][a-z-]*\).*/\1/p' | sort -u)
[ -n "$options" ] || { echo "FAIL: no option found in taskwatchd --help:"; echo "$help"; exit 1; }
status=0
for word in $options $commands; do
    if printf '%s\n' "$text" | grep -qE -- "(^|[^a-zA-Z-])$word([^a-zA-Z-]|\$)"; then
        echo "ok: $word"
    else
        echo "FAIL: taskwatchd --help lists $word; $page does not document it"
        status=1
    fi
done
if command -v groff >/dev/null 2>&1; then
    if warnings=$(groff -t -man -Tutf8 -ww -z "$page" 2>&1) && [ -z "$warnings" ]; then
        echo "ok: groff formats $page without warnings"
    else
        echo "FAIL: groff warns about $page:"; echo "$warnings"; status=1
    fi
fi
exit $status
