#!/bin/sh
# The man page of each program describes (in lines that start with an
# option, scdoc's "*--name*") exactly the options its --help names.
# Usage: test_man_options.sh PROGRAM MAN_SCD [PROGRAM MAN_SCD ...]
set -u
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
options() { grep -oE -- '--[a-z][a-z-]*' | grep -vx -- '--flag' | sort -u; }
N=0
FAILS=0
echo "1..$(($# / 2))"
while [ $# -ge 2 ]; do
	N=$((N + 1))
	"$1" --help | options >"$DIR/help"
	grep -- '^\*-' "$2" | options >"$DIR/man"
	if [ -s "$DIR/help" ] && diff "$DIR/help" "$DIR/man" >"$DIR/diff"; then
		echo "ok $N $(basename "$1"): --help and $(basename "$2") name the same options"
	else
		echo "not ok $N $(basename "$1"): options in --help (<) or only in the man page (>)"
		sed 's/^/# /' "$DIR/diff"
		FAILS=$((FAILS + 1))
	fi
	shift 2
done
exit $((FAILS > 0))
