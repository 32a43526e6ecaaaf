#!/bin/sh
# Fixture for build/tests/test_metrics: a private PostgreSQL, a real
# `tlswatch-collector run` whose per-target snapshot refreshes every second,
# and a real Prometheus (Debian package) scraping its /metrics every second
# with deploy/prometheus/tlswatch.rules.yml loaded. The C test seeds results
# (and their hourly rollups) with libpq and reads /metrics and Prometheus'
# HTTP API.
#
#   sh tests/integration/test_metrics.sh build/tests/test_metrics [CRITERION ARGS...]
#
# Exports to the test:
#   TW_HTTP_PORT       the collector's /metrics port
#   TW_PROM_PORT       Prometheus' HTTP API
#   TW_RULES_DIR       deploy/prometheus (rules and their promtool test)
#   TW_PG_CONNINFO     (pg.sh) the database
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints server logs.
set -u
bin=${1:?usage: test_metrics.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

build=${TW_BUILD:-build}
collector=$build/tlswatch-collector
[ -x "$collector" ] || { echo "test_metrics.sh: $collector not built" >&2; exit 1; }
for t in prometheus promtool; do
	command -v $t >/dev/null || { echo "test_metrics.sh: $t not found (make deps installs prometheus)" >&2; exit 1; }
done

tw_init
tw_alloc_ports PG COL HTTP PROM

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
  metrics_refresh: 1s
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 1
log:
  level: debug
EOF2
"$collector" migrate -c "$TW_WORK/collector.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 ||
	tw_die "tlswatch-collector migrate failed"

cat >"$TW_WORK/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/tlswatch.rules.yml
scrape_configs:
  - job_name: tlswatch
    static_configs:
      - targets: ['127.0.0.1:$HTTP']
EOF2
promtool check config "$TW_WORK/prometheus.yml" >"$TW_WORK/logs/promtool-config.log" 2>&1 ||
	{ cat "$TW_WORK/logs/promtool-config.log" >&2; tw_die "promtool check config failed"; }

tw_start collector "$HTTP" "$collector" run -c "$TW_WORK/collector.yaml"
COLPID=$!
tw_start prometheus "$PROM" prometheus --config.file="$TW_WORK/prometheus.yml" \
	--storage.tsdb.path="$TW_WORK/prom-data" --web.listen-address="127.0.0.1:$PROM" \
	--log.level=warn
tw_wait_ports 30

export TW_HTTP_PORT="$HTTP" TW_PROM_PORT="$PROM" TW_RULES_DIR="$root/deploy/prometheus"
tw_run_watched 180 "$bin" "$@"
rc=$?

# The collector stops cleanly with its metrics object (exit 0; under
# SANITIZE=1 a leak or an error would make it exit non-zero).
tw_stop_clean "test_metrics.sh: collector" "$COLPID" 15 || rc=1
exit $rc
