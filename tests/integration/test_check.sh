#!/bin/sh
# Fixture for build/tests/test_check: a test PKI and the TLS (and not-TLS)
# servers that `tlswatch-probe check` is run against, all on 127.0.0.1.
#
#   sh tests/integration/test_check.sh build/tests/test_check [CRITERION ARGS...]
#
# Exports TW_PKI (the PKI dir, see tests/harness/mkpki.sh) and one
# TW_PORT_<NAME> per server (listed below), runs the binary under a
# watchdog, returns its exit status, and tears everything down in a trap.
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints server logs.
set -u
bin=${1:?usage: test_check.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"

command -v openssl >/dev/null || { echo "test_check.sh: openssl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test_check.sh: python3 not found" >&2; exit 1; }

tw_init
PKI=$TW_WORK/pki

tw_alloc_ports \
	GOOD GOOD_EC REFUSED SILENT HTTP TLS1 TLS13 AES128SHA CBC MTLS13 MTLS12 \
	UNTRUSTED SELFSIGNED INCOMPLETE EXPIRED EXPIRED_INT NOTYET OTHER WILDCARD \
	RSA1024 SHA1 EXPIRING CHAIN_SOON BAD_USAGE STAPLE_GOOD STAPLE_REVOKED \
	OCSP_GOOD OCSP_REVOKED OCSP_SLOW OCSP_UNKNOWN OCSP_DEAD OCSP_RESPONDER \
	SNI SMTP PG

# The dead responder is the silent listener: TCP connects, no answer ever.
sh "$here/mkpki.sh" "$PKI" "$OCSP_RESPONDER" "$SILENT" || tw_die "mkpki.sh failed"

# srv NAME PORT LEAF [CHAIN|-] [s_server options...]: leaf LEAF.pem/LEAF.key
srv() {
	_n=$1 _p=$2 _leaf=$3 _chain=$4
	shift 4
	if [ "$_chain" = - ]; then
		set -- -cert "$PKI/$_leaf.pem" -key "$PKI/$_leaf.key" "$@"
	else
		set -- -cert "$PKI/$_leaf.pem" -key "$PKI/$_leaf.key" -cert_chain "$PKI/$_chain.pem" "$@"
	fi
	tw_start "$_n" "$_p" openssl s_server -accept "127.0.0.1:$_p" -www \
		-no-CAfile -no-CApath -no-CAstore "$@"
}
SEC0='DEFAULT:@SECLEVEL=0'

srv good        "$GOOD"        good    int
srv good_ec     "$GOOD_EC"     good-ec int
srv tls1        "$TLS1"        good    int -tls1 -cipher "$SEC0"
srv tls13       "$TLS13"       good    int -tls1_3
srv aes128sha   "$AES128SHA"   good    int -no_tls1_3 -cipher 'AES128-SHA:@SECLEVEL=0'
srv cbc         "$CBC"         good    int -no_tls1_3 \
	-cipher 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA:@SECLEVEL=0'
srv mtls13      "$MTLS13"      good    int -Verify 1 -verify_return_error -CAfile "$PKI/ca-bundle.pem"
srv mtls12      "$MTLS12"      good    int -Verify 1 -verify_return_error -CAfile "$PKI/ca-bundle.pem" \
	-no_tls1_3
srv untrusted   "$UNTRUSTED"   untrusted root2
srv selfsigned  "$SELFSIGNED"  selfsigned -
srv incomplete  "$INCOMPLETE"  good    -
srv expired     "$EXPIRED"     expired int
srv expired_int "$EXPIRED_INT" under-expired-int int-expired
srv notyet      "$NOTYET"      notyet  int
srv other       "$OTHER"       other   int
srv wildcard    "$WILDCARD"    wildcard int
srv rsa1024     "$RSA1024"     rsa1024 int -cipher "$SEC0"
srv sha1        "$SHA1"        sha1    int -cipher "$SEC0"
srv expiring    "$EXPIRING"    expiring int
srv chain_soon  "$CHAIN_SOON"  chain-soon int-soon
srv bad_usage   "$BAD_USAGE"   clientonly int
srv staple_good "$STAPLE_GOOD" ocsp-good int -status_file "$PKI/ocsp-good.der"
srv staple_revoked "$STAPLE_REVOKED" ocsp-revoked int -status_file "$PKI/ocsp-revoked.der"
srv ocsp_good   "$OCSP_GOOD"   ocsp-good int
srv ocsp_revoked "$OCSP_REVOKED" ocsp-revoked int
srv ocsp_slow   "$OCSP_SLOW"   ocsp-slow int
srv ocsp_unknown "$OCSP_UNKNOWN" ocsp-unknown int
srv ocsp_dead   "$OCSP_DEAD"   ocsp-dead int
# SNI: good.tw.test gets the good leaf, any other name (or none) the default
# "other" leaf. -build_chain with the bundle gives both leaves leaf+int+root.
srv sni         "$SNI"         other   - -servername good.tw.test \
	-cert2 "$PKI/good.pem" -key2 "$PKI/good.key" -CAfile "$PKI/ca-bundle.pem" -build_chain

tw_start_silent silent "$SILENT"
tw_start_ocsp ocsp_responder "$OCSP_RESPONDER" "$PKI/ocsp-map.txt"
mkdir -p "$TW_WORK/www"
tw_start http "$HTTP" python3 -m http.server --bind 127.0.0.1 --directory "$TW_WORK/www" "$HTTP"
tw_start smtp "$SMTP" python3 "$here/smtp_starttls.py" "$SMTP" "$PKI/good-chain.pem" "$PKI/good.key"

# PostgreSQL 15 with ssl=on, as the postgres user (it refuses to run as root).
PGBIN=$(pg_config --bindir 2>/dev/null)
[ -x "$PGBIN/initdb" ] || PGBIN=/usr/lib/postgresql/15/bin
if [ -x "$PGBIN/initdb" ]; then
	pgd=$TW_WORK/pg
	mkdir -p "$pgd"
	chmod 0711 "$TW_WORK"
	asuser=""
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$pgd" || tw_die "chown postgres failed"
		asuser="runuser -u postgres --"
	fi
	$asuser "$PGBIN/initdb" -D "$pgd/data" -A trust -U postgres --no-sync \
		>"$TW_WORK/logs/initdb.log" 2>&1 || tw_die "initdb failed"
	cp "$PKI/good-chain.pem" "$PKI/good.key" "$pgd/data/"
	[ -n "$asuser" ] && chown postgres "$pgd/data/good-chain.pem" "$pgd/data/good.key"
	chmod 0600 "$pgd/data/good.key"
	cat >>"$pgd/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG
unix_socket_directories = '$pgd'
ssl = on
ssl_cert_file = 'good-chain.pem'
ssl_key_file = 'good.key'
fsync = off
EOF
	: >"$TW_WORK/logs/postgres.log"
	[ -n "$asuser" ] && chown postgres "$TW_WORK/logs/postgres.log"
	tw_on_exit "$asuser $PGBIN/pg_ctl -D $pgd/data -m immediate stop"
	$asuser "$PGBIN/pg_ctl" -D "$pgd/data" -l "$TW_WORK/logs/postgres.log" -w -t 30 start \
		>"$TW_WORK/logs/pg_ctl.log" 2>&1 || tw_die "postgres did not start"
	rm -f "$TW_WORK/logs/initdb.log" "$TW_WORK/logs/pg_ctl.log"  # noise once it runs
else
	tw_log "no PostgreSQL (initdb) found: the postgres STARTTLS test will fail"
	PG=""
fi

tw_wait_ports 20

export TW_PKI="$PKI"
export TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_GOOD="$GOOD" TW_PORT_GOOD_EC="$GOOD_EC" TW_PORT_REFUSED="$REFUSED"
export TW_PORT_SILENT="$SILENT" TW_PORT_HTTP="$HTTP" TW_PORT_TLS1="$TLS1" TW_PORT_TLS13="$TLS13"
export TW_PORT_AES128SHA="$AES128SHA" TW_PORT_CBC="$CBC" TW_PORT_MTLS13="$MTLS13"
export TW_PORT_MTLS12="$MTLS12" TW_PORT_UNTRUSTED="$UNTRUSTED" TW_PORT_SELFSIGNED="$SELFSIGNED"
export TW_PORT_INCOMPLETE="$INCOMPLETE" TW_PORT_EXPIRED="$EXPIRED"
export TW_PORT_EXPIRED_INT="$EXPIRED_INT" TW_PORT_NOTYET="$NOTYET" TW_PORT_OTHER="$OTHER"
export TW_PORT_WILDCARD="$WILDCARD" TW_PORT_RSA1024="$RSA1024" TW_PORT_SHA1="$SHA1"
export TW_PORT_EXPIRING="$EXPIRING" TW_PORT_CHAIN_SOON="$CHAIN_SOON"
export TW_PORT_BAD_USAGE="$BAD_USAGE" TW_PORT_STAPLE_GOOD="$STAPLE_GOOD"
export TW_PORT_STAPLE_REVOKED="$STAPLE_REVOKED" TW_PORT_OCSP_GOOD="$OCSP_GOOD"
export TW_PORT_OCSP_REVOKED="$OCSP_REVOKED" TW_PORT_OCSP_SLOW="$OCSP_SLOW"
export TW_PORT_OCSP_UNKNOWN="$OCSP_UNKNOWN" TW_PORT_OCSP_DEAD="$OCSP_DEAD"
export TW_PORT_OCSP_RESPONDER="$OCSP_RESPONDER" TW_PORT_SNI="$SNI"
export TW_PORT_SMTP="$SMTP" TW_PORT_PG="$PG"

tw_run_watched 240 "$bin" "$@"
