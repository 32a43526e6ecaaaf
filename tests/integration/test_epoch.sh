#!/bin/sh
# Fixture for build/tests/test_epoch (issue 12: spool epochs, one live
# connection per probe identity): a private PostgreSQL, the pipeline PKI and
# a real `tlswatch-collector run`, all on 127.0.0.1; the C test acts as
# probes, and runs the real tlswatch-probe against closed ports (every
# attempt is a connect_refused result: results without target servers).
#
#   sh tests/integration/test_epoch.sh build/tests/test_epoch [CRITERION ARGS...]
#
# Exports to the test:
#   TW_PIPE            the PKI dir (pipe-ca.pem, probe-X.pem/.key, ...)
#   TW_COL_PORT        the collector's probe port (mutual TLS)
#   TW_HTTP_PORT       its /healthz /readyz /metrics port
#   TW_COLLECTOR_LOG   its log file
#   TW_MAX_FRAME       limits.max_frame in bytes
#   TW_PG_CONNINFO     (pg.sh) the database
#   TW_PORT_DEAD1..5   closed ports (targets of the real probe)
# After the test binary, the collector gets SIGTERM and must exit 0 within
# its shutdown timeout, logging "shutdown complete".
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints server logs.
set -u
bin=${1:?usage: test_epoch.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_epoch.sh: openssl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test_epoch.sh: python3 not found" >&2; exit 1; }

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_epoch.sh: $collector not built" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP DEAD1 DEAD2 DEAD3 DEAD4 DEAD5

PIPE=$TW_WORK/pipe
# One probe identity per test that streams, so parallel tests never
# supersede each other's connections.
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-a:eu-west probe-b:us-east probe-c:ap-south \
	probe-d:eu-west probe-e:us-east >/dev/null || tw_die "mkpki-pipeline.sh failed"

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
  idle_timeout: 20s
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
export TW_COLLECTOR_LOG="$TW_WORK/logs/collector.log" TW_BUILD="$build"
export TW_PORT_DEAD1="$DEAD1" TW_PORT_DEAD2="$DEAD2" TW_PORT_DEAD3="$DEAD3"
export TW_PORT_DEAD4="$DEAD4" TW_PORT_DEAD5="$DEAD5"

tw_run_watched 300 "$bin" "$@"
rc=$?

# Graceful stop: SIGTERM -> exit 0 within the shutdown timeout (5 s) + slack.
if tw_stop_clean "test_epoch.sh: collector" "$COLPID" 10; then
	if grep -q "shutdown complete" "$TW_COLLECTOR_LOG"; then
		echo "test_epoch.sh: collector stopped cleanly on SIGTERM"
	else
		echo "test_epoch.sh: no \"shutdown complete\" in the collector log" >&2
		rc=1
	fi
else
	rc=1
fi
exit $rc
