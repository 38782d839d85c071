#!/bin/sh
# The library's outside: libsluice.so exports only sluice_ symbols, its
# pkg-config version is SLUICE_VERSION, and <sluice.h>
# pulls in neither the simulator nor the worker's samplers. Prints
# "abi: N passed, N failed" like the test runner.
set -u
BUILD=${BUILD:-build}
CC=${CC:-cc}
passed=0
failed=0
check() { # NAME, then a command that succeeds when NAME holds
    name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "abi: $name" >&2
        failed=$((failed + 1))
    fi
}

exported=$(nm -D --defined-only "$BUILD/lib/libsluice.so" | awk '{ print $3 }')
foreign=$(echo "$exported" | grep -v '^sluice_' || true)
[ -n "$foreign" ] && echo "abi: exported without the sluice_ prefix:" $foreign >&2
check "libsluice.so exports only sluice_ symbols" [ -z "$foreign" ]
check "libsluice.so exports the public API" sh -c "echo '$exported' | grep -qx sluice_enqueue"

version=$(sed -n 's/^#define SLUICE_VERSION "\(.*\)"$/\1/p' include/sluice.h)
check "sluice.pc says Version: $version" grep -qx "Version: $version" "$BUILD/lib/pkgconfig/sluice.pc"

pulled=$(echo '#include <sluice.h>' | $CC -std=c11 -Iinclude -E -M -x c - 2>/dev/null)
check "<sluice.h> does not include sluice/sim.h" sh -c "! echo '$pulled' | grep -q 'sluice/sim.h'"
check "<sluice.h> does not include the worker or its samplers" \
    sh -c "! echo '$pulled' | grep -q -e 'sluice/worker.h' -e diskstats"

echo "abi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
