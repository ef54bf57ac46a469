#!/usr/bin/env bash
# Guest reboot and VMM crash/restart against one daemon (TAP).
# Usage: test-lifecycle.sh DAEMON GUESTAPP HOSTPEER
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || guest_die "usage: $0 DAEMON GUESTAPP HOSTPEER"
daemon=$1 guestapp=$2 hostpeer=$3

guest_setup vsock-guest-lifecycle
guest_make_initrd "$guestapp"
sock=$guest_tmp/vhost3.socket
uds=$guest_tmp/vm3.vsock

# New connections both ways, a few MiB each, every byte checked.
traffic() {
	"$hostpeer" h2g "$uds" 1000 4 2M 64K && "$hostpeer" g2h "$uds" 7000 4 2M 64K
}

reboot_guest() {
	"$hostpeer" ctl "$uds" reboot && guest_wait_ready vm3 2 3
}

# A host connection open when QEMU dies must be closed by the daemon.
kill_qemu_with_open_connection() {
	local line holder
	exec {hold_fd}< <(exec "$hostpeer" hold "$uds" 1000)
	holder=$!
	read -r -t 60 line <&"$hold_fd"
	[ "$line" = connected ] || { guest_log "hold: no connection ($line)"; return 1; }
	exec {hold_fd}<&-
	guest_kill_qemu
	guest_wait_exit "$holder" 30 || { guest_log "host connection still open 30 s later"; return 1; }
	wait "$holder"
}

guest_start_daemon "$daemon" --guest-cid 3 --socket "$sock" --uds-path "$uds"
guest_start_qemu vm3 "$sock" agent reboot

tap_case "guest boots" guest_wait_ready vm3 1 3 || guest_die "the guest did not come up"
tap_case "connections both ways before the reboot" traffic
tap_case "guest reboots and comes back" reboot_guest
tap_case "new connections both ways after the guest reboot" traffic
tap_case "QEMU killed (SIGKILL): the daemon closes the open host connection" \
	kill_qemu_with_open_connection
guest_start_qemu vm3-restarted "$sock" agent
tap_case "a new QEMU connects to the same daemon and its guest boots" \
	guest_wait_ready vm3-restarted 1 3
tap_case "new connections both ways after the QEMU restart" traffic
tap_case "daemon exits 0 on SIGTERM and removes its sockets" guest_stop_daemon "$sock" "$uds"
tap_done
