#!/bin/sh
# Functions we do not use (curl's list, in spirit): unbounded copies and
# formatting, non-reentrant time and tokenising, unchecked number parsing.
# Checks every C source and header in the tree (all but build/), so a new
# directory is covered the day it appears. Prints each use and exits 1 when
# there is one.
set -u
cd "$(dirname "$0")/.."
pattern='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|atof|gmtime|localtime|gets|ctime|asctime)[[:space:]]*\('
files=$(find . -path ./build -prune -o -path ./.git -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print | sort)
if [ -z "$files" ]; then
	echo "check-banned: no C files found" >&2
	exit 1
fi
# shellcheck disable=SC2086
if grep -nE "$pattern" $files; then
	echo "check-banned: banned function used (see scripts/check-banned.sh)" >&2
	exit 1
fi
echo "check-banned: clean ($(echo "$files" | wc -l) files)"
