#!/bin/sh
# A sluice sampler template for a managed database's cloud metrics (RDS,
# Cloud SQL, Azure, ...). Prints exactly one number and exits 0, or prints
# nothing on stdout and exits non-zero (the signal then goes stale).
#
#   cloud-metrics.sh MEASURE --file FILE [--max-age SECONDS]
#   cloud-metrics.sh MEASURE --command COMMAND [ARG...]
#
# MEASURE:
#   iops-util      (read_iops + write_iops) / provisioned_iops, 0..1+
#   queue-depth    queue_depth (outstanding I/Os)
#   burst-balance  burst_balance (percent of I/O credits left: lower is worse)
#
# The input, from FILE or from COMMAND's stdout, is lines "NAME VALUE":
#   read_iops 1200
#   write_iops 800
#   provisioned_iops 3000
#   queue_depth 4.2
#   burst_balance 87
# A collector you already run (a cron job calling the cloud's CLI, an agent)
# writes the file; --max-age refuses a file not updated for that long, so a
# dead collector makes the signal stale instead of freezing it. Or wrap the
# CLI call in a small script and pass it with --command (see docs/signals.md
# for an AWS CloudWatch example).
set -u
measure=${1:-}
[ $# -gt 0 ] && shift
usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; }
case $measure in
iops-util|queue-depth|burst-balance) ;;
-h|--help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac

input=""
case ${1:-} in
--file)
    [ $# -ge 2 ] || { echo "cloud-metrics.sh: --file needs a path" >&2; exit 2; }
    file=$2
    shift 2
    if [ "${1:-}" = --max-age ]; then
        [ $# -ge 2 ] || { echo "cloud-metrics.sh: --max-age needs seconds" >&2; exit 2; }
        case $2 in ''|*[!0-9]*) echo "cloud-metrics.sh: --max-age wants whole seconds" >&2; exit 2 ;; esac
        age=$(( $(date +%s) - $(stat -c %Y "$file" 2>/dev/null || echo 0) ))
        if [ "$age" -gt "$2" ]; then
            echo "cloud-metrics.sh: $file is $age s old (over $2 s)" >&2
            exit 1
        fi
        shift 2
    fi
    [ $# -eq 0 ] || { echo "cloud-metrics.sh: unexpected argument $1" >&2; exit 2; }
    input=$(cat "$file") || exit 1 ;;
--command)
    shift
    [ $# -ge 1 ] || { echo "cloud-metrics.sh: --command needs a command" >&2; exit 2; }
    input=$("$@") || exit 1 ;;
*)
    echo "cloud-metrics.sh: give --file FILE or --command COMMAND" >&2
    exit 2 ;;
esac

# The value of NAME, strictly a plain number; empty when missing or malformed.
get() {
    v=$(printf '%s\n' "$input" | awk -v n="$1" '$1 == n && NF == 2 { print $2; c++ } END { if (c != 1) exit 1 }') || return 1
    case $v in ''|*[!0-9.eE+-]*) return 1 ;; esac
    printf '%s' "$v"
}

case $measure in
iops-util)
    if ! { r=$(get read_iops) && w=$(get write_iops) && p=$(get provisioned_iops); }; then
        echo "cloud-metrics.sh: need read_iops, write_iops and provisioned_iops" >&2
        exit 1
    fi
    awk -v r="$r" -v w="$w" -v p="$p" 'BEGIN { if (p + 0 <= 0) exit 1; printf "%.6g\n", (r + w) / p }' ||
        { echo "cloud-metrics.sh: provisioned_iops must be positive" >&2; exit 1; } ;;
queue-depth)
    v=$(get queue_depth) || { echo "cloud-metrics.sh: need queue_depth" >&2; exit 1; }
    printf '%s\n' "$v" ;;
burst-balance)
    v=$(get burst_balance) || { echo "cloud-metrics.sh: need burst_balance" >&2; exit 1; }
    printf '%s\n' "$v" ;;
esac
