#!/bin/sh
# Fixture for build/tests/test_retention_spools: a private PostgreSQL 15 on a free
# loopback port (tests/harness/pg.sh); every test creates its own database and
# seeds rows around the real now (the maintenance reads now()).
#
#   sh tests/integration/test_retention_spools.sh build/tests/test_retention_spools [CRITERION ARGS...]
#
# Exports TW_PG_CONNINFO, TW_PG_START, TW_PG_STOP, TW_PG_PSQL.
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints the server log.
set -u
bin=${1:?usage: test_retention_spools.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"

tw_run_watched 600 "$bin" --jobs 2 "$@"
