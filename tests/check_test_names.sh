#!/bin/sh
# Fails when a doctest test case's name holds a ';'. doctest_discover_tests hands each name to
# CMake as a list item: a ';' splits it into pieces that match no test case, and each piece
# "passes" in ctest without running anything.
# Usage: check_test_names.sh TEST_BINARY...
status=0
for bin in "$@"; do
    bad=$("$bin" --list-test-cases --no-intro=true --no-version=true | grep -F ';')
    if [ -n "$bad" ]; then
        echo "$bin: test names with ';' (ctest would not run them):"
        echo "$bad"
        status=1
    fi
done
exit $status
