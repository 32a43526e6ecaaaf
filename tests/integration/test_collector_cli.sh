#!/bin/sh
# Fixture for build/tests/test_collector_cli: a private PostgreSQL on a free
# loopback port (tests/harness/pg.sh). The C test writes collector.yaml files
# and runs the real `tlswatch-collector migrate / evaluate / maintenance`
# binary against databases it creates, with sessions of its own holding the
# advisory locks the commands take.
#
# Exports TW_BUILD and the TW_PG_* variables of tests/harness/pg.sh.
set -u
bin=${1:?usage: test_collector_cli.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"
export TW_BUILD="${TW_BUILD:-build}"

tw_run_watched 300 "$bin" --jobs 2 "$@"
