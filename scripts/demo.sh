#!/usr/bin/env bash
# make demo: starts the daemon, boots a tiny Linux guest under QEMU against it, and has a host
# application and a guest application talk both ways:
#   host -> guest: the host connects to the daemon's --uds-path and sends "CONNECT 1234";
#   guest -> host: the guest connects to CID 2 port 5678, which the daemon turns into a
#                  connection to <uds-path>_5678, where the host application listens.
# Cleans up (QEMU, daemon, sockets, temp files) on exit, Ctrl-C or SIGTERM.
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build; `make demo` builds it first)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$repo/tests/guest/lib.sh"

daemon=$build/vhost-device-vsock
guestapp=$build/tests/guest/guestapp
hostpeer=$build/tests/guest/hostpeer
for f in "$daemon" "$guestapp" "$hostpeer"; do
	[ -x "$f" ] || { echo "demo: $f is missing; run 'make' first" >&2; exit 1; }
done

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

guest_setup vsock-demo
sock=$guest_tmp/vhost3.socket
uds=$guest_tmp/vm3.vsock

step "Preparing the guest: Debian's 6.12 cloud kernel and a busybox initramfs with our guest program"
guest_make_initrd "$guestapp"
echo "kernel $(cat "$guest_assets/kernel-version") (cached in ${guest_assets#"$repo"/})"

step "Starting the daemon"
echo "$daemon --guest-cid 3 --socket $sock --uds-path $uds"
guest_start_daemon "$daemon" --guest-cid 3 --socket "$sock" --uds-path "$uds"

step "Booting the guest under QEMU (TCG, about 5 s)"
echo "qemu-system-x86_64 -machine q35,accel=tcg,memory-backend=mem0 -m 256M \\"
echo "    -object memory-backend-memfd,id=mem0,size=256M,share=on \\"
echo "    -chardev socket,id=vu0,path=$sock -device vhost-user-vsock-pci,chardev=vu0 ..."
guest_start_qemu vm3 "$sock" demo
guest_wait_ready vm3 1 3 || guest_die "the guest did not come up"
echo "the guest runs 'guestapp demo 1234': it listens on vsock port 1234"

# The guest's side of the conversation, live from its serial console.
tail -n +1 -f --pid="$qemu_pid" "$guest_tmp/vm3.serial" |
	sed -u -n 's/^guestapp: \(\[guest\].*\)/    \1/p' &
guest_pids+=("$!")

step "A host application talks to the guest application, both ways"
"$hostpeer" demo "$uds" 1234 5678 | sed -u 's/^/    /'
guest_wait_for 30 "the guest's last message" \
	grep -q 'the host answered' "$guest_tmp/vm3.serial" || guest_die "the guest did not finish"

step "Done: stopping QEMU and the daemon, removing sockets and temporary files"
guest_kill_qemu
guest_stop_daemon "$sock" "$uds" >/dev/null || guest_die "the daemon did not stop cleanly"
