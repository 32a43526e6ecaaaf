#!/bin/sh
# Fixture for build/tests/test_addresses: every address behind a name, end
# to end. lb.tw.test is 127.0.0.1, 127.0.0.2 and ::1 in a loopback DNS server with a fixed zone
# (dns_zone.py); node a (lb-a.pem) listens on 127.0.0.1, node b (lb-b.pem,
# another certificate of the same name) on 127.0.0.2, nobody on ::1. Also
# a CRL-revoked leaf (mkpki-signals.sh, its CRL served over HTTP) on a
# server without session resumption. A private PostgreSQL and the stream
# PKI; the C test writes collector.yaml / probe.yaml and runs the daemons.
#
#   sh tests/integration/test_addresses.sh build/tests/test_addresses [CRITERION ARGS...]
#
# Exports TW_PKI (targets), TW_PIPE (stream), TW_BUILD, TW_PORT_{DNS,LB,
# CRL_REVOKED,COLLECTOR,HTTP,SILENT_DNS} and the TW_PG_* variables of pg.sh.
set -u
bin=${1:?usage: test_addresses.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_addresses.sh: openssl not found" >&2; exit 1; }

tw_init
PKI=$TW_WORK/pki
tw_alloc_ports PG COLL HTTP DNS LB CRLHTTP CRL_REVOKED UNUSED SILENT_DNS
sh "$here/mkpki-signals.sh" "$PKI" "$UNUSED" "$CRLHTTP" >/dev/null || tw_die "mkpki-signals.sh failed"
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" >/dev/null || tw_die "mkpki-pipeline.sh failed"

tw_start dns "$DNS" /usr/bin/python3 "$here/dns_zone.py" "$DNS" lb.tw.test=127.0.0.1,127.0.0.2,::1
tw_start lb_a "$LB" openssl s_server -accept "127.0.0.1:$LB" -www -quiet -no-CAfile -no-CApath \
	-no-CAstore -cert "$PKI/lb-a.pem" -key "$PKI/lb-a.key" -cert_chain "$PKI/lb-a-chain.pem"
tw_start lb_b - openssl s_server -accept "127.0.0.2:$LB" -www -quiet -no-CAfile -no-CApath \
	-no-CAstore -cert "$PKI/lb-b.pem" -key "$PKI/lb-b.key" -cert_chain "$PKI/lb-b-chain.pem"
tw_start crl_revoked "$CRL_REVOKED" openssl s_server -accept "127.0.0.1:$CRL_REVOKED" -www -quiet \
	-no-CAfile -no-CApath -no-CAstore -no_tls1_3 -no_ticket -no_cache \
	-cert "$PKI/crl-revoked.pem" -key "$PKI/crl-revoked.key" \
	-cert_chain "$PKI/crl-revoked-chain.pem"
tw_start crlhttp "$CRLHTTP" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$PKI/crl" "$CRLHTTP"
tw_pg_start "$PG"
tw_wait_ports 20
/usr/bin/python3 - "$LB" <<'PYEOF' || tw_die "node b (127.0.0.2) did not come up"
import socket, sys, time
deadline = time.monotonic() + 20
while True:
    try:
        socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=0.5).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.05)
PYEOF

export TW_PKI="$PKI" TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_DNS="$DNS" TW_PORT_LB="$LB" TW_PORT_CRL_REVOKED="$CRL_REVOKED"
export TW_PORT_COLLECTOR="$COLL" TW_PORT_HTTP="$HTTP"
# a UDP port with a bound socket that never answers: lookups stay pending
tw_start silent_dns - /usr/bin/python3 -c "import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
time.sleep(3600)" "$SILENT_DNS"
export TW_PORT_SILENT_DNS="$SILENT_DNS"
tw_run_watched 180 "$bin" --jobs 1 "$@"
