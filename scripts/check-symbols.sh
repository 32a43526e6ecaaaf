#!/bin/sh
# Every extern symbol carries its file's prefix: a function or variable that
# common/, probe/ or collector/ X_Y.c exports is named X_Y_... or X_...
# (the subsystem's prefix: db_pool.c exports db_*), so a reader finds its
# home from its name and no symbol sits in another library's namespace.
# Reads the objects of a build (nm), prints each offender, exit 1 if any.
#
#   scripts/check-symbols.sh [BUILD_DIR]     (default: build)
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
bad=0
n=0
for src in common/*.c probe/*.c collector/*.c; do
	stem=$(basename "$src" .c)
	obj="$B/obj/${src%.c}.o"
	[ -f "$obj" ] || { echo "check-symbols: $obj missing (build first)" >&2; exit 2; }
	fam=${stem%%_*}
	# main.c of each daemon exports main only
	for sym in $(nm -g --defined-only "$obj" | awk 'NF == 3 { print $3 }'); do
		n=$((n + 1))
		case "$sym" in
		"$stem"_* | "$fam"_* | "$stem" | main) ;;
		__odr_asan* | __asan* | __ubsan*) ;; # the sanitizers' own (SANITIZE=1)
		*) echo "check-symbols: $src exports $sym (want a ${fam}_ prefix)"; bad=1 ;;
		esac
	done
done
[ "$bad" -eq 0 ] && echo "check-symbols: clean ($n symbols)"
exit "$bad"
