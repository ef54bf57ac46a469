#!/usr/bin/env bash
# Runs the AF_VSOCK backend test (test_vsock_backend.c) where CID 1 works: directly when this
# machine has vsock_loopback, otherwise inside a QEMU (TCG) guest whose init loads it and runs
# the static daemon and test program (one boot for every case).  Never skips: without either
# it fails.  Prints TAP.  Usage: run.sh DAEMON TEST DAEMON_STATIC TEST_STATIC
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$here/../guest/lib.sh"
daemon=$1 test=$2 daemon_static=$3 test_static=$4

if "$test" --probe; then
	echo "# CID 1 works on this machine: running directly"
	exec "$test" "$daemon"
fi
echo "# no CID 1 on this machine: running inside a QEMU guest that loads vsock_loopback"
command -v qemu-system-x86_64 >/dev/null || guest_die "qemu-system-x86_64 is missing (scripts/install-deps.sh)"
guest_setup vsock-backend
guest_assets=$("$guest_repo/scripts/guest-assets.sh") ||
	guest_die "cannot prepare the guest kernel (scripts/guest-assets.sh)"

tree=$guest_tmp/tree
mkdir -p "$tree/bin"
cp "$daemon_static" "$tree/bin/vhost-device-vsock"
cp "$test_static" "$tree/bin/test_vsock_backend"
cp "$here/init" "$tree/init"
(cd "$tree" && find . | cpio -o -H newc --quiet) | gzip -1 >"$guest_tmp/app.cpio.gz"
# A later archive's /init replaces the base one.
cat "$guest_assets/base.cpio.gz" "$guest_tmp/app.cpio.gz" >"$guest_tmp/initrd.gz"

serial=$guest_tmp/guest.serial
qemu-system-x86_64 -nodefaults -no-user-config -display none \
	-machine q35,accel=tcg -cpu max -smp 1 -m 512M \
	-serial "file:$serial" -no-reboot \
	-kernel "$guest_assets/vmlinuz" -initrd "$guest_tmp/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1" \
	2>>"$guest_tmp/qemu.log" &
qemu_pid=$!
guest_pids+=("$qemu_pid")
guest_wait_exit "$qemu_pid" 540 || guest_die "the guest did not finish within 540 s"

# The console sends CRLF; kernel lines may interleave: keep TAP, comment the rest.
status=$(tr -d '\r' <"$serial" | sed -n 's/^vsocktest: exit \([0-9]*\)$/\1/p')
tr -d '\r' <"$serial" | sed -n '/^vsocktest: begin$/,/^vsocktest: exit/p' |
	sed -e '/^vsocktest: /d' -e '/^\(ok\|not ok\|1\.\.\|#\|Bail out!\)/!s/^/# /'
[ -n "$status" ] || guest_die "the test program did not finish inside the guest"
exit "$status"
