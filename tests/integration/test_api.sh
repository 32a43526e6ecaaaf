#!/bin/sh
# Fixture for build/tests/test_api: a private PostgreSQL and two real
# `tlswatch-collector run` on it:
#   A  plain HTTP, write token from http.token_file, reads open
#   B  HTTPS (http.tls, the pipeline PKI's collector.pem, SAN 127.0.0.1),
#      write token from TLSWATCH_API_TOKEN, read token from http.read_token_file
# The C test seeds results through A's probe port (the real ingest path:
# results, rollups, targets, certificates) with the pipeline PKI's probes
# probe-a (eu-west), probe-b (us-east), probe-c (ap-south).
#
#   sh tests/integration/test_api.sh build/tests/test_api [CRITERION ARGS...]
#
# Exports to the test:
#   TW_COL_PORT, TW_HTTP_PORT        collector A: probe port, HTTP
#   TW_HTTPS_PORT                    collector B: HTTPS
#   TW_PIPE                          the pipeline PKI directory
#   TW_API_TOKEN, TW_API_READ_TOKEN  the tokens
#   TW_COLLECTOR, TW_CONFIG          the binary and A's config (status tests)
#   TW_OPENAPI, TW_SCHEMA_CHECK      collector/openapi.json, its validator
#   TW_WORK                          scratch directory
#   TW_PG_CONNINFO                   (pg.sh) the database
set -u
bin=${1:?usage: test_api.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_api.sh: $collector not built" >&2; exit 1; }
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
	{ echo "test_api.sh: python3-jsonschema missing (make deps installs it)" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP COL2 HTTPS

PIPE=$TW_WORK/pipe
sh "$here/mkpki-pipeline.sh" "$PIPE" >/dev/null || tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"

umask 077
printf 'w-%s\n' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$TW_WORK/write.token"
printf 'r-%s\n' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$TW_WORK/read.token"
umask 022
WTOKEN=$(cat "$TW_WORK/write.token")
RTOKEN=$(cat "$TW_WORK/read.token")

conf() {  # PROBE_PORT HTTP_PORT EXTRA_HTTP_LINES
	cat <<EOF2
listen: 127.0.0.1:$1
tls:
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/collector.pem
  key_file: $PIPE/collector.key
http:
  listen: 127.0.0.1:$2
$3
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 1
log:
  level: info
EOF2
}
conf "$COL" "$HTTP" "  token_file: $TW_WORK/write.token" >"$TW_WORK/collector.yaml"
conf "$COL2" "$HTTPS" "  read_token_file: $TW_WORK/read.token
  tls:
    cert_file: $PIPE/collector.pem
    key_file: $PIPE/collector.key" >"$TW_WORK/collector-b.yaml"

"$collector" migrate -c "$TW_WORK/collector.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 ||
	tw_die "tlswatch-collector migrate failed"

tw_start collector-a "$HTTP" "$collector" run -c "$TW_WORK/collector.yaml"
COLPID=$!
tw_start collector-b "$HTTPS" env TLSWATCH_API_TOKEN="$WTOKEN" "$collector" run -c "$TW_WORK/collector-b.yaml"
COL2PID=$!
tw_wait_ports 30

export TW_COL_PORT="$COL" TW_HTTP_PORT="$HTTP" TW_HTTPS_PORT="$HTTPS" TW_PIPE="$PIPE"
export TW_API_TOKEN="$WTOKEN" TW_API_READ_TOKEN="$RTOKEN" TW_COLLECTOR="$collector"
export TW_CONFIG="$TW_WORK/collector.yaml" TW_OPENAPI="$root/collector/openapi.json"
export TW_SCHEMA_CHECK="$root/tests/integration/api_schema_check.py" TW_WORK
tw_run_watched 240 "$bin" "$@"
rc=$?

# both stop cleanly with their API stores (exit 0; under SANITIZE=1 a leak
# or an error report would make them exit non-zero)
tw_stop_clean "test_api.sh: collector A" "$COLPID" 15 || rc=1
tw_stop_clean "test_api.sh: collector B" "$COL2PID" 15 || rc=1
exit $rc
