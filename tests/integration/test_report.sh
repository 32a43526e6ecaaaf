#!/bin/sh
# Fixture for build/tests/test_report: a private PostgreSQL on a free
# loopback port (tests/harness/pg.sh). The C test seeds rollups, alerts and
# certificates with known figures, runs the real `tlswatch-collector report`
# and checks its JSON and Markdown; renders the PDF's page 1 with pdftoppm
# and loads the HTML in headless Chromium, saving both as artefacts under
# $TW_ARTIFACTS (default build/artifacts/report).
#
#   sh tests/integration/test_report.sh build/tests/test_report [CRITERION ARGS...]
set -u
bin=${1:?usage: test_report.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"
export TW_BUILD="${TW_BUILD:-build}"
TW_ARTIFACTS="${TW_ARTIFACTS:-$(pwd)/build/artifacts}"
mkdir -p "$TW_ARTIFACTS/report" || tw_die "cannot create $TW_ARTIFACTS/report"
export TW_ARTIFACTS

tw_run_watched 600 "$bin" --jobs 2 "$@"
