#!/usr/bin/env bash
# Smoke test of scripts/bench-guest.sh (the real-guest benchmark figures): one run of each
# figure with 8 MiB transfers.  Checks that every transfer moved all its bytes and that
# bench-guest.json holds each figure with a rate above zero; never a performance threshold.
# Usage: test-bench-guest.sh DAEMON GUESTAPP HOSTPEER (all three from one build directory)
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || guest_die "usage: $0 DAEMON GUESTAPP HOSTPEER"
builddir=$(cd "$(dirname "$1")" && pwd)
if ! [ "$2" -ef "$builddir/tests/guest/guestapp" ] || ! [ "$3" -ef "$builddir/tests/guest/hostpeer" ]; then
	guest_die "guestapp and hostpeer must come from the daemon's build directory"
fi

guest_setup vsock-guest-bench

run_bench() {
	BENCH_GUEST_RUNS=1 BENCH_GUEST_BYTES=8M BENCH_OUT=$guest_tmp \
		"$guest_repo/scripts/bench-guest.sh" "$builddir"
}

# figure_ok NAME BASELINE: NAME's object says one run and a positive rate; BASELINE "yes"
# also requires a positive baseline and ratio.
figure_ok() {
	local row
	row=$(grep "\"name\": \"$1\"" "$guest_tmp/bench-guest.json") || {
		echo "no $1 in bench-guest.json"
		return 1
	}
	echo "$row"
	awk -v base="$2" '
		function num(key,   m) {
			if (!match($0, "\"" key "\": [0-9.e+-]+")) return -1
			m = substr($0, RSTART, RLENGTH)
			sub(/.*: /, "", m)
			return m + 0
		}
		{ exit !(num("runs") == 1 && num("ours") > 0 &&
			 (base != "yes" || (num("baseline") > 0 && num("ratio") > 0))) }' <<<"$row"
}

tap_case "bench-guest.sh measures every figure and exits 0" run_bench
tap_case "guest->guest vsock_perf and its vsock_loopback baseline" figure_ok tcg_g2g_vsock_perf yes
tap_case "guest->host, guestapp to hostpeer" figure_ok tcg_g2h_guestapp no
tap_case "host->guest, hostpeer to guestapp" figure_ok tcg_h2g_guestapp no
tap_done
