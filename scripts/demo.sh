#!/bin/sh
# make demo: replays the incident sluice exists for (see README) in real
# time, in one to two minutes. A database stand-in with a fixed I/O capacity
# serves interactive traffic that peaks; two real sluice-worker processes run
# certificate jobs (tier low, a batch) and integration syncs (tier normal,
# steady) whose handlers ask the stand-in for I/O; the stand-in's utilisation
# is the signal db_util, which the governor hosted by the workers reads. The
# model and the timeline are described at the top of tests/demo/sluice-demo.c.
#
# Starts its own redis-server in a temp dir (scripts/redis-temp.sh) unless
# SLUICE_REDIS_URL names one; then it works in the namespace sluice-demo (or
# SLUICE_DEMO_NAMESPACE) and deletes only that namespace's keys. If time
# allows (the whole `make demo` under DEMO_BUDGET s, default 170) a second,
# shorter run replays the peak with the governor off for comparison.
# Ends with a summary (exit 1 if a job was lost or the low tier was never
# throttled) and a plot, named on the last line. Every process and temp file
# it started is gone when it exits, also on Ctrl-C (exit 130).
set -eu
BUILD=${BUILD:-build}
T0=${DEMO_T0:-}
[ -n "$T0" ] || T0=$(date +%s)
BUDGET=${DEMO_BUDGET:-170}
here=$(cd "$(dirname "$0")" && pwd)
case $BUILD in /*) bin=$BUILD/bin ;; *) bin=$(pwd)/$BUILD/bin ;; esac
out=${DEMO_OUT:-$BUILD/demo}

external=""
[ -n "${SLUICE_REDIS_URL:-}" ] && external=1

. "$here/processes.sh"
# Processes this script started, stopped in reverse order of need.
run_pid=""
worker_pids=""
console_pid=""
# PIDs of processes whose command line names our stand-in's socket: handlers
# (the workers run each in a process group of its own) that outlived them.
strays() {
    [ -n "$tmpdir" ] || return 0
    # "[.]" keeps this grep's own command line from matching
    grep -l -e "$tmpdir/db[.]sock" /proc/[0-9]*/cmdline 2>/dev/null |
        sed 's,^/proc/\([0-9]*\)/cmdline$,\1,' || true
}
cleanup() {
    status=$?
    trap '' INT TERM HUP
    # shellcheck disable=SC2086
    stop_pids 50 TERM $run_pid $worker_pids $console_pid
    run_pid=""
    worker_pids=""
    console_pid=""
    kill_strays
    if [ -n "$external" ] && [ -n "${wipe_ok:-}" ]; then
        "$bin/sluice-demo" wipe 2>/dev/null || true
    fi
    if [ -n "$external" ]; then
        [ -n "$tmpdir" ] && rm -rf "$tmpdir"
    else
        redis_temp_cleanup
    fi
    exit "$status"
}

if [ -n "$external" ]; then
    tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo-XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    export SLUICE_NAMESPACE="${SLUICE_DEMO_NAMESPACE:-sluice-demo}"
    where="the Redis at SLUICE_REDIS_URL, namespace $SLUICE_NAMESPACE"
    wipe_ok=1
    "$bin/sluice-demo" wipe 2>/dev/null # a previous run's leftovers
else
    . "$here/redis-temp.sh"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    redis_temp_start demo
    # shellcheck disable=SC2154 # $sock is set by redis-temp.sh
    export SLUICE_REDIS_URL="unix://$sock"
    export SLUICE_NAMESPACE=sluice-demo
    where="an embedded redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on a unix socket"
fi
db="$tmpdir/db.sock"
# I/O units a job asks the stand-in for (the handlers' argument; the run's
# spare-capacity figure needs them too)
cert_units=7
sync_units=10
log="$tmpdir/demo.log"

echo "sluice demo: the incident, replayed in real time ($where)"
"$bin/sluicectl" apply "$here/../tests/demo/demo.json" >>"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
echo "  classes: certificates (tier low: 40 jobs/s, 16 in flight, floor 0.1; $cert_units I/O units a job),"
echo "           integration_sync (tier normal: 10 jobs/s, 6 in flight, floor 0.5; $sync_units units a job)"
echo "  signal:  db_util = the stand-in's utilisation each second; target 0.80, critical 0.95"
echo "  the database: 1000 I/O units/s, first come first served; interactive requests of 2 units"
echo "  workers: 2 x sluice-worker (each hosts the governor; one leads), logs in the temp dir"

# The console: the same incident in a browser (DEMO_CONSOLE=127.0.0.1:8080
# picks its address; by default a free port), with a token for its actions.
od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$tmpdir/console.token"
"$bin/sluicectl" console --listen "${DEMO_CONSOLE:-127.0.0.1:0}" --token-file "$tmpdir/console.token" \
    --user demo >"$tmpdir/console.out" 2>>"$log" &
console_pid=$!
i=0
until grep -q '^console: ' "$tmpdir/console.out" 2>/dev/null || [ $i -gt 100 ]; do
    alive "$console_pid" || break
    i=$((i + 1))
    sleep 0.05
done
address=$(sed -n 's/^console: \(http[^ ]*\).*/\1/p' "$tmpdir/console.out")
if [ -n "$address" ]; then
    echo "  console: $address (open it to watch; token for its actions: $(cat "$tmpdir/console.token"))"
else
    echo "  console: did not start (see $log)"
fi
echo

start_workers() {
    for i in 1 2; do
        "$bin/sluice-worker" --name "demo-worker-$i" --concurrency 16 --grace 2s \
            --handler certificates="$bin/sluice-demo" io "$db" "$cert_units" -- \
            --handler integration_sync="$bin/sluice-demo" io "$db" "$sync_units" \
            2>"$tmpdir/worker-$i.log" &
        worker_pids="$worker_pids $!"
    done
}

# One run of the stand-in, traffic and live view; waits for it. The workers
# start once the stand-in listens (it has reported db_util by then, so the
# governor's first tick reads a fresh signal).
play() { # LABEL ARGS...
    label=$1
    shift
    "$bin/sluice-demo" run --socket "$db" --label "$label" --csv "$tmpdir/$label.csv" \
        --result "$tmpdir/$label.txt" --cert-units "$cert_units" --sync-units "$sync_units" "$@" &
    run_pid=$!
    if [ -z "$worker_pids" ]; then
        i=0
        until [ -S "$db" ]; do
            kill -0 "$run_pid" 2>/dev/null || break
            i=$((i + 1))
            [ $i -gt 200 ] && break
            sleep 0.02
        done
        start_workers
    fi
    wait "$run_pid"
    run_pid=""
}

echo "== governor on: calm 10 s, rising 8 s, peak 22 s, easing 8 s, then the backlog drains"
play on --calm 10 --ramp 8 --peak 22 --batch 900

# The comparison: the same peak, shorter, with the governor off.
OFF_S=45
elapsed=$(($(date +%s) - T0))
off=""
if [ $((elapsed + OFF_S)) -le "$BUDGET" ]; then
    echo
    echo "== governor off (sluicectl governor mode off): the same peak, shorter"
    "$bin/sluicectl" governor mode off >>"$log" 2>&1
    sleep 1.2 # a governor tick clears the gates
    play off --calm 4 --ramp 6 --peak 16 --tail 0 --batch 700
    "$bin/sluicectl" governor mode enforce >>"$log" 2>&1
    off="$tmpdir/off.txt"
else
    echo
    echo "(skipping the governor-off run: ${elapsed} s so far, it would end after ${BUDGET} s)"
fi

status=0
"$bin/sluice-demo" summary "$tmpdir/on.txt" $off || status=$?

# The plot and the data behind it, kept after the temp dir is gone.
mkdir -p "$out"
cp "$tmpdir/on.csv" "$out/governor-on.csv"
rm -f "$out/governor-off.csv"
[ -n "$off" ] && cp "$tmpdir/off.csv" "$out/governor-off.csv"
abs_out=$(cd "$out" && pwd)
shift_s=$(awk -F= '/^calm_s=/ { on = $2 } END { print on }' "$tmpdir/on.txt")
if [ -n "$off" ]; then
    shift_s=$(awk -F= -v on="$shift_s" '/^calm_s=/ { print on - $2 }' "$off")
fi
p0=$(sed -n 's/^peak_from_s=//p' "$tmpdir/on.txt")
p1=$(sed -n 's/^peak_to_s=//p' "$tmpdir/on.txt")
if command -v gnuplot >/dev/null 2>&1; then
    gnuplot -e "on='$abs_out/governor-on.csv'; off='${off:+$abs_out/governor-off.csv}'; shift=$shift_s; p0=$p0; p1=$p1; png='$abs_out/incident.png'" \
        "$here/../tests/demo/plot.gp" 2>>"$log" || {
        echo "demo: gnuplot failed:" >&2
        tail -n 5 "$log" >&2
        status=1
    }
    echo "plot: $abs_out/incident.png"
else
    echo "demo: gnuplot not found (apt-get install gnuplot-nox); the data is in $abs_out" >&2
    echo "plot: (none; data: $abs_out/governor-on.csv)"
    status=1
fi
exit $status
