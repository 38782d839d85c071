#!/bin/sh
# The guarantees table of docs/reliability.md stays true: every test it names
# exists in tests/, and every mutant it names is in tests/mutants/, and every
# mutant is named by some guarantee. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
table=$(sed -n '/^## Guarantees/,/^# The fault battery/p' docs/reliability.md | grep '^| ')
passed=0
failed=0
for t in $(echo "$table" | grep -o '`[a-z_]*`' | tr -d '`' | sort -u); do
    if [ -x "build/tests/$t" ] || [ -f "tests/$t.c" ] || grep -q "static void $t(" tests/*.c; then
        passed=$((passed + 1))
    else
        echo "check-guarantees: docs/reliability.md names $t, which is no test" >&2
        failed=$((failed + 1))
    fi
done
named=$(echo "$table" | awk -F'|' '{print $4}' | grep -o '[0-9][0-9]' | sort -u)
for n in $named; do
    if ls tests/mutants/"$n"-*.mutant >/dev/null 2>&1; then
        passed=$((passed + 1))
    else
        echo "check-guarantees: docs/reliability.md names mutant $n, which is not in tests/mutants" >&2
        failed=$((failed + 1))
    fi
done
for m in tests/mutants/*.mutant; do
    n=$(basename "$m" | cut -c1-2)
    if ! echo "$named" | grep -qx "$n"; then
        echo "check-guarantees: $m guards no guarantee of docs/reliability.md" >&2
        failed=$((failed + 1))
    fi
done
echo "guarantees: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
