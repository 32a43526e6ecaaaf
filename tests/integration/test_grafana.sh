#!/bin/sh
# Fixture for build/tests/test_grafana: a private PostgreSQL 15 on a free
# loopback port (tests/harness/pg.sh); each test makes its own database,
# seeds tests/integration/dash_env.h's data set and runs every query of the
# Grafana dashboards in deploy/grafana/ (the SQL against PostgreSQL, the
# PromQL through promtool). Grafana itself is not a Debian package.
#
#   sh tests/integration/test_grafana.sh build/tests/test_grafana [CRITERION ARGS...]
#
# Exports TW_PG_CONNINFO (pg.sh), TW_ROOT (the source tree) and
# TW_PYTHON (/usr/bin/python3, Debian's).
set -u
bin=${1:?usage: test_grafana.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

command -v promtool >/dev/null || { echo "test_grafana.sh: promtool not found (make deps installs prometheus)" >&2; exit 1; }
[ -x /usr/bin/python3 ] || { echo "test_grafana.sh: /usr/bin/python3 not found" >&2; exit 1; }

tw_init
tw_alloc_ports PGPORT
tw_pg_start "$PGPORT"

export TW_ROOT="$root" TW_PYTHON=/usr/bin/python3
tw_run_watched 300 "$bin" --jobs 2 "$@"
