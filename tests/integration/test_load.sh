#!/bin/sh
# Fixture for build/tests/test_load: a private PostgreSQL and the probe ->
# collector mTLS material (the test issues its 500 client certificates from
# pipe-ca itself). The C test runs the collector and the load generator.
#
# Exports: TW_PIPE, TW_PORT_COLLECTOR, TW_PORT_HTTP, TW_PORT_HOOK (a TCP
# server that accepts and never answers: a hung webhook receiver) and the
# TW_PG_* variables of tests/harness/pg.sh. TW_LOAD_* pass through.
set -u
bin=${1:?usage: test_load.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports COLL HTTP PG HOOK
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" || tw_die "mkpki-pipeline.sh failed"
tw_start_silent hook "$HOOK"
tw_pg_start "$PG"
tw_wait_ports 20

export TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_COLLECTOR="$COLL" TW_PORT_HTTP="$HTTP" TW_PORT_HOOK="$HOOK"

tw_run_watched "$((${TW_LOAD_SECONDS:-20} * 3 + 600))" "$bin" --jobs 1 "$@"
