#!/usr/bin/env bash
# Long cross-system run: the real outpost-cloud and two outpost-gateway
# processes claimed into two client orgs, devices writing all along, ROUNDS
# rounds of websocket cuts, a silently dropping path, a gateway SIGKILL and
# a cloud SIGKILL; afterwards every device's cloud history equals the
# gateway's committed history.
#   scripts/sync/system.sh [-r ROUNDS] [-D]   (default 10 rounds, ~10 s each;
#   -D leaves black-holed connections for the gateway's 60 s idle timeout)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=10
dead=false
while getopts r:D o; do
  case $o in
    r) rounds=$OPTARG ;;
    D) dead=true ;;
    *) echo "usage: $0 [-r rounds] [-D]" >&2; exit 2 ;;
  esac
done
exec go test -v -count=1 -timeout 0 -run '^TestSiteSurvivesPartitionsAndCrashes$' \
  ./internal/systemtest -args -sync.rounds="$rounds" -sync.deadpath="$dead"
