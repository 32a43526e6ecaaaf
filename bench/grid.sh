#!/bin/sh
# bench/grid.sh - the API grid's 7-day window over BENCH_GRID_SERIES series
# (6000) x BENCH_GRID_DAYS days (8) of hourly rollups, before and after the
# daily rollup (bench/bench_grid.c). Figures are printed, not asserted; exit
# status non-zero when a step failed or the answers differ.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
BENCH=$B/bench/bench_grid
[ -x "$BENCH" ] || { echo "grid: $BENCH missing (build it first)" >&2; exit 2; }
SERIES=${BENCH_GRID_SERIES:-6000}
DAYS=${BENCH_GRID_DAYS:-8}

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
tw_init
tw_alloc_ports PG
tw_pg_start "$PG"
echo "== grid: 7d window over $SERIES series x $DAYS days of hourly rollups ($(nproc) CPUs, PostgreSQL $($TW_PG_PSQL -d postgres -At -c 'SHOW server_version'))"
"$BENCH" "$TW_PG_CONNINFO" "$SERIES" "$DAYS" >"$TW_WORK/grid.out"
rc=$?
sed 's/^/   /' "$TW_WORK/grid.out"
echo "grid status: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
