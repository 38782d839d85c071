#!/bin/sh
# make proof: the incident on a real PostgreSQL. A private PostgreSQL (initdb
# in a temp dir, unix socket only) serves interactive traffic from pgbench at
# fixed rates on a calm -> rise -> peak -> calm schedule (the rise in four
# steps, as a morning peak arrives; the peak a share of what this machine's
# database can serve, measured first), with every transaction's latency logged,
# while a backlog of heavy background jobs (bulk writes and
# large scans through psql, tests/proof/job.sh) runs three ways, one run
# after the other on the same database and schedule:
#   baseline     no background jobs
#   unthrottled  the jobs flat out: sluice-worker with the governor off
#   sluice       the same worker and jobs, the governor on, fed the signal
#                pg_load by scripts/samplers/postgres.sh load
# Then it prints, per run and phase, interactive p50/p99, transactions and
# background jobs done, the jobs lost, and the acceptance lines; and plots the
# three runs to build/proof/proof.png (the data beside it). Exits 1 when an
# acceptance line is not met. Every process and temp file it started is gone
# when it exits, also on Ctrl-C (exit 130). The README's "make proof" section
# says why the workload, the signal and the classes are what they are.
set -eu
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
case $BUILD in /*) bin=$BUILD/bin ;; *) bin=$(pwd)/$BUILD/bin ;; esac
out=${PROOF_OUT:-$BUILD/proof}

usage() {
    cat <<'EOF'
usage: scripts/proof.sh [--quick] [--json] [--calm S] [--rise S] [--peak S]
                        [--after S] [--calm-rate TPS] [--peak-share PCT]
                        [--peak-rate TPS] [--scale N]
The incident on a real PostgreSQL: pgbench as interactive traffic (calm, rise,
peak, calm) and a backlog of heavy jobs run three ways (none, unthrottled,
sluice). About 20 minutes with the defaults.
  --quick          short phases (15, 8, 20 and 30 s): about 4 minutes
  --calm S         the first calm phase, seconds (default 60)
  --rise S         the rise to the peak, in four equal steps, seconds (default 20)
  --peak S         the peak, seconds (default 60)
  --after S        the calm phase after the peak, seconds (default 240)
  --calm-rate TPS  interactive transactions per second when calm (default 50)
  --peak-share PCT the peak's rate as a share of the database's capacity on
                   this machine, measured first (pgbench flat out for 10 s),
                   percent (default 60)
  --peak-rate TPS  a fixed rate at the peak instead of a share of the capacity
  --scale N        pgbench scale factor (default 20: 2,000,000 accounts)
  --json           the summary as JSON on stdout (progress goes to stderr)
  --help           this text
Needs build/bin (make all build/bin/sluice-proof), PostgreSQL's server
programs (/usr/lib/postgresql/N/bin), pgbench, psql, redis-server; gnuplot
for the plot. As root, PostgreSQL runs as the user postgres. Writes
build/proof (PROOF_OUT): proof.png, summary.txt, summary.json and each run's
data. Exit: 0 acceptance met, 1 not met or a failure, 2 usage, 130 Ctrl-C.
From make: make proof PROOF_ARGS='--quick --scale 10'.
EOF
}

calm=60 rise=20 peak=60 after=240 calm_rate=50 peak_share=60 peak_rate="" scale=20 json=""
need_arg() { [ $# -ge 2 ] || { usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) calm=15 rise=8 peak=20 after=30 ;;
    --json) json=1 ;;
    --calm) need_arg "$@"; calm=$2; shift ;;
    --rise) need_arg "$@"; rise=$2; shift ;;
    --peak) need_arg "$@"; peak=$2; shift ;;
    --after) need_arg "$@"; after=$2; shift ;;
    --calm-rate) need_arg "$@"; calm_rate=$2; shift ;;
    --peak-share) need_arg "$@"; peak_share=$2; shift ;;
    --peak-rate) need_arg "$@"; peak_rate=${2:-"''"}; shift ;;
    --scale) need_arg "$@"; scale=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "proof: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
for v in "calm $calm 5 3600" "rise $rise 4 3600" "peak $peak 5 3600" "after $after 5 3600" "calm-rate $calm_rate 1 100000" \
    "peak-share $peak_share 1 100" ${peak_rate:+"peak-rate $peak_rate 1 100000"} "scale $scale 1 1000"; do
    set -- $v
    case $2 in ''|*[!0-9]*) echo "proof: --$1: not a whole number: $2" >&2; exit 2 ;; esac
    if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        echo "proof: --$1 must be $3..$4, not $2" >&2
        exit 2
    fi
done
if [ -n "$peak_rate" ] && [ "$peak_rate" -le "$calm_rate" ]; then
    echo "proof: --peak-rate ($peak_rate) must be above --calm-rate ($calm_rate)" >&2
    exit 2
fi
# PROOF_RUNS makes only some of the runs, and no summary (the tests interrupt
# an unthrottled run, which has jobs in flight within seconds).
runs=${PROOF_RUNS:-baseline unthrottled sluice}
for r in $runs; do
    case $r in baseline|unthrottled|sluice) ;; *) echo "proof: PROOF_RUNS: unknown run $r" >&2; exit 2 ;; esac
done
# With --json the progress goes to stderr and only the JSON to stdout (fd 3).
if [ -n "$json" ]; then exec 3>&1 1>&2; else exec 3>&1; fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "proof: no PostgreSQL server programs in /usr/lib/postgresql/*/bin (make deps installs them)" >&2
    exit 1
fi
for b in sluice-proof sluice-worker sluicectl; do
    [ -x "$bin/$b" ] || { echo "proof: $bin/$b is missing (make all $BUILD/bin/sluice-proof)" >&2; exit 1; }
done
# As root, PostgreSQL's programs run as `postgres` (initdb refuses root).
as_pg=""
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "proof: running as root without a postgres user" >&2; exit 1; }
    as_pg="setpriv --reuid=postgres --regid=postgres --init-groups"
fi

# ---------------------------- processes -------------------------------
. "$here/processes.sh"
# Every process this script starts, by PID; cleanup stops what is left.
pg_pid="" worker_pid="" watch_pid="" base_pid="" surge_pids="" fg_pid=""
# Runs a command and waits for it. In the background, so that Ctrl-C goes
# to this script's trap at once and cleanup stops the command by its PID: a
# program that catches SIGINT and exits normally (psql, initdb, pgbench)
# would make sh ignore the Ctrl-C it got while waiting in the foreground.
# Its stdin is /dev/null.
waitfor() {
    "$@" &
    fg_pid=$!
    rc=0
    wait "$fg_pid" || rc=$?
    fg_pid=""
    return "$rc"
}
# Live processes started with this run's PGHOST (job handlers and psql that
# outlived their worker). The script itself was started without it, and the
# search runs without it.
strays() {
    [ -n "${pgdir:-}" ] || return 0
    (
        unset PGHOST
        grep -l -z -x -e "PGHOST=$pgdir" /proc/[0-9]*/environ 2>/dev/null |
            sed 's,^/proc/\([0-9]*\)/environ$,\1,' || true
    )
}
cleanup() {
    status=$?
    trap '' INT TERM HUP
    # shellcheck disable=SC2086
    stop_pids 20 TERM $fg_pid $base_pid $surge_pids $watch_pid
    if alive "$worker_pid"; then
        kill -TERM "$worker_pid" 2>/dev/null || true # the second TERM releases its jobs at once
        stop_pids 50 TERM "$worker_pid"
    fi
    alive "$pg_pid" && stop_pids 100 INT "$pg_pid" # fast shutdown: ends every session
    kill_strays
    redis_temp_cleanup
    exit "$status"
}

. "$here/redis-temp.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
redis_temp_start proof
# shellcheck disable=SC2154 # $tmpdir and $sock are set by redis-temp.sh
export SLUICE_REDIS_URL="unix://$sock"
chmod 711 "$tmpdir"
pgdir=$tmpdir/pg
mkdir "$pgdir"
[ -n "$as_pg" ] && chown postgres: "$pgdir"
log=$tmpdir/proof.log

fail() {
    echo "proof: $*" >&2
    [ -f "$log" ] && tail -n 15 "$log" | sed 's/^/  | /' >&2
    exit 1
}

# ---------------------------- PostgreSQL ------------------------------
pgver=$("$pgbin/postgres" --version | sed 's/.* \([0-9][0-9.]*\).*/\1/')
echo "sluice proof: the incident on a real PostgreSQL $pgver (private, in $tmpdir)"
waitfor $as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-sync \
    --no-instructions >>"$log" 2>&1 || fail "initdb failed"
export PGHOST="$pgdir" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
# The database fits in shared_buffers: the contention is CPU, WAL and locks
# while the jobs run. Checkpoints as on a server tuned for bulk writes (WAL
# up to 8 GB, every 30 min): the jobs' WAL would otherwise force one every
# minute, and one that starts before a peak writes through it, however
# still the jobs are by then. Checkpoints and autovacuum runs are logged
# (build/proof/postgresql.log).
$as_pg "$pgbin/postgres" -D "$pgdir/data" -k "$pgdir" -p "$PGPORT" -c listen_addresses= \
    -c max_connections=60 -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min \
    -c log_checkpoints=on -c log_autovacuum_min_duration=0 >"$pgdir/server.log" 2>&1 &
pg_pid=$!
i=0
until waitfor "$pgbin/pg_isready" -q 2>/dev/null; do
    alive "$pg_pid" || { log=$pgdir/server.log; fail "PostgreSQL did not start"; }
    i=$((i + 1))
    [ $i -gt 600 ] && fail "PostgreSQL did not accept connections within 60 s"
    sleep 0.1
done
waitfor psql -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE proof_done (job text PRIMARY KEY, class text NOT NULL, runs int NOT NULL DEFAULT 1,
                                 at timestamptz NOT NULL DEFAULT clock_timestamp())" \
    -c "CREATE TABLE proof_staging (job text, n int, k text, pad text)" >>"$log" 2>&1 ||
    fail "cannot create the proof's tables"

# ---------------------------- the runs --------------------------------
# Background jobs' sessions are named sluice-job (job.sh); the sampler leaves
# them out: pg_load is the load of everyone else.
export SLUICE_PG_EXCLUDE='sluice-job%'
# Each reading averages 1.5 of the 3 s between readings, so the stall of one
# job's commit is a part of a reading, not all of it.
export SLUICE_PG_LOAD_MS=1500
total=$((calm + rise + peak + after))
backlog=20000 # per class: more than a run can do, so the backlog never runs dry

# Fresh data for every run: pgbench's tables rebuilt, the jobs' tables
# emptied, a checkpoint, so no run inherits another's dead rows or WAL.
reset_db() {
    waitfor pgbench -i -q -s "$scale" >>"$log" 2>&1 || fail "pgbench -i failed"
    waitfor psql -X -q -v ON_ERROR_STOP=1 -c "TRUNCATE proof_done, proof_staging" -c "VACUUM ANALYZE" \
        -c CHECKPOINT >>"$log" 2>&1 || fail "cannot reset the database"
}

# The database's capacity on this machine: pgbench flat out (8 clients, 10 s)
# on fresh data. The peak is a share of it, so that on a quick machine as on
# a slow one the peak loads the database as the incident did (near its
# limit), rather than a fixed rate that one machine barely notices.
capacity=""
if [ -z "$peak_rate" ]; then
    reset_db
    waitfor pgbench -n -c 8 -j 2 -T 10 >"$tmpdir/capacity.log" 2>&1 || fail "pgbench (the capacity) failed"
    capacity=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$tmpdir/capacity.log" | head -n 1)
    [ -n "$capacity" ] || fail "no tps in pgbench's output: $(tail -n 3 "$tmpdir/capacity.log")"
    peak_rate=$((capacity * peak_share / 100))
    echo "  capacity:    $capacity tps (pgbench flat out, 8 clients, 10 s); the peak is $peak_share% of it"
    if [ "$peak_rate" -le "$calm_rate" ]; then
        echo "proof: the peak ($peak_share% of $capacity tps) is not above --calm-rate ($calm_rate)" >&2
        exit 1
    fi
fi
step=$(((peak_rate - calm_rate) / 5)) # tps each of the five surge pgbench processes adds
echo "  interactive: pgbench (TPC-B-like) at $calm_rate tps for ${calm} s, rising in four steps over ${rise} s,"
echo "               $((calm_rate + 5 * step)) tps for ${peak} s, then $calm_rate tps for ${after} s (scale $scale)"
echo "  background:  imports (bulk writes) and reports (large scans), both tier low, 1 in flight"
echo "               each at most, a backlog of $backlog each (tests/proof/job.sh, proof.json)"
echo "  signal:      pg_load = active sessions other than the jobs', the server's mean of a look"
echo "               every 10 ms for 1.5 s, sampled every 3 s (scripts/samplers/postgres.sh load)"
echo

# CPU ticks to say how quiet the machine was: "busy idle" of the whole
# machine (/proc/stat), then this proof's own busy ticks: PostgreSQL (the
# postmaster and the backends it reaped), redis-server, and the children this
# script reaped (pgbench, the worker and its job handlers). A proof's own
# ticks are counted once its processes have exited.
cpu_ticks() {
    awk '/^cpu / { printf "%d %d ", $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
    cat "/proc/$pg_pid/stat" "/proc/$redis_pid/stat" "/proc/$$/stat" 2>/dev/null |
        sed 's/^.*) //' | awk '{ s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

run_one() { # NAME GOVERNOR-MODE JOBS-PER-CLASS
    name=$1 mode=$2 jobs=$3
    dir=$tmpdir/$name
    mkdir "$dir"
    echo "== $name: $(case $name in baseline) echo "no background jobs" ;;
        unthrottled) echo "the backlog flat out (governor off)" ;;
        *) echo "the backlog as sluice jobs (governor on)" ;; esac)"
    reset_db
    export SLUICE_NAMESPACE="proof-$name"
    waitfor "$bin/sluicectl" apply "$here/../tests/proof/proof.json" >>"$log" 2>&1 || fail "sluicectl apply failed"
    waitfor "$bin/sluicectl" governor mode "$mode" >>"$log" 2>&1 || fail "sluicectl governor mode failed"
    [ "$jobs" -gt 0 ] && { waitfor "$bin/sluice-proof" enqueue imports "$jobs" reports "$jobs" >>"$log" 2>&1 ||
        fail "enqueue failed"; }
    # The first reading before the governor's first tick (a signal without
    # one is stale, and stale assumes pressure).
    waitfor "$here/samplers/postgres.sh" load >"$dir/first" 2>>"$log" &&
        waitfor "$bin/sluicectl" signal set pg_load "$(cat "$dir/first")" >>"$log" 2>&1 ||
        fail "the first pg_load reading failed"
    "$bin/sluice-worker" --name "proof-$name" --concurrency 2 --grace 10s \
        --sampler pg_load=3s:"$here/samplers/postgres.sh" load -- \
        --handler imports="$here/../tests/proof/job.sh" import -- \
        --handler reports="$here/../tests/proof/job.sh" report \
        2>"$dir/worker.log" &
    worker_pid=$!
    ticks0=$(cpu_ticks)
    t0=$(date +%s.%N)
    printf 'run=%s\nt0=%s\ncalm_s=%s\nrise_s=%s\npeak_s=%s\nafter_s=%s\ncalm_rate=%s\npeak_rate=%s\ncapacity_tps=%s\n' \
        "$name" "$t0" "$calm" "$rise" "$peak" "$after" "$calm_rate" "$((calm_rate + 5 * step))" "$capacity" \
        >"$dir/meta.txt"
    (cd "$dir" && exec pgbench -n -c 4 -j 1 -R "$calm_rate" -T "$total" -l --log-prefix=int-base) \
        >>"$dir/pgbench.log" 2>&1 &
    base_pid=$!
    "$bin/sluice-proof" watch "$dir" &
    watch_pid=$!
    waitfor sleep "$calm"
    # the rise: a surge process every rise/4 s, the fifth starts the peak
    k=1
    while [ $k -le 5 ]; do
        now=$(date +%s.%N)
        [ $k -eq 1 ] && printf 'rise_t=%s\n' "$now" >>"$dir/meta.txt"
        [ $k -eq 5 ] && printf 'peak_t=%s\n' "$now" >>"$dir/meta.txt"
        left=$(awk -v t0="$t0" -v now="$now" -v end=$((calm + rise + peak)) 'BEGIN { printf "%d", t0 + end - now + 0.5 }')
        (cd "$dir" && exec pgbench -n -c 4 -j 1 -R "$step" -T "$left" -l --log-prefix="int-surge$k") \
            >>"$dir/pgbench.log" 2>&1 &
        surge_pids="$surge_pids $!"
        [ $k -lt 5 ] && waitfor sleep "$(awk -v r="$rise" 'BEGIN { print r / 4 }')"
        k=$((k + 1))
    done
    for p in $surge_pids $base_pid; do
        wait "$p" || fail "pgbench failed: $(tail -n 3 "$dir/pgbench.log")"
    done
    surge_pids="" base_pid=""
    printf 'end_t=%s\nloadavg=%s\n' "$(date +%s.%N)" "$(cut -d' ' -f1 /proc/loadavg)" >>"$dir/meta.txt"
    stop_pids 20 TERM "$watch_pid"
    watch_pid=""
    # the worker finishes its jobs in flight (grace 10 s), then exits
    stop_pids 150 TERM "$worker_pid"
    worker_pid=""
    echo "$ticks0 $(cpu_ticks)" | awk '{ b = $4 - $1; i = $5 - $2; mine = $6 - $3
        printf "machine_busy=%.4f\nothers_busy=%.4f\n", b / (b + i), (b - mine > 0 ? b - mine : 0) / (b + i) }' \
        >>"$dir/meta.txt"
    waitfor "$bin/sluice-proof" stats imports reports >>"$dir/meta.txt" 2>>"$log" ||
        fail "cannot read the classes' counters"
    waitfor psql -X -q -A -t -F, -c "SELECT class, extract(epoch FROM at), runs FROM proof_done" \
        >"$dir/done.csv" 2>>"$log" || fail "cannot read proof_done"
    echo
}

for r in $runs; do
    case $r in
    baseline) run_one baseline off 0 ;;
    unthrottled) run_one unthrottled off "$backlog" ;;
    sluice) run_one sluice enforce "$backlog" ;;
    esac
done

# ---------------------------- results ---------------------------------
mkdir -p "$out"
abs_out=$(cd "$out" && pwd)
for r in $runs; do
    rm -rf "${abs_out:?}/$r"
    cp -r "$tmpdir/$r" "$abs_out/$r"
done
cp "$pgdir/server.log" "$abs_out/postgresql.log"
if [ "$runs" != "baseline unthrottled sluice" ]; then
    echo "proof: only the runs in PROOF_RUNS ($runs) were made: their data is in $abs_out, no summary"
    exit 0
fi
status=0
"$bin/sluice-proof" report --json "$abs_out/summary.json" "$abs_out/baseline" "$abs_out/unthrottled" \
    "$abs_out/sluice" >"$abs_out/summary.txt" || status=$?
cat "$abs_out/summary.txt"
if command -v gnuplot >/dev/null 2>&1; then
    r0=$(sed -n 's/^rise_from_s=//p' "$abs_out/sluice/series.meta")
    p0=$(sed -n 's/^peak_from_s=//p' "$abs_out/sluice/series.meta")
    p1=$(sed -n 's/^peak_to_s=//p' "$abs_out/sluice/series.meta")
    gnuplot -e "dir='$abs_out'; r0=$r0; p0=$p0; p1=$p1; png='$abs_out/proof.png'" "$here/../tests/proof/plot.gp" \
        2>>"$log" || { echo "proof: gnuplot failed" >&2; tail -n 5 "$log" >&2; status=1; }
    echo "plot: $abs_out/proof.png"
else
    echo "proof: gnuplot not found (apt-get install gnuplot-nox); the data is in $abs_out" >&2
    status=1
fi
[ -n "$json" ] && cat "$abs_out/summary.json" >&3
exit $status
