#!/bin/sh
# A sluice sampler for PostgreSQL, through psql. Prints exactly one number
# and exits 0, or prints nothing on stdout and exits non-zero (then the
# sampler reports nothing and the signal goes stale: never a made-up zero).
#
#   postgres.sh active   [PSQL_ARG...]  sessions running a query now, as a
#                                       fraction of max_connections (0..1)
#   postgres.sh connections [PSQL_ARG...] client sessions of any state, as a
#                                       fraction of max_connections (0..1)
#   postgres.sh lag      [PSQL_ARG...]  replication lag, seconds: on a standby
#                                       the age of the last replayed
#                                       transaction (0 when it has replayed
#                                       all it received); on a primary the
#                                       largest replay_lag of its standbys
#                                       (0 without standbys)
#   postgres.sh latency  [PSQL_ARG...]  ms the server took for SELECT 1, as
#                                       psql's \timing measures it
#   postgres.sh load     [PSQL_ARG...]  average active sessions: client
#                                       sessions running a query, counted by
#                                       the server about every 10 ms for
#                                       SLUICE_PG_LOAD_MS (default 500, 10 to
#                                       60000) and averaged (the "DB load" of
#                                       AWS Performance Insights; compare it
#                                       with the server's CPUs)
#
# SLUICE_PG_EXCLUDE, a LIKE pattern on application_name, leaves sessions out
# of active, connections and load: e.g. "sluice-job%" when the job handlers
# set PGAPPNAME=sluice-job, so the background's own sessions do not count
# as pressure, only what they do to everyone else's.
#
# Where to connect: libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
# PGPASSFILE, PGSSLMODE, ...) or psql arguments after the mode, e.g.
#   postgres.sh active -h /var/run/postgresql -U monitor -d postgres
# Never put a password on the command line: use ~/.pgpass (PGPASSFILE).
# PGCONNECT_TIMEOUT defaults to 5 seconds. PSQL names the psql binary.
set -u
mode=${1:-}
[ $# -gt 0 ] && shift
PSQL=${PSQL:-psql}
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGAPPNAME="${PGAPPNAME:-sluice-sampler}"
exclude=${SLUICE_PG_EXCLUDE:-}
# Client sessions not left out by SLUICE_PG_EXCLUDE. psql quotes it as a
# literal (:'ex') into a setting every mode's SQL reads.
exclude_sql="SET sluice_sampler.exclude = :'ex';"
counted="backend_type = 'client backend'
         AND (current_setting('sluice_sampler.exclude') = ''
              OR application_name NOT LIKE current_setting('sluice_sampler.exclude'))"

case $mode in
active)
    sql="SELECT (SELECT count(*) FROM pg_stat_activity
                  WHERE state = 'active' AND pid <> pg_backend_pid() AND $counted)::float8
              / current_setting('max_connections')::float8;" ;;
connections)
    sql="SELECT (SELECT count(*) FROM pg_stat_activity WHERE $counted)::float8
              / current_setting('max_connections')::float8;" ;;
lag)
    sql="SELECT CASE WHEN pg_is_in_recovery() THEN
                  CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                       THEN 0
                       ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END
                ELSE coalesce((SELECT extract(epoch FROM max(replay_lag)) FROM pg_stat_replication), 0)
           END::float8;" ;;
latency)
    sql='\timing on
SELECT 1;' ;;
load)
    load_ms=${SLUICE_PG_LOAD_MS:-500}
    case $load_ms in
    ''|*[!0-9]*) echo "postgres.sh: SLUICE_PG_LOAD_MS must be a whole number of ms, not '$load_ms'" >&2; exit 2 ;;
    esac
    if [ "$load_ms" -lt 10 ] || [ "$load_ms" -gt 60000 ]; then
        echo "postgres.sh: SLUICE_PG_LOAD_MS must be 10..60000, not $load_ms" >&2
        exit 2
    fi
    # One round trip: the server counts, sleeps 10 ms and counts again until
    # the window has passed (by its clock, however slow each look is), with a
    # fresh view of pg_stat_activity each time (it is cached for a
    # transaction otherwise), and raises the mean as a notice.
    sql="DO \$\$
DECLARE n bigint := 0; looks bigint := 0;
        done_at timestamptz := clock_timestamp() + interval '$load_ms milliseconds';
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        n := n + (SELECT count(*) FROM pg_stat_activity
                  WHERE state = 'active' AND pid <> pg_backend_pid() AND $counted);
        looks := looks + 1;
        EXIT WHEN clock_timestamp() >= done_at;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RAISE NOTICE 'load %', round(n::numeric / looks, 3);
END \$\$;" ;;
-h|--help|"")
    sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
    [ "$mode" = "" ] && exit 2
    exit 0 ;;
*)
    echo "postgres.sh: unknown mode $mode (active, connections, lag, latency, load)" >&2
    exit 2 ;;
esac

# the SQL on stdin, so psql substitutes :'ex'; load's notice comes on stderr
if [ "$mode" = load ]; then
    out=$(printf '%s\n%s\n' "$exclude_sql" "$sql" |
        "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -v "ex=$exclude" "$@" 2>&1 >/dev/null) || exit 1
else
    out=$(printf '%s\n%s\n' "$exclude_sql" "$sql" |
        "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -v "ex=$exclude" "$@" 2>/dev/null) || exit 1
fi
case $mode in
latency) # psql prints "1" then "Time: 0.214 ms" (or "Time: 1234.5 ms (00:01.235)")
    out=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9][0-9]*\.[0-9]*\) ms.*/\1/p') ;;
load) # "NOTICE:  load 1.250" and nothing else
    out=$(printf '%s\n' "$out" | sed -n '1s/^NOTICE:  load \([0-9][0-9.]*\)$/\1/p') ;;
esac
# exactly one plain number, or nothing at all
case $out in
''|*[!0-9.eE+-]*) echo "postgres.sh: $mode: not a number: $out" >&2; exit 1 ;;
esac
printf '%s\n' "$out"
