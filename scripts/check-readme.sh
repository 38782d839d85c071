#!/bin/sh
# Compiles every complete C program (a ```c block with main) in README.md
# against the built library, warnings as errors, and runs it against a
# redis-server of its own. Prints "N passed, N failed" like the test runner.
set -eu
BUILD=${BUILD:-build}
CC=${CC:-cc}
. "$(dirname "$0")/redis-temp.sh"
redis_temp_start readme
dir=$tmpdir

awk -v dir="$dir" '
    /^```c$/ { n++; file = dir "/example" n ".c"; inblock = 1; next }
    /^```$/ && inblock { inblock = 0; close(file); next }
    inblock { print > file }
' README.md

passed=0
failed=0
for src in "$dir"/example*.c; do
    grep -q 'int main' "$src" || continue
    bin=${src%.c}
    # shellcheck disable=SC2046
    if $CC -std=c11 -Wall -Wextra -Werror -Iinclude "$src" -o "$bin" "$BUILD/lib/libsluice.a" \
        $(pkg-config --libs hiredis jansson) -lm ${LDFLAGS_EXTRA:-} &&
        SLUICE_REDIS_URL="unix://$dir/redis.sock" "$bin" >/dev/null; then
        passed=$((passed + 1))
    else
        echo "check-readme: $(basename "$src") (block $(basename "$bin")) failed" >&2
        failed=$((failed + 1))
    fi
done
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
