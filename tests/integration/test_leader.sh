#!/bin/sh
# Fixture for build/tests/test_leader: a private PostgreSQL and the mTLS
# material a collector needs (tests/harness/mkpki-pipeline.sh); the C test
# starts three real `tlswatch-collector run` processes against one database
# (each with its own probe and HTTP port), kills the evaluator leader and
# watches another take over.
#
# Exports TW_PIPE (stream PKI), TW_PORT_C{1,2,3}, TW_PORT_H{1,2,3}, TW_BUILD
# and the TW_PG_* variables of tests/harness/pg.sh.
set -u
bin=${1:?usage: test_leader.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports C1 C2 C3 H1 H2 H3 PG HOOK
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" >/dev/null || tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"
# the pager: every collector's notifier delivers to it (signed webhook)
tw_start hook "$HOOK" python3 "$here/webhook_receiver.py" --port "$HOOK" \
	--log "$TW_WORK/hook.jsonl" --secret "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" --reject-bad-sig
tw_wait_ports 20

export TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_C1="$C1" TW_PORT_C2="$C2" TW_PORT_C3="$C3"
export TW_PORT_H1="$H1" TW_PORT_H2="$H2" TW_PORT_H3="$H3"
export TW_PORT_HOOK="$HOOK" TW_HOOK_LOG="$TW_WORK/hook.jsonl"

tw_run_watched 300 "$bin" --jobs 1 "$@"
