#!/bin/sh
# Fixture for build/tests/test_ingest_bounds (issue 12, defect 3: memory per
# probe connection is bounded in bytes): a private PostgreSQL, the pipeline
# PKI and a real `tlswatch-collector run` with the default max_frame
# (4 MiB), all on 127.0.0.1; the C test plays probes, one of them hostile.
#
#   sh tests/integration/test_ingest_bounds.sh build/tests/test_ingest_bounds [ARGS...]
#
# Exports: TW_PIPE, TW_COL_PORT, TW_HTTP_PORT, TW_COLLECTOR_LOG,
# TW_COLLECTOR_PID (its /proc/PID/status is read), TW_MAX_FRAME,
# TW_PG_CONNINFO.
set -u
bin=${1:?usage: test_ingest_bounds.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_ingest_bounds.sh: openssl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test_ingest_bounds.sh: python3 not found" >&2; exit 1; }

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_ingest_bounds.sh: $collector not built" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP

PIPE=$TW_WORK/pipe
# One probe identity per test that streams, so parallel tests never
# supersede each other's connections.
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-a:eu-west probe-b:us-east probe-c:ap-south \
	>/dev/null || tw_die "mkpki-pipeline.sh failed"

tw_pg_start "$PG"

MAX_FRAME=4194304
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
  idle_timeout: 20s
  shutdown_timeout: 5s
  max_pending_rows: 1000
log:
  level: info
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
export TW_COLLECTOR_LOG="$TW_WORK/logs/collector.log" TW_BUILD="$build"
export TW_COLLECTOR_PID="$COLPID"

tw_run_watched 300 "$bin" "$@"
rc=$?

# Graceful stop: SIGTERM -> exit 0 within the shutdown timeout (5 s) + slack.
if tw_stop_clean "test_ingest_bounds.sh: collector" "$COLPID" 10; then
	if grep -q "shutdown complete" "$TW_COLLECTOR_LOG"; then
		echo "test_ingest_bounds.sh: collector stopped cleanly on SIGTERM"
	else
		echo "test_ingest_bounds.sh: no \"shutdown complete\" in the collector log" >&2
		rc=1
	fi
else
	rc=1
fi
exit $rc
