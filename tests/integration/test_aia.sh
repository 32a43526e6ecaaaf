#!/bin/sh
# Fixture for build/tests/test_aia: caIssuers fetching (AIA chasing) per
# client. A PKI made here with the openssl CLI (EC P-256, well under a
# second) and one `openssl s_server` per case serving the LEAF ONLY, so
# every chain misses its intermediate; an HTTP server on 127.0.0.1:$HTTP
# serves what the leaves' caIssuers URLs name. TW_PKI is the PKI (root.pem
# the one trusted anchor), TW_AIA_LOG the HTTP server's request log.
#
#   root -> int -> der, p7c, pem, e404, unreach, garbage, noaia, cache
#   root -> int -> int2 -> deep      (two intermediates to fetch)
#   root2 (untrusted, never served) -> loopint -> loop
#
# caIssuers of the leaves (http://127.0.0.1:$HTTP/...):
#   der int.der | p7c int.p7c (certs-only PKCS#7) | pem int.pem |
#   e404 missing.der (404) | unreach http://127.0.0.1:$UNUSED/int.der |
#   garbage garbage.bin | noaia: no AIA | cache cache.der (only the cache
#   test fetches it) | deep int2.der, and int2 names int-deep.der |
#   loop loopint.der, and loopint names loopint.der: itself |
#   slow http://127.0.0.1:$SILENT/int.der (accepts, never answers) |
#   wrong root2.der (a CA certificate, not the issuer) |
#   big big.der (int.der padded past the 64 KiB cap)
#
#   sh tests/integration/test_aia.sh build/tests/test_aia [CRITERION ARGS...]
set -u
bin=${1:?usage: test_aia.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"

command -v openssl >/dev/null || { echo "test_aia.sh: openssl not found" >&2; exit 1; }

tw_init
PKI=$TW_WORK/pki
WWW=$PKI/www
mkdir -p "$WWW"
tw_alloc_ports HTTP UNUSED SILENT DER P7C PEM E404 UNREACH GARBAGE NOAIA CACHE DEEP LOOP SLOW WRONG BIG

export OPENSSL_CONF=/dev/null
log=$PKI/mkpki.log
ossl() {
	openssl "$@" >>"$log" 2>&1 || { tail -20 "$log" >&2; tw_die "openssl $* failed"; }
}
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key"; }
serial=100
# cert NAME ISSUER CN EXT...: NAME.pem issued by ISSUER, 90 days
cert() {
	_n=$1 _i=$2 _cn=$3
	shift 3
	key "$_n"
	printf '%s\n' "$@" >"$PKI/$_n.ext"
	serial=$((serial + 1))
	ossl req -new -key "$PKI/$_n.key" -subj "/O=tlswatch test/CN=$_cn" -out "$PKI/$_n.csr"
	ossl x509 -req -in "$PKI/$_n.csr" -CA "$PKI/$_i.pem" -CAkey "$PKI/$_i.key" \
		-set_serial "$serial" -days 90 -sha256 -extfile "$PKI/$_n.ext" -out "$PKI/$_n.pem"
}
root() {
	key "$1"
	ossl req -x509 -new -key "$PKI/$1.key" -subj "/O=tlswatch test/CN=$2" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$PKI/$1.pem"
}
CA='basicConstraints=critical,CA:true'
KU_CA='keyUsage=critical,keyCertSign,cRLSign'
url() { echo "authorityInfoAccess=caIssuers;URI:http://127.0.0.1:$1/$2"; }
leaf() {  # NAME ISSUER [EXT...]
	_l=$1 _li=$2
	shift 2
	cert "$_l" "$_li" "$_l.tw.test" 'basicConstraints=critical,CA:false' \
		'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
		'subjectAltName=DNS:localhost,IP:127.0.0.1' "$@"
}

root root "tlswatch AIA Root CA"
root root2 "tlswatch AIA Untrusted Root CA"
cert int root "tlswatch AIA Intermediate CA" "$CA" "$KU_CA"
cert int2 int "tlswatch AIA Second Intermediate CA" "$CA" "$KU_CA" "$(url "$HTTP" int-deep.der)"
cert loopint root2 "tlswatch AIA Loop CA" "$CA" "$KU_CA" "$(url "$HTTP" loopint.der)"

leaf der int "$(url "$HTTP" int.der)"
leaf p7c int "$(url "$HTTP" int.p7c)"
leaf pem int "$(url "$HTTP" int.pem)"
leaf e404 int "$(url "$HTTP" missing.der)"
leaf unreach int "$(url "$UNUSED" int.der)"
leaf garbage int "$(url "$HTTP" garbage.bin)"
leaf noaia int
leaf cache int "$(url "$HTTP" cache.der)"
leaf deep int2 "$(url "$HTTP" int2.der)"
leaf loop loopint "$(url "$HTTP" loopint.der)"
leaf slow int "$(url "$SILENT" int.der)"
leaf wrong int "$(url "$HTTP" root2.der)"
leaf big int "$(url "$HTTP" big.der)"

ossl x509 -in "$PKI/int.pem" -outform DER -out "$WWW/int.der"
cp "$WWW/int.der" "$WWW/cache.der"
cp "$WWW/int.der" "$WWW/int-deep.der"
cp "$PKI/int.pem" "$WWW/int.pem"
ossl crl2pkcs7 -nocrl -certfile "$PKI/int.pem" -outform DER -out "$WWW/int.p7c"
ossl x509 -in "$PKI/int2.pem" -outform DER -out "$WWW/int2.der"
ossl x509 -in "$PKI/loopint.pem" -outform DER -out "$WWW/loopint.der"
ossl x509 -in "$PKI/root2.pem" -outform DER -out "$WWW/root2.der"
{ cat "$WWW/int.der"; head -c 70000 /dev/zero; } >"$WWW/big.der"
printf 'this is no certificate, just text a misconfigured server returns\n' >"$WWW/garbage.bin"

tw_start_silent silent "$SILENT"
tw_start http "$HTTP" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$HTTP"
for s in der p7c pem e404 unreach garbage noaia cache deep loop slow wrong big; do
	S=$(echo "$s" | tr a-z A-Z)
	eval "port=\$$S"
	# the leaf alone: the server omits its intermediate
	tw_start "srv_$s" "$port" openssl s_server -accept "127.0.0.1:$port" -www \
		-no-CAfile -no-CApath -no-CAstore -cert "$PKI/$s.pem" -key "$PKI/$s.key"
	export "TW_PORT_$S=$port"
done
tw_wait_ports 20

export TW_PKI="$PKI" TW_AIA_LOG="$TW_WORK/logs/http.log" TW_PORT_HTTP="$HTTP" TW_PORT_UNUSED_HTTP="$UNUSED"
export TW_BUILD="${TW_BUILD:-build}"
tw_run_watched 180 "$bin" "$@"
