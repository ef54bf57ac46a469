#!/usr/bin/env bash
# Runs the benchmark against a release build (make bench builds it) and
# leaves in build/: bench.json (the results), bench-throughput.dat and
# bench-throughput.png (throughput against write size).  The table goes to
# stdout.  Extra arguments go to vsock-bench (--quick, --runs N, --only X).
# Usage: scripts/bench.sh <release build dir> [vsock-bench options]
set -euo pipefail

builddir=${1:?usage: $0 <release build dir> [vsock-bench options]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$top/build}
mkdir -p "$out"

status=0
VHOST_DEVICE_VSOCK="$builddir/vhost-device-vsock" \
	"$builddir/tests/bench/vsock-bench" --json "$out/bench.json" \
	--plot-data "$out/bench-throughput.dat" "$@" || status=$?

# A partial run still plots what it measured.
if [ -s "$out/bench-throughput.dat" ]; then
	gnuplot -e "datafile='$out/bench-throughput.dat'; outfile='$out/bench-throughput.png'" \
		"$top/tests/bench/throughput.gp"
	echo "wrote $out/bench.json and $out/bench-throughput.png"
fi
exit "$status"
