# Sourced by scripts that need a throwaway redis-server: starts one in a temp
# dir on a unix socket (persistence off), sets $tmpdir and $sock, and stops
# it and removes the dir on exit, Ctrl-C or TERM.
# usage: . scripts/redis-temp.sh; redis_temp_start NAME
tmpdir=""
redis_pid=""
redis_temp_cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    [ -n "$tmpdir" ] && rm -rf "$tmpdir"
}
trap redis_temp_cleanup EXIT
trap 'exit 130' INT TERM

redis_temp_start() {
    tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$1-XXXXXX")
    sock="$tmpdir/redis.sock"
    redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save "" --appendonly no \
        --dir "$tmpdir" --logfile "$tmpdir/redis.log" &
    redis_pid=$!
    i=0
    until redis-cli -s "$sock" ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 200 ]; then
            echo "$1: redis-server did not start (see $tmpdir/redis.log)" >&2
            exit 1
        fi
        sleep 0.05
    done
}
