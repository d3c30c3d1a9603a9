#!/usr/bin/env bash
# Long kill -9 run of acknowledged writes: devices write numbered values
# over HTTP (keep-alive) and MQTT QoS 1 as fast as they are answered; the
# gateway process is SIGKILLed mid-load ROUNDS times and restarted on its
# data; every write that got its HTTP 200 or its PUBACK must be in the
# SQLite file afterwards (README "Durability of writes"). CI runs 3 rounds.
#   scripts/sync/ackcrash.sh [-k ROUNDS] [-g OUTPOST_GATEWAY_BINARY]
# (default 50 rounds; -g tests another build, e.g. an older one, to see it fail)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=50
gw=
while getopts k:g: o; do
  case $o in
    k) rounds=$OPTARG ;;
    g) gw=$(realpath "$OPTARG") ;;
    *) echo "usage: $0 [-k rounds] [-g outpost-gateway binary]" >&2; exit 2 ;;
  esac
done
exec go test -v -count=1 -timeout 0 -run '^TestAckedWritesSurviveKill9$' \
  ./internal/systemtest -args -ackcrash.rounds="$rounds" -ackcrash.gateway="$gw"
