#!/bin/sh
# Fixture for build/tests/test_ingest_inproc: a private PostgreSQL and the
# pipeline PKI (mkpki-pipeline.sh) on 127.0.0.1. The C test runs the probe
# server in its own process (ingest_new + a db_pool on a loop thread) and
# plays the probes itself; each test makes and migrates its own database.
#
#   sh tests/integration/test_ingest_inproc.sh build/tests/test_ingest_inproc [ARGS...]
#
# Exports TW_PIPE (the PKI dir) and the TW_PG_* variables of pg.sh.
set -u
bin=${1:?usage: test_ingest_inproc.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v openssl >/dev/null || { echo "test_ingest_inproc.sh: openssl not found" >&2; exit 1; }

tw_init
tw_alloc_ports PG
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" probe-a:eu-west probe-b:us-east >/dev/null ||
	tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"
export TW_PIPE="$TW_WORK/pipe"
tw_run_watched 120 "$bin" "$@"
