#!/bin/sh
# bench/eval.sh - alert evaluation time (issue 4 "Benchmark"): a private
# PostgreSQL (tests/harness/pg.sh) and bench_eval (see bench/bench_eval.c):
# every default burn-rate rule for BENCH_EVAL_SERIES SLO series (10000) over
# BENCH_EVAL_DAYS days (30) of rollups, against the evaluation interval
# BENCH_EVAL_INTERVAL_S (30, alerting.evaluation_interval's default).
# Figures are printed, not asserted; exit status non-zero when a step failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
BENCH=$B/bench/bench_eval
[ -x "$BENCH" ] || { echo "eval: $BENCH missing (build it first)" >&2; exit 2; }
SERIES=${BENCH_EVAL_SERIES:-10000}
DAYS=${BENCH_EVAL_DAYS:-30}
INTERVAL=${BENCH_EVAL_INTERVAL_S:-30}

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
tw_init
tw_alloc_ports PG
tw_pg_start "$PG"
# a little more memory for the one big aggregate than the 4MB default
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET work_mem = '64MB'" -c "ALTER SYSTEM SET shared_buffers = '512MB'" >/dev/null
$TW_PG_STOP >/dev/null 2>&1 && $TW_PG_START >/dev/null 2>&1 || tw_die "PostgreSQL restart failed"

echo "== eval: $SERIES SLO series x $DAYS days of rollups, all default burn-rate rules ($(nproc) CPUs, PostgreSQL $($TW_PG_PSQL -d postgres -At -c 'SHOW server_version'))"
out=$("$BENCH" "$TW_PG_CONNINFO" "$SERIES" "$DAYS" "$INTERVAL")
rc=$?
printf '%s\n' "$out" | sed 's/^/   /'
steady=$(printf '%s\n' "$out" | sed -n 's/^eval_with_budget:.*steady_eval_ms_avg=\([0-9.]*\).*/\1/p')
rules=$(printf '%s\n' "$out" | sed -n 's/^eval_rules_only:.*steady_eval_ms_avg=\([0-9.]*\).*/\1/p')
steady1d=$(printf '%s\n' "$out" | sed -n 's/^eval_with_budget_1d:.*steady_eval_ms_avg=\([0-9.]*\).*/\1/p')
rules1d=$(printf '%s\n' "$out" | sed -n 's/^eval_rules_only_1d:.*steady_eval_ms_avg=\([0-9.]*\).*/\1/p')
# share of the interval, in percent (issue 11: under 10% for 10,000 SLOs)
share() { case "$1" in ""|NA) echo NA;; *) awk "BEGIN { printf \"%.1f%%\", $1 / ($INTERVAL * 10) }";; esac; }
echo "---------------- eval summary ----------------"
echo "  evaluation of $SERIES SLOs (default rules + ${DAYS}d error budget): ${steady:-NA} ms; rules only (no ${DAYS}d budget): ${rules:-NA} ms"
echo "  with rollup_1d built (sql/013): ${steady1d:-NA} ms; rules only: ${rules1d:-NA} ms"
echo "  must fit in the evaluation interval: ${INTERVAL} s (alerting.evaluation_interval)"
echo "  share of the interval, steady state with rollup_1d (the leader's state once its aggregator ran): $(share "${steady1d:-NA}") (goal < 10%); before rollup_1d has caught up: $(share "${steady:-NA}")"
echo "eval status: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
