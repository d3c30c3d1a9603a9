#!/bin/bash
# Two builds of the gateway's MQTT path side by side: this checkout and an
# older revision take turns running the QoS 1 comparison load
# (scripts/bench/mqtt.sh -only outpost, 3 rounds), and the medians of QoS 1
# msgs/s and of the gateway's CPU per message are printed for each. A
# change of a few percent hides in one run's noise (±5% on a shared
# 2-core machine); the CPU per message over many alternating runs shows it.
# Usage: scripts/bench/mqtt-ab.sh REV [TURNS]   (default 4 turns: 12 runs each)
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?usage: $0 REV [TURNS]}
turns=${2:-4}
old=$(mktemp -d)
trap 'git worktree remove --force "$old" >/dev/null 2>&1 || rm -rf "$old"' EXIT
git worktree add --detach "$old" "$rev" >/dev/null 2>&1
out=$(mktemp)
for _ in $(seq "$turns"); do
	for side in "$rev" checkout; do
		dir=.
		[ "$side" = "$rev" ] && dir=$old
		# Each round prints "outpost Q0/Q1" and then "outpost CPU%/generator%".
		(cd "$dir" && scripts/bench/mqtt.sh -only outpost -idle 0 -rounds 3 -msgs0 10 -msgs1 1000) 2>/dev/null |
			awk -v side="$side" '
				/round [0-9]+:/ { match($0, /outpost [0-9]+\/[0-9]+/); split(substr($0, RSTART+8, RLENGTH-8), r, "/") }
				/CPU during/ { match($0, /outpost [0-9]+\/[0-9]+/); split(substr($0, RSTART+8, RLENGTH-8), c, "/")
					printf "%s %d %.3f\n", side, r[2], c[1] / 100 / r[2] * 1e6 }' | tee -a "$out"
	done
done
echo
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2 }'; }
for side in "$rev" checkout; do
	n=$(awk -v s="$side" '$1 == s' "$out" | wc -l)
	rate=$(awk -v s="$side" '$1 == s { print $2 }' "$out" | median)
	cpu=$(awk -v s="$side" '$1 == s { print $3 }' "$out" | median)
	printf '%-12s %2d runs: median QoS 1 %s msgs/s, median gateway CPU %s µs per message\n' "$side" "$n" "$rate" "$cpu"
done
rm -f "$out"
