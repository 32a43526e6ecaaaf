#!/bin/sh
# Fixture for build/tests/test_rules_addr: a private PostgreSQL on a free
# loopback port (tests/harness/pg.sh); every test creates its own database,
# inserts the rows describing its situation and evaluates the rules at an
# injected time (collector/rules_other.h).
#
#   sh tests/integration/test_rules_addr.sh build/tests/test_rules_addr [CRITERION ARGS...]
#
# Exports TW_PG_CONNINFO. TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1
# prints the server log.
set -u
bin=${1:?usage: test_rules_addr.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"

tw_run_watched 300 "$bin" --jobs 2 "$@"
