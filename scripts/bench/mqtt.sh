#!/bin/sh
# MQTT load: Outpost's broker (auth + ACL + validation + SQLite) side by side
# with bare mochi-mqtt and Debian's Mosquitto, 1,000 clients at QoS 0 and 1,
# p99 publish→committed (QoS 0) and p99 publish→PUBACK (QoS 1, the PUBACK
# follows the commit) at half load, read two ways, each also run against
# Mosquitto at the same rate: one publish per write at half of what a paced
# run of one publish per write persists at full load (devices sending one
# reading at a time; on a 2-core machine the load generator then takes
# most of a core itself), and the comparison's own QoS 1 traffic (a window
# of publishes per write) at half of Outpost's median QoS 1 rate,
# RSS with 10,000 idle connections, once up and after -idle-settle (60s).
# The brokers take turns for -rounds (default 3) and medians are reported,
# since the machine's other load changes from second to second.
# Usage: scripts/bench/mqtt.sh [mqttload flags], e.g. -only half -half-rate 20000
# (a rate sweep: where p99 publish→PUBACK stays low on this machine),
# -profile DIR (benchserver CPU/heap profiles), -idle 0 (skip the RSS part),
# -idle-settle 20s, -history 1000000 (each benchserver starts with that many
# stored value writes, as a gateway that has run a while: the store's
# indexes cost the commit more as the history grows).
# MOSQ_EXTRA adds lines to Mosquitto's configuration, e.g.
# MOSQ_EXTRA='set_tcp_nodelay true\n' (the default leaves Nagle on, which
# batches its PUBACKs: fewer, larger segments, more QoS 1 throughput).
# The QoS 1 half-load line gives publish→PUBACK as the client sees it (from
# the write, and from when the publish was due) and inside the gateway
# (publish handled → PUBACK written); every figure line carries the load
# average and the host's steal (on a virtual machine, CPU time the host
# took: it stalls the gateway and the load generator alike for
# milliseconds at a time): compare runs of similar load and steal only.
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'kill "$mpid" 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/mqttload" ./scripts/bench/mqttload
go build -o "$bin/benchserver" ./gateway/internal/broker/benchserver
mpid=
mosq=
if command -v mosquitto >/dev/null 2>&1; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\nmax_queued_messages 1000\n%b' "$port" "${MOSQ_EXTRA:-}" >"$bin/mosquitto.conf"
	mosquitto -c "$bin/mosquitto.conf" >"$bin/mosquitto.log" 2>&1 &
	mpid=$!
	python3 -c "import socket,time,sys
for _ in range(100):
 try: socket.create_connection((\"127.0.0.1\",$port)).close(); sys.exit(0)
 except OSError: time.sleep(0.05)"
	mosq="127.0.0.1:$port"
else
	echo "mosquitto not installed (apt-get install mosquitto); its column is skipped" >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$bin/mqttload" -server "$bin/benchserver" -mosquitto "$mosq" -mosquitto-pid "${mpid:-0}" "$@"
