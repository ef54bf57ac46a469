# shellcheck shell=bash
# Shared by the real-guest tests and scripts/demo.sh (source it; bash only).
#
# A guest is Debian's cloud kernel plus an initramfs made of two concatenated cpio archives:
# the cached base (busybox, vsock modules; scripts/guest-assets.sh) and a small one holding
# tests/guest/init and the static guestapp of the build under test.  It runs under QEMU with
# TCG (KVM cannot run stock kernels on these machines) and prints "guestapp: READY cid=N" on
# its serial console once its programs listen.
#
# Everything lives in one private temporary directory and every process started here is
# tracked by pid; guest_cleanup (on EXIT, INT and TERM) stops them and removes the directory.

guest_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest_repo=$(cd "$guest_lib_dir/../.." && pwd)
guest_tmp=
guest_assets=
guest_pids=()
daemon_pid=
qemu_pid=

guest_log() { echo "# $*"; }

guest_die() {
	echo "Bail out! $*"
	exit 1
}

# Shows the end of every log of this run, as TAP comments.
guest_show_logs() {
	local f
	for f in "$guest_tmp"/*.log "$guest_tmp"/*.serial; do
		[ -s "$f" ] || continue
		echo "# ---- last lines of $(basename "$f") ----"
		tail -n 40 "$f" | sed 's/^/#   /'
	done
}

guest_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	set +e # a caller's errexit must not cut the cleanup short
	[ $rc -ne 0 ] && [ -n "$guest_tmp" ] && guest_show_logs
	{ # silences bash's "Killed" notices for the processes stopped here
		for pid in "${guest_pids[@]}"; do
			kill -KILL "$pid"
		done
		if [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid"; then
			guest_wait_exit "$daemon_pid" 10 || kill -KILL "$daemon_pid"
		fi
		wait
	} 2>/dev/null
	[ -n "$guest_tmp" ] && rm -rf "$guest_tmp"
	exit $rc
}

# guest_setup NAME: private temp dir and cleanup traps.
guest_setup() {
	guest_tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap guest_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# guest_wait_exit PID SECONDS: true once PID (a child of this shell) has exited.
guest_wait_exit() {
	local deadline=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# guest_wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
guest_wait_for() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			guest_log "timed out after $1 s waiting for $what"
			return 1
		fi
		sleep 0.05
	done
}

# guest_pack TREE OUT: TREE as a gzipped newc cpio archive.
guest_pack() {
	(cd "$1" && find . | cpio -o -H newc --quiet) | gzip -1 >"$2"
}

# guest_make_initrd GUESTAPP: kernel and initramfs (initrd.gz) for this run.
guest_make_initrd() {
	local tree=$guest_tmp/initrd-tree
	guest_assets=$("$guest_repo/scripts/guest-assets.sh") ||
		guest_die "cannot prepare the guest kernel (scripts/guest-assets.sh)"
	mkdir -p "$tree/bin"
	cp "$1" "$tree/bin/guestapp"
	cp "$guest_lib_dir/init" "$tree/init"
	guest_pack "$tree" "$guest_tmp/app.cpio.gz"
	cat "$guest_assets/base.cpio.gz" "$guest_tmp/app.cpio.gz" >"$guest_tmp/initrd.gz"
}

# guest_extend_initrd NAME FILE...: initrd-NAME.gz, initrd.gz plus FILE... in /bin (after
# guest_make_initrd).
guest_extend_initrd() {
	local name=$1 tree=$guest_tmp/$1-tree
	shift
	mkdir -p "$tree/bin"
	cp "$@" "$tree/bin/"
	guest_pack "$tree" "$guest_tmp/$name.cpio.gz"
	cat "$guest_tmp/initrd.gz" "$guest_tmp/$name.cpio.gz" >"$guest_tmp/initrd-$name.gz"
}

# guest_start_daemon DAEMON ARGS...: starts the daemon, logging to daemon.log, and waits
# for the socket files named by its --socket and --uds-path arguments and in its --vm ones.
guest_start_daemon() {
	local daemon=$1 arg prev='' field fields sockets=()
	shift
	for arg in "$@"; do
		case "$prev" in
		--socket | --uds-path) sockets+=("$arg") ;;
		--vm)
			IFS=, read -ra fields <<<"$arg"
			for field in "${fields[@]}"; do
				case "$field" in socket=* | uds-path=*) sockets+=("${field#*=}") ;; esac
			done
			;;
		esac
		prev=$arg
	done
	"$daemon" "$@" >>"$guest_tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	for arg in "${sockets[@]}"; do
		guest_wait_for 20 "the daemon to create $arg" guest_socket_or_dead "$arg" ||
			guest_die "daemon did not create $arg"
		kill -0 "$daemon_pid" 2>/dev/null || guest_die "daemon exited at start-up"
	done
}

guest_socket_or_dead() { [ -S "$1" ] || ! kill -0 "$daemon_pid" 2>/dev/null; }

# guest_run_qemu NAME VHOST_SOCKET INITRD KERNEL-ARGS [QEMU-ARGS...]: boots a guest in the
# background, its console in NAME.serial, and adds its pid to guest_pids.
guest_run_qemu() {
	local name=$1 socket=$2 initrd=$3 kernel_args=$4
	shift 4
	: >"$guest_tmp/$name.serial"
	qemu-system-x86_64 -nodefaults -no-user-config -display none \
		-machine q35,accel=tcg,memory-backend=mem0 -cpu max -smp 1 -m 256M \
		-object memory-backend-memfd,id=mem0,size=256M,share=on \
		-serial "file:$guest_tmp/$name.serial" \
		-kernel "$guest_assets/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 $kernel_args" \
		-chardev "socket,id=vu0,path=$socket" \
		-device vhost-user-vsock-pci,chardev=vu0 \
		"$@" >>"$guest_tmp/$name.qemu.log" 2>&1 &
	guest_pids+=("$!")
}

# guest_start_qemu NAME VHOST_SOCKET GUESTMODE [reboot]: boots the guestapp guest and makes it
# the one qemu_pid watches.  Without "reboot" a guest reboot ends QEMU.
guest_start_qemu() {
	local reboot_opt=(-no-reboot)
	[ "${4:-}" = reboot ] && reboot_opt=()
	guest_run_qemu "$1" "$2" "$guest_tmp/initrd.gz" "guestmode=$3" "${reboot_opt[@]}"
	qemu_pid=${guest_pids[-1]}
}

guest_ready_count() { grep -c 'guestapp: READY' "$1" 2>/dev/null; }

guest_booted() {
	[ "$(guest_ready_count "$1")" -ge "$2" ] || ! kill -0 "$qemu_pid" 2>/dev/null
}

# guest_wait_ready NAME COUNT CID: waits for the COUNTth "READY" on NAME's console (COUNT > 1
# after reboots) and checks that the guest read CID from the device.
guest_wait_ready() {
	local serial=$guest_tmp/$1.serial start=$SECONDS line
	guest_wait_for 120 "guest $1 to boot" guest_booted "$serial" "$2" || return 1
	kill -0 "$qemu_pid" 2>/dev/null || { guest_log "QEMU exited during boot"; return 1; }
	line=$(grep 'guestapp: READY' "$serial" | tail -n1 | tr -d '\r') # the console sends CRLF
	guest_log "guest $1 ready after $((SECONDS - start)) s: $line"
	[ "$line" = "guestapp: READY cid=$3" ] || { guest_log "expected cid=$3"; return 1; }
}

# guest_kill_qemu: SIGKILL, as when a VMM crashes.
guest_kill_qemu() {
	{
		kill -KILL "$qemu_pid"
		wait "$qemu_pid" || true # status 137, by design
	} 2>/dev/null # no "Killed" job notice
}

# guest_stop_daemon: SIGTERM; true if the daemon exits 0 within 10 s and removed its sockets.
guest_stop_daemon() {
	local rc sock
	kill -TERM "$daemon_pid" || return 1
	guest_wait_exit "$daemon_pid" 10 || { guest_log "daemon ignored SIGTERM"; return 1; }
	wait "$daemon_pid"
	rc=$?
	daemon_pid=
	guest_log "daemon exit status $rc"
	for sock in "$@"; do
		[ ! -e "$sock" ] || { guest_log "daemon left $sock behind"; rc=1; }
	done
	return $rc
}

# TAP output: tap_case DESCRIPTION COMMAND... runs one scenario; tap_done ends the plan.
tap_count=0
tap_failures=0

# The command runs in this shell (not a subshell), so it can wait for and forget the
# processes it stops; its output is shown as TAP comments.
tap_case() {
	local desc=$1 rc
	shift
	tap_count=$((tap_count + 1))
	"$@" >"$guest_tmp/case.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $tap_count - $desc"
	else
		echo "not ok $tap_count - $desc"
		tap_failures=$((tap_failures + 1))
	fi
	sed '/^# /!s/^/# /' "$guest_tmp/case.out"
	return $rc
}

tap_done() {
	echo "1..$tap_count"
	[ $tap_failures -eq 0 ] # on failure, guest_cleanup shows the logs
}
