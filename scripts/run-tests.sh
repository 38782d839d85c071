#!/bin/sh
# Runs each test — a cmocka binary, or a script ending "N passed, N failed"
# (and ", N skipped" when it skipped any) —
# shows its output, and ends with one summary line "N passed, N failed,
# N skipped" and the names of the skipped tests. A skipped test (cmocka's
# skip(), a tool that is missing) is never counted as passed.
# Arguments after a script name up to the next ";" are its arguments.
# Exits non-zero if any test failed or a binary crashed.
#   usage: scripts/run-tests.sh TEST... [SCRIPT.sh ARG... ";"]...
set -u
case ${1:-} in
-h | --help)
    sed -n 's/^#   usage: /usage: /p' "$0"
    exit 0
    ;;
esac
passed=0
failed=0
skipped=0
skipped_names=""
run() {
    out=$(mktemp)
    "$@" > "$out" 2>&1
    rc=$?
    cat "$out"
    case $1 in
    *.sh)
        # a script's own count: its last "N passed, N failed[, N skipped]" line
        line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
        p=$(echo "$line" | sed -n 's/^\(.*[^0-9]\)\{0,1\}\([0-9][0-9]*\) passed, .*/\2/p')
        f=$(echo "$line" | sed -n 's/.* passed, \([0-9][0-9]*\) failed.*/\1/p')
        s=$(echo "$line" | sed -n 's/.* failed, \([0-9][0-9]*\) skipped.*/\1/p')
        if [ "${s:-0}" -gt 0 ]; then
            skipped=$((skipped + s))
            skipped_names="$skipped_names $1"
        fi
        ;;
    *)
        # cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
        s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
        names=$(sed -n 's/^\[  SKIPPED \] \([a-z_].*\)$/\1/p' "$out" | tr '\n' ' ')
        skipped=$((skipped + s))
        [ -n "$names" ] && skipped_names="$skipped_names $names"
        ;;
    esac
    rm -f "$out"
    p=${p:-0}
    f=${f:-0}
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "run-tests: $1 exited with status $rc" >&2
        failed=$((failed + 1))
    fi
}
while [ $# -gt 0 ]; do
    case $1 in
    *.sh)
        cmd=$1
        shift
        args=""
        while [ $# -gt 0 ] && [ "$1" != ";" ]; do
            args="$args $1"
            shift
        done
        [ $# -gt 0 ] && shift
        # shellcheck disable=SC2086
        run "$cmd" $args
        ;;
    *)
        run "$1"
        shift
        ;;
    esac
done
echo "$passed passed, $failed failed, $skipped skipped"
[ -n "$skipped_names" ] && echo "skipped:$skipped_names"
[ "$failed" -eq 0 ]
