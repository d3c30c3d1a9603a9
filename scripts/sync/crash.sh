#!/usr/bin/env bash
# Long crash run: the gateway process (real hub, SQLite outbox, cloud link)
# is SIGKILLed mid-drain KILLS times while its devices write, restarted on
# the same database each time; afterwards the cloud must hold, per device,
# every durable value exactly once, in order.
#   scripts/sync/crash.sh [-k KILLS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=20
while getopts k: o; do
  case $o in
    k) kills=$OPTARG ;;
    *) echo "usage: $0 [-k kills]" >&2; exit 2 ;;
  esac
done
exec go test -v -count=1 -timeout 0 -run '^TestCrashGatewayMidDrain$' \
  ./gateway/internal/cloudlink -args -sync.kills="$kills"
