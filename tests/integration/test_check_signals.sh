#!/bin/sh
# Fixture for build/tests/test_check_signals: the detection PKI
# (tests/harness/mkpki-signals.sh, which documents it) and one
# `openssl s_server` per case on 127.0.0.1, exported as TW_PORT_<NAME>;
# TW_PKI is that PKI (so probe_check trusts its root.pem only).
#
#   sh tests/integration/test_check_signals.sh build/tests/test_check_signals [CRITERION ARGS...]
set -u
bin=${1:?usage: test_check_signals.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"

command -v openssl >/dev/null || { echo "test_check_signals.sh: openssl not found" >&2; exit 1; }

tw_init
PKI=$TW_WORK/pki

tw_alloc_ports GOOD NOTCA PATHLEN NC CRIT NOSAN OCSP_NONE \
	STAPLE_GOOD STAPLE_UNKNOWN STAPLE_WRONGCERT STAPLE_NOEKU STAPLE_FOREIGN \
	STAPLE_NOCERTS STAPLE_STALE UNUSED \
	RESUME13 RESUME13_NOTICKET RESUME12_TICKET RESUME12_ID RESUME12_NONE \
	LIFE47_20 LIFE47_10 \
	CRLHTTP CRL_GOOD CRL_REVOKED CRL_STALE CRL_WRONGSIGNER CRL_UNREACHABLE \
	DNS LB TLS10

# The OCSP URL in the ocsp-* leaves points at a port nobody listens on:
# these tests are about the staple alone.
sh "$here/mkpki-signals.sh" "$PKI" "$UNUSED" "$CRLHTTP" || tw_die "mkpki-signals.sh failed"

# srv NAME PORT LEAF [s_server options...]: serves LEAF-chain.pem
srv() {
	_n=$1 _p=$2 _leaf=$3
	shift 3
	tw_start "$_n" "$_p" openssl s_server -accept "127.0.0.1:$_p" -www \
		-no-CAfile -no-CApath -no-CAstore \
		-cert "$PKI/$_leaf.pem" -key "$PKI/$_leaf.key" -cert_chain "$PKI/$_leaf-chain.pem" "$@"
}

srv good    "$GOOD"    good
srv notca   "$NOTCA"   notca
srv pathlen "$PATHLEN" pathlen
srv nc      "$NC"      nc
srv crit    "$CRIT"    crit
srv nosan   "$NOSAN"   nosan
srv ocsp_none "$OCSP_NONE" ocsp-a
for s in good unknown wrongcert noeku foreign nocerts stale; do
	S=$(echo "$s" | tr a-z A-Z)
	eval "port=\$STAPLE_$S"
	srv "staple_$s" "$port" ocsp-a -status_file "$PKI/staple-$s.der"
	export "TW_PORT_STAPLE_$S=$port"
done

# resumption: TLS1.3 tickets; TLS1.3 without tickets (-num_tickets 0);
# TLS1.2 tickets; TLS1.2 session IDs (-no_ticket, the server's cache);
# TLS1.2 with neither (-no_ticket -no_cache)
srv resume13 "$RESUME13" good
srv resume13_noticket "$RESUME13_NOTICKET" good -num_tickets 0
srv resume12_ticket "$RESUME12_TICKET" good -no_tls1_3
srv resume12_id "$RESUME12_ID" good -no_tls1_3 -no_ticket
srv resume12_none "$RESUME12_NONE" good -no_tls1_3 -no_ticket -no_cache

srv tls10 "$TLS10" good -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
srv life47_20 "$LIFE47_20" life47-20
srv life47_10 "$LIFE47_10" life47-10

# CRLs: the crl-* leaves name http://127.0.0.1:$CRLHTTP/<file> (or UNUSED)
srv crl_good "$CRL_GOOD" crl-good
srv crl_revoked "$CRL_REVOKED" crl-revoked
srv crl_stale "$CRL_STALE" crl-stale
srv crl_wrongsigner "$CRL_WRONGSIGNER" crl-wrongsigner
srv crl_unreachable "$CRL_UNREACHABLE" crl-unreachable
tw_start crlhttp "$CRLHTTP" python3 -m http.server --bind 127.0.0.1 --directory "$PKI/crl" "$CRLHTTP"

# every address of a name: lb.tw.test is 127.0.0.1, 127.0.0.2 and ::1 in
# the loopback DNS server; node a on .1, node b (another certificate) on .2, and
# nobody on ::1
tw_start dns "$DNS" python3 "$here/dns_zone.py" "$DNS" lb.tw.test=127.0.0.1,127.0.0.2,::1
srv lb_a "$LB" lb-a
tw_start lb_b - openssl s_server -accept "127.0.0.2:$LB" -www -no-CAfile -no-CApath -no-CAstore \
	-cert "$PKI/lb-b.pem" -key "$PKI/lb-b.key" -cert_chain "$PKI/lb-b-chain.pem"

tw_wait_ports 20
python3 - "$LB" <<'PYEOF' || tw_die "node b (127.0.0.2) did not come up"
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

export TW_PKI="$PKI"
export TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_GOOD="$GOOD" TW_PORT_NOTCA="$NOTCA" TW_PORT_PATHLEN="$PATHLEN" TW_PORT_NC="$NC"
export TW_PORT_CRIT="$CRIT" TW_PORT_NOSAN="$NOSAN" TW_PORT_OCSP_NONE="$OCSP_NONE"
export TW_PORT_RESUME13="$RESUME13" TW_PORT_RESUME13_NOTICKET="$RESUME13_NOTICKET"
export TW_PORT_RESUME12_TICKET="$RESUME12_TICKET" TW_PORT_RESUME12_ID="$RESUME12_ID"
export TW_PORT_RESUME12_NONE="$RESUME12_NONE"
export TW_PORT_LIFE47_20="$LIFE47_20" TW_PORT_LIFE47_10="$LIFE47_10"
export TW_PORT_CRL_GOOD="$CRL_GOOD" TW_PORT_CRL_REVOKED="$CRL_REVOKED" TW_PORT_CRL_STALE="$CRL_STALE"
export TW_PORT_CRL_WRONGSIGNER="$CRL_WRONGSIGNER" TW_PORT_CRL_UNREACHABLE="$CRL_UNREACHABLE"
export TW_PORT_DNS="$DNS" TW_PORT_LB="$LB" TW_PORT_TLS10="$TLS10"

tw_run_watched 180 "$bin" "$@"
