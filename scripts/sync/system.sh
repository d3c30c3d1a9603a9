#!/usr/bin/env bash
# Long cross-system run: one cloud and two gateways as processes (real
# endpoint, real link, real hub and SQLite), ROUNDS rounds of websocket
# cuts, silent drops, a gateway SIGKILL and a cloud SIGKILL while devices
# write; afterwards every durable value is in the cloud exactly once, in order.
#   scripts/sync/system.sh [-r ROUNDS]   (default 10, about 8 s per round)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=10
while getopts r: o; do
  case $o in
    r) rounds=$OPTARG ;;
    *) echo "usage: $0 [-r rounds]" >&2; exit 2 ;;
  esac
done
exec go test -v -count=1 -timeout 0 -run '^TestSyncAcrossPartitionsAndCrashes$' \
  ./internal/systemtest -args -sync.rounds="$rounds"
