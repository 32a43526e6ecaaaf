#!/bin/sh
# Fixture for build/tests/test_deploy_e2e: a private PostgreSQL and free
# loopback ports; the test issues its PKI with deploy/pki.sh and runs the
# real collector and probes on it.
#
#   sh tests/integration/test_deploy_e2e.sh build/tests/test_deploy_e2e [CRITERION ARGS...]
#
# Exports TW_SRC, TW_BUILD, TW_PORT_COLLECTOR, TW_PORT_REFUSED (nothing
# listens there: the probes' target) and the TW_PG_* variables of pg.sh.
set -u
bin=${1:?usage: test_deploy_e2e.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PG COLL REFUSED
tw_pg_start "$PG"
tw_wait_ports 20

TW_SRC=$(cd "$here/../.." && pwd)
TW_BUILD=$(cd "${TW_BUILD:-build}" && pwd)
export TW_SRC TW_BUILD TW_PORT_COLLECTOR="$COLL" TW_PORT_REFUSED="$REFUSED"

# one test at a time: they share the collector port
tw_run_watched 300 "$bin" --jobs 1 "$@"
