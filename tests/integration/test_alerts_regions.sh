#!/bin/sh
# Fixture for build/tests/test_alerts_regions: a private PostgreSQL on a
# free loopback port (tests/harness/pg.sh) and one free port for the webhook
# receiver (tests/harness/webhook_receiver.py) the test starts itself.
#
#   sh tests/integration/test_alerts_regions.sh build/tests/test_alerts_regions [CRITERION ARGS...]
#
# Exports the TW_PG_* variables of pg.sh, TW_PORT_R1, TW_RECEIVER and TW_WORK.
set -u
bin=${1:?usage: test_alerts_regions.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT R1
tw_pg_start "$PGPORT"

export TW_PORT_R1="$R1"
export TW_RECEIVER="$here/webhook_receiver.py"

tw_run_watched 300 "$bin" --jobs 1 "$@"
