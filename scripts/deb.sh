#!/usr/bin/env bash
# Builds the binary .deb (debian/, debhelper with meson) in a scratch
# directory from this checkout's files as they are in the working tree (those
# git tracks, and new ones it does not ignore: no build directory, no
# cache), then runs lintian on it.  Usage: deb.sh OUTDIR
# OUTDIR gets the .deb and lintian.txt; exit status 1 if lintian reports an
# error or a warning.
set -euo pipefail
out=$(realpath -m "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$out" "$work/vhost-device-vsock"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/vhost-device-vsock"
(cd "$work/vhost-device-vsock" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 ||
	{ tail -n 40 "$out/build.log"; exit 1; }
rm -f "$out"/*.deb
cp "$work"/*.deb "$out/"
# Errors and warnings fail; pedantic and informational tags are shown.
lintian --info --display-info "$out"/*.deb >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
! grep -qE '^[EW]: ' "$out/lintian.txt"
