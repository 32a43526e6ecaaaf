#!/bin/sh
# Fixture for build/tests/test_dashboard: a private PostgreSQL, a real
# `tlswatch-collector run` serving the dashboard and the JSON API on its
# HTTP port, and Debian's chromium (headless) for the C test to drive. The
# C test seeds the database (tests/integration/dash_env.h) through the real
# ingest statement, then loads the page.
#
#   sh tests/integration/test_dashboard.sh build/tests/test_dashboard [CRITERION ARGS...]
#
# Exports to the test:
#   TW_HTTP_PORT     the collector's HTTP port (dashboard, /api/v1)
#   TW_HTTP_TOKEN_PORT  a second collector (same database) whose API reads
#                    need the token "dashboard-read-token"
#   TW_PG_CONNINFO   (pg.sh) the database the collector uses
#   TW_CHROMIUM      the browser
#   TW_ARTIFACTS     where screenshots go (default build/artifacts/dashboard;
#                    set it to keep them elsewhere); the test prints each path
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints server logs.
set -u
bin=${1:?usage: test_dashboard.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_dashboard.sh: $collector not built" >&2; exit 1; }
chromium=$(command -v chromium || command -v chromium-browser) ||
	{ echo "test_dashboard.sh: chromium not found (make deps installs it)" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL HTTP COL2 HTTP2

PIPE=$TW_WORK/pipe
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-a:eu-west >/dev/null || tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"

cat >"$TW_WORK/collector.yaml" <<EOF2
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
alerting:
  slo_file: $TW_WORK/slos.yaml
log:
  level: info
EOF2
# two SLOs for the executive view's error budget panel
cat >"$TW_WORK/slos.yaml" <<EOF2
slos:
  - name: shop-availability
    sli: availability
    objective: 99.9
    window: 30d
    selector:
      service: shop
  - name: api-latency
    sli: latency
    threshold_ms: 100
    objective: 99
    window: 7d
    selector:
      service: api
EOF2
"$collector" migrate -c "$TW_WORK/collector.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 ||
	tw_die "tlswatch-collector migrate failed"

# a second collector on the same database whose API needs a read token
printf 'dashboard-read-token\n' >"$TW_WORK/read.token"
chmod 600 "$TW_WORK/read.token"
cat >"$TW_WORK/collector-token.yaml" <<EOF2
listen: 127.0.0.1:$COL2
tls:
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/collector.pem
  key_file: $PIPE/collector.key
http:
  listen: 127.0.0.1:$HTTP2
  read_token_file: $TW_WORK/read.token
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 1
log:
  level: info
EOF2

tw_start collector "$HTTP" "$collector" run -c "$TW_WORK/collector.yaml"
COLPID=$!
tw_start collector-token "$HTTP2" "$collector" run -c "$TW_WORK/collector-token.yaml"
COL2PID=$!
tw_wait_ports 30

art=${TW_ARTIFACTS:-$build/artifacts/dashboard}
mkdir -p "$art" || tw_die "cannot create $art"
TW_ARTIFACTS=$(cd "$art" && pwd)
export TW_HTTP_PORT="$HTTP" TW_HTTP_TOKEN_PORT="$HTTP2" TW_CHROMIUM="$chromium" TW_ARTIFACTS
tw_run_watched 300 "$bin" --jobs 1 "$@"
rc=$?

tw_stop_clean "test_dashboard.sh: collector" "$COLPID" 15 || rc=1
tw_stop_clean "test_dashboard.sh: collector (read token)" "$COL2PID" 15 || rc=1
exit $rc
