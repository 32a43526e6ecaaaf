#!/bin/sh
# pki.sh - the mTLS material between tlswatch probes and collectors, made
# with the openssl CLI. Run it on an offline admin machine; copy each host's
# directory to that host's /etc/tlswatch/. See `deploy/pki.sh --help`.
set -eu

PROG=pki.sh
DIR=${TW_PKI_DIR:-./tlswatch-pki}
CA_DAYS=3650
DAYS=397
RENEW=0
KEEP_KEY=0
SANS=""

usage() {
	cat <<'EOF'
usage: deploy/pki.sh [--dir DIR] COMMAND [ARGS] [OPTIONS]

The private CA of the probe -> collector stream and the certificates it
issues. The collector accepts a probe only with a client certificate from
this CA whose subject holds exactly one CN (the probe id) and one OU (its
region): that is the identity the results are stored under, whatever the
probe's config says. Probes check the collector's certificate against the
same CA and its name against collector.address.

commands:
  init                      create the CA (DIR/ca.pem, DIR/ca.key); an
                            existing CA is never overwritten
  collector NAME --san SAN [--san SAN ...]
                            server certificate for collector NAME; SAN is
                            DNS:host or IP:addr and must cover the host
                            probes dial (collector.address): with a load
                            balancer, its name. -> DIR/collectors/NAME/
  probe ID REGION           client certificate with CN=ID, OU=REGION
                            -> DIR/probes/ID/
  list                      every certificate with subject and expiry
  -h, --help                this text

options:
  --dir DIR         where the PKI lives (default $TW_PKI_DIR or ./tlswatch-pki)
  --days N          leaf lifetime in days (default 397)
  --ca-days N       CA lifetime in days (default 3650)
  --renew           re-issue an existing collector or probe certificate
                    (new key unless --keep-key); other certificates and the
                    CA are not touched
  --keep-key        with --renew: keep the existing key

Without --renew, issuing a certificate that exists with the same identity
does nothing (exit 0), and one with a different identity is refused: the
script can run again and again, and never replaces what it made by accident.

Each host's directory mirrors its /etc/tlswatch (file names of
deploy/collector.example.yaml and deploy/probe.example.yaml):
  collectors/NAME/  collector.pem  collector.key  probes-ca.pem
  probes/ID/        probe.pem      probe.key      ca.pem
Keys are ECDSA P-256 (mode 0600), certificates 0644; SHA-256 signatures;
random 128-bit serials. Names are 1-64 characters of [A-Za-z0-9._-].

Exit status: 0 done (or nothing to do), 1 openssl failed, 2 usage error or
refused.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }
fail() { echo "$PROG: $*" >&2; exit 1; }

check_name() { # WHAT VALUE
	case $2 in
	'' | *[!A-Za-z0-9._-]*) die "$1 \"$2\": use 1-64 characters of [A-Za-z0-9._-]" ;;
	esac
	[ ${#2} -le 64 ] || die "$1 \"$2\" is longer than 64 characters"
}

check_days() { # OPTION VALUE
	case $2 in
	'' | *[!0-9]* | 0*) die "$1 wants a positive number of days, not \"$2\"" ;;
	esac
}

check_san() {
	case $1 in
	DNS:?*) check_name "SAN" "${1#DNS:}" ;;
	IP:?*)
		case ${1#IP:} in
		*[!0-9a-fA-F.:]*) die "SAN \"$1\": not an IP address" ;;
		esac ;;
	*) die "SAN \"$1\": use DNS:name or IP:address" ;;
	esac
}

genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# The subject of a certificate in the -subj form we issue it with
# ("/O=tlswatch/OU=eu-west/CN=probe-1"), to compare with what we would issue.
subject_of() {
	openssl x509 -in "$1" -noout -subject -nameopt compat 2>/dev/null | sed 's/^subject=//'
}

# The subjectAltName of a certificate as openssl prints it
# ("DNS:a, IP Address:127.0.0.1").
sans_of() {
	openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed -n '2s/^ *//p'
}

# ---- CA ----

cmd_init() {
	if [ -e "$DIR/ca.key" ] || [ -e "$DIR/ca.pem" ]; then
		[ -e "$DIR/ca.key" ] && [ -e "$DIR/ca.pem" ] ||
			die "$DIR has half a CA (ca.pem or ca.key missing); refusing to touch it"
		echo "$PROG: CA exists: $DIR/ca.pem (not changed)"
		return 0
	fi
	mkdir -p "$DIR"
	tmp=$(mktemp -d "$DIR/.ca.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	genkey "$tmp/ca.key" || fail "could not generate the CA key"
	openssl req -x509 -new -sha256 -key "$tmp/ca.key" -days "$CA_DAYS" \
		-set_serial "$(serial)" -subj "/O=tlswatch/CN=tlswatch probe CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$tmp/ca.pem" 2>/dev/null || fail "could not create the CA certificate"
	chmod 0644 "$tmp/ca.pem"
	# the key last: a crash leaves no CA rather than a key without certificate
	mv "$tmp/ca.pem" "$DIR/ca.pem"
	mv "$tmp/ca.key" "$DIR/ca.key"
	rm -rf "$tmp"
	trap - EXIT
	echo "$PROG: CA created: $DIR/ca.pem (valid $CA_DAYS days; keep $DIR/ca.key offline)"
}

need_ca() {
	[ -f "$DIR/ca.pem" ] && [ -f "$DIR/ca.key" ] || die "no CA in $DIR: run \`$PROG --dir $DIR init\` first"
}

# ---- leaves ----

# issue OUTDIR BASENAME CAFILE_NAME SUBJECT EKU SAN_LIST
# Writes OUTDIR/BASENAME.pem + .key and OUTDIR/CAFILE_NAME, atomically per
# file, leaving every other directory alone.
issue() {
	out=$1 base=$2 cafile=$3 subj=$4 eku=$5 san=$6
	mkdir -p "$out"
	tmp=$(mktemp -d "$out/.issue.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	if [ "$KEEP_KEY" = 1 ]; then
		[ -f "$out/$base.key" ] || die "--keep-key: $out/$base.key does not exist"
		cp "$out/$base.key" "$tmp/$base.key"
	else
		genkey "$tmp/$base.key" || fail "could not generate a key"
	fi
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=$eku"
		echo "subjectKeyIdentifier=hash"
		echo "authorityKeyIdentifier=keyid"
		[ -z "$san" ] || echo "subjectAltName=$san"
	} >"$tmp/ext"
	openssl req -new -key "$tmp/$base.key" -subj "$subj" -out "$tmp/csr" 2>/dev/null ||
		fail "could not make a request for $subj"
	openssl x509 -req -sha256 -in "$tmp/csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
		-set_serial "$(serial)" -days "$DAYS" -extfile "$tmp/ext" \
		-out "$tmp/$base.pem" 2>/dev/null || fail "could not sign $subj"
	openssl verify -CAfile "$DIR/ca.pem" "$tmp/$base.pem" >/dev/null 2>&1 ||
		fail "the new certificate does not verify against $DIR/ca.pem"
	cp "$DIR/ca.pem" "$tmp/$cafile"
	chmod 0644 "$tmp/$base.pem" "$tmp/$cafile"
	chmod 0600 "$tmp/$base.key"
	# key first, then certificate: the pair on disk is briefly mismatched
	# rather than a new certificate next to the old key
	mv "$tmp/$base.key" "$out/$base.key"
	mv "$tmp/$base.pem" "$out/$base.pem"
	mv "$tmp/$cafile" "$out/$cafile"
	rm -rf "$tmp"
	trap - EXIT
	echo "$PROG: issued $out/$base.pem ($(subject_of "$out/$base.pem"); $DAYS days)"
}

unchanged() { echo "$PROG: $1 exists ($(subject_of "$1"); not changed; --renew re-issues it)"; }

# decide OUTDIR BASENAME WANTED_SUBJECT: 0 = issue, 1 = it exists with that
# subject (nothing to do); another subject is refused
decide() {
	cert=$1/$2.pem
	[ -e "$cert" ] || return 0
	[ "$RENEW" = 1 ] && return 0
	have=$(subject_of "$cert")
	[ "$have" = "$3" ] && return 1
	die "$cert exists for \"$have\", not \"$3\"; --renew replaces it"
}

cmd_collector() {
	[ $# -ge 1 ] || die "collector: NAME missing"
	name=$1; shift
	check_name "collector name" "$name"
	[ -n "$SANS" ] || die "collector $name: at least one --san (the name probes dial)"
	need_ca
	cn=${SANS%%,*}; cn=${cn#*:}
	out=$DIR/collectors/$name
	decide "$out" collector "/O=tlswatch/CN=$cn" || {
		# same subject: the names probes dial must be the same too
		have=$(sans_of "$out/collector.pem")
		want=$(echo "$SANS" | sed -e 's/IP:/IP Address:/g' -e 's/,/, /g')
		[ "$have" = "$want" ] ||
			die "$out/collector.pem names \"$have\", not \"$want\"; --renew replaces it"
		unchanged "$out/collector.pem"
		return 0
	}
	issue "$out" collector probes-ca.pem "/O=tlswatch/CN=$cn" serverAuth "$SANS"
}

cmd_probe() {
	[ $# -eq 2 ] || die "probe: ID and REGION wanted"
	check_name "probe id" "$1"
	check_name "region" "$2"
	need_ca
	out=$DIR/probes/$1
	decide "$out" probe "/O=tlswatch/OU=$2/CN=$1" || { unchanged "$out/probe.pem"; return 0; }
	issue "$out" probe ca.pem "/O=tlswatch/OU=$2/CN=$1" clientAuth ""
}

cmd_list() {
	need_ca
	for c in "$DIR/ca.pem" "$DIR"/collectors/*/collector.pem "$DIR"/probes/*/probe.pem; do
		[ -f "$c" ] || continue
		printf '%s\n  %s\n  %s\n' "${c#"$DIR"/}" "$(subject_of "$c")" \
			"$(openssl x509 -in "$c" -noout -enddate)"
	done
}

# ---- arguments ----

cmd=""
args=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--dir) [ $# -ge 2 ] || die "--dir wants a value"; DIR=$2; shift ;;
	--days) [ $# -ge 2 ] || die "--days wants a value"; check_days --days "$2"; DAYS=$2; shift ;;
	--ca-days) [ $# -ge 2 ] || die "--ca-days wants a value"; check_days --ca-days "$2"; CA_DAYS=$2; shift ;;
	--san) [ $# -ge 2 ] || die "--san wants a value"; check_san "$2"; SANS=${SANS:+$SANS,}$2; shift ;;
	--renew) RENEW=1 ;;
	--keep-key) KEEP_KEY=1 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*)
		if [ -z "$cmd" ]; then cmd=$1; else
			check_name "argument" "$1"
			args="$args $1"
		fi ;;
	esac
	shift
done
[ "$KEEP_KEY" = 0 ] || [ "$RENEW" = 1 ] || die "--keep-key only goes with --renew"
command -v openssl >/dev/null 2>&1 || fail "openssl not found"
umask 077

# shellcheck disable=SC2086 # args are checked names without spaces
case $cmd in
init) [ -z "$args" ] || die "init takes no arguments"; cmd_init ;;
collector) cmd_collector $args ;;
probe) cmd_probe $args ;;
list) cmd_list ;;
'') usage >&2; exit 2 ;;
*) die "unknown command \"$cmd\" (see --help)" ;;
esac
