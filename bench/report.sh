#!/bin/sh
# bench/report.sh - how long a leadership report takes (issue 9
# "Performance"): a private PostgreSQL (tests/harness/pg.sh), rollup_1h
# seeded directly with INSERT ... SELECT generate_series for
# BENCH_REPORT_TARGETS targets (1000) x 5 regions x 4 profiles, one row per
# series and hour over BENCH_REPORT_DAYS days (90), and the same again before
# them when BENCH_REPORT_PREV=1 (the trend; default 0: the previous period
# has no data), 10 services, 4 SLOs; then the real
#   tlswatch-collector report --period 90d --format html,pdf,md,json
# timed end to end (queries and rendering; the collector logs the split),
# once reading rollup_1h only, then again after the daily rollup (rollup_1d,
# sql/013) has been built the way the alert leader builds it.
# Figures are printed, not asserted; exit status non-zero when a step failed.
# Size: about 450 bytes per rollup_1h row with fillfactor 100 (set here; the
# schema's 50 leaves room for HOT updates), i.e. ~19 GB and ~25 minutes of
# seeding on 2 cores for the full 43 million rows: smaller runs set
# BENCH_REPORT_TARGETS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLLECTOR=$B/tlswatch-collector
[ -x "$COLLECTOR" ] || { echo "report: $COLLECTOR missing (build it first)" >&2; exit 2; }
TARGETS=${BENCH_REPORT_TARGETS:-1000}
DAYS=${BENCH_REPORT_DAYS:-90}
PREV=${BENCH_REPORT_PREV:-0}
SEEDDAYS=$(( PREV == 1 ? 2 * DAYS : DAYS ))
END=2026-06-01T00:00:00Z

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
tw_init
tw_alloc_ports PG
tw_pg_start "$PG"
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET work_mem = '64MB'" -c "ALTER SYSTEM SET shared_buffers = '2GB'" \
	-c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET log_min_duration_statement = 500" >/dev/null
$TW_PG_STOP >/dev/null 2>&1 && $TW_PG_START >/dev/null 2>&1 || tw_die "PostgreSQL restart failed"

cat >"$TW_WORK/slos.yaml" <<EOF
slos:
  - {name: svc0-availability, sli: availability, objective: 99.9, window: 30d, selector: {service: svc0}}
  - {name: svc0-latency, sli: latency, threshold_ms: 100, objective: 99, window: 30d, selector: {service: svc0}}
  - {name: svc1-availability, sli: availability, objective: 99.5, window: 28d, selector: {service: svc1}}
  - {name: fleet-availability, sli: availability, objective: 99, window: 90d, selector: {}}
EOF
cat >"$TW_WORK/collector.yaml" <<EOF
listen: 127.0.0.1:1
tls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}
database:
  conninfo: "$TW_PG_CONNINFO"
alerting:
  slo_file: $TW_WORK/slos.yaml
EOF
"$COLLECTOR" migrate -c "$TW_WORK/collector.yaml" >"$TW_WORK/logs/migrate.log" 2>&1 \
	|| { cat "$TW_WORK/logs/migrate.log"; tw_die "migrate failed"; }

SERIES=$((TARGETS * 20))
ROWS=$((SERIES * SEEDDAYS * 24))
$TW_PG_PSQL -d postgres -c "ALTER TABLE rollup_1h SET (fillfactor = 100)" >/dev/null || tw_die "alter failed"
echo "== report: $TARGETS targets x 5 regions x 4 profiles = $SERIES series, $SEEDDAYS days of hourly rollups ($ROWS rows) ($(nproc) CPUs, PostgreSQL $($TW_PG_PSQL -d postgres -At -c 'SHOW server_version'))"
t0=$(date +%s)
# one day per statement: 20 x 24 rows per target; every 7th target fails a
# little (connect_timeout), latency mostly in [75, 100) ms
d=0
while [ "$d" -lt "$SEEDDAYS" ]; do
	$TW_PG_PSQL -d postgres -c "
INSERT INTO rollup_1h (bucket, target, port, sni, region, profile, service, attempts, successes,
	failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, handshake_ms_count,
	mtls_attempts, mtls_failures, ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count,
	expiring_soon_count)
SELECT '$END'::timestamptz - interval '$SEEDDAYS days' + interval '$d days' + h * interval '1 hour',
	't' || t || '.example', 443, '', r, p, 'svc' || (t % 10), 60, 60 - f, f,
	CASE WHEN f > 0 THEN jsonb_build_object('ok', 60 - f, 'connect_timeout', f) ELSE '{\"ok\": 60}' END,
	60 - f, ARRAY[0,0,0,0,0,0,0,0, 57 - f, 2, 1,0,0,0,0,0,0,0,0,0]::bigint[], 85.0 * (60 - f), 60 - f,
	0, 0, 60 - f, 0, 0, 0
FROM generate_series(0, $TARGETS - 1) t, unnest(ARRAY['eu','us','ap','sa','af']) r,
	unnest(ARRAY['modern','intermediate','old','mtls']) p, generate_series(0, 23) h,
	LATERAL (SELECT CASE WHEN t % 7 = 0 AND h % 6 = 0 THEN 3 ELSE 0 END AS f) x" >/dev/null \
		|| tw_die "seeding day $d failed"
	d=$((d + 1))
done
$TW_PG_PSQL -d postgres -c "VACUUM ANALYZE rollup_1h" >/dev/null || tw_die "analyze failed"
t1=$(date +%s)
echo "   seeded in $((t1 - t0)) s ($($TW_PG_PSQL -d postgres -At -c "SELECT pg_size_pretty(pg_total_relation_size('rollup_1h'))"))"

# run_report LABEL: the report, timed; sets secs and rc
run_report() {
	mkdir -p "$TW_WORK/out-$1"
	s0=$(date +%s.%N)
	"$COLLECTOR" report -c "$TW_WORK/collector.yaml" --period 90d --now "$END" --format html,pdf,md,json \
		--out "$TW_WORK/out-$1" >"$TW_WORK/logs/report-$1.out" 2>&1
	rc=$?
	s1=$(date +%s.%N)
	secs=$(echo "$s1 $s0" | awk '{ printf "%.1f", $1 - $2 }')
	sed "s/^/   [$1] /" "$TW_WORK/logs/report-$1.out"
	ls -l "$TW_WORK/out-$1" | sed "s/^/   [$1] /"
}

# before: every day from rollup_1h (rollup_1d not built yet)
run_report hourly
secs_h=$secs rc_h=$rc
grep -o "duration: [0-9.]* ms  statement: SELECT.\{0,60\}" "$TW_WORK/logs/postgres.log" | sed "s/^/   slow query (hourly): /"
lines=$(wc -l <"$TW_WORK/logs/postgres.log")

# the leader's aggregator (collector/rollup_daily.c), one step per day
a0=$(date +%s.%N)
i=0
while [ "$i" -le "$SEEDDAYS" ]; do
	echo "SELECT tw_rollup_1d_step('$END', '15 minutes');"
	i=$((i + 1))
done | $TW_PG_PSQL -d postgres -q -At >/dev/null || tw_die "rollup_1d aggregation failed"
$TW_PG_PSQL -d postgres -c "VACUUM ANALYZE rollup_1d" >/dev/null || tw_die "analyze failed"
a1=$(date +%s.%N)
echo "   rollup_1d: $($TW_PG_PSQL -d postgres -At -c "SELECT count(*) FROM rollup_1d") rows in $(echo "$a1 $a0" | awk '{ printf "%.1f", $1 - $2 }') s"

run_report daily
secs_d=$secs rc_d=$rc
tail -n +$((lines + 1)) "$TW_WORK/logs/postgres.log" | grep -v tw_rollup_1d_step | grep -o "duration: [0-9.]* ms  statement: SELECT.\{0,60\}" | sed "s/^/   slow query (daily): /"
# the same figures either way (exactness): md and json, but for the generation time
for f in md json; do
	grep -v -e '^Period .* Generated ' -e '"generated_at":' "$TW_WORK"/out-hourly/*."$f" >"$TW_WORK/h.$f"
	grep -v -e '^Period .* Generated ' -e '"generated_at":' "$TW_WORK"/out-daily/*."$f" >"$TW_WORK/d.$f"
	if cmp -s "$TW_WORK/h.$f" "$TW_WORK/d.$f"; then
		echo "   $f: identical from rollup_1h and with rollup_1d (but the generation time)"
	else
		echo "   $f: DIFFERS between rollup_1h and rollup_1d:"
		diff "$TW_WORK/h.$f" "$TW_WORK/d.$f" | head -20 | sed 's/^/     /'
		rc_d=1
	fi
done
rc=$((rc_h | rc_d))
echo "---------------- report summary ----------------"
echo "  90-day report (html, pdf, md, json) over $SERIES series / $ROWS hourly rollup rows: ${secs_h} s from rollup_1h, ${secs_d} s with rollup_1d"
echo "report status: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
