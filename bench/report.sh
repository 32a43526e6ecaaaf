#!/bin/sh
# bench/report.sh - how long a leadership report takes (issue 9
# "Performance"): a private PostgreSQL (tests/harness/pg.sh) seeded directly
# with INSERT ... SELECT generate_series for BENCH_REPORT_TARGETS targets
# (1000) x 5 regions x 4 profiles = 20,000 series over BENCH_REPORT_DAYS
# days (90), as a collector that has run the daily rollup holds them: the
# last BENCH_REPORT_HOURLY_DAYS days (2) in rollup_1h, one row per series and
# hour, and every day before in rollup_1d, one row per series and day (the
# hours summed), with rollup_1d_state marking those days aggregated
# (mark_before = ready_before = the first hourly day, no dirty day: what
# sql/013's claim and step leave behind; the readers, sli_rows_sql, then take
# those days from rollup_1d). 10 services, 4 SLOs. Then the real
#   tlswatch-collector report --period 90d --format html,pdf,md,json
# timed end to end (queries and rendering). The figure is printed, not
# asserted; exit status non-zero when a step failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLLECTOR=$B/tlswatch-collector
[ -x "$COLLECTOR" ] || { echo "report: $COLLECTOR missing (build it first)" >&2; exit 2; }
TARGETS=${BENCH_REPORT_TARGETS:-1000}
DAYS=${BENCH_REPORT_DAYS:-90}
HDAYS=${BENCH_REPORT_HOURLY_DAYS:-2}
DDAYS=$((DAYS - HDAYS))
END=2026-06-01T00:00:00Z

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
tw_init
tw_alloc_ports PG
tw_pg_start "$PG"
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET work_mem = '64MB'" -c "ALTER SYSTEM SET shared_buffers = '512MB'" \
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
HROWS=$((SERIES * HDAYS * 24))
DROWS=$((SERIES * DDAYS))
echo "== report: $TARGETS targets x 5 regions x 4 profiles = $SERIES series, $DAYS days: $DDAYS in rollup_1d ($DROWS rows), the last $HDAYS in rollup_1h ($HROWS rows) ($(nproc) CPUs, PostgreSQL $($TW_PG_PSQL -d postgres -At -c 'SHOW server_version'))"
t0=$(date +%s)
# the days before the hourly ones are aggregated: the trigger on rollup_1h
# records only changes below mark_before, and the hourly rows are above it
$TW_PG_PSQL -d postgres -c "UPDATE rollup_1d_state SET mark_before = '$END'::timestamptz - interval '$HDAYS days',
	ready_before = '$END'::timestamptz - interval '$HDAYS days', updated_at = now()" >/dev/null \
	|| tw_die "rollup_1d_state failed"
# every 7th target fails a little (connect_timeout, 3 attempts in every 6th
# hour), latency mostly in [75, 100) ms; a day row is its 24 hours summed
# (k = 24, f = 4 x 3 for the failing targets)
# seed TABLE BUCKET_EXPR HOURS K: one statement
seed() {
	$TW_PG_PSQL -d postgres -c "
INSERT INTO $1 (bucket, target, port, sni, region, profile, service, attempts, successes,
	failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, handshake_ms_count,
	mtls_attempts, mtls_failures, ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count,
	expiring_soon_count)
SELECT $2, 't' || t || '.example', 443, '', r, p, 'svc' || (t % 10), 60 * $4, 60 * $4 - f, f,
	CASE WHEN f > 0 THEN jsonb_build_object('ok', 60 * $4 - f, 'connect_timeout', f)
	     ELSE jsonb_build_object('ok', 60 * $4) END,
	60 * $4 - f, ARRAY[0,0,0,0,0,0,0,0, 57 * $4 - f, 2 * $4, 1 * $4,0,0,0,0,0,0,0,0,0]::bigint[],
	85.0 * (60 * $4 - f), 60 * $4 - f, 0, 0, 60 * $4 - f, 0, 0, 0
FROM generate_series(0, $TARGETS - 1) t, unnest(ARRAY['eu','us','ap','sa','af']) r,
	unnest(ARRAY['modern','intermediate','old','mtls']) p, generate_series(0, $3) h,
	LATERAL (SELECT CASE WHEN t % 7 = 0 AND ($4 > 1 OR h % 6 = 0) THEN 3 * (CASE WHEN $4 > 1 THEN 4 ELSE 1 END) ELSE 0 END AS f) x" >/dev/null
}
d=0
while [ "$d" -lt "$DDAYS" ]; do
	seed rollup_1d "'$END'::timestamptz - interval '$DAYS days' + interval '$d days'" 0 24 \
		|| tw_die "seeding rollup_1d day $d failed"
	d=$((d + 1))
done
d=0
while [ "$d" -lt "$HDAYS" ]; do
	seed rollup_1h "'$END'::timestamptz - interval '$HDAYS days' + interval '$d days' + h * interval '1 hour'" 23 1 \
		|| tw_die "seeding rollup_1h day $d failed"
	d=$((d + 1))
done
dirty=$($TW_PG_PSQL -d postgres -At -c "SELECT count(*) FROM rollup_1d_dirty")
[ "$dirty" = 0 ] || tw_die "seeding left $dirty dirty days"
$TW_PG_PSQL -d postgres -c "VACUUM ANALYZE rollup_1h" -c "VACUUM ANALYZE rollup_1d" >/dev/null || tw_die "analyze failed"
t1=$(date +%s)
echo "   seeded in $((t1 - t0)) s (rollup_1d $($TW_PG_PSQL -d postgres -At -c "SELECT pg_size_pretty(pg_total_relation_size('rollup_1d'))"), rollup_1h $($TW_PG_PSQL -d postgres -At -c "SELECT pg_size_pretty(pg_total_relation_size('rollup_1h'))"))"

mkdir -p "$TW_WORK/out"
s0=$(date +%s.%N)
"$COLLECTOR" report -c "$TW_WORK/collector.yaml" --period 90d --now "$END" --format html,pdf,md,json \
	--out "$TW_WORK/out" >"$TW_WORK/logs/report.out" 2>&1
rc=$?
s1=$(date +%s.%N)
secs=$(echo "$s1 $s0" | awk '{ printf "%.1f", $1 - $2 }')
sed "s/^/   /" "$TW_WORK/logs/report.out"
ls -l "$TW_WORK/out" | sed "s/^/   /"
grep -o "duration: [0-9.]* ms  statement: SELECT.\{0,60\}" "$TW_WORK/logs/postgres.log" | sed "s/^/   slow query: /"
# the seeded totals come back: every series, every hour of the 90 days
want=$((SERIES * DAYS * 24 * 60))
got=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["attempts"])' "$TW_WORK"/out/*.json)
[ "$got" = "$want" ] || { echo "   attempts in the JSON: $got, seeded: $want"; rc=1; }
echo "---------------- report summary ----------------"
echo "  90-day report (html, pdf, md, json) over $SERIES series ($DROWS rollup_1d + $HROWS rollup_1h rows): ${secs} s"
echo "report status: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
