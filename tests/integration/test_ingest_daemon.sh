#!/bin/sh
# Fixture for build/tests/test_ingest_daemon: a private PostgreSQL (migrated)
# and the pipeline PKI (mkpki-pipeline.sh) on 127.0.0.1; each test starts
# its own `tlswatch-collector run` and plays a probe against it.
#
#   sh tests/integration/test_ingest_daemon.sh build/tests/test_ingest_daemon [ARGS...]
#
# Exports TW_PIPE (the PKI dir), TW_COLLECTOR_BIN and the TW_PG_* variables
# of pg.sh.
set -u
bin=${1:?usage: test_ingest_daemon.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_ingest_daemon.sh: openssl not found" >&2; exit 1; }
collector=${TW_BUILD:-build}/tlswatch-collector
[ -x "$collector" ] || { echo "test_ingest_daemon.sh: $collector not built" >&2; exit 1; }

tw_init
tw_alloc_ports PG COL
PIPE=$TW_WORK/pipe
sh "$here/mkpki-pipeline.sh" "$PIPE" probe-j:eu-west probe-k:us-east probe-l:ap-south probe-m:eu-north >/dev/null ||
	tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"
cat >"$TW_WORK/migrate.yaml" <<YAML
listen: 127.0.0.1:$COL
tls: {ca_file: $PIPE/pipe-ca.pem, cert_file: $PIPE/collector.pem, key_file: $PIPE/collector.key}
database: {conninfo: "$TW_PG_CONNINFO"}
YAML
"$collector" migrate -c "$TW_WORK/migrate.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 ||
	tw_die "tlswatch-collector migrate failed"
export TW_PIPE="$PIPE" TW_COLLECTOR_BIN="$collector"
tw_run_watched 180 "$bin" "$@"
