#!/bin/sh
# Fixture for build/tests/test_notify: a private PostgreSQL on a free
# loopback port (tests/harness/pg.sh) and free ports for the HTTP receivers
# and the Alertmanager the test starts itself (tests/harness/
# webhook_receiver.py; /usr/bin/prometheus-alertmanager, Debian package
# prometheus-alertmanager).
#
#   sh tests/integration/test_notify.sh build/tests/test_notify [CRITERION ARGS...]
#
# Exports the TW_PG_* variables of pg.sh, TW_PORT_R1..TW_PORT_R6 (receivers),
# TW_PORT_AM (Alertmanager), TW_RECEIVER (the receiver script) and TW_WORK.
# One test at a time (--jobs 1): they share the ports.
# TW_KEEP=1 keeps the work dir; TW_SHOW_LOGS=1 prints the server logs.
set -u
bin=${1:?usage: test_notify.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT R1 R2 R3 R4 R5 R6 AM
tw_pg_start "$PGPORT"

export TW_PORT_R1="$R1" TW_PORT_R2="$R2" TW_PORT_R3="$R3" TW_PORT_R4="$R4"
export TW_PORT_R5="$R5" TW_PORT_R6="$R6" TW_PORT_AM="$AM"
export TW_RECEIVER="$here/webhook_receiver.py"

tw_run_watched 600 "$bin" --jobs 1 "$@"
