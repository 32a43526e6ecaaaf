#!/bin/sh
# mkpki-signals.sh DIR [OCSP_PORT [CRL_PORT]] - the PKI of the detection tests
# (tests/integration/test_check_signals.*), made with the openssl CLI (3.0)
# at test time; EC P-256 keys, so it takes well under a second.
#
# Trust: root.pem is the one trusted anchor; root2.pem is not trusted.
# Every leaf NAME comes as NAME.pem, NAME.key and NAME-chain.pem (leaf and
# the intermediates a server must send). Leaves name DNS:localhost and
# IP:127.0.0.1 unless said otherwise.
#
# Chains that reach root.pem but where a CA may not issue (chain_invalid):
#   notca     issued by notca-int.pem: basicConstraints CA:false (error 79)
#   pathlen   issued by sub-int.pem, a CA under int.pem (pathlen:0): error 25
#   nc        issued by nc-int.pem, permitted DNS:.allowed.test only: error 47
#   crit      issued by crit-int.pem, an unknown critical extension: error 34
#   good      issued by int.pem: verifies
#
# Names:
#   nosan     CN=localhost, no subjectAltName at all
#   lb-a, lb-b  two certificates for DNS:lb.tw.test (two nodes of one name)
#
# Expiry in a 47-day world (issued by int.pem, backdated with `openssl ca`):
#   life47-20  a 47-day certificate with 20 days left (27 days old)
#   life47-10  a 47-day certificate with 10 days left (37 days old)
#
# Stapled OCSP (every ocsp-* leaf names http://127.0.0.1:OCSP_PORT/ in its
# AIA; responses are DER files for `s_server -status_file`):
#   ocsp-a, ocsp-b           two leaves of int.pem
#   responder.pem            OCSPSigning delegate of int.pem
#   responder-noeku.pem      issued by int.pem, no OCSPSigning usage
#   responder-foreign.pem    OCSPSigning, issued by root2.pem
#   staple-good.der          ocsp-a good, signed by responder
#   staple-unknown.der       ocsp-a unknown (not in the responder's index)
#   staple-wrongcert.der     ocsp-b good: served with ocsp-a it is for
#                            another certificate
#   staple-noeku.der         ocsp-a good, signed by responder-noeku
#   staple-foreign.der       ocsp-a good, signed by responder-foreign
#   staple-nocerts.der       ocsp-a good, signed by responder but without
#                            its certificate: nothing to verify it with
#   staple-stale.der         ocsp-a good, signed by responder, thisUpdate
#                            10 days ago, nextUpdate 3 days ago (made with
#                            python3-cryptography: the CLI cannot backdate)
#
# CRLs (DER files in crl/, for an HTTP server on CRL_PORT; every crl-* leaf
# is issued by int.pem and names one distribution point):
#   crl-good         -> int-good.crl: current, lists nothing
#   crl-revoked      -> int-revoked.crl: current, lists crl-revoked
#   crl-stale        -> int-stale.crl: nextUpdate 3 days ago
#   crl-wrongsigner  -> root2.crl: issued and signed by root2, not int
#   crl-unreachable  -> http://127.0.0.1:OCSP_PORT/int.crl (nobody there)
set -eu

dir=${1:?usage: mkpki-signals.sh DIR [OCSP_PORT [CRL_PORT]]}
ocsp_port=${2:-9}
crl_port=${3:-9}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
cd "$dir"
export OPENSSL_CONF=/dev/null  # no system config: its seclevel must not matter

log=$dir/mkpki.log
: >"$log"
ossl() {
	if ! openssl "$@" >>"$log" 2>&1; then
		echo "mkpki-signals: openssl $* failed:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
}

key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
serial=4096
# cert NAME ISSUER CN EXT...: NAME.pem issued by ISSUER (its .pem/.key),
# valid from an hour ago for 90 days, one extension per EXT argument.
cert() {
	_n=$1 _i=$2 _cn=$3
	shift 3
	key "$_n"
	printf '%s\n' "$@" >"$_n.ext"
	serial=$((serial + 1))
	ossl req -new -key "$_n.key" -subj "/O=tlswatch test/CN=$_cn" -out "$_n.csr"
	ossl x509 -req -in "$_n.csr" -CA "$_i.pem" -CAkey "$_i.key" -set_serial "$serial" \
		-days 90 -sha256 -extfile "$_n.ext" -out "$_n.pem"
	rm -f "$_n.csr" "$_n.ext"
}
root() {  # NAME CN
	key "$1"
	ossl req -x509 -new -key "$1.key" -subj "/O=tlswatch test/CN=$2" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}
CA='basicConstraints=critical,CA:true'
KU_CA='keyUsage=critical,keyCertSign,cRLSign'
LEAF='basicConstraints=critical,CA:false'
KU_LEAF='keyUsage=critical,digitalSignature'
EKU='extendedKeyUsage=serverAuth'
SAN='subjectAltName=DNS:localhost,IP:127.0.0.1'
AIA="authorityInfoAccess=OCSP;URI:http://127.0.0.1:$ocsp_port/"
# leaf NAME ISSUER CHAIN_CERTS [EXT...]: a server leaf and NAME-chain.pem
leaf() {
	_l=$1 _li=$2 _lc=$3
	shift 3
	cert "$_l" "$_li" "$_l.tw.test" "$LEAF" "$KU_LEAF" "$EKU" "$@"
	cat "$_l.pem" $_lc >"$_l-chain.pem"
}

root root "tlswatch Signals Root CA"
root root2 "tlswatch Signals Untrusted Root CA"

cert int root "tlswatch Signals Intermediate CA" "$CA,pathlen:0" "$KU_CA"
cert notca-int root "tlswatch Not A CA" "$LEAF" "keyUsage=critical,digitalSignature,keyCertSign"
cert sub-int int "tlswatch Sub CA Beyond pathlen" "$CA" "$KU_CA"
cert nc-int root "tlswatch Name-Constrained CA" "$CA" "$KU_CA" \
	"nameConstraints=critical,permitted;DNS:.allowed.test"
cert crit-int root "tlswatch Critical-Extension CA" "$CA" "$KU_CA" \
	"1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:unknown"

leaf good int int.pem "$SAN"
leaf notca notca-int notca-int.pem "$SAN"
leaf pathlen sub-int "sub-int.pem int.pem" "$SAN"
leaf nc nc-int nc-int.pem "$SAN"
leaf crit crit-int crit-int.pem "$SAN"

# no subjectAltName: the name is only in the CN
cert nosan int localhost "$LEAF" "$KU_LEAF" "$EKU"
cat nosan.pem int.pem >nosan-chain.pem

# --- one name, two load-balancer nodes with different certificates
leaf lb-a int int.pem "subjectAltName=DNS:lb.tw.test"
leaf lb-b int int.pem "subjectAltName=DNS:lb.tw.test"

# --- lifetimes: `openssl x509 -req` cannot backdate, `openssl ca` can
mkdir -p ca-int/new
: >ca-int/index.txt
echo 8000 >ca-int/serial
cat >ca-int/ca.cnf <<EOF
[ ca ]
default_ca = this
[ this ]
database = $dir/ca-int/index.txt
serial = $dir/ca-int/serial
new_certs_dir = $dir/ca-int/new
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EOF
d() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
aged() {  # NAME AGE_DAYS LEFT_DAYS
	key "$1"
	ossl req -new -key "$1.key" -subj "/O=tlswatch test/CN=$1.tw.test" -out "$1.csr"
	ossl ca -config ca-int/ca.cnf -batch -notext -cert int.pem -keyfile int.key -in "$1.csr" \
		-out "$1.pem" -extensions leaf -startdate "$(d "now - $2 days")" \
		-enddate "$(d "now + $3 days")"
	rm -f "$1.csr"
	cat "$1.pem" int.pem >"$1-chain.pem"
}
aged life47-20 27 20
aged life47-10 37 10

# --- CRLs (served over HTTP from crl/ by the fixture; CRL_PORT names it)
mkdir -p crl
cdp() { echo "crlDistributionPoints=URI:http://127.0.0.1:$1/$2"; }
leaf crl-good int int.pem "$SAN" "$(cdp "$crl_port" int-good.crl)"
leaf crl-revoked int int.pem "$SAN" "$(cdp "$crl_port" int-revoked.crl)"
leaf crl-stale int int.pem "$SAN" "$(cdp "$crl_port" int-stale.crl)"
leaf crl-wrongsigner int int.pem "$SAN" "$(cdp "$crl_port" root2.crl)"
leaf crl-unreachable int int.pem "$SAN" "$(cdp "$ocsp_port" int.crl)"
gencrl() {  # CA OUT [ca options...]
	_c=$1 _o=$2
	shift 2
	ossl ca -config ca-int/ca.cnf -gencrl -cert "$_c.pem" -keyfile "$_c.key" -out "$_o.pem" "$@"
	ossl crl -in "$_o.pem" -outform DER -out "crl/$_o"
	rm -f "$_o.pem"
}
gencrl int int-good.crl -crldays 7
gencrl int int-stale.crl -crl_lastupdate "$(d 'now - 10 days')" -crl_nextupdate "$(d 'now - 3 days')"
ossl ca -config ca-int/ca.cnf -cert int.pem -keyfile int.key -revoke crl-revoked.pem \
	-crl_reason keyCompromise
gencrl int int-revoked.crl -crldays 7
# root2's CRL at a place where int's belongs: not the issuer's
gencrl root2 root2.crl -crldays 7

# --- OCSP
leaf ocsp-a int int.pem "$SAN" "$AIA"
leaf ocsp-b int int.pem "$SAN" "$AIA"
cert responder int "tlswatch Signals OCSP Responder" "$LEAF" "$KU_LEAF" \
	"extendedKeyUsage=critical,OCSPSigning"
cert responder-noeku int "tlswatch Signals Not A Responder" "$LEAF" "$KU_LEAF"
cert responder-foreign root2 "tlswatch Foreign OCSP Responder" "$LEAF" "$KU_LEAF" \
	"extendedKeyUsage=critical,OCSPSigning"

# `openssl ocsp -index` reads the CA database format: status, expiry,
# revocation date, serial (hex), file, subject.
idx() {
	_s=$(openssl x509 -in "$1.pem" -noout -serial | sed 's/^serial=//')
	_e=$(date -u -d '+90 days' +%y%m%d%H%M%SZ)
	printf 'V\t%s\t\t%s\tunknown\t/O=tlswatch test/CN=%s.tw.test\n' "$_e" "$_s" "$1"
}
{ idx ocsp-a; idx ocsp-b; } >index.txt
: >empty-index.txt
resp() {  # LEAF INDEX SIGNER OUT [ocsp options...]
	_rl=$1 _ri=$2 _rs=$3 _ro=$4
	shift 4
	ossl ocsp -index "$_ri" -rsigner "$_rs.pem" -rkey "$_rs.key" -CA int.pem \
		-issuer int.pem -cert "$_rl.pem" -no_nonce -ndays 7 -respout "$_ro" "$@"
}
resp ocsp-a index.txt responder staple-good.der
resp ocsp-a empty-index.txt responder staple-unknown.der
resp ocsp-b index.txt responder staple-wrongcert.der
resp ocsp-a index.txt responder-noeku staple-noeku.der
resp ocsp-a index.txt responder-foreign staple-foreign.der
resp ocsp-a index.txt responder staple-nocerts.der -resp_no_certs

/usr/bin/python3 - ocsp-a.pem int.pem responder.pem responder.key staple-stale.der <<'EOF'
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
leaf, issuer, signer = (x509.load_pem_x509_certificate(open(p, "rb").read()) for p in sys.argv[1:4])
key = serialization.load_pem_private_key(open(sys.argv[4], "rb").read(), None)
now = datetime.datetime.utcnow()
b = ocsp.OCSPResponseBuilder().add_response(
    cert=leaf, issuer=issuer, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
    this_update=now - datetime.timedelta(days=10), next_update=now - datetime.timedelta(days=3),
    revocation_time=None, revocation_reason=None,
).responder_id(ocsp.OCSPResponderEncoding.HASH, signer).certificates([signer])
open(sys.argv[5], "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
EOF

chmod 0600 ./*.key
chmod 0644 ./*.pem ./*.der
exit 0
