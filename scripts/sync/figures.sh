#!/usr/bin/env bash
# Sync figures on the real products (outpost-cloud + outpost-gateway on
# loopback, real SQLite stores): control latency Platform API → TCP device
# (p50/p99 over N writes) and a backlog of B updates built with the cloud
# down, drained after it starts (drain-s, updates/s, zero loss checked).
#   scripts/sync/figures.sh [-n WRITES] [-b BACKLOG]   (default 1000, 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=1000
backlog=1000000
while getopts n:b: o; do
  case $o in
    n) n=$OPTARG ;;
    b) backlog=$OPTARG ;;
    *) echo "usage: $0 [-n writes] [-b backlog]" >&2; exit 2 ;;
  esac
done
go test -count=1 -timeout 0 -run '^$' -bench '^BenchmarkControlLatency$' -benchtime "${n}x" ./internal/systemtest
exec go test -count=1 -timeout 0 -run '^$' -bench '^BenchmarkBacklogDrain$' -benchtime 1x ./internal/systemtest \
  -args -sync.backlog="$backlog"
