#!/usr/bin/env bash
# Prepares what a tiny test guest boots from and prints the directory that holds it:
#   vmlinuz        Debian's newest linux-image-6.12*-cloud-amd64 kernel
#   base.cpio.gz   busybox-static plus the (decompressed) vsock and virtio-net modules
#   kernel-version the kernel's release string
# Guest programs and the init script go into a second, small cpio that is appended to
# base.cpio.gz at boot time (see tests/guest/lib.sh), so this cache never depends on a build.
#
# The cache lives in .cache/guest/<kernel package>/ (gitignored) and is reused as long as
# Debian offers no newer kernel, so reruns take well under a second.  Works offline once
# filled.  Usage: scripts/guest-assets.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${VSOCK_GUEST_CACHE:-$repo/.cache/guest}
meta_pkg=linux-image-6.12-cloud-amd64
# Loaded by the guest's init in this order (dependencies first).
modules=(vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
	vsock_loopback failover net_failover virtio_net)

prog=guest-assets
# shellcheck source=scripts/lib-deb.sh
. "$repo/scripts/lib-deb.sh"

# The meta-package always depends on the newest versioned kernel package.
newest_kernel_pkg() {
	apt-cache depends "$meta_pkg" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.12[^ ]*-cloud-amd64\)$/\1/p' | head -n1
}

# Newest kernel already in the cache, for machines without apt lists or network.
newest_cached_dir() {
	local d
	d=$(find "$cache_root" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
		sort -V | tail -n1)
	[ -n "$d" ] && echo "$d"
}

resolve_kernel_pkg() {
	local pkg
	pkg=$(newest_kernel_pkg)
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		echo "guest-assets: refreshing apt lists to find $meta_pkg" >&2
		apt-get update -qq >&2 || true
		pkg=$(newest_kernel_pkg)
	fi
	echo "$pkg"
}

fetch_kernel() {
	local pkg=$1 dir=$2 work kver name src
	deb_new_work "$cache_root"
	work=$deb_work
	deb_unpack "$pkg" "$work/root"

	kver=$(find "$work/root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
	[ -n "$kver" ] || die "$pkg holds no /lib/modules"
	mkdir -p "$work/initrd/bin" "$work/initrd/lib/modules" "$work/out"
	cp "$work/root/boot/vmlinuz-$kver" "$work/out/vmlinuz"
	for name in "${modules[@]}"; do
		src=$(find "$work/root/lib/modules/$kver" -name "$name.ko*" | head -n1)
		[ -n "$src" ] || die "module $name not found in $pkg"
		# busybox insmod cannot read compressed modules.
		case "$src" in
		*.xz) xz -dc "$src" >"$work/initrd/lib/modules/$name.ko" ;;
		*.zst) die "module $name is zstd-compressed; add zstd support here" ;;
		*) cp "$src" "$work/initrd/lib/modules/$name.ko" ;;
		esac
	done
	printf '%s\n' "${modules[@]}" >"$work/initrd/lib/modules/load-order"
	echo "$kver" >"$work/out/kernel-version"
	pack_base "$work/initrd" "$work/out/base.cpio.gz"

	rm -rf "$dir"
	mv "$work/out" "$dir"
	touch "$dir/.complete"
	rm -rf "$work"
}

# busybox goes in as a single binary; the guest's init installs its applet links.
pack_base() {
	local tree=$1 out=$2
	[ -x /bin/busybox ] || die "/bin/busybox missing (install busybox-static)"
	readelf -l /bin/busybox | grep -q INTERP &&
		die "/bin/busybox is dynamically linked (install busybox-static)"
	cp /bin/busybox "$tree/bin/busybox"
	ln -sf busybox "$tree/bin/sh"
	mkdir -p "$tree/dev" "$tree/proc" "$tree/sys" "$tree/tmp" "$tree/sbin" "$tree/usr/bin" "$tree/usr/sbin"
	(cd "$tree" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -9 >"$out.tmp"
	mv "$out.tmp" "$out"
}

main() {
	local pkg dir
	mkdir -p "$cache_root"
	exec 9>"$cache_root/.lock"
	flock 9 # concurrent test runs share one download

	pkg=$(resolve_kernel_pkg)
	if [ -z "$pkg" ]; then
		dir=$(newest_cached_dir) ||
			die "apt offers no $meta_pkg and the cache is empty (run as root, or apt-get update)"
		echo "guest-assets: apt offers no kernel; using cached $(basename "$dir")" >&2
		echo "$dir"
		return
	fi
	dir=$cache_root/$pkg
	if [ ! -f "$dir/.complete" ]; then
		fetch_kernel "$pkg" "$dir"
	elif [ /bin/busybox -nt "$dir/base.cpio.gz" ]; then
		echo "guest-assets: busybox changed, repacking" >&2
		fetch_kernel "$pkg" "$dir"
	fi
	echo "$dir"
}

main "$@"
