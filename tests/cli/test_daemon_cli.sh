#!/bin/sh
# Black-box checks of the daemon's process behaviour: --help/--version, exit
# statuses, refusing bad configurations before creating anything, atomic
# start-up, clean shutdown on SIGTERM/SIGINT (socket files gone), and SIGHUP
# (the --config file read again, or nothing without one).
# Usage: test_daemon_cli.sh path/to/vhost-device-vsock
set -u
DAEMON=$1
DIR=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
FAILS=0

fail() { echo "not ok: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# Runs a daemon (after a wrapper such as prlimit, if any) that must exit by
# itself: one that wrongly accepted its configuration would serve forever,
# so it is killed after 10 s, saying so, and returns 124 (137 if it ignored
# SIGTERM), which no case expects.
exec 3>&1
run() {
	timeout -k 2 10 "$@"
	rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "# still running after 10 s, killed: $*" >&3
	fi
	return $rc
}

# Waits up to 10 s for every named path to exist.
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		missing=0
		for p in "$@"; do [ -e "$p" ] || missing=1; done
		[ $missing -eq 0 ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# Waits up to 10 s for $PID to exit; sets RC.
wait_exit() {
	i=0
	while kill -0 "$PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	if kill -0 "$PID" 2>/dev/null; then
		kill -9 "$PID"; wait "$PID"; RC=timeout
	else
		wait "$PID"; RC=$?
	fi
	PID=
}

out=$(run "$DAEMON" --version); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -qx 'vhost-device-vsock [0-9][0-9.]*' &&
	pass "--version" || fail "--version: $rc $out"
run "$DAEMON" --help | grep -q '^Usage: vhost-device-vsock' && pass "--help" || fail "--help"

err=$(run "$DAEMON" --vm "guest-cid=2,socket=$DIR/s,uds-path=$DIR/u" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$err" = "vhost-device-vsock: error: --vm #1: guest-cid: 2 is reserved (VMADDR_CID_HOST)" ] &&
	[ -z "$(ls -A "$DIR")" ] && pass "bad config: exit 1, nothing created" || fail "bad config: $rc $err"
run "$DAEMON" >/dev/null 2>&1; [ $? -eq 1 ] && pass "no arguments: exit 1" || fail "no arguments"
run env VHOST_DEVICE_VSOCK_LOG=loud "$DAEMON" --socket "$DIR/s" --uds-path "$DIR/u" 2>/dev/null
[ $? -eq 1 ] && [ -z "$(ls -A "$DIR")" ] && pass "bad log level env: exit 1" || fail "bad log level env"

for sig in TERM INT; do
	cat > "$DIR/vms.yaml" <<YAML
vms:
  - {guest_cid: 3, socket: $DIR/v3.sock, uds_path: $DIR/vm3.vsock}
  - {guest-cid: 4, socket: $DIR/v4.sock, uds-path: $DIR/vm4.vsock, groups: g}
YAML
	"$DAEMON" --config "$DIR/vms.yaml" 2>"$DIR/log" & PID=$!
	if wait_for "$DIR/v3.sock" "$DIR/v4.sock" "$DIR/vm3.vsock" "$DIR/vm4.vsock"; then
		kill -"$sig" "$PID"; wait_exit
		left=$(ls -A "$DIR" | grep -v -e '^vms.yaml$' -e '^log$')
		[ "$RC" = 0 ] && [ -z "$left" ] && pass "SIG$sig: exit 0, sockets removed" ||
			fail "SIG$sig: rc=$RC left=[$left] $(cat "$DIR/log")"
	else
		fail "SIG$sig: sockets never appeared: $(cat "$DIR/log")"; kill -9 "$PID"; wait_exit
	fi
	rm -f "$DIR/vms.yaml" "$DIR/log"
done

# SIGHUP reads the --config file again and applies only the difference: VM
# 4 goes, VM 5 comes, VM 3 stays.  A file that does not check changes
# nothing.  (test_rig_reload checks the connections.)
cat > "$DIR/vms.yaml" <<YAML
vms:
  - {guest_cid: 3, socket: $DIR/v3.sock, uds_path: $DIR/vm3.vsock}
  - {guest_cid: 4, socket: $DIR/v4.sock, uds_path: $DIR/vm4.vsock}
YAML
prlimit --nofile=1000:1000 "$DAEMON" --config "$DIR/vms.yaml" --log-level info 2>"$DIR/log" & PID=$!
if wait_for "$DIR/v3.sock" "$DIR/v4.sock"; then
	cat > "$DIR/vms.yaml" <<YAML
vms:
  - {guest_cid: 3, socket: $DIR/v3.sock, uds_path: $DIR/vm3.vsock}
  - {guest_cid: 5, socket: $DIR/v5.sock, uds_path: $DIR/vm5.vsock}
YAML
	kill -HUP "$PID"
	if wait_for "$DIR/v5.sock" && [ ! -e "$DIR/v4.sock" ] && [ -e "$DIR/v3.sock" ] &&
		grep -q "configuration read again: 1 VM(s) kept, 0 restarted (changed), 1 stopped, 1 started, 0 failed to start" "$DIR/log"; then
		pass "SIGHUP with --config: the difference applied"
	else
		fail "SIGHUP with --config: $(ls "$DIR") $(cat "$DIR/log")"
	fi
	echo "vms: [ {guest_cid: 3, socket: $DIR/v3.sock} ]" > "$DIR/vms.yaml"
	kill -HUP "$PID"
	wait_for_log() { i=0; while ! grep -q "$1" "$DIR/log" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; }
	wait_for_log "nothing changed"
	grep -q "reload: $DIR/vms.yaml vms\[0\].*needs uds-path.*; nothing changed" "$DIR/log" &&
		[ -e "$DIR/v3.sock" ] && [ -e "$DIR/v5.sock" ] &&
		pass "SIGHUP with an invalid file: nothing changed, logged" ||
		fail "SIGHUP with an invalid file: $(ls "$DIR") $(cat "$DIR/log")"
	# An inherited socket exists only at start-up.
	cat > "$DIR/vms.yaml" <<YAML
vms:
  - {guest_cid: 3, socket: $DIR/v3.sock, uds_path: $DIR/vm3.vsock}
  - {guest_cid: 5, socket: $DIR/v5.sock, uds_path: $DIR/vm5.vsock}
  - {guest_cid: 6, fd: 3, uds_path: $DIR/vm6.vsock}
YAML
	kill -HUP "$PID"
	wait_for_log "cid 6: fd: inherited sockets exist only at start-up"
	grep -q "cid 6: fd: inherited sockets exist only at start-up; give a socket path; nothing changed" "$DIR/log" &&
		[ ! -e "$DIR/vm6.vsock" ] && [ -e "$DIR/v5.sock" ] &&
		pass "SIGHUP with an fd key: nothing changed" ||
		fail "SIGHUP with an fd key: $(ls "$DIR") $(cat "$DIR/log")"
	# Budgets that do not fit the open-file limit: the whole file is
	# refused, so VM 5, which it drops, keeps running.
	cat > "$DIR/vms.yaml" <<YAML
vms:
  - {guest_cid: 3, socket: $DIR/v3.sock, uds_path: $DIR/vm3.vsock}
  - {guest_cid: 7, socket: $DIR/v7.sock, uds_path: $DIR/vm7.vsock, max_connections: 2000}
YAML
	kill -HUP "$PID"
	wait_for_log "limit (RLIMIT_NOFILE) is 1000.*nothing changed"
	grep -q "limit (RLIMIT_NOFILE) is 1000.*nothing changed" "$DIR/log" &&
		[ -e "$DIR/v5.sock" ] && [ ! -e "$DIR/v7.sock" ] &&
		pass "SIGHUP with budgets over the fd limit: nothing changed" ||
		fail "SIGHUP with budgets over the fd limit: $(ls "$DIR") $(cat "$DIR/log")"
	kill -TERM "$PID"; wait_exit
	[ "$RC" = 0 ] && pass "SIGTERM after reloads: exit 0" || fail "SIGTERM after reloads: $RC"
else
	fail "reload: sockets never appeared: $(cat "$DIR/log")"; kill -9 "$PID"; wait_exit
fi
rm -f "$DIR/vms.yaml" "$DIR/log"

# Without --config, SIGHUP is logged and ignored.
"$DAEMON" --socket "$DIR/v3.sock" --uds-path "$DIR/vm3.vsock" --log-level info 2>"$DIR/log" & PID=$!
if wait_for "$DIR/v3.sock"; then
	kill -HUP "$PID"
	i=0; while ! grep -q "SIGHUP" "$DIR/log" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	grep -q "SIGHUP: no --config file to read again; ignored" "$DIR/log" && kill -0 "$PID" &&
		[ -e "$DIR/v3.sock" ] && pass "SIGHUP without --config: logged, ignored" ||
		fail "SIGHUP without --config: $(cat "$DIR/log")"
	kill -TERM "$PID"; wait_exit
	[ "$RC" = 0 ] || fail "SIGTERM after an ignored SIGHUP: $RC"
else
	fail "SIGHUP without --config: sockets never appeared"; kill -9 "$PID"; wait_exit
fi
rm -f "$DIR/log"

# Start-up is all or nothing: the second VM cannot listen, so the first
# one's files are removed again.
run "$DAEMON" --vm "guest-cid=3,socket=$DIR/v3.sock,uds-path=$DIR/vm3.vsock" \
	--vm "guest-cid=4,socket=$DIR/nodir/v4.sock,uds-path=$DIR/vm4.vsock" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && [ -z "$(ls -A "$DIR")" ] && pass "atomic start-up" || fail "atomic start-up: $rc $(ls -A "$DIR")"

# A path that exists and is not a socket is never replaced.
echo keep > "$DIR/plain"
run "$DAEMON" --socket "$DIR/plain" --uds-path "$DIR/vm3.vsock" 2>/dev/null; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$DIR/plain")" = keep ] && [ ! -e "$DIR/vm3.vsock" ] &&
	pass "regular file kept" || fail "regular file: $rc"
err=$(run "$DAEMON" --socket "$DIR/v3.sock" --uds-path "$DIR/plain" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(cat "$DIR/plain")" = keep ] && [ ! -e "$DIR/v3.sock" ] &&
	echo "$err" | grep -q "$DIR/plain.*not a socket" &&
	pass "--uds-path: regular file kept, named in the error" || fail "--uds-path regular file: $rc $err"

# Budgets that do not fit the open-file limit stop start-up, saying what
# they need, before anything is created.
err=$(run prlimit --nofile=1000:1000 "$DAEMON" --socket "$DIR/v3.sock" --uds-path "$DIR/vm3.vsock" \
	--max-connections 2000 2>&1); rc=$?
[ $rc -eq 1 ] && [ -z "$(ls -A "$DIR" | grep -v '^plain$')" ] &&
	echo "$err" | grep -q "need 2070 open files but the limit (RLIMIT_NOFILE) is 1000" &&
	pass "budgets over the fd limit: exit 1" || fail "budgets over the fd limit: $rc $err"
err=$(run prlimit --nofile=140:140 "$DAEMON" --vm "guest-cid=3,socket=$DIR/v3.sock,uds-path=$DIR/vm3.vsock" \
	--vm "guest-cid=4,socket=$DIR/v4.sock,uds-path=$DIR/vm4.vsock" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "too few for cid 3" &&
	pass "fd limit too small for automatic budgets: exit 1" || fail "small fd limit: $rc $err"

# The defaults the README gives reach the device: it logs the settings it
# runs with.  Budgets: max-handshakes min(1024, a quarter of the VM's share
# of the open-file limit), max-connections the rest of the share,
# max-pending min(1024, max-connections).
settings() { # nofile: starts a default VM, prints its two settings lines
	# Emptied here, not only by the child's redirection: the wait below must
	# not find the lines of the previous run.
	: >"$DIR/log"
	prlimit --nofile="$1:$1" "$DAEMON" --socket "$DIR/v3.sock" --uds-path "$DIR/vm3.vsock" \
		--log-level info 2>"$DIR/log" & PID=$!
	i=0
	while ! grep -q 'serving .*poll-us' "$DIR/log" && [ $i -lt 200 ]; do
		sleep 0.05; i=$((i + 1))
	done
	kill "$PID"; wait_exit
	grep -o -e 'max-handshakes.*' -e 'queue-size.*' "$DIR/log"
}
num() { echo "$2" | sed -n "s/.*$1 \([0-9]*\).*/\1/p" | head -n 1; }
out=$(settings 10000)
[ "$(num max-handshakes "$out")" = 1024 ] && [ "$(num queue-size "$out")" = 1024 ] &&
	[ "$(num tx-buffer-size "$out")" = 262144 ] && [ "$(num tx-buffer-total "$out")" = 67108864 ] &&
	[ "$(num max-pending "$out")" = 1024 ] && [ "$(num poll-us "$out")" = 50 ] &&
	echo "$out" | grep -q 'CONNECT-line timeout 10000 ms' &&
	echo "$out" | grep -q 'request timeout 10000 ms' &&
	c=$(num max-connections "$out") && [ "$c" -gt 8500 ] && [ "$c" -lt $((10000 - 1024)) ] &&
	pass "defaults reach the device" || fail "defaults: $out"
out=$(settings 1000)
h=$(num max-handshakes "$out"); c=$(num max-connections "$out")
[ -n "$h" ] && [ -n "$c" ] && [ "$h" -eq $(((h + c) / 4)) ] && [ "$(num max-pending "$out")" = "$c" ] &&
	pass "automatic budgets under a small fd limit" || fail "small fd limit budgets: $out"

[ $FAILS -eq 0 ]
