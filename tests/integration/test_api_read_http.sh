#!/bin/sh
# Fixture for build/tests/test_api_read_http: a private PostgreSQL and a
# real `tlswatch-collector run` with its HTTP API (write token from a file,
# an SLO file with evaluation every hour, so the evaluator runs once at start
# and never again during the test). The C test seeds rows with libpq and
# asks the API; every response it gets is recorded and, after the test,
# validated against collector/openapi.json (tests/integration/api_schema_check.py).
#
#   sh tests/integration/test_api_read_http.sh build/tests/test_api_read_http [CRITERION ARGS...]
#
# Exports: TW_HTTP_PORT, TW_API_TOKEN, TW_API_CASES (the JSONL of recorded
# responses), TW_PG_CONNINFO (pg.sh).
set -u
bin=${1:?usage: test_api_read_http.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_api_read_http.sh: $collector not built" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP
PIPE=$TW_WORK/pipe
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-a:eu-west >/dev/null || tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"

TOKEN=api2-write-token-$$
printf '%s\n' "$TOKEN" >"$TW_WORK/api.token"
chmod 0600 "$TW_WORK/api.token"
cat >"$TW_WORK/slos.yaml" <<EOF2
slos:
  - name: api-shop
    sli: availability
    objective: 99
    window: 1h
    selector: {service: svc-slo}
  - name: api-ghost
    description: selects nothing
    sli: latency
    threshold_ms: 300
    objective: 99.5
    window: 1d
    selector: {service: svc-nosuch}
EOF2
cat >"$TW_WORK/collector.yaml" <<EOF2
listen: 127.0.0.1:$COL
tls:
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/collector.pem
  key_file: $PIPE/collector.key
http:
  listen: 127.0.0.1:$HTTP
  token_file: $TW_WORK/api.token
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 1
alerting:
  slo_file: $TW_WORK/slos.yaml
  evaluation_interval: 1h
log:
  level: debug
EOF2
"$collector" migrate -c "$TW_WORK/collector.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 ||
	tw_die "tlswatch-collector migrate failed"
tw_start collector "$HTTP" "$collector" run -c "$TW_WORK/collector.yaml"
COLPID=$!
tw_wait_ports 30

export TW_HTTP_PORT="$HTTP" TW_API_TOKEN="$TOKEN" TW_API_CASES="$TW_WORK/cases.jsonl"
: >"$TW_API_CASES"
tw_run_watched 300 "$bin" "$@"
rc=$?

# every response the test saw, against the contract
if [ -s "$TW_API_CASES" ]; then
	/usr/bin/python3 "$root/tests/integration/api_schema_check.py" "$root/collector/openapi.json" \
		"$TW_API_CASES" >"$TW_WORK/logs/schema.log" 2>&1
	src=$?
	grep -v '^ok ' "$TW_WORK/logs/schema.log"
	[ $src -eq 0 ] || { echo "test_api_read_http.sh: responses do not match collector/openapi.json" >&2; rc=1; }
fi
tw_stop_clean "test_api_read_http.sh: collector" "$COLPID" 15 || rc=1
exit $rc
