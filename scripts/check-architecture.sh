#!/bin/sh
# The walks of docs/architecture.md stay true: every C file they name exists
# (a bare name is looked up under queue/ and worker/), and every function
# they name is defined in queue/ or worker/ (Lua Functions, marked "in
# Redis", are looked up in queue/lua/). Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
walks=$(sed -n '/^## One job/,$p' docs/architecture.md | grep '^|')
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    echo "check-architecture: $1" >&2
    failed=$((failed + 1))
}
for f in $(echo "$walks" | grep -o '`[a-z_/.-]*\.c`' | tr -d '`' | sort -u); do
    case $f in
    */*) [ -f "$f" ] && ok || bad "docs/architecture.md names $f, which does not exist" ;;
    *) [ -n "$(find queue worker -name "$f")" ] && ok || bad "docs/architecture.md names $f, found nowhere" ;;
    esac
done
for fn in $(echo "$walks" | grep -o '`[a-z_][a-z0-9_]*`' | tr -d '`' | sort -u); do
    if grep -Eq "^[a-z].*[ *]$fn\(" queue/*.c queue/*/*.c worker/*/*.c ||
        grep -Eq "^local function $fn\(|^redis.register_function\('$fn'|'$fn'" queue/lua/*.lua; then
        ok
    else
        bad "docs/architecture.md names $fn, which is defined nowhere"
    fi
done
echo "architecture: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
