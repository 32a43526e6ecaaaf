#!/bin/sh
# Fixture for build/tests/test_ingest: a private PostgreSQL, the pipeline
# PKI (mkpki-pipeline.sh) and a real `tlswatch-collector run`, all on
# 127.0.0.1; the C test acts as probes (and as misbehaving clients).
#
#   sh tests/integration/test_ingest.sh build/tests/test_ingest [CRITERION ARGS...]
#
# Exports to the test:
#   TW_PIPE            the PKI dir (pipe-ca.pem, probe-X.pem/.key, ...)
#   TW_COL_PORT        the collector's probe port (mutual TLS)
#   TW_HTTP_PORT       its /healthz /readyz /metrics port
#   TW_COLLECTOR_LOG   its log file
#   TW_MAX_FRAME       limits.max_frame in bytes
#   TW_PG_CONNINFO     (pg.sh) the database
# After the test binary, the collector gets SIGTERM and must exit 0 within
# its shutdown timeout, logging "shutdown complete".
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints server logs.
set -u
bin=${1:?usage: test_ingest.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_ingest.sh: openssl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test_ingest.sh: python3 not found" >&2; exit 1; }

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_ingest.sh: $collector not built" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP

PIPE=$TW_WORK/pipe
# One probe identity per test that streams, so parallel tests never
# supersede each other's connections.
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-a:eu-west probe-b:us-east probe-c:ap-south \
	probe-d:eu-west probe-e:us-east probe-f:eu-west probe-g:ap-south probe-h:us-east probe-i:ap-south \
	>/dev/null || tw_die "mkpki-pipeline.sh failed"

tw_pg_start "$PG"

MAX_FRAME=65536
cat >"$TW_WORK/collector.yaml" <<EOF
listen: 127.0.0.1:$COL
tls:
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/collector.pem
  key_file: $PIPE/collector.key
http:
  listen: 127.0.0.1:$HTTP
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 2
retention_days: 7
partitions_ahead_days: 2
limits:
  max_frame: $MAX_FRAME
  hello_timeout: 2s
  idle_timeout: 4s
  shutdown_timeout: 5s
  max_pending_rows: 1000
log:
  level: debug
EOF

"$collector" run -c "$TW_WORK/collector.yaml" --check-config \
	>"$TW_WORK/logs/check-config.log" 2>&1 || tw_die "run --check-config failed"
"$collector" migrate -c "$TW_WORK/collector.yaml" \
	>"$TW_WORK/logs/migrate.log" 2>&1 || tw_die "tlswatch-collector migrate failed"

tw_start collector "$COL" "$collector" run -c "$TW_WORK/collector.yaml"
COLPID=$!
TW_WAIT="$TW_WAIT collector-http:$HTTP:$COLPID"  # its HTTP port too
tw_wait_ports 20

export TW_PIPE="$PIPE" TW_COL_PORT="$COL" TW_HTTP_PORT="$HTTP" TW_MAX_FRAME="$MAX_FRAME"
export TW_COLLECTOR_LOG="$TW_WORK/logs/collector.log"

tw_run_watched 180 "$bin" "$@"
rc=$?

# Graceful stop: SIGTERM -> exit 0 within the shutdown timeout (5 s) + slack.
if tw_stop_clean "test_ingest.sh: collector" "$COLPID" 10; then
	if grep -q "shutdown complete" "$TW_COLLECTOR_LOG"; then
		echo "test_ingest.sh: collector stopped cleanly on SIGTERM"
	else
		echo "test_ingest.sh: no \"shutdown complete\" in the collector log" >&2
		rc=1
	fi
else
	rc=1
fi
exit $rc
