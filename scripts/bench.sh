#!/usr/bin/env bash
# Runs the benchmark against a release build (make bench builds it) and
# leaves in build/: bench.json (the results), bench-throughput.dat and
# bench-throughput.png (throughput against write size), plus a copy of
# bench.json in build/bench-runs/.  The table goes to stdout.  Then
# scripts/bench-guest.sh adds the real-guest figures (QEMU TCG, about 30 s,
# bench-guest.json) unless --no-guest is given or BENCH_GUEST=0.
# Other arguments go to vsock-bench (--quick, --runs N, --only X).
# Usage: scripts/bench.sh <release build dir> [--no-guest] [vsock-bench options]
set -euo pipefail

builddir=${1:?usage: $0 <release build dir> [vsock-bench options]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$top/build}
mkdir -p "$out"
guest=${BENCH_GUEST:-1}
rig_args=()
for arg in "$@"; do
	if [ "$arg" = --no-guest ]; then guest=0; else rig_args+=("$arg"); fi
done

status=0
VHOST_DEVICE_VSOCK="$builddir/vhost-device-vsock" \
	"$builddir/tests/bench/vsock-bench" --json "$out/bench.json" \
	--plot-data "$out/bench-throughput.dat" "${rig_args[@]}" || status=$?

# A partial run still plots what it measured.
if [ -s "$out/bench-throughput.dat" ]; then
	gnuplot -e "datafile='$out/bench-throughput.dat'; outfile='$out/bench-throughput.png'" \
		"$top/tests/bench/throughput.gp"
	echo "wrote $out/bench.json and $out/bench-throughput.png"
fi
# Each invocation is kept: the README's figures are medians over three or
# more of them (scripts/bench-combine.py).
if [ -s "$out/bench.json" ]; then
	mkdir -p "$out/bench-runs"
	cp "$out/bench.json" "$out/bench-runs/bench-$(date +%Y%m%d-%H%M%S).json"
fi

if [ "$guest" != 0 ]; then
	echo
	"$top/scripts/install-deps.sh" guest >&2 || status=1
	BENCH_OUT=$out "$top/scripts/bench-guest.sh" "$builddir" || status=1
fi
exit "$status"
