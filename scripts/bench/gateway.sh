#!/usr/bin/env bash
# Whole-gateway load test: builds outpost-gateway and the blynkload tool,
# starts the gateway on loopback with N devices, drives it with N simulated
# Blynk TCP devices each writing at R msgs/s, and prints accepted and
# persisted msgs/s, write→committed and server→device latency percentiles,
# and the gateway's peak RSS.
#
#   scripts/bench/gateway.sh [-devices 1000] [-rate 200] [-duration 20s] [-tls] [-idle]
#
# -idle: devices log in and stay idle (rate 0) — measures RSS per connection.
# The flood limit is raised for the run (the default, 100 msgs/s per device,
# is a protection for real sites, not a throughput cap to measure).
set -euo pipefail
cd "$(dirname "$0")/../.."

devices=1000 rate=200 duration=20s tls=0 idle=0 base=${BENCH_PORT_BASE:-18080}
while [ $# -gt 0 ]; do
  case "$1" in
    -devices) devices=$2; shift 2 ;;
    -rate) rate=$2; shift 2 ;;
    -duration) duration=$2; shift 2 ;;
    -tls) tls=1; shift ;;
    -idle) idle=1; rate=0; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d)
trap 'kill $gw 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/outpost-gateway" ./gateway/cmd/outpost-gateway
go build -o "$tmp/blynkload" ./scripts/bench/blynkload

# Blynk-style tokens: 24 random bytes in base64url = 32 characters.
: > "$tmp/tokens"
{
  cat <<YAML
version: 1
data_dir: $tmp/data
log: {level: warn}
blynk: {listen: "127.0.0.1:$base", tls_listen: "127.0.0.1:$((base+1))", flood_rate: 1000000, flood_burst: 1000000}
mqtt: {listen: "", tls_listen: "", ws_listen: ""}
http: {listen: "127.0.0.1:$((base+2))"}
installer: {listen: "127.0.0.1:$((base+3))"}
templates:
  - id: TMPLBENCH
    name: Bench
    datastreams:
      - {pin: 0, name: Value, type: string}
      - {pin: 1, name: Number, type: double}
devices:
YAML
  for i in $(seq 1 "$devices"); do
    tok=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
    echo "$tok" >> "$tmp/tokens"
    echo "  - {name: d$i, template: TMPLBENCH, token: \"$tok\"}"
  done
} > "$tmp/gateway.yaml"

"$tmp/outpost-gateway" -config "$tmp/gateway.yaml" 2> "$tmp/gateway.log" &
gw=$!
for _ in $(seq 1 200); do
  if curl -fs "http://127.0.0.1:$((base+3))/installer/api/stats" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

addr="127.0.0.1:$base"
extra=()
if [ "$tls" = 1 ]; then addr="127.0.0.1:$((base+1))"; extra+=(-tls -insecure); fi
echo "gateway pid $gw, $devices devices × $rate msgs/s for $duration ($( [ "$tls" = 1 ] && echo TLS || echo plain TCP ))"
"$tmp/blynkload" -addr "$addr" "${extra[@]}" -tokens "$tmp/tokens" -devices "$devices" -rate "$rate" \
  -duration "$duration" -stats "http://127.0.0.1:$((base+3))/installer/api/stats" \
  -http "http://127.0.0.1:$((base+2))" -pid "$gw"
grep -iE 'error|panic' "$tmp/gateway.log" | head -5 || true
