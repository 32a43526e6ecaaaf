#!/bin/sh
# Fixture for build/tests/test_report_sched: a private PostgreSQL on a free
# loopback port (tests/harness/pg.sh) and free ports for the delivery tests'
# receivers (tests/harness/webhook_receiver.py, Debian's aiosmtpd as an SMTP
# sink on loopback), which the C test starts itself. Time is injected:
# report_sched_tick() is called with the scheduled times, nothing sleeps.
#
#   sh tests/integration/test_report_sched.sh build/tests/test_report_sched [CRITERION ARGS...]
set -u
bin=${1:?usage: test_report_sched.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT TW_HOOK_PORT1 TW_HOOK_PORT2 TW_SMTP_PORT1 TW_SMTP_PORT2
tw_pg_start "$PGPORT"
export TW_BUILD="${TW_BUILD:-build}" TW_HOOK_PORT1 TW_HOOK_PORT2 TW_SMTP_PORT1 TW_SMTP_PORT2
export TW_HARNESS="$here" TW_TESTS="$(cd "$(dirname "$0")" && pwd)"

tw_run_watched 600 "$bin" --jobs 2 "$@"
