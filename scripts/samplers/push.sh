#!/bin/sh
# Pushes one sample to sluice: runs COMMAND (any sampler that prints one
# number, e.g. postgres.sh or cloud-metrics.sh) and, when it succeeds,
# `sluicectl signal set SIGNAL VALUE`. For cron and other schedulers outside
# sluice-worker:
#
#   push.sh SIGNAL COMMAND [ARG...]
#
# A failing command, or one printing anything but one number, pushes
# nothing and exits 1: the signal goes stale, never to a made-up zero.
# SLUICE_REDIS_URL and SLUICE_NAMESPACE reach sluicectl through the
# environment; SLUICECTL names the binary (default: sluicectl on PATH).
set -u
[ $# -ge 2 ] || { echo "usage: push.sh SIGNAL COMMAND [ARG...]" >&2; exit 2; }
signal=$1
shift
value=$("$@") || { echo "push.sh: $1 failed; nothing pushed to $signal" >&2; exit 1; }
case $value in
''|*[!0-9.eE+-]*) echo "push.sh: $1 printed no number; nothing pushed to $signal" >&2; exit 1 ;;
esac
exec "${SLUICECTL:-sluicectl}" signal set "$signal" "$value"
