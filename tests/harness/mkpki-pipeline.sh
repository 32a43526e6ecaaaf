#!/bin/sh
# mkpki-pipeline.sh DIR [ID:REGION ...] - the mTLS material of the probe ->
# collector stream, made with the openssl CLI at test time (EC P-256, fast).
# It is a PKI of its own, separate from the targets' (mkpki.sh), as in a
# real deployment.
#
#   pipe-ca.pem / .key       CA of probes and collector
#   collector.pem / .key     server cert, SAN DNS:localhost IP:127.0.0.1
#   probe-ID.pem / .key      client cert, subject CN=ID, OU=REGION (the
#                            identity the collector trusts); defaults:
#                            probe-a:eu-west probe-b:us-east probe-c:ap-south
#   probe-noregion.pem/.key  CN=probe-x without OU (must be refused)
#   rogue-ca.pem/.key        another CA
#   rogue-probe-a.pem/.key   CN=probe-a OU=eu-west issued by rogue-ca (refused)
#   other-collector.pem/.key collector cert from rogue-ca (probe must refuse)
# Keys are 0600.
set -eu
dir=$1; shift
[ $# -gt 0 ] || set -- probe-a:eu-west probe-b:us-east probe-c:ap-south
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # NAME CN
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.pem" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# cert CA NAME SUBJECT EKU [SAN]
cert() {
	key "$2.key"
	openssl req -new -key "$2.key" -subj "$3" -out "$2.csr" 2>/dev/null
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=$4"
		[ -z "${5:-}" ] || echo "subjectAltName=$5"
	} >"$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial \
		-days 825 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
	rm -f "$2.csr" "$2.ext"
}

ca pipe-ca "tlswatch Test Pipeline CA"
ca rogue-ca "tlswatch Rogue CA"
cert pipe-ca collector "/CN=localhost" serverAuth "DNS:localhost,IP:127.0.0.1"
cert rogue-ca other-collector "/CN=localhost" serverAuth "DNS:localhost,IP:127.0.0.1"
for spec in "$@"; do
	id=${spec%%:*}; region=${spec#*:}
	cert pipe-ca "$id" "/OU=$region/CN=$id" clientAuth
done
cert pipe-ca probe-noregion "/CN=probe-x" clientAuth
cert rogue-ca rogue-probe-a "/OU=eu-west/CN=probe-a" clientAuth
chmod 0644 ./*.pem
