#!/bin/bash
# HTTP load: /external/api/update with keep-alive, measured with wrk.
# Usage: scripts/bench/http.sh [seconds] [connections] [cpu-profile-file]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-64}
prof=()
[ -n "${3:-}" ] && prof=(-cpuprofile "$3")
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 1; }
bin=$(mktemp -d)
go build -o "$bin/benchserver" ./gateway/internal/deviceapi/benchserver
coproc SRV { "$bin/benchserver" "${prof[@]}"; }
read -r line <&"${SRV[0]}"
addr=${line#addr }
token=bench000000000000000000000000000
wrk -t2 -c"$conns" -d"${secs}s" --latency "http://$addr/external/api/update?token=$token&v1=42"
exec {SRV[1]}>&-
cat <&"${SRV[0]}"
wait
rm -rf "$bin"
