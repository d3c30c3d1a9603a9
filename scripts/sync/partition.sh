#!/usr/bin/env bash
# Long partition run of the gateway ⇄ cloud sync: devices on a real hub and
# SQLite outbox count upwards for DURATION while the websocket is closed by
# the cloud and black-holed by a loopback proxy in turn; afterwards the cloud
# must hold every value of every device exactly once, in order.
#   scripts/sync/partition.sh [-d DURATION]   (default 5m; Go duration syntax)
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=5m
while getopts d: o; do
  case $o in
    d) dur=$OPTARG ;;
    *) echo "usage: $0 [-d duration]" >&2; exit 2 ;;
  esac
done
exec go test -v -race -count=1 -timeout 0 -run '^TestRealStorePartitions$' \
  ./gateway/internal/cloudlink -args -sync.duration="$dur"
