#!/bin/sh
# Fixture for build/tests/test_pipeline: the whole pipeline for real -
# target TLS servers (openssl s_server, test PKI), a private PostgreSQL, and
# the mTLS material of the probe -> collector stream. The C test writes the
# probe.yaml / collector.yaml files and starts, kills and restarts
# tlswatch-probe and tlswatch-collector itself (fault tests).
#
# Exports: TW_PKI (targets' PKI), TW_PIPE (stream PKI), TW_PORT_{GOOD,EXPIRED,
# INCOMPLETE,OTHER,REFUSED}, TW_PORT_COLLECTOR{,2}, TW_PORT_HTTP{,2}, and the
# TW_PG_* variables of tests/harness/pg.sh.
set -u
bin=${1:?usage: test_pipeline.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
PKI=$TW_WORK/pki
tw_alloc_ports GOOD EXPIRED INCOMPLETE OTHER REFUSED COLL COLL2 HTTP HTTP2 PG OCSP DEAD
sh "$here/mkpki.sh" "$PKI" "$OCSP" "$DEAD" >/dev/null || tw_die "mkpki.sh failed"
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" || tw_die "mkpki-pipeline.sh failed"

srv() {  # NAME PORT LEAF [CHAIN|-]
	if [ "$4" = - ]; then
		tw_start "$1" "$2" openssl s_server -accept "127.0.0.1:$2" -www -quiet \
			-no-CAfile -no-CApath -no-CAstore -cert "$PKI/$3.pem" -key "$PKI/$3.key"
	else
		tw_start "$1" "$2" openssl s_server -accept "127.0.0.1:$2" -www -quiet \
			-no-CAfile -no-CApath -no-CAstore -cert "$PKI/$3.pem" -key "$PKI/$3.key" \
			-cert_chain "$PKI/$4.pem"
	fi
}
srv good       "$GOOD"       good    int
srv expired    "$EXPIRED"    expired int
srv incomplete "$INCOMPLETE" good    -
srv other      "$OTHER"      other   int

tw_pg_start "$PG"
tw_wait_ports 20

export TW_PKI="$PKI" TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_GOOD="$GOOD" TW_PORT_EXPIRED="$EXPIRED" TW_PORT_INCOMPLETE="$INCOMPLETE"
export TW_PORT_OTHER="$OTHER" TW_PORT_REFUSED="$REFUSED"
export TW_PORT_COLLECTOR="$COLL" TW_PORT_COLLECTOR2="$COLL2"
export TW_PORT_HTTP="$HTTP" TW_PORT_HTTP2="$HTTP2"

# one test at a time: they share the collector ports and one stops PostgreSQL
tw_run_watched 600 "$bin" --jobs 1 "$@"
