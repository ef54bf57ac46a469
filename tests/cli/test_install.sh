#!/bin/sh
# What `make install` puts in place: the binary, the systemd units (valid
# for systemd-analyze verify, which must print nothing), QEMU's vhost-user
# back-end descriptor, the man pages, vsock-guest, and an example configuration the
# daemon accepts.  Installs into a scratch DESTDIR.
# Usage: test_install.sh BUILD_DIR
set -u
BUILD=$1
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
FAILS=0
N=0
result() { N=$((N + 1)); if [ "$1" = ok ]; then echo "ok $N $2"; else echo "not ok $N $2"; FAILS=$((FAILS + 1)); fi; }
check() { name=$1; shift; if "$@" >"$DIR/out" 2>&1; then result ok "$name"; else result fail "$name"; sed 's/^/# /' "$DIR/out"; fi; }

echo "1..7"
meson install -C "$BUILD" --no-rebuild --destdir "$DIR/root" >"$DIR/install.log" 2>&1 ||
	{ sed 's/^/# /' "$DIR/install.log"; }
PREFIX=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
ROOT=$DIR/root$PREFIX
BIN=$ROOT/bin/vhost-device-vsock

check "the binary runs" "$BIN" --version

json_ok() {
	python3 - "$1" "$PREFIX/bin/vhost-device-vsock" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["type"] == "vsock", d
assert d["binary"] == sys.argv[2], d
assert d["description"], d
PY
}
check "QEMU's descriptor: type vsock, the installed binary" \
	json_ok "$ROOT/share/qemu/vhost-user/50-vhost-device-vsock.json"

check "the man page" grep -q '^\.TH "vhost-device-vsock" "1"' "$ROOT/share/man/man1/vhost-device-vsock.1"
check "vsock-guest and its man page" sh -c "'$ROOT/bin/vsock-guest' --help | grep -q '^Usage: vsock-guest' &&
	grep -q '^\.TH \"vsock-guest\" \"1\"' '$ROOT/share/man/man1/vsock-guest.1'"

# systemd-analyze verify wants instances, and ExecStart's binary to exist.
verify_units() {
	mkdir "$DIR/units"
	for u in "$ROOT"/lib/systemd/system/*; do
		unit=$(basename "$u" | sed 's/@\./@x./')
		sed "s|$PREFIX/bin/|$ROOT/bin/|" "$u" >"$DIR/units/$unit"
	done
	out=$(cd "$DIR/units" && systemd-analyze verify --man=no ./*.service ./*.socket 2>&1)
	[ -z "$out" ] || { echo "$out"; return 1; }
	grep -q '^Type=notify$' "$DIR/units/vhost-device-vsock@x.service"
}
check "systemd units: verify prints nothing, Type=notify" verify_units

# The example configuration, with its paths moved to the scratch directory.
example_runs() {
	sed "s|/run/vhost-device-vsock/|$DIR/|" "$ROOT/share/doc/vhost-device-vsock/example.yaml" \
		>"$DIR/vms.yaml"
	"$BIN" --config "$DIR/vms.yaml" & pid=$!
	i=0
	while [ ! -S "$DIR/NAME-vm4.vsock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	kill "$pid"
	wait "$pid" && [ $i -lt 200 ]
}
check "the example configuration serves" example_runs

check "nothing else installed" test "$(find "$DIR/root" -type f | wc -l)" -eq 9
exit $((FAILS > 0))
