#!/bin/sh
# smoke.sh FUZZER... - `make fuzz-smoke`: runs each libFuzzer target for
# $FUZZ_SECONDS (default 30) under ASan/UBSan (the fuzz build has both),
# $FUZZ_JOBS (default 2) at a time, seeded from the committed corpus
# tests/fuzz/corpus/<target>/. New inputs go to a scratch directory, never
# into the committed corpus. Prints one line per target with its exec
# count; exit 1 when any target crashed, leaked or timed out (its log and
# the reproducer libFuzzer saved are kept and named).
set -u
secs=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tlswatch-fuzz.XXXXXX") || exit 1
fail=0

run_one() {  # BIN: runs in the background, writes $work/NAME.{log,rc}
	name=$(basename "$1")
	mkdir -p "$work/$name.new" "$work/$name.art"
	seeds="$here/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	"$1" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/$name.art/" "$work/$name.new" $seeds \
		>"$work/$name.log" 2>&1
	echo $? >"$work/$name.rc"
}

report() {  # BIN
	name=$(basename "$1")
	rc=$(cat "$work/$name.rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/$name.log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz %-14s ok    %10s execs in %ss (%s)\n' "$name" "${execs:-?}" "$secs" "${cov:-cov: ?}"
	else
		printf 'fuzz %-14s FAIL  exit %s after %s execs; log %s, reproducer in %s\n' \
			"$name" "$rc" "${execs:-?}" "$work/$name.log" "$work/$name.art"
		grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$work/$name.log" | head -20
		fail=1
	fi
}

set -- "$@"
while [ $# -gt 0 ]; do
	batch=""
	i=0
	while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
		[ -x "$1" ] || { echo "fuzz: $1 is not built (make fuzz)"; exit 1; }
		run_one "$1" &
		batch="$batch $1"
		i=$((i + 1))
		shift
	done
	wait
	for b in $batch; do
		report "$b"
	done
done
if [ $fail -eq 0 ]; then
	rm -rf "$work"
	echo "fuzz-smoke: all targets clean"
fi
exit $fail
