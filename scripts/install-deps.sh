#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing; for targets that
# boot guests, also fetches the guest kernel into the cache (scripts/guest-assets.sh).
# Usage: install-deps.sh build|test|guest|bench|fuzz|deb
set -euo pipefail

# libc6-dev is only a Recommends of gcc; static libc.a builds the guest program.
# scdoc builds the man page; libmicrohttpd and jansson serve the API.  The
# tests use systemd-analyze (systemd) on the units, python3 for the
# service-manager test, setpriv (util-linux) for the non-root one, promtool
# (prometheus) on the API's metrics; the package test builds the .deb
# (debhelper), runs lintian, and installs it (its postinst needs adduser).
build_pkgs=(gcc libc6-dev meson ninja-build pkg-config libyaml-dev libcmocka-dev libseccomp-dev
	libsystemd-dev scdoc libmicrohttpd-dev libjansson-dev)
guest_pkgs=(qemu-system-x86 busybox-static cpio xz-utils)
deb_pkgs=(debhelper dpkg-dev lintian adduser)
test_pkgs=("${guest_pkgs[@]}" "${deb_pkgs[@]}" systemd python3 util-linux prometheus)
bench_pkgs=(gnuplot-nox)
# libFuzzer comes with clang's runtime libraries; llvm puts llvm-symbolizer on
# PATH for readable sanitizer reports.
fuzz_pkgs=(clang libclang-rt-14-dev llvm)

case "${1:-build}" in
build) wanted=("${build_pkgs[@]}") ;;
test) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
guest) wanted=("${build_pkgs[@]}" "${guest_pkgs[@]}") ;;
bench) wanted=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
deb) wanted=("${build_pkgs[@]}" "${deb_pkgs[@]}") ;;
fuzz) wanted=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
*) echo "usage: $0 build|test|guest|bench|fuzz|deb" >&2; exit 2 ;;
esac
case "${1:-build}" in
test | guest) needs_guest_kernel=yes ;;
*) needs_guest_kernel=no ;;
esac

fetch_guest_kernel() {
	[ "$needs_guest_kernel" = yes ] || return 0
	"$(dirname "$0")/guest-assets.sh" >/dev/null
}

missing=()
for p in "${wanted[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	fetch_guest_kernel
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_guest_kernel
