#!/bin/bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan, UBSan
# and LeakSanitizer into $BUILD/fuzz, then runs each for SECONDS on a copy of
# its seed corpus (tests/fuzz/corpus/<target>/). Fails if any target crashes,
# leaks, times out or trips a sanitizer; ends with a table of executions.
#
#   scripts/fuzz.sh [SECONDS]      5 by default; 0 only builds
#   BUILD=dir                      the build directory (default: build)
#   FUZZ_TARGETS="fuzz_url ..."    a subset (default: all)
#   FUZZ_CC=clang-14               the compiler (default: clang)
#
# Crash inputs land in $BUILD/fuzz/artifacts/; reproduce one with
#   $BUILD/fuzz/bin/<target> <file>
# and, once fixed, copy it into tests/fuzz/corpus/<target>/ as a regression.
set -eu

secs=${1:-5}
case $secs in
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/fuzz
cc=${FUZZ_CC:-clang}
san=address,undefined

# A parent make's flags (SANITIZER=, CFLAGS=, BUILD=) must not leak into the
# fuzz build: it has its own compiler, sanitizers and directory.
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS SANITIZER 2>/dev/null || true

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

deps_cflags=$(pkg-config --cflags hiredis jansson)
deps_libs="$(pkg-config --libs hiredis jansson) -lm"
warn="-Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Wno-missing-field-initializers -Werror"
base="-std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all \
      -Iinclude -Iqueue -Iqueue/ctl $warn $deps_cflags"

echo "fuzz: building libsluice with $cc, $san and coverage into $out/build"
CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
    make --no-print-directory -s BUILD="$out/build" CC="$cc" SANITIZER="$san" "$out/build/lib/libsluice.a" "$out/build/lib/libsluice-sim.a"
lib=$out/build/lib/libsluice.a
simlib=$out/build/lib/libsluice-sim.a

# sluicectl's files, for the targets that reach its parsers (not main.c:
# libFuzzer brings its own main; fuzz_config stubs main.c's ctl_client).
mkdir -p "$out/obj/ctl" "$out/bin" "$out/logs" "$out/artifacts"
ctl_objs=
# shellcheck disable=SC2012
newest_h=$(ls -t queue/ctl/ctl.h include/sluice.h include/sluice/*.h | head -n 1)
for src in queue/ctl/*.c; do
    [ "$src" = queue/ctl/main.c ] && continue
    obj=$out/obj/ctl/$(basename "$src" .c).o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
        # shellcheck disable=SC2086
        $cc $base -fsanitize=fuzzer-no-link,$san -c "$src" -o "$obj"
    fi
    ctl_objs="$ctl_objs $obj"
done

links() {
    case $1 in
        fuzz_config) echo "$ctl_objs $simlib" ;;
        fuzz_parse) echo "$out/obj/ctl/parse.o $out/obj/ctl/output.o" ;;
        *) echo "" ;;
    esac
}

targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)}
for t in $targets; do
    # shellcheck disable=SC2086,SC2046
    $cc $base -fsanitize=fuzzer,$san "tests/fuzz/$t.c" $(links "$t") "$lib" $deps_libs -o "$out/bin/$t"
done
echo "fuzz: built $(echo "$targets" | wc -w) targets into $out/bin"
[ "$secs" -eq 0 ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
summary=$out/summary.txt
printf '%-14s %10s %8s %9s  %s\n' target executions exec/s corpus result > "$summary"
for t in $targets; do
    work=$out/corpus/$t
    seeds=tests/fuzz/corpus/$t
    mkdir -p "$work" "$seeds"
    log=$out/logs/$t.log
    # The ctl targets print usage errors: close their stdout/stderr (libFuzzer
    # and the sanitizers keep their own copy of stderr for reports).
    mask=0
    case $t in fuzz_config|fuzz_parse) mask=3 ;; esac
    echo "fuzz: $t for ${secs}s"
    rc=0
    "$out/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -close_fd_mask=$mask -artifact_prefix="$out/artifacts/$t-" "$work" "$seeds" > "$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    units=$(find "$work" -type f | wc -l)
    result=ok
    if [ "$rc" -ne 0 ] || grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
            -e 'runtime error:' -e '==ERROR' -e 'deadly signal' "$log"; then
        result="FAILED (exit $rc, see $log)"
        failed=$((failed + 1))
        grep -m 20 -e ERROR -e 'runtime error' -e SUMMARY -e 'Test unit written' "$log" >&2 || true
    fi
    printf '%-14s %10s %8s %9s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$units" "$result" >> "$summary"
done
cat "$summary"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: $failed target(s) failed" >&2
    exit 1
fi
echo "fuzz: 0 crashes, 0 sanitizer reports"
