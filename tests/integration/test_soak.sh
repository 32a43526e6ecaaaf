#!/bin/sh
# Fixture for build/tests/test_soak: four loopback TLS targets (openssl
# s_server, test PKI), a private PostgreSQL and the probe -> collector mTLS
# material (probe-a, probe-b, probe-c). The C test starts, kills and
# restarts tlswatch-collector, tlswatch-probe and PostgreSQL itself.
#
# Exports: TW_PKI, TW_PIPE, TW_PORT_{GOOD,EXPIRED,INCOMPLETE,OTHER},
# TW_PORT_COLLECTOR, TW_PORT_HTTP, the TW_PG_* variables of
# tests/harness/pg.sh, and TW_PG_KILL (pg_ctl stop -m immediate: a crash).
# TW_SOAK_SECONDS / TW_SOAK_SEED / TW_SOAK_ROUNDS pass through (`make soak`).
set -u
bin=${1:?usage: test_soak.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
PKI=$TW_WORK/pki
tw_alloc_ports GOOD EXPIRED INCOMPLETE OTHER COLL HTTP PG OCSP DEAD
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
TW_PG_KILL="$TW_PG_AS $TW_PGBIN/pg_ctl -D $TW_WORK/pg/data -m immediate -w stop"

export TW_PKI="$PKI" TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}" TW_PG_KILL
export TW_PORT_GOOD="$GOOD" TW_PORT_EXPIRED="$EXPIRED" TW_PORT_INCOMPLETE="$INCOMPLETE"
export TW_PORT_OTHER="$OTHER" TW_PORT_COLLECTOR="$COLL" TW_PORT_HTTP="$HTTP"

tw_run_watched "$((${TW_SOAK_SECONDS:-0} + 900))" "$bin" --jobs 1 "$@"
