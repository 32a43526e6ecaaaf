#!/bin/sh
# Functions we do not use (curl's list, in spirit): unbounded copies and
# formatting, non-reentrant time and tokenising, unchecked number parsing.
# Prints each use and exits 1 when there is one.
set -u
cd "$(dirname "$0")/.."
pattern='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|atof|gmtime|localtime|gets|ctime|asctime)[[:space:]]*\('
if grep -nE "$pattern" common/*.c probe/*.c tests/harness/*.c tests/unit/*.c tests/integration/*.c bench/*.c 2>/dev/null; then
	echo "check-banned: banned function used (see scripts/check-banned.sh)" >&2
	exit 1
fi
echo "check-banned: clean"
