#!/bin/sh
# mkpki.sh DIR [OCSP_PORT [DEAD_OCSP_PORT]] - a throwaway test PKI, made with
# the openssl CLI (3.0) at test time. Takes about a second.
#
# Trust: root.pem (RSA-2048) -> int.pem (RSA-2048) -> leaves. Every leaf
# NAME comes as NAME.pem (leaf only), NAME.key (0600) and, when it has an
# issuing intermediate, NAME-chain.pem (leaf + intermediate, for serving).
#
#   good             RSA-2048, SAN DNS:localhost IP:127.0.0.1 DNS:good.tw.test
#   good-ec          the same names, EC P-256
#   expired          validity ended yesterday (good's names)
#   notyet           validity starts in 30 days
#   under-expired-int  valid leaf issued by int-expired.pem (expired last year)
#   chain-soon       valid leaf (1 year) issued by int-soon.pem (60 days ago .. in 10 days)
#   other            SAN DNS:other.tw.test only
#   wildcard         SAN DNS:*.tw.test only
#   rsa1024          RSA-1024 key (good's names)
#   sha1             signed with sha1WithRSAEncryption (good's names)
#   expiring         from 60 days ago to in 10 days (good's names)
#   clientonly       EKU clientAuth only (good's names): bad_usage
#   selfsigned       self-signed, SAN localhost/127.0.0.1/good.tw.test, no chain
#   untrusted        issued by root2.pem (not trusted); -chain = leaf + root2
#   ocsp-good ocsp-revoked ocsp-slow ocsp-unknown
#                    good's names + AIA OCSP http://127.0.0.1:OCSP_PORT/
#                    (ocsp-revoked is revoked in int's database)
#   ocsp-dead        AIA OCSP http://127.0.0.1:DEAD_OCSP_PORT/
#   ocsp-responder   EKU OCSPSigning, issued by int; signs the responses
#   client-good client-untrusted client-expired client-expiring
#                    EKU clientAuth, CN=client.tw.test; issued by int, root2,
#                    int (ended yesterday), int (ends in 10 days); key client.key
#   client-wrong.key a key that matches none of the client certificates
#
# OCSP responses (DER, made by `openssl ocsp -index` without a server):
#   ocsp-good.der ocsp-revoked.der ocsp-slow.der (good) ocsp-unknown.der
#   ocsp-map.txt     "SERIAL_HEX RESPONSE_FILE DELAY_MS" per line, for the
#                    test OCSP responder (fixtures.sh)
# Also: ca-bundle.pem (root + int; servers verify client certs with it).
set -eu

dir=${1:?usage: mkpki.sh DIR [OCSP_PORT [DEAD_OCSP_PORT]]}
ocsp_port=${2:-9}
dead_port=${3:-$ocsp_port}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
cd "$dir"
export OPENSSL_CONF=/dev/null  # no system config: its seclevel must not matter

log=$dir/mkpki.log
: >"$log"
ossl() {
	if ! openssl "$@" >>"$log" 2>&1; then
		echo "mkpki: openssl $* failed:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
}

# Dates for `openssl ca -startdate/-enddate` (GeneralizedTime form).
d() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
NOW=$(d 'now - 1 hour')
PAST_START=$(d 'now - 60 days')
YESTERDAY=$(d 'now - 1 day')
IN_10_DAYS=$(d 'now + 10 days')
IN_30_DAYS=$(d 'now + 30 days')
IN_1_YEAR=$(d 'now + 365 days')
IN_2_YEARS=$(d 'now + 730 days')
IN_5_YEARS=$(d 'now + 1825 days')
LAST_YEAR_START=$(d 'now - 730 days')
LAST_YEAR_END=$(d 'now - 365 days')

cat >ext.cnf <<EOF
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_int ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf_rsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:good.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_ec ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:good.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_other ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_wildcard ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_clientonly ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:good.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_ocsp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:good.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$ocsp_port/

[ leaf_ocsp_dead ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:good.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$dead_port/

[ ocsp_signer ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:client.tw.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# A minimal `openssl ca` setup per CA: its own database, serial and config.
mkca_db() {  # NAME FIRST_SERIAL
	mkdir -p "ca-$1/new"
	: >"ca-$1/index.txt"
	echo "$2" >"ca-$1/serial"
	cat >"ca-$1/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
database = $dir/ca-$1/index.txt
serial = $dir/ca-$1/serial
new_certs_dir = $dir/ca-$1/new
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
organizationName = optional
EOF
}

rsa() { ossl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1"; }
ec() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# sign CA NAME KEY CN EXT START END [MD]: NAME.pem issued by CA
sign() {
	ossl req -new -key "$3" -subj "/O=tlswatch test/CN=$4" -out "$2.csr"
	ossl ca -config "ca-$1/ca.cnf" -batch -notext -cert "$1.pem" -keyfile "$1.key" \
		-in "$2.csr" -out "$2.pem" -extfile ext.cnf -extensions "$5" \
		-startdate "$6" -enddate "$7" -md "${8:-sha256}"
	rm -f "$2.csr"
}

# leaf CA NAME KEY CN EXT START END [MD]: a server leaf with NAME.key and NAME-chain.pem
leaf() {
	sign "$@"
	cp "$3" "$2.key"
	cat "$2.pem" "$1.pem" >"$2-chain.pem"
}

# --- keys (one RSA-2048 key serves most leaves; keys are not what we test)
rsa root.key 2048
rsa int.key 2048
rsa root2.key 2048
rsa leaf-rsa.key 2048
rsa client.key 2048
rsa client-wrong.key 2048
rsa leaf-1024.key 1024
ec int-expired.key
ec int-soon.key
ec leaf-ec.key
ec ocsp-responder.key

# --- CAs
ossl req -x509 -new -key root.key -subj "/O=tlswatch test/CN=tlswatch Test Root CA" \
	-days 3650 -sha256 -extensions v3_root -config ext.cnf -out root.pem
mkca_db root 1000
ossl req -x509 -new -key root2.key -subj "/O=tlswatch test/CN=tlswatch Untrusted Root CA" \
	-days 3650 -sha256 -extensions v3_root -config ext.cnf -out root2.pem
mkca_db root2 5000
sign root int int.key "tlswatch Test Intermediate CA" v3_int "$NOW" "$IN_5_YEARS"
mkca_db int 2000
sign root int-expired int-expired.key "tlswatch Expired Intermediate CA" v3_int \
	"$LAST_YEAR_START" "$LAST_YEAR_END"
mkca_db int-expired 3000
# started 60 days ago: 10 days left is within a third of its lifetime too
# (classify.c's expiring_soon window is the smaller of the two)
sign root int-soon int-soon.key "tlswatch Soon Expiring Intermediate CA" v3_int \
	"$PAST_START" "$IN_10_DAYS"
mkca_db int-soon 4000
cat root.pem int.pem >ca-bundle.pem

# --- server leaves
leaf int good leaf-rsa.key good.tw.test leaf_rsa "$NOW" "$IN_1_YEAR"
leaf int good-ec leaf-ec.key good-ec.tw.test leaf_ec "$NOW" "$IN_1_YEAR"
leaf int expired leaf-rsa.key expired.tw.test leaf_rsa "$PAST_START" "$YESTERDAY"
leaf int notyet leaf-rsa.key notyet.tw.test leaf_rsa "$IN_30_DAYS" "$IN_2_YEARS"
leaf int-expired under-expired-int leaf-rsa.key under-expired-int.tw.test leaf_rsa \
	"$NOW" "$IN_1_YEAR"
leaf int-soon chain-soon leaf-rsa.key chain-soon.tw.test leaf_rsa "$NOW" "$IN_1_YEAR"
leaf int other leaf-rsa.key other.tw.test leaf_other "$NOW" "$IN_1_YEAR"
leaf int wildcard leaf-rsa.key "*.tw.test" leaf_wildcard "$NOW" "$IN_1_YEAR"
leaf int rsa1024 leaf-1024.key rsa1024.tw.test leaf_rsa "$NOW" "$IN_1_YEAR"
leaf int sha1 leaf-rsa.key sha1.tw.test leaf_rsa "$NOW" "$IN_1_YEAR" sha1
leaf int expiring leaf-rsa.key expiring.tw.test leaf_rsa "$PAST_START" "$IN_10_DAYS"
leaf int clientonly leaf-rsa.key clientonly.tw.test leaf_clientonly "$NOW" "$IN_1_YEAR"
leaf root2 untrusted leaf-rsa.key untrusted.tw.test leaf_rsa "$NOW" "$IN_1_YEAR"
leaf int ocsp-good leaf-rsa.key ocsp-good.tw.test leaf_ocsp "$NOW" "$IN_1_YEAR"
leaf int ocsp-revoked leaf-rsa.key ocsp-revoked.tw.test leaf_ocsp "$NOW" "$IN_1_YEAR"
leaf int ocsp-slow leaf-rsa.key ocsp-slow.tw.test leaf_ocsp "$NOW" "$IN_1_YEAR"
leaf int ocsp-unknown leaf-rsa.key ocsp-unknown.tw.test leaf_ocsp "$NOW" "$IN_1_YEAR"
leaf int ocsp-dead leaf-rsa.key ocsp-dead.tw.test leaf_ocsp_dead "$NOW" "$IN_1_YEAR"
sign int ocsp-responder ocsp-responder.key "tlswatch Test OCSP Responder" ocsp_signer \
	"$NOW" "$IN_1_YEAR"

# Self-signed: no keyUsage (a keyUsage without keyCertSign would make OpenSSL
# treat it as not self-issued and report "unable to get local issuer").
ossl req -x509 -new -key leaf-rsa.key -subj "/O=tlswatch test/CN=selfsigned.tw.test" \
	-days 365 -sha256 -config /dev/null \
	-addext "basicConstraints=critical,CA:false" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:good.tw.test" \
	-addext "extendedKeyUsage=serverAuth" -out selfsigned.pem
cp leaf-rsa.key selfsigned.key

# --- client certificates (mTLS)
sign int client-good client.key client.tw.test client "$NOW" "$IN_1_YEAR"
sign root2 client-untrusted client.key client.tw.test client "$NOW" "$IN_1_YEAR"
sign int client-expired client.key client.tw.test client "$PAST_START" "$YESTERDAY"
sign int client-expiring client.key client.tw.test client "$NOW" "$IN_10_DAYS"

# --- OCSP: revoke one leaf, then pre-generate the responses
ossl ca -config ca-int/ca.cnf -cert int.pem -keyfile int.key \
	-revoke ocsp-revoked.pem -crl_reason keyCompromise
: >empty-index.txt
ocsp_resp() {  # LEAF INDEX OUT
	ossl ocsp -index "$2" -rsigner ocsp-responder.pem -rkey ocsp-responder.key \
		-CA int.pem -issuer int.pem -cert "$1.pem" -no_nonce -ndays 30 -respout "$3"
}
ocsp_resp ocsp-good ca-int/index.txt ocsp-good.der
ocsp_resp ocsp-revoked ca-int/index.txt ocsp-revoked.der
ocsp_resp ocsp-slow ca-int/index.txt ocsp-slow.der
ocsp_resp ocsp-unknown empty-index.txt ocsp-unknown.der

serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
{
	echo "$(serial ocsp-good.pem) $dir/ocsp-good.der 0"
	echo "$(serial ocsp-revoked.pem) $dir/ocsp-revoked.der 0"
	echo "$(serial ocsp-slow.pem) $dir/ocsp-slow.der 600"
	echo "$(serial ocsp-unknown.pem) $dir/ocsp-unknown.der 0"
} >ocsp-map.txt

chmod 0600 ./*.key
chmod 0644 ./*.pem ./*.der ocsp-map.txt
exit 0
