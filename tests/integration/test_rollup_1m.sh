#!/bin/sh
# Fixture for build/tests/test_rollup_1m: a private PostgreSQL 15 on a free
# loopback port (tests/harness/pg.sh); the test creates one database per test.
#
#   sh tests/integration/test_rollup_1m.sh build/tests/test_rollup_1m [CRITERION ARGS...]
#
# Exports TW_PG_CONNINFO, TW_PG_START, TW_PG_STOP, TW_PG_PSQL. The tests run
# one at a time (--jobs 1): the outage test stops and restarts the server.
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints the server log.
set -u
bin=${1:?usage: test_rollup_1m.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"

tw_run_watched 600 "$bin" --jobs 1 "$@"
