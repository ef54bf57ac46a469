#!/usr/bin/env bash
# Real-guest reference figures: two QEMU (TCG) guests, CIDs 3 and 4, served by one daemon.
# TCG makes every figure slow; they are a regression guard, not a target.  Figures (each the
# median of BENCH_GUEST_RUNS runs, default 3):
#   tcg_g2g_vsock_perf  the kernel's vsock_perf, guest 4 sending to guest 3 through the
#                       daemon's sibling path; baseline: the same vsock_perf pair inside guest 3
#                       over vsock_loopback (CID 1), measured in the same run
#   tcg_g2h_guestapp    guestapp (guest 3) sending to hostpeer listening on uds_path_PORT
#   tcg_h2g_guestapp    hostpeer sending to guestapp through CONNECT, every byte checked
# Prints a table and writes bench-guest.json (same objects as bench.json) into BENCH_OUT
# (default build/).  BENCH_GUEST_BYTES (default 64M) sets the size of every transfer.
# Usage: scripts/bench-guest.sh <build dir>
set -uo pipefail

builddir=$(cd "${1:?usage: $0 <build dir>}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$top/build}
runs=${BENCH_GUEST_RUNS:-3}
bytes=${BENCH_GUEST_BYTES:-64M}
perf_buf=64K
daemon=$builddir/vhost-device-vsock
guestapp=$builddir/tests/guest/guestapp
hostpeer=$builddir/tests/guest/hostpeer
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"

[[ $runs =~ ^[1-9][0-9]?$ ]] || guest_die "BENCH_GUEST_RUNS: 1..99"
[[ $bytes =~ ^[1-9][0-9]*[KMG]?$ ]] || guest_die "BENCH_GUEST_BYTES: a size such as 64M"
for f in "$daemon" "$guestapp" "$hostpeer"; do
	[ -x "$f" ] || guest_die "$f is missing (build first)"
done

# perf_qemu NAME SOCKET KERNEL-ARGS...: boots a benchmark guest in the background.
perf_qemu() {
	local name=$1 socket=$2
	shift 2
	guest_run_qemu "$name" "$socket" "$guest_tmp/initrd-perf.gz" \
		"guestmode=perf perf_runs=$runs $*" -no-reboot
}

# The receiver's READY comes after its vsock_perf runs; a sender that gave up ends the wait.
receiver_done() {
	guest_booted "$guest_tmp/receiver.serial" 1 ||
		grep -q 'bench-guest: sending .* failed' "$guest_tmp/sender.serial"
}

# guest_samples FIGURE: the receiver's Gbit/s of each run of FIGURE that moved every byte.
guest_samples() {
	tr -d '\r' <"$guest_tmp/receiver.serial" | awk -v figure="$1" -v want="$(numfmt --from=iec "$bytes")" '
		$1 == "bench-guest:" && $2 == figure {
			if ($3 == "bytes=" want) { sub(/^gbps=/, "", $4); print $4 }
			else print "bench-guest: " figure " run moved " $3 " of " want > "/dev/stderr"
		}' | xargs
}

# hostpeer_gbps DIRECTION PORT: one checked transfer; prints its Gbit/s, nothing on failure.
hostpeer_gbps() {
	local line
	line=$("$hostpeer" "$1" "$guest_tmp/vm3.vsock" "$2" 1 "$bytes" 0 2>>"$guest_tmp/hostpeer.log" |
		grep "^$1: 1 of 1 connections ok")
	[ -n "$line" ] || { guest_log "hostpeer $1 failed (see hostpeer.log)"; return; }
	sed 's/.*(\([0-9.]*\) MiB\/s).*/\1/' <<<"$line" | awk '{ printf "%.4f\n", $1 * 1048576 * 8 / 1e9 }'
}

# stats SAMPLES...: "median spread_pct count", or nothing without samples.
stats() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6g %.6g %d\n", m, (m > 0 ? (v[NR] - v[1]) / m * 100 : 0), NR
		}'
}

json_rows=()
table_rows=()
table_format='%-22s %-8s %12s %7s %12s %7s %7s\n'

# table_row NAME UNIT OURS SPREAD BASELINE SPREAD RATIO, "null" for what is missing; the
# layout of vsock-bench's table.
table_row() {
	local name=$1 unit=$2 formats=('%.4g' '%.1f%%' '%.4g' '%.1f%%' '%.3f') cells=() v i=0
	shift 2
	for v in "$@"; do
		if [ "$v" = null ]; then
			cells+=("-")
		else
			# shellcheck disable=SC2059 # the formats above
			cells+=("$(printf "${formats[i]}" "$v")")
		fi
		i=$((i + 1))
	done
	# shellcheck disable=SC2059 # one format for the header and the rows
	printf "$table_format" "$name" "$unit" "${cells[@]}"
}

# figure NAME UNIT "OURS SAMPLES" "BASELINE SAMPLES": one table row and one JSON object.
# A figure with fewer samples than runs failed somewhere: it is shown but counts as a failure.
figure() {
	local name=$1 unit=$2 ours base ratio=null
	local o_med=null o_sp=null o_n=0 b_med=null b_sp=null
	# shellcheck disable=SC2086 # the samples are space-separated numbers
	ours=$(stats $3) base=$(stats $4)
	[ -n "$ours" ] && read -r o_med o_sp o_n <<<"$ours"
	[ -n "$base" ] && read -r b_med b_sp _ <<<"$base"
	if [ -n "$ours" ] && [ -n "$base" ]; then
		ratio=$(awk -v o="$o_med" -v b="$b_med" 'BEGIN { if (b > 0) printf "%.6g", o / b; else print "null" }')
	fi
	json_rows+=("  {\"name\": \"$name\", \"unit\": \"$unit\", \"ours\": $o_med, \"baseline\": $b_med, \"ratio\": $ratio, \"ours_spread_pct\": $o_sp, \"baseline_spread_pct\": $b_sp, \"runs\": $o_n}")
	table_rows+=("$(table_row "$name" "$unit" "$o_med" "$o_sp" "$b_med" "$b_sp" "$ratio")")
	[ "$o_n" -eq "$runs" ] || failures=$((failures + 1))
}

guest_setup vsock-bench-guest
vsock_perf=$("$top/scripts/vsock-test-build.sh" vsock_perf) || guest_die "cannot build vsock_perf"
guest_make_initrd "$guestapp"
guest_extend_initrd perf "$vsock_perf" "$guest_lib_dir/perf-guest"

sock3=$guest_tmp/vhost3.socket sock4=$guest_tmp/vhost4.socket
guest_start_daemon "$daemon" \
	--vm "guest-cid=3,socket=$sock3,uds-path=$guest_tmp/vm3.vsock" \
	--vm "guest-cid=4,socket=$sock4,uds-path=$guest_tmp/vm4.vsock"

echo "real guests under QEMU TCG: booting two guests (CIDs 3 and 4), $runs run(s) per figure"
start=$SECONDS
perf_qemu receiver "$sock3" perf_role=receiver "perf_bytes=$bytes" "perf_buf=$perf_buf"
# shellcheck disable=SC2034 # guest_booted and guest_wait_ready watch qemu_pid
qemu_pid=${guest_pids[-1]}
perf_qemu sender "$sock4" perf_role=sender perf_peer=3 "perf_bytes=$bytes" "perf_buf=$perf_buf"
guest_wait_for $((120 + 30 * runs)) "the guests' vsock_perf runs" receiver_done ||
	guest_die "the guests did not finish their vsock_perf runs"
guest_wait_ready receiver 1 3 >/dev/null || guest_die "the receiver guest did not become the agent"

h2g=() g2h=()
for _ in $(seq "$runs"); do
	h2g+=("$(hostpeer_gbps h2g 1000)")
	g2h+=("$(hostpeer_gbps g2h 2000)")
done
elapsed=$((SECONDS - start))

failures=0
figure tcg_g2g_vsock_perf Gbit/s "$(guest_samples g2g)" "$(guest_samples loopback)"
figure tcg_g2h_guestapp Gbit/s "${g2h[*]}" ""
figure tcg_h2g_guestapp Gbit/s "${h2g[*]}" ""

echo
echo "real guests under QEMU TCG (regression guard), median of $runs run(s), ${elapsed} s:"
# shellcheck disable=SC2059
printf "$table_format" figure unit ours spread baseline spread ratio
printf '%s\n' "${table_rows[@]}"
mkdir -p "$out"
{
	echo "["
	for i in "${!json_rows[@]}"; do
		[ "$i" -lt $((${#json_rows[@]} - 1)) ] && echo "${json_rows[$i]}," || echo "${json_rows[$i]}"
	done
	echo "]"
} >"$out/bench-guest.json"
echo "wrote $out/bench-guest.json"
guest_stop_daemon "$sock3" "$sock4" >/dev/null || guest_die "the daemon did not stop cleanly"
[ "$failures" -eq 0 ] || guest_die "$failures figure(s) missing runs"
