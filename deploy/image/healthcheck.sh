#!/bin/bash
# plyr-healthcheck [URL]: exits 0 when an HTTP GET of URL answers 200, 1 otherwise, within
# PLYR_HEALTHCHECK_TIMEOUT seconds (default 3). The image's HEALTHCHECK; bash's /dev/tcp speaks
# the request, so the runtime image needs no curl. URL: http://HOST:PORT/PATH, default
# $PLYR_HEALTHCHECK_URL, else the AppView's /health on PLYR_LISTEN's port (8080).
set -u
listen=${PLYR_LISTEN:-0.0.0.0:8080}
url=${1:-${PLYR_HEALTHCHECK_URL:-http://127.0.0.1:${listen##*:}/health}}
rest=${url#http://}
hostport=${rest%%/*}
path=${rest:${#hostport}}
path=${path:-/}
host=${hostport%:*}
port=${hostport##*:}
[[ "$host" == "$hostport" ]] && port=80
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
read -r -t "${PLYR_HEALTHCHECK_TIMEOUT:-3}" _ status _ <&3 || exit 1
[[ "$status" == 200 ]]
