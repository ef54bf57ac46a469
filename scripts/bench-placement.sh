#!/usr/bin/env bash
# The single-connection figures under each placement of the three parties
# on CPUs 0 and 1 (vsock-bench --pin DAEMON,GUEST,PEER), then with the
# scheduler free to place them on those two CPUs (taskset): why those
# figures vary between invocations.  A failed invocation is reported and
# the others still run; the script then exits 1.
# Each placement runs ROUNDS invocations (default 3), interleaved, and
# scripts/bench-combine.py gives their medians; the JSON files stay in
# build/bench-placement/.
# Usage: scripts/bench-placement.sh <release build dir> [ROUNDS]
set -euo pipefail

builddir=${1:?usage: $0 <release build dir> [ROUNDS]}
rounds=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$top/build}/bench-placement
figures=g2h_64k_1conn,h2g_64k_1conn,g2h_4k_1conn,h2g_4k_1conn,rtt,handshakes
# name:--pin argument ("" for the scheduler's choice)
placements=("one-cpu:0,0,0" "daemon-alone:0,1,1" "daemon-with-guest:0,0,1"
	    "daemon-with-peer:0,1,0" "free:")

if ! [ "$rounds" -ge 3 ] 2>/dev/null; then
	echo "$0: ROUNDS must be 3 or more (medians over invocations)" >&2
	exit 2
fi
if ! taskset -c 0,1 true 2> /dev/null; then
	echo "$0: needs CPUs 0 and 1 (taskset -c 0,1 failed)" >&2
	exit 1
fi
rm -rf "$out"
mkdir -p "$out"
status=0
for r in $(seq 1 "$rounds"); do
	for p in "${placements[@]}"; do
		name=${p%%:*} pin=${p#*:}
		if ! VHOST_DEVICE_VSOCK="$builddir/vhost-device-vsock" taskset -c 0,1 \
			"$builddir/tests/bench/vsock-bench" --runs 5 --only "$figures" \
			${pin:+--pin "$pin"} --json "$out/$name-$r.json" > "$out/$name-$r.log" 2>&1; then
			echo "$0: $name, round $r failed (see $out/$name-$r.log)" >&2
			rm -f "$out/$name-$r.json"
			status=1
		fi
	done
done
for p in "${placements[@]}"; do
	name=${p%%:*} pin=${p#*:}
	echo "== $name${pin:+ (daemon,guest,peer on CPUs $pin)}"
	python3 "$top/scripts/bench-combine.py" "$out/$name"-*.json |
		grep -E '^(figure|g2h_|h2g_|rtt_p50|handshakes_per_s|cpu_s_per_gib)' || status=1
done
exit "$status"
