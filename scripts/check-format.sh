#!/bin/sh
# Every C file of the project is as clang-format (.clang-format) writes it.
# Prints "format: N passed, N failed" like the test runner; a file that
# differs is named with the first lines clang-format would change.
set -u
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "format: clang-format not found (scripts/bootstrap.sh installs it)" >&2
    echo "format: 0 passed, 1 failed"
    exit 1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include queue worker tests -name '*.[ch]')
passed=0
failed=0
for f in $files; do
    if out=$(clang-format --dry-run -Werror "$f" 2>&1); then
        passed=$((passed + 1))
    else
        echo "format: $f differs from clang-format's layout:" >&2
        echo "$out" | head -n 6 >&2
        failed=$((failed + 1))
    fi
done
echo "format: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
