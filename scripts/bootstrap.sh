#!/bin/sh
# Installs what building and testing sluice needs, from Debian 12 packages only.
# Idempotent: does nothing when every package is present. Needs root (or sudo).
set -eu

# libmicrohttpd-dev: sluice-worker's /metrics; prometheus: promtool for the
# metrics and alert-rule tests; postgresql (+ postgresql-client, pgbench):
# the PostgreSQL sampler's test against a real server; gnuplot-nox: the plots
# of make demo and sluicectl simulate --plot; lua5.1: luac checks the
# Functions for free globals at build time; clang-format: the style check;
# python3, python3-redis, ruby, ruby-redis, nodejs and npm: the producers of
# queue/clients/ and their tests; systemd: systemd-analyze verify of
# scripts/systemd/.
PKGS="pkg-config libhiredis-dev libev-dev libjansson-dev libcmocka-dev redis-server redis-tools clang libclang-rt-14-dev libmicrohttpd-dev prometheus postgresql postgresql-client gnuplot-nox lua5.1 clang-format python3 python3-redis ruby ruby-redis systemd tzdata"
# Debian's Node.js unless a node and an npm are there already (NodeSource's
# nodejs brings its own npm and conflicts with Debian's).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
[ $# -gt 0 ] && PKGS="$PKGS $*"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "bootstrap: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The packages start a system redis-server on 6379, a Prometheus server on
# 9090 and a PostgreSQL cluster on 5432; sluice's tests start their own
# redis-server and PostgreSQL and only run promtool.
if command -v systemctl >/dev/null 2>&1; then
    for unit in redis-server prometheus postgresql; do
        case "$missing " in *" $unit "*) $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true ;; esac
    done
fi
