#!/usr/bin/env bash
# Data scenarios against one booted guest (TAP).  Usage: test-data.sh DAEMON GUESTAPP HOSTPEER
# The guest agent listens on 999 (commands) and 1000 (transfers); see guestapp.c and xfer.h.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || guest_die "usage: $0 DAEMON GUESTAPP HOSTPEER"
daemon=$1 guestapp=$2 hostpeer=$3

small_traffic() {
	"$hostpeer" h2g "$uds" 1000 2 64K 64K && "$hostpeer" g2h "$uds" 7002 2 64K 64K
}

guest_setup vsock-guest-data
guest_make_initrd "$guestapp"
sock=$guest_tmp/vhost3.socket
uds=$guest_tmp/vm3.vsock
guest_start_daemon "$daemon" --guest-cid 3 --socket "$sock" --uds-path "$uds"
guest_start_qemu vm3 "$sock" agent

tap_case "guest boots, loads the vsock modules and reads CID 3 from the device" \
	guest_wait_ready vm3 1 3 || guest_die "the guest did not come up"
tap_case "host->guest: 16 concurrent connections x 16 MiB, every byte checked" \
	"$hostpeer" h2g "$uds" 1000 16 16M 64K
tap_case "guest->host: 16 concurrent connections x 16 MiB, every byte checked" \
	"$hostpeer" g2h "$uds" 7000 16 16M 64K
tap_case "host CONNECT to a guest port nobody listens on: closed without OK" \
	"$hostpeer" refused-host "$uds" 4444
tap_case "guest connect to a host port nobody listens on: ECONNRESET, quickly" \
	"$hostpeer" refused-guest "$uds" 4445
tap_case "half-close: guest SHUT_WR, host sees EOF and still sends 4 MiB back" \
	"$hostpeer" g2h "$uds" 7001 1 1M 4M
tap_case "half-close: host SHUT_WR, guest sees EOF and still sends 4 MiB back" \
	"$hostpeer" h2g "$uds" 1000 1 1M 4M
tap_case "host data in the same write as the CONNECT line is delivered" \
	"$hostpeer" h2g "$uds" 1000 4 1M 4K coalesce
seq_sizes=1,100,4095,4096,4097,65536,65537,200000,262144
tap_case "SEQPACKET host->guest->host: messages of 1 B to 256 KiB arrive whole, echoed" \
	"$hostpeer" seq-h2g "$uds" 1001 "$seq_sizes"
tap_case "SEQPACKET guest->host->guest: messages of 1 B to 256 KiB arrive whole, echoed" \
	"$hostpeer" seq-g2h "$uds" 7003 "$seq_sizes"
tap_case "new connections both ways still work after all of the above" small_traffic
tap_case "daemon exits 0 on SIGTERM with QEMU attached and removes its sockets" \
	guest_stop_daemon "$sock" "$uds"
tap_done
