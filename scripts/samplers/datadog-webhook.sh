#!/bin/sh
# Receives a Datadog monitor's webhook and sets a sluice signal: a CGI
# program (behind any web server that runs CGI, e.g. nginx + fcgiwrap, or
# lighttpd) reading the POST body on stdin. In Datadog's Webhooks
# integration, give the webhook this custom payload:
#
#   {"signal": "db_cpu", "transition": "$ALERT_TRANSITION"}
#
# or, when the monitor's value should go through as is,
#
#   {"signal": "db_cpu", "value": "<a number>"}
#
# A transition maps to a level given by the environment (set in the web
# server): SLUICE_DD_TRIGGERED (default 2, e.g. your signal's critical),
# SLUICE_DD_WARN (default 1.2) and SLUICE_DD_RECOVERED (default 0). "No Data"
# sets nothing, so the signal goes stale. SLUICE_DD_SIGNALS (space-separated
# names) lists the signals a caller may set; guard the URL with a secret
# path or basic auth in the web server as well.
set -u
body=$(head -c 4096)
field() { printf '%s' "$body" | tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }
answer() { printf 'Status: %s\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1" "$2"; exit 0; }

signal=$(field signal)
case $signal in
''|*[!a-z0-9_.-]*) answer "400 Bad Request" "signal missing or malformed" ;;
esac
allowed=0
for s in ${SLUICE_DD_SIGNALS:-}; do [ "$s" = "$signal" ] && allowed=1; done
[ "$allowed" = 1 ] || answer "403 Forbidden" "signal $signal is not in SLUICE_DD_SIGNALS"

value=$(field value)
if [ -z "$value" ]; then
    case $(field transition) in
    Triggered|Re-Triggered) value=${SLUICE_DD_TRIGGERED:-2} ;;
    Warn|Re-Warn) value=${SLUICE_DD_WARN:-1.2} ;;
    Recovered) value=${SLUICE_DD_RECOVERED:-0} ;;
    *) answer "202 Accepted" "nothing set for this transition" ;;
    esac
fi
case $value in
*[!0-9.eE+-]*) answer "400 Bad Request" "value is not a number" ;;
esac
if "${SLUICECTL:-sluicectl}" signal set "$signal" "$value" >/dev/null 2>&1; then
    answer "200 OK" "$signal set to $value"
fi
answer "502 Bad Gateway" "sluicectl could not set $signal"
