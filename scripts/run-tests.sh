#!/bin/sh
# Runs each test binary, shows its output, and ends with one summary line
# "N passed, N failed". Exits non-zero if any test failed or a binary crashed.
set -u
passed=0
failed=0
bad=0
for t in "$@"; do
    out=$(mktemp)
    "$t" > "$out" 2>&1
    rc=$?
    cat "$out"
    # cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    rm -f "$out"
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "run-tests: $t exited with status $rc" >&2
        bad=$((bad + 1))
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
