#!/usr/bin/env bash
# The single-connection figures under each placement of the three parties
# on the first two CPUs (vsock-bench --pin DAEMON,GUEST,PEER), then with the
# scheduler free to place them: why those figures vary between invocations.
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
if [ "$(nproc)" -lt 2 ]; then
	echo "$0: needs two CPUs" >&2
	exit 1
fi
rm -rf "$out"
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
	for p in "${placements[@]}"; do
		name=${p%%:*} pin=${p#*:}
		VHOST_DEVICE_VSOCK="$builddir/vhost-device-vsock" \
			"$builddir/tests/bench/vsock-bench" --runs 5 --only "$figures" \
			${pin:+--pin "$pin"} --json "$out/$name-$r.json" > /dev/null
	done
done
for p in "${placements[@]}"; do
	name=${p%%:*} pin=${p#*:}
	echo "== $name${pin:+ (daemon,guest,peer on CPUs $pin)}"
	python3 "$top/scripts/bench-combine.py" "$out/$name"-*.json |
		grep -E '^(figure|g2h_|h2g_|rtt_p50|handshakes_per_s|cpu_s_per_gib)'
done
