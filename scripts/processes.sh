# Sourced by scripts that start processes and must leave none behind (make
# demo, make proof): stopping them by PID, and sweeping up what outlived them.
#   alive PID                        PID runs (a zombie, exited but not yet
#                                    reaped, does not)
#   stop_pids TENTHS SIGNAL PID...   sends SIGNAL, gives them up to TENTHS
#                                    tenths of a second, then KILLs; reaps
#                                    them (they must be this shell's children)
#   kill_strays                      KILLs the PIDs the caller's strays
#                                    function prints, until it prints none
#                                    (at most 3 s)

alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
        [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

stop_pids() {
    tenths=$1 sig=$2
    shift 2
    [ $# -gt 0 ] || return 0
    kill "-$sig" "$@" 2>/dev/null || true
    i=0
    while [ $i -lt "$tenths" ]; do
        left=""
        for p in "$@"; do alive "$p" && left=1; done
        [ -z "$left" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$@" 2>/dev/null || true
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

kill_strays() {
    i=0
    while [ $i -lt 30 ]; do
        left=$(strays)
        [ -z "$left" ] && return 0
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        sleep 0.1
        i=$((i + 1))
    done
}
