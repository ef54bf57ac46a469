# shellcheck shell=bash
# Shared by scripts/guest-assets.sh and scripts/vsock-test-build.sh (source it; bash only):
# fetching one Debian package with apt-get download into a private work directory of a cache.
# Set prog (the prefix of every message) before sourcing.  The work directory is removed on
# exit, whatever happens.

: "${prog:?set prog before sourcing lib-deb.sh}"
deb_work=
trap 'rm -rf "$deb_work"' EXIT

die() { echo "$prog: $*" >&2; exit 1; }

# deb_new_work CACHE_ROOT: sets deb_work to a fresh directory under CACHE_ROOT.
deb_new_work() {
	deb_work=$(mktemp -d "$1/.work.XXXXXX")
	chmod 755 "$deb_work" # apt-get download runs as _apt
}

# deb_unpack PKG DIR: downloads PKG into deb_work and unpacks it into DIR.  Stale apt lists
# name versions the mirror has dropped, so a failed download refreshes the lists (as root)
# and tries once more.
deb_unpack() {
	local pkg=$1 deb
	echo "$prog: downloading $pkg" >&2
	if ! (cd "$deb_work" && apt-get download -qq "$pkg" >&2); then
		[ "$(id -u)" -eq 0 ] || die "apt-get download $pkg failed"
		apt-get update -qq >&2 || true
		(cd "$deb_work" && apt-get download -qq "$pkg" >&2) || die "apt-get download $pkg failed"
	fi
	deb=$(find "$deb_work" -maxdepth 1 -name '*.deb' | head -n1)
	[ -n "$deb" ] || die "no .deb downloaded for $pkg"
	dpkg -x "$deb" "$2"
}
