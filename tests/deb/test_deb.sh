#!/bin/sh
# The Debian package: built by scripts/deb.sh (lintian: no error, no
# warning), installed with dpkg -i, the installed programs work (the
# daemon's --print-capabilities; a round trip from a host client through
# the daemon to vsock-guest's echo and back), removed with dpkg -r and
# purged, leaving none of its files.  Needs root; skipped when a
# vhost-device-vsock package is already installed (it is not ours to
# remove).  Usage: test_deb.sh     (TAP on stdout)
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$(mktemp -d)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -n "${INSTALLED:-}" ] && dpkg --purge vhost-device-vsock >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT
N=0
FAILS=0
ok() { N=$((N + 1)); echo "ok $N $1"; }
not_ok() { N=$((N + 1)); echo "not ok $N $1"; FAILS=$((FAILS + 1)); sed 's/^/# /' "$DIR/out"; }
check() { name=$1; shift; if "$@" >"$DIR/out" 2>&1; then ok "$name"; else not_ok "$name"; fi; }

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (dpkg -i)"; exit 0; fi
if dpkg-query -W -f='${Status}' vhost-device-vsock 2>/dev/null | grep -q installed; then
	echo "1..0 # SKIP a vhost-device-vsock package is installed already"; exit 0
fi
echo "1..5"

check "the package builds, lintian reports no error or warning" "$SRC/scripts/deb.sh" "$DIR/deb"
DEB=$(ls "$DIR"/deb/vhost-device-vsock_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || { echo "Bail out! no package"; exit 1; }

INSTALLED=yes
installed() {
	dpkg -i "$DEB" &&
	[ "$(/usr/bin/vhost-device-vsock --print-capabilities | tr -d ' \n')" = '{"type":"vsock","features":[]}' ] &&
	id vhost-vsock
}
check "dpkg -i: the daemon runs, the service's user exists" installed

# A host client -> daemon -> vsock-guest echo -> back.
round_trip() {
	/usr/bin/vhost-device-vsock --socket "$DIR/v.sock" --uds-path "$DIR/u.vsock" &
	PIDS="$PIDS $!"
	i=0
	while [ ! -S "$DIR/v.sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	/usr/bin/vsock-guest --socket "$DIR/v.sock" --cid 3 echo 1234 &
	PIDS="$PIDS $!"
	python3 - "$DIR/u.vsock" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 20
while True:  # until vsock-guest is up and listens on port 1234
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    line = b""
    try:
        s.connect(sys.argv[1])
        s.sendall(b"CONNECT 1234\n")
        while not line.endswith(b"\n"):
            chunk = s.recv(1)
            if not chunk:
                break
            line += chunk
    except OSError:
        pass
    if line.startswith(b"OK "):
        s.settimeout(10)
        break
    s.close()
    assert time.monotonic() < deadline, "vsock-guest never accepted"
    time.sleep(0.1)
s.sendall(b"through the package")
got = b""
while len(got) < 19:
    got += s.recv(64)
assert got == b"through the package", got
PY
}
check "installed daemon and vsock-guest: a round trip" round_trip

removed() {
	dpkg-query -L vhost-device-vsock >"$DIR/files" &&
	dpkg -r vhost-device-vsock && dpkg --purge vhost-device-vsock || return 1
	INSTALLED=
	left=$(while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done <"$DIR/files")
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check "dpkg -r and --purge: none of its files left" removed
check "the package is gone" sh -c "! dpkg-query -W -f='\${Status}' vhost-device-vsock 2>/dev/null | grep -q installed"
exit $((FAILS > 0))
