#!/usr/bin/env bash
# The Linux kernel's own vsock test suite (tools/testing/vsock/vsock_test from Debian's
# linux-source-6.12, built by scripts/vsock-test-build.sh, never committed) between two QEMU
# guests, CIDs 3 and 4, served by ONE daemon (two --vm): guest-to-guest traffic crosses the
# daemon's sibling routing.  Guest 3 runs the server side, guest 4 the client side; their TCP
# control channel is a QEMU socket network link on 127.0.0.1 between the two guests.
# Prints one TAP line per vsock_test case and "N passed, N failed, N skipped"; a skipped case
# fails (every case must run), and a rerun (case 17, below) is a TAP line of its own.
# Usage: test-vsock-test.sh DAEMON GUESTAPP [HOSTPEER] (HOSTPEER, passed to every guest test,
# is not used here)
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || [ $# -eq 3 ] || guest_die "usage: $0 DAEMON GUESTAPP [HOSTPEER]"
daemon=$1 guestapp=$2
server_ip=10.0.2.1 client_ip=10.0.2.2
control_port=1234

# A free TCP port on 127.0.0.1 for the link between the two guests.
free_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
	done
	echo $((20000 + RANDOM % 40000))
}

# vt_qemu NAME SOCKET NETDEV KERNEL-ARGS...: boots a vsock_test guest in the background.
vt_qemu() {
	local name=$1 socket=$2 netdev=$3
	shift 3
	guest_run_qemu "$name" "$socket" "$guest_tmp/initrd-vt.gz" "guestmode=vsocktest $*" -no-reboot \
		-netdev "socket,id=n0,$netdev" -device virtio-net-pci,netdev=n0,romfile=
}

serial_has() { grep -q "$2" "$guest_tmp/$1.serial" 2>/dev/null; }
guest_gone() { ! kill -0 "$1" 2>/dev/null; }
both_gone() { guest_gone "$1" && guest_gone "$2"; }
server_listening() { serial_has server "Control socket listening" || guest_gone "$server_pid"; }

# case_results NAME: "ID ok|skipped" for every case NAME's vsock_test finished.  A case
# that prints "Test skipped, <reason>" and then "ok" did not really run: skipped.
case_results() {
	tr -d '\r' <"$guest_tmp/$1.serial" | awk '
	{
		line = $0
		if (match(line, /^[0-9]+ - .*\.\.\./)) {
			cur = line
			sub(/ - .*/, "", cur)
			line = substr(line, RLENGTH + 1)
		}
		if (cur != "" && line ~ /^Test skipped/)
			inner_skip = 1
		if (cur != "" && (line == "ok" || line == "skipped")) {
			print cur, (inner_skip ? "skipped" : line)
			cur = ""
			inner_skip = 0
		}
	}'
}

guest_setup vsock-guest-vsock-test
vsock_test=$("$guest_repo/scripts/vsock-test-build.sh") || guest_die "cannot build vsock_test"
guest_make_initrd "$guestapp"
guest_extend_initrd vt "$vsock_test" "$guest_lib_dir/vsock-test-guest"

sock3=$guest_tmp/vhost3.socket sock4=$guest_tmp/vhost4.socket
guest_start_daemon "$daemon" \
	--vm "guest-cid=3,socket=$sock3,uds-path=$guest_tmp/vm3.vsock" \
	--vm "guest-cid=4,socket=$sock4,uds-path=$guest_tmp/vm4.vsock"

# run_pair: boots the server guest, then the client guest, and waits until both are done.
run_pair() {
	local link_port start=$SECONDS
	link_port=$(free_port)
	vt_qemu server "$sock3" "listen=127.0.0.1:$link_port" \
		vt_mode=server vt_ip=$server_ip vt_port=$control_port vt_peer=4
	server_pid=${guest_pids[-1]}
	guest_wait_for 120 "the server guest to listen" server_listening ||
		guest_die "the server guest did not come up"
	guest_gone "$server_pid" && guest_die "the server guest's QEMU exited"
	vt_qemu client "$sock4" "connect=127.0.0.1:$link_port" \
		vt_mode=client vt_ip=$client_ip vt_server=$server_ip vt_port=$control_port vt_peer=3
	client_pid=${guest_pids[-1]}
	guest_wait_for 600 "vsock_test to finish in both guests" both_gone "$server_pid" "$client_pid" ||
		guest_log "vsock_test did not finish"
	guest_log "both guests done after $((SECONDS - start)) s"
}

# score: one TAP line per case into $guest_tmp/tap; sets passed, failed, skipped, n and
# first_failed (the id of the first case that did not pass).  A skipped case did not test
# what it is there for, so it fails too (vsock_test skips a case only when the kernel lacks
# what it tests, e.g. SIOCOUTQ, which the Debian 6.12 kernel has).
score() {
	local id name s c
	declare -A server_result client_result
	while read -r id st; do server_result[$id]=$st; done < <(case_results server)
	while read -r id st; do client_result[$id]=$st; done < <(case_results client)
	passed=0 failed=0 skipped=0 n=0 first_failed=
	: >"$guest_tmp/tap"
	while IFS=$'\t' read -r id name; do
		[[ $id =~ ^[0-9]+$ ]] || continue
		n=$((n + 1))
		s=${server_result[$id]:-} c=${client_result[$id]:-}
		if [ "$s" = ok ] && [ "$c" = ok ]; then
			echo "ok $n - $id $name"
			passed=$((passed + 1))
		elif [ "$s" = skipped ] || [ "$c" = skipped ]; then
			echo "not ok $n - $id $name (skipped; server: $s, client: $c)"
			skipped=$((skipped + 1))
			failed=$((failed + 1))
			first_failed=${first_failed:-$id}
		else
			echo "not ok $n - $id $name (server: ${s:-not finished}, client: ${c:-not finished})"
			failed=$((failed + 1))
			first_failed=${first_failed:-$id}
		fi
	done < <("$vsock_test" --list) >>"$guest_tmp/tap"
}

# Case 17 (SOCK_STREAM SHUT_RD) races two channels: the server guest calls shutdown(SHUT_RD)
# and then writes "SHUTRDDONE" on the TCP control link; the client expects the vsock
# SHUTDOWN to have arrived first.  The guest kernel queues that packet to a workqueue while
# the TCP line leaves at once, so on a loaded host the line can win although nothing was
# lost.  Only when that case is the first to fail is the suite run once more; any other
# failure, or the same one twice, fails the test.  The rerun is not hidden: it adds a TODO
# test point (meson counts it as an expected failure) saying why, with the first run's lines.
racy_case=17
rerun=
run_pair
score
if [ "$failed" -gt 0 ] && [ "$first_failed" = "$racy_case" ]; then
	guest_log "case $racy_case lost its race with the control channel; running the suite once more"
	rerun=$(grep '^not ok' "$guest_tmp/tap")
	run_pair
	score
fi
cat "$guest_tmp/tap"
tap_count=$n
tap_failures=$failed
if [ -n "$rerun" ]; then
	tap_count=$((tap_count + 1))
	echo "not ok $tap_count - first run: case $racy_case lost its race with the control" \
		"channel, the suite ran twice # TODO SHUTDOWN queued behind the SHUTRDDONE line"
	echo "# first run: ${rerun//$'\n'/$'\n'# first run: }"
fi
echo "# $passed passed, $failed failed, $skipped skipped${rerun:+ (second run)}"
[ "$n" -gt 0 ] || guest_die "vsock_test --list printed no cases"
tap_case "daemon still serving and exits 0 on SIGTERM" guest_stop_daemon "$sock3" "$sock4"
[ $failed -eq 0 ] || guest_show_logs
tap_done
