#!/bin/sh
# Runs test binaries and prints one closing line "N passed, N failed".
# A binary build/tests/NAME with a fixture script tests/*/NAME.sh is run
# through it: the script starts the real servers the tests need, runs the
# binary, and tears everything down in a trap.
# Exit status: 0 only when every test passed.
set -u
# Under SANITIZE=1 a sanitizer report must never pass for an expected exit 1.
export ASAN_OPTIONS="${ASAN_OPTIONS:-exitcode=99:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:exitcode=98:print_stacktrace=1}"
passed=0; failed=0; bad_bins=""
for bin in "$@"; do
	name=$(basename "$bin")
	fixture=""
	for d in tests/unit tests/integration; do
		[ -f "$d/$name.sh" ] && fixture="$d/$name.sh"
	done
	echo "=== $name"
	out=$(mktemp)
	if [ -n "$fixture" ]; then
		sh "$fixture" "$bin" >"$out" 2>&1; rc=$?
	else
		"$bin" >"$out" 2>&1; rc=$?
	fi
	cat "$out"
	# Criterion: "[====] Synthesis: Tested: 12 | Passing: 12 | Failing: 0 | Crashing: 0"
	syn=$(grep 'Synthesis:' "$out" | tail -1)
	# A sanitizer report inside a Criterion worker (or a daemon the test ran)
	# does not always change an exit status: LeakSanitizer's does not. The
	# report text is what counts.
	san=$(grep -c -E 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$out")
	rm -f "$out"
	if [ "$san" -gt 0 ]; then
		echo "!!! $name: $san sanitizer report(s) above"
		failed=$((failed + 1)); bad_bins="$bad_bins $name"
	fi
	if [ -z "$syn" ]; then
		echo "!!! $name produced no Criterion synthesis (exit $rc)"
		failed=$((failed + 1)); bad_bins="$bad_bins $name"; continue
	fi
	p=$(echo "$syn" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
	f=$(echo "$syn" | sed -n 's/.*Failing: *\([0-9]*\).*/\1/p')
	c=$(echo "$syn" | sed -n 's/.*Crashing: *\([0-9]*\).*/\1/p')
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { failed=$((failed + 1)); }
	[ "$rc" -ne 0 ] && bad_bins="$bad_bins $name"
done
[ -n "$bad_bins" ] && echo "failing binaries:$bad_bins"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
