#!/bin/sh
# Compiles every complete C program (a ```c block with main) in README.md
# against the built libraries, warnings as errors, and runs it against a
# redis-server of its own. With SLUICE_PKG_CONFIG=1 it builds them through
# pkg-config alone (sluice, or sluice-worker for a program that includes
# <sluice/worker.h>), e.g. against an installed copy found through
# PKG_CONFIG_PATH. Otherwise it also runs the ```python, ```ruby and ```js
# blocks with the producers of queue/clients/, after declaring the class and
# the signal they use. Prints "N passed, N failed" like the test runner.
set -eu
BUILD=${BUILD:-build}
CC=${CC:-cc}
. "$(dirname "$0")/redis-temp.sh"
redis_temp_start readme
dir=$tmpdir

awk -v dir="$dir" '
    /^```(c|python|ruby|js)$/ { n++; file = dir "/example" n "." substr($0, 4); inblock = 1; next }
    /^```$/ && inblock { inblock = 0; close(file); next }
    inblock { print > file }
' README.md

# The compile and link flags of the program in $1.
flags() {
    pkg=sluice
    grep -q '<sluice/worker.h>' "$1" && pkg=sluice-worker
    if [ -n "${SLUICE_PKG_CONFIG:-}" ]; then
        pkg-config --cflags --libs "$pkg"
    elif [ "$pkg" = sluice-worker ]; then
        echo "-Iinclude $BUILD/lib/libsluice-worker.a $BUILD/lib/libsluice.a $(pkg-config --libs hiredis jansson) -lev -pthread -lm"
    else
        echo "-Iinclude $BUILD/lib/libsluice.a $(pkg-config --libs hiredis jansson) -lm"
    fi
}

passed=0
failed=0
for src in "$dir"/example*.c; do
    grep -q 'int main' "$src" || continue
    bin=${src%.c}
    # shellcheck disable=SC2046
    if $CC -std=c11 -Wall -Wextra -Werror "$src" -o "$bin" $(flags "$src") ${LDFLAGS_EXTRA:-} &&
        SLUICE_REDIS_URL="unix://$dir/redis.sock" "$bin" >/dev/null; then
        passed=$((passed + 1))
    else
        echo "check-readme: $(basename "$src") (block $(basename "$bin")) failed" >&2
        failed=$((failed + 1))
    fi
done
if [ -z "${SLUICE_PKG_CONFIG:-}" ]; then
    top=$(pwd)
    ctl="$BUILD/bin/sluicectl --redis unix://$dir/redis.sock"
    $ctl class set certificates --tier low --max-rate 50/s >/dev/null
    $ctl signal define pg_active --target 0.5 --critical 0.8 >/dev/null
    cp queue/clients/node/sluice.js "$dir/"
    for src in "$dir"/example*.python "$dir"/example*.ruby "$dir"/example*.js; do
        [ -e "$src" ] || continue
        case $src in
        *.python) set -- env PYTHONPATH="$top/queue/clients/python" /usr/bin/python3 "$src" ;;
        *.ruby) set -- /usr/bin/ruby -I"$top/queue/clients/ruby" "$src" ;;
        *.js) set -- env NODE_PATH="$top/queue/clients/node/node_modules" node "$src" ;;
        esac
        if SLUICE_REDIS_URL="unix://$dir/redis.sock" "$@" >"$src.out" 2>&1; then
            passed=$((passed + 1))
        else
            echo "check-readme: $(basename "$src") failed:" >&2
            cat "$src.out" >&2
            failed=$((failed + 1))
        fi
    done
    # Every class field has its row in the README's "Class settings" table.
    for f in $($BUILD/bin/sluicectl apply --help | sed -n '/^Class fields/,/^Signal fields/p' | sed '1d;$d'); do
        if grep -q "^| $f\( \|,\)" README.md || grep -q "^| [a-z_]*, $f " README.md; then
            passed=$((passed + 1))
        else
            echo "check-readme: the class field $f has no row in README's Class settings" >&2
            failed=$((failed + 1))
        fi
    done
fi
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
