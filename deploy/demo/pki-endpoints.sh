#!/bin/sh
# pki-endpoints.sh DIR - the demo's web PKI: what the demo's endpoints serve
# and what its probes trust. Made with the openssl CLI in about a second.
# (The probe -> collector mTLS material is deploy/pki.sh's job.)
#
# Trust: root.pem -> int.pem -> one leaf per endpoint, SAN DNS:NAME.demo.test:
#   www api tls10 tls13 mtls slow nochain   valid for a year (RSA-2048)
#   www-rotated    www's replacement (new key, new serial): the rotation event
#   shop           valid, ECDSA P-256
#   shop-legacy    also shop.demo.test, RSA: the stale backend one region is
#                  routed to (certificate drift between regions)
#   expiring       ends in 5 days of a 65-day life (the expiring_soon threshold
#                  is the stricter of 30 days and a third of the lifetime)
#   expired        ended yesterday
#   other          other.demo.test: served by wrongname.demo.test
#   revoked        revoked by int; AIA names an OCSP responder; revoked.der
#                  is the signed OCSP answer the server staples
#   client         clientAuth, CN=probe.demo.test: a client certificate from
#                  the CA the mTLS endpoint trusts (the demo's probes do not
#                  present it, so that endpoint reports client_cert_required)
# Files: NAME.pem, NAME.key (0600), int.pem, root.pem; stamp (creation time).
set -eu

dir=${1:?usage: pki-endpoints.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
cd "$dir"
export OPENSSL_CONF=/dev/null  # the system's seclevel and defaults must not matter

log=$dir/openssl.log
: >"$log"
ossl() {
	if ! openssl "$@" >>"$log" 2>&1; then
		echo "pki-endpoints: openssl $* failed:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
}
d() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
NOW=$(d 'now - 1 hour')
PAST=$(d 'now - 60 days')
YESTERDAY=$(d 'now - 1 day')
IN_5_DAYS=$(d 'now + 5 days')
IN_1_YEAR=$(d 'now + 365 days')
IN_5_YEARS=$(d 'now + 1825 days')

cat >ext.cnf <<'EOF'
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:${ENV::TW_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf_ocsp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:${ENV::TW_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = OCSP;URI:http://ocsp.demo.test/
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
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export TW_SAN=unused.demo.test

mkca_db() {  # NAME
	rm -rf "ca-$1"
	mkdir -p "ca-$1/new"
	: >"ca-$1/index.txt"
	openssl rand -hex 16 >"ca-$1/serial"
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
[ anything ]
commonName = supplied
organizationName = optional
EOF
}

rsa() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# sign NAME KEY CN EXT START END: NAME.pem issued by int, NAME.key a copy of KEY
sign() {
	TW_SAN=$3 ossl req -new -key "$2" -subj "/O=tlswatch demo/CN=$3" -out "$1.csr"
	TW_SAN=$3 ossl ca -config ca-int/ca.cnf -batch -notext -cert int.pem -keyfile int.key \
		-in "$1.csr" -out "$1.pem" -extfile ext.cnf -extensions "$4" -startdate "$5" -enddate "$6"
	rm -f "$1.csr"
	[ "$2" = "$1.key" ] || cp "$2" "$1.key"
}

rsa root.key
rsa int.key
rsa leaf.key
rsa www-rotated.key
ec shop.key
ec ocsp.key
ec client.key
ossl req -x509 -new -key root.key -subj "/O=tlswatch demo/CN=tlswatch Demo Root CA" \
	-days 3650 -sha256 -extensions v3_root -config ext.cnf -out root.pem
mkca_db root
TW_SAN=int ossl req -new -key int.key -subj "/O=tlswatch demo/CN=tlswatch Demo Intermediate CA" -out int.csr
TW_SAN=int ossl ca -config ca-root/ca.cnf -batch -notext -cert root.pem -keyfile root.key -in int.csr \
	-out int.pem -extfile ext.cnf -extensions v3_int -startdate "$NOW" -enddate "$IN_5_YEARS"
rm -f int.csr
mkca_db int

for n in www api tls10 tls13 mtls slow nochain; do
	sign "$n" leaf.key "$n.demo.test" leaf "$NOW" "$IN_1_YEAR"
done
sign www-rotated www-rotated.key www.demo.test leaf "$NOW" "$IN_1_YEAR"
sign shop shop.key shop.demo.test leaf "$NOW" "$IN_1_YEAR"
sign shop-legacy leaf.key shop.demo.test leaf "$PAST" "$IN_1_YEAR"
sign expiring leaf.key expiring.demo.test leaf "$PAST" "$IN_5_DAYS"
sign expired leaf.key expired.demo.test leaf "$PAST" "$YESTERDAY"
sign other leaf.key other.demo.test leaf "$NOW" "$IN_1_YEAR"
sign revoked leaf.key revoked.demo.test leaf_ocsp "$NOW" "$IN_1_YEAR"
sign ocsp-signer ocsp.key "tlswatch Demo OCSP Responder" ocsp_signer "$NOW" "$IN_1_YEAR"
sign client client.key probe.demo.test client "$NOW" "$IN_1_YEAR"

ossl ca -config ca-int/ca.cnf -cert int.pem -keyfile int.key -revoke revoked.pem \
	-crl_reason keyCompromise
ossl ocsp -index ca-int/index.txt -rsigner ocsp-signer.pem -rkey ocsp-signer.key \
	-CA int.pem -issuer int.pem -cert revoked.pem -no_nonce -ndays 30 -respout revoked.der
cat root.pem int.pem >ca-bundle.pem
chmod 0600 ./*.key
chmod 0644 ./*.pem revoked.der
date -u +%s >stamp
