#!/bin/sh
# Installs what building and testing sluice needs, from Debian 12 packages only.
# Idempotent: does nothing when every package is present. Needs root (or sudo).
set -eu

PKGS="pkg-config libhiredis-dev libev-dev libjansson-dev libcmocka-dev redis-server redis-tools clang libclang-rt-14-dev"
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
# The package starts a system redis-server on 6379; sluice's tests start their own.
if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
