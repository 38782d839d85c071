#!/bin/bash
# `make demo` and `make proof` clean up on Ctrl-C at any moment: starts the
# script in a session and process group of its own (as a terminal would),
# sends SIGINT to the whole group after each delay, and checks that the
# script exited 130, that no process it started is left (every one inherits
# a unique marker in its environment or is in its session: redis-server,
# PostgreSQL, the workers, their job handlers, pgbench, the stand-in) and
# that its temp dir is gone (it is created under a private TMPDIR) and it
# wrote nothing to its output dir. For the proof it first checks --help
# (exit 0) and a bad option (exit 2).
#   usage: tests/interrupt.sh demo|proof [DELAY_S ...]   (default: 0.3 2 10 30)
# Needs build/bin (BUILD=...) with sluice-demo or sluice-proof:
#   make all build/bin/sluice-demo build/bin/sluice-proof
set -u
BUILD=${BUILD:-build}
export BUILD
what=${1:-}
[ $# -gt 0 ] && shift
delays=${*:-0.3 2 10 30}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
passed=0
failed=0
case $what in
demo)
    cmd=(./scripts/demo.sh)
    outvar=DEMO_OUT
    extra=(DEMO_BUDGET=100000)
    bins="sluice-demo sluice-worker sluicectl"
    ;;
proof)
    # the unthrottled run alone, on small tables: jobs are in flight within seconds
    cmd=(./scripts/proof.sh --quick --scale 2)
    outvar=PROOF_OUT
    extra=(PROOF_RUNS=unthrottled)
    bins="sluice-proof sluice-worker sluicectl"
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo "skipped - proof interrupts: no PostgreSQL server (make deps installs it)"
        echo "interrupt: proof: 0 passed, 0 failed, 1 skipped"
        exit 0
    fi
    help=$(./scripts/proof.sh --help)
    rc=$?
    ./scripts/proof.sh --calm 1x >/dev/null 2>&1
    rc2=$?
    if [ $rc -eq 0 ] && [ "${help#usage: scripts/proof.sh}" != "$help" ] && [ $rc2 -eq 2 ]; then
        passed=$((passed + 1))
        echo "ok - proof.sh --help prints its usage (exit 0), a bad number exits 2"
    else
        failed=$((failed + 1))
        echo "not ok - proof.sh --help exit $rc, --calm 1x exit $rc2 (want 0 and 2)"
    fi
    ;;
*)
    echo "usage: tests/interrupt.sh demo|proof [DELAY_S ...]" >&2
    exit 2
    ;;
esac
for b in $bins; do
    [ -x "$BUILD/bin/$b" ] || { echo "interrupt: $BUILD/bin/$b missing (make all $BUILD/bin/sluice-$what)"; exit 1; }
done

# PIDs of live processes whose environment holds the marker "$1", or that
# belong to the session "$2" (redis-server and PostgreSQL rewrite their
# environment area for their process titles; nothing the scripts start
# leaves the session).
marked() {
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = "$$" ] && continue
        # state and session; a zombie (state Z) is dead, only not yet reaped
        st=$({ sed 's/^.*) //' "$d/stat" | cut -d' ' -f1,4; } 2>/dev/null)
        [ "${st% *}" = "Z" ] && continue
        if [ "${st#* }" = "$2" ] ||
            { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "SLUICE_INTERRUPT_MARKER=$1"; then
            echo "$p"
        fi
    done
}

start=$(date +%s)
for d in $delays; do
    marker="interrupt-$$-$what-$d"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/interrupt-XXXXXX")
    out="$tmp/out"
    mkdir "$tmp/t" "$out"
    chmod 755 "$tmp" "$tmp/t" # PostgreSQL (user postgres) reaches its dir below TMPDIR
    log="$tmp/log"
    # setsid: a session and process group of its own, led by the script;
    # SIGINT at its default, as from a terminal (bash starts a background
    # command with SIGINT ignored, and a shell cannot trap a signal ignored
    # on entry)
    env --default-signal=INT SLUICE_INTERRUPT_MARKER="$marker" TMPDIR="$tmp/t" "$outvar=$out" "${extra[@]}" \
        setsid "${cmd[@]}" >"$log" 2>&1 </dev/null &
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
    [ -z "$(ls -A "$out")" ] || why="$why wrote $(ls -A "$out") to $outvar;"
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "ok - $what: Ctrl-C after ${d} s ($before processes running) leaves nothing behind (exit 130, ${took} s after the signal)"
    else
        failed=$((failed + 1))
        echo "not ok - $what: Ctrl-C after ${d} s:$why"
        sed 's/^/    | /' "$log" | tail -n 20
        for p in $left; do kill -KILL "$p" 2>/dev/null; done
    fi
    rm -rf "$tmp"
done
echo "interrupt: $what: $passed passed, $failed failed in $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ]
