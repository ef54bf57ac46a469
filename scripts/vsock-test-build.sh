#!/usr/bin/env bash
# Builds the Linux kernel's own vsock test programs (tools/testing/vsock: vsock_test, the test
# suite, and vsock_perf, the throughput tool) from Debian's linux-source-6.12 package,
# statically linked so they run in the busybox test guest, and prints the path of the one asked
# for (vsock_test by default).  Nothing of the kernel's code is kept in the repository: the
# binaries are cached in .cache/vsock_test/<package version>/ (gitignored) and reused while
# Debian offers the same version; it works offline once built.
# Usage: scripts/vsock-test-build.sh [vsock_test | vsock_perf]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${VSOCK_TEST_CACHE:-$repo/.cache/vsock_test}
pkg=linux-source-6.12
tools=(vsock_test vsock_perf)

prog=vsock-test-build
# shellcheck source=scripts/lib-deb.sh
. "$repo/scripts/lib-deb.sh"

candidate_version() {
	apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: \([^ ]*\)$/\1/p' | grep -v '(none)' || true
}

cache_complete() {
	local tool
	for tool in "${tools[@]}"; do
		[ -x "$1/$tool" ] || return 1
	done
}

newest_cached() {
	local dir
	find "$cache_root" -mindepth 2 -maxdepth 2 -name vsock_test -printf '%h\n' 2>/dev/null |
		sort -V | while read -r dir; do
			cache_complete "$dir" && echo "$dir"
		done | tail -n1
}

build() {
	local dir=$1 work tarball top tool
	deb_new_work "$cache_root"
	work=$deb_work
	deb_unpack "$pkg" "$work/pkg"
	tarball=$(find "$work/pkg/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n1)
	[ -n "$tarball" ] || die "$pkg holds no source tarball"
	mkdir "$work/src"
	# Only what the tools need: a few MiB out of the whole tree.
	tar -xaf "$tarball" -C "$work/src" --wildcards \
		'*/tools/testing/vsock' '*/tools/include' '*/include/uapi/linux/vm_sockets.h'
	top=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n1)
	mkdir -p "$dir"
	for tool in "${tools[@]}"; do
		echo "vsock-test-build: building $tool" >&2
		make -s -C "$top/tools/testing/vsock" "$tool" \
			CFLAGS="-O2 -I. -I../../include -I../../../include/uapi -Wno-pointer-sign -D_GNU_SOURCE -static" \
			LDFLAGS=-static >&2 || die "building $tool failed"
		cp "$top/tools/testing/vsock/$tool" "$dir/$tool.tmp"
		mv "$dir/$tool.tmp" "$dir/$tool"
	done
}

main() {
	local tool=${1:-vsock_test} version dir
	case "$tool" in
	vsock_test | vsock_perf) ;;
	*) die "usage: $0 [vsock_test | vsock_perf]" ;;
	esac
	mkdir -p "$cache_root"
	exec 9>"$cache_root/.lock"
	flock 9 # concurrent test runs share one build

	version=$(candidate_version)
	if [ -z "$version" ]; then
		dir=$(newest_cached) || true
		[ -n "$dir" ] || die "apt offers no $pkg and the cache is empty (apt-get update?)"
		echo "$dir/$tool"
		return
	fi
	dir=$cache_root/$version
	cache_complete "$dir" || build "$dir"
	echo "$dir/$tool"
}

main "$@"
