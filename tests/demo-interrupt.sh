#!/bin/bash
# `make demo` cleans up on Ctrl-C at any moment: starts scripts/demo.sh in a
# process group of its own (as a terminal would), sends SIGINT to the whole
# group after each delay, and checks that the script exited 130, that no
# process it started is left (every one inherits a unique marker in its
# environment or is in its session: redis-server, the workers, their job
# handlers, the stand-in)
# and that its temp dir is gone (it is created under a private TMPDIR).
#   usage: tests/demo-interrupt.sh [DELAY_S ...]   (default: 0.3 2 10 30)
# Needs build/bin (BUILD=...) built with sluice-demo: make all build/bin/sluice-demo
set -u
BUILD=${BUILD:-build}
export BUILD
delays=${*:-0.3 2 10 30}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
for b in sluice-demo sluice-worker sluicectl; do
    [ -x "$BUILD/bin/$b" ] || { echo "demo-interrupt: $BUILD/bin/$b missing (make all $BUILD/bin/sluice-demo)"; exit 1; }
done

# PIDs of live processes whose environment holds the marker "$1", or that
# belong to the session "$2" (redis-server rewrites its environment area for
# its process title; nothing the demo starts leaves the session).
marked() {
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = "$$" ] && continue
        # state and session; a zombie (state Z) is dead, only not yet reaped
        st=$({ sed 's/^.*) //' "$d/stat" | cut -d' ' -f1,4; } 2>/dev/null)
        [ "${st% *}" = "Z" ] && continue
        if [ "${st#* }" = "$2" ] ||
            { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "SLUICE_DEMO_MARKER=$1"; then
            echo "$p"
        fi
    done
}

passed=0
failed=0
start=$(date +%s)
for d in $delays; do
    marker="demo-interrupt-$$-$d"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/demo-interrupt-XXXXXX")
    out="$tmp/out"
    mkdir "$tmp/t" "$out"
    log="$tmp/log"
    # setsid: a session and process group of its own, led by the script;
    # perl: SIGINT and SIGQUIT at their defaults, as a terminal leaves them
    # (bash starts a background job with both ignored, and a shell cannot
    # trap a signal that was ignored when it started)
    SLUICE_DEMO_MARKER=$marker TMPDIR="$tmp/t" DEMO_OUT="$out" DEMO_BUDGET=100000 \
        setsid perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "$ARGV[0]: $!\n"' \
        ./scripts/demo.sh >"$log" 2>&1 </dev/null &
    pid=$!
    sleep "$d"
    before=$(ps -s "$pid" -o pid= | wc -l)
    t0=$(date +%s.%N)
    kill -INT -- "-$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    sleep 0.2
    left=$(marked "$marker" "$pid")
    temps=$(ls -A "$tmp/t")
    why=""
    [ "$rc" -eq 130 ] || why="$why exit $rc (want 130);"
    [ -z "$left" ] || why="$why processes left: $(for p in $left; do { echo "$p $(cut -d' ' -f3 "/proc/$p/stat") $(tr '\0' ' ' <"/proc/$p/cmdline")"; } 2>/dev/null; done | tr '\n' ';')"
    [ -z "$temps" ] || why="$why temp files left: $temps;"
    [ -z "$(ls -A "$out")" ] || why="$why wrote $(ls -A "$out") to DEMO_OUT;"
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "ok - Ctrl-C after ${d} s ($before processes running) leaves nothing behind (exit 130, ${took} s after the signal)"
    else
        failed=$((failed + 1))
        echo "not ok - Ctrl-C after ${d} s:$why"
        sed 's/^/    | /' "$log" | tail -n 20
        for p in $left; do kill -KILL "$p" 2>/dev/null; done
    fi
    rm -rf "$tmp"
done
echo "demo-interrupt: $passed passed, $failed failed in $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ]
