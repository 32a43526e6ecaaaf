#!/bin/sh
# Fixture for build/tests/test_demo: `make demo` itself (deploy/demo/demo.sh),
# bounded by DEMO_SECONDS, with its var/ in the test's work dir. The C test
# reads the running demo through its HTTP surface (state.env says where)
# while the demo's events happen, then waits for the demo to stop.
#
#   sh tests/integration/test_demo.sh build/tests/test_demo [CRITERION ARGS...]
#
# Exports to the test:
#   TW_DEMO_STATE   the demo's state.env (DEMO_HTTP, DEMO_PG_CONNINFO,
#                   DEMO_PAGER_LOG, DEMO_EVENTS, DEMO_REPORT_DIR)
#   TW_DEMO_OUT     what the demo printed (stdout and stderr)
#   TW_DEMO_SECONDS how long it runs
# The demo's own exit status must be 0 (checked here, after the binary).
set -u
bin=${1:?usage: test_demo.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"

build=${TW_BUILD:-build}
for b in tlswatch-collector tlswatch-probe tlswatch-demo-relay; do
	[ -x "$build/$b" ] || { echo "test_demo.sh: $build/$b not built" >&2; exit 1; }
done
tw_init
chmod 0711 "$TW_WORK"  # PostgreSQL runs as postgres when we are root
secs=${TW_DEMO_SECONDS:-85}
DEMO_SECONDS=$secs DEMO_VAR=$TW_WORK/var TW_BUILD=$build sh "$root/deploy/demo/demo.sh" \
	>"$TW_WORK/demo.out" 2>&1 &
demo=$!
TW_PIDS="$TW_PIDS $demo"
n=0
while [ ! -s "$TW_WORK/var/demo/state.env" ] && [ $n -lt 1800 ] && tw_alive "$demo"; do
	sleep 0.1; n=$((n + 1))
done
[ -s "$TW_WORK/var/demo/state.env" ] || { cat "$TW_WORK/demo.out" >&2; tw_die "the demo did not start"; }

export TW_DEMO_STATE="$TW_WORK/var/demo/state.env" TW_DEMO_OUT="$TW_WORK/demo.out" TW_DEMO_SECONDS="$secs"
# the tests mostly wait for the demo's events: let them all run at once
tw_run_watched $((secs + 150)) "$bin" --jobs 8 "$@"
rc=$?
wait "$demo"
drc=$?
echo "--- the demo printed:"
cat "$TW_WORK/demo.out"
[ "$drc" -eq 0 ] || { echo "test_demo.sh: the demo exited $drc (expected 0)" >&2; rc=1; }
[ "$rc" -eq 0 ] || cp "$TW_WORK"/var/demo/logs/*.log "$TW_WORK/logs/" 2>/dev/null
exit $rc
