#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz/ built in BUILD_DIR (make fuzz,
# make fuzz-smoke, make fuzz-merge).
#
#   fuzz.sh run BUILD_DIR    each harness for FUZZ_SECONDS (default 60) on its
#                            scratch corpus, BUILD_DIR/fuzz/NAME/corpus/, kept
#                            between runs and topped up from the committed
#                            tests/fuzz/corpus/NAME/ (which is never written)
#   fuzz.sh smoke BUILD_DIR  each harness over its committed corpus, then
#                            FUZZ_SECONDS (default 5) of fuzzing, in a fresh
#                            scratch corpus
#   fuzz.sh merge BUILD_DIR  adds to the committed corpus the scratch inputs
#                            that reach new coverage (-merge=1), for review
#                            and commit
#
# FUZZ_TARGETS (space-separated harness names) selects a subset.  A crash,
# leak, timeout or broken invariant makes the script exit 1 after naming the
# input, saved in BUILD_DIR/fuzz/NAME/crashes/; each run's full output is in
# BUILD_DIR/fuzz/NAME/fuzz.log (smoke.log for a smoke run).  Reproduce with:
# BUILD_DIR/tests/fuzz/NAME FILE
set -euo pipefail

# Largest input per harness: a CONNECT line is at most 64 bytes, a
# vhost-user session needs room for a few 4 KiB payloads, a device session
# for a few dozen packets, an API request for its headers and a JSON body.
declare -A max_len=(
	[fuzz_api]=8192
	[fuzz_config]=4096
	[fuzz_connect_line]=256
	[fuzz_device_tx]=8192
	[fuzz_vhost_user]=16384
	[fuzz_virtq]=4096
)
# A single input running longer than this is a hang, reported like a crash.
input_timeout_s=10

usage() {
	echo "usage: $0 run|smoke|merge BUILD_DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
mode=$1
build=$(realpath "$2")
src=$(realpath "$(dirname "$0")/..")
case "$mode" in
run) seconds=${FUZZ_SECONDS:-60} ;;
smoke) seconds=${FUZZ_SECONDS:-5} ;;
merge) ;;
*) usage ;;
esac
read -r -a targets <<<"${FUZZ_TARGETS:-${!max_len[*]}}"
mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort)

# One line from the final statistics and the last status line.
summarize() {
	local name=$1 log=$2 status runs rate
	status=$(grep -aE '^#[0-9]+' "$log" | tail -n 1 || true)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	printf '%-18s %s s, %s runs, %s exec/s, %s\n' "$name" "$seconds" "${runs:-?}" \
		"${rate:-?}" "$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' <<<"$status" || echo 'no status')"
}

report_failure() {
	local name=$1 log=$2 first
	echo "FAIL $name: see $log" >&2
	# The report from its first line: a sanitizer's, libFuzzer's or ours.
	first=$(grep -an -m 1 -E 'ERROR: |runtime error|invariant broken' "$log" | cut -d: -f1)
	if [ -n "$first" ]; then
		sed -n "$first,+24p" "$log" >&2
	else
		tail -n 25 "$log" >&2
	fi
	grep -ao 'Test unit written to .*' "$log" | sed 's/^Test unit written to /crash input: /' >&2 || true
}

fuzz_one() {
	local name=$1 work=$build/fuzz/$1 corpus log
	corpus=$work/corpus
	log=$work/fuzz.log
	if [ "$mode" = smoke ]; then
		# Apart from a long run's, which may be going on meanwhile.
		corpus=$work/smoke-corpus
		log=$work/smoke.log
		rm -rf "$corpus"
	fi
	mkdir -p "$corpus" "$work/crashes"
	# -n: inputs the fuzzer found earlier stay; the committed ones are never written.
	cp -n "$src/tests/fuzz/corpus/$name"/* "$corpus/"
	# stdin is /dev/null: fuzz_config may name /dev/stdin as its YAML file.
	if (cd "$work" && "$build/tests/fuzz/$name" -max_total_time="$seconds" \
		-max_len="${max_len[$name]}" -timeout="$input_timeout_s" \
		-artifact_prefix="$work/crashes/" -print_final_stats=1 \
		"$corpus" </dev/null >"$log" 2>&1); then
		summarize "$name" "$log"
	else
		report_failure "$name" "$log"
		return 1
	fi
}

merge_one() {
	local name=$1 work=$build/fuzz/$1
	[ -d "$work/corpus" ] || { echo "$name: no scratch corpus (run make fuzz first)"; return 0; }
	"$build/tests/fuzz/$name" -merge=1 -max_len="${max_len[$name]}" \
		"$src/tests/fuzz/corpus/$name" "$work/corpus" </dev/null >"$work/merge.log" 2>&1 ||
		{ report_failure "$name" "$work/merge.log"; return 1; }
	grep -E '^MERGE-OUTER: [0-9]+ new files' "$work/merge.log" | sed "s/^MERGE-OUTER:/$name:/"
}

failed=0
for name in "${targets[@]}"; do
	if [ -z "${max_len[$name]:-}" ]; then
		echo "unknown fuzz target '$name' (known: ${!max_len[*]})" >&2
		exit 2
	fi
	if [ "$mode" = merge ]; then
		merge_one "$name" || failed=1
	else
		fuzz_one "$name" || failed=1
	fi
done
exit "$failed"
