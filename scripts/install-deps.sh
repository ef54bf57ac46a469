#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing.
# Usage: install-deps.sh build|test|guest|bench
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libyaml-dev libcmocka-dev)
guest_pkgs=(qemu-system-x86 busybox-static cpio xz-utils)
test_pkgs=("${guest_pkgs[@]}")
bench_pkgs=(gnuplot-nox)

case "${1:-build}" in
build) wanted=("${build_pkgs[@]}") ;;
test) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
guest) wanted=("${build_pkgs[@]}" "${guest_pkgs[@]}") ;;
bench) wanted=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 build|test|guest|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
