#!/bin/sh
# make demo - the local demo. For now (until the collector exists) it
# generates a throwaway PKI, starts a set of deliberately defective TLS
# endpoints on 127.0.0.1 with openssl s_server, and runs
# `tlswatch-probe check` against each with a few client profiles.
# Everything started here is stopped when the script exits.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
B=${TW_BUILD:-build}
PROBE="$here/$B/tlswatch-probe"
. "$here/tests/harness/fixtures.sh"
tw_init

PKI="$TW_WORK/pki"
mkdir -p "$PKI"
tw_alloc_ports GOOD EXPIRED INCOMPLETE MISMATCH WEAK TLS1 SELF OCSPP DEADP
sh "$here/tests/harness/mkpki.sh" "$PKI" "$OCSPP" "$DEADP" >/dev/null || tw_die "PKI generation failed"

srv() {
	_n=$1 _p=$2; shift 2
	tw_start "$_n" "$_p" openssl s_server -accept "127.0.0.1:$_p" -www -quiet \
		-no-CAfile -no-CApath -no-CAstore "$@"
}
srv healthy    "$GOOD"       -cert "$PKI/good.pem" -key "$PKI/good.key" -cert_chain "$PKI/int.pem"
srv expired    "$EXPIRED"    -cert "$PKI/expired.pem" -key "$PKI/expired.key" -cert_chain "$PKI/int.pem"
srv no-intermediate "$INCOMPLETE" -cert "$PKI/good.pem" -key "$PKI/good.key"
srv wrong-name "$MISMATCH"   -cert "$PKI/other.pem" -key "$PKI/other.key" -cert_chain "$PKI/int.pem"
srv rsa1024    "$WEAK"       -cert "$PKI/rsa1024.pem" -key "$PKI/rsa1024.key" -cert_chain "$PKI/int.pem" \
	-cipher 'DEFAULT:@SECLEVEL=0'
srv tls10-only "$TLS1"       -cert "$PKI/good.pem" -key "$PKI/good.key" -cert_chain "$PKI/int.pem" \
	-tls1 -cipher 'DEFAULT:@SECLEVEL=0'
srv self-signed "$SELF"      -cert "$PKI/selfsigned.pem" -key "$PKI/selfsigned.key"
tw_wait_ports 20 || tw_die "demo endpoints did not start"

PROFILES='modern,intermediate,legacy,tls13,Android 4.4.2,Java 8u161,Chrome 101 (Win 10),Android 2.3.7'
show() {
	printf '\n\033[1m== %s  (127.0.0.1:%s, verifying as good.tw.test)\033[0m\n' "$1" "$2"
	"$PROBE" check --no-color --timeout 3 --ca-file "$PKI/root.pem" --profile "$PROFILES" \
		--connect-to "127.0.0.1:$2" good.tw.test:443
	echo "exit status: $?"
}
show "healthy endpoint"            "$GOOD"
show "expired leaf"                "$EXPIRED"
show "missing intermediate"        "$INCOMPLETE"
show "certificate for another name" "$MISMATCH"
show "RSA-1024 key"                "$WEAK"
show "TLS 1.0 only"                "$TLS1"
show "self-signed"                 "$SELF"
printf '\nOne endpoint as JSON Lines (what the daemon will stream):\n'
"$PROBE" check --json --ca-file "$PKI/root.pem" --connect-to "127.0.0.1:$EXPIRED" good.tw.test:443
echo
echo "demo: done (endpoints stopped). The collector, regions and dashboard come with later issues."
exit 0
