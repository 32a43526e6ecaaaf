#!/bin/sh
# bench/api.sh - SLI reads as data grows (issue 13: "with 10M raw rows the p95
# of the SLI endpoint is at most 1.5x the 1M-row case"; issue 11), called by
# bench/run.sh. Figures are printed, not asserted; exit status non-zero when
# a step failed.
#
#   private PostgreSQL (tests/harness/pg.sh) -> tlswatch-collector migrate
#   -> for N in N1 N2 (same series, longer history):
#        TRUNCATE; seed N raw results ending now: SERIES series (SERIES/20
#        targets x 4 regions x 5 profiles, 4 probes), one result per series
#        every INTERVAL_S seconds, deterministic outcomes and latencies; then
#        rollup_1m and rollup_1h by INSERT .. SELECT .. GROUP BY from those
#        rows with the ingest statement's definitions (collector/db_sql.c:
#        per bucket, key and outcome, then per key; sql/001_init.sql), plus
#        targets (labels); VACUUM ANALYZE
#      -> tlswatch-collector run (HTTP API) and bench_api: REQS sequential
#         requests per read (GET /api/v1/slis for each window in WINDOWS,
#         grouped by target, and the grid); p50/p95 of each
#      -> the same statement without HTTP (bench_api sql: sli_query_sql)
#   -> the N2/N1 ratio of every p95 (goal <= 1.5).
#
# Knobs (environment): BENCH_API_N1 (1000000), BENCH_API_N2 (10000000),
# BENCH_API_SERIES (2000), BENCH_API_INTERVAL_S (30), BENCH_API_REQS (200),
# BENCH_API_WINDOWS ("1h 4h 24h"), BENCH_API_GRID (the grid's path,
# /api/v1/grid?window=1h), TW_BUILD (build dir), BENCH_API_BASE (a second
# build dir, e.g. of the base commit: its collector and bench_api measured
# on the same rows right after this build's, for before/after in one run).
# Each window also prints the rollup rows its statement reads (bench_api
# rows) at both sizes: a p95 ratio is only about raw rows when those match.
# With the defaults the 1M case holds 4.2 hours of history and the 10M case
# 41.7 hours: the 1h and 4h windows are full in both (only the raw rows
# differ), the 24h window reads 4.2 vs 24 hours of rollups (it measures the
# window's length, too). BENCH_QUICK=1 (`make bench-quick-api`): 100k and 1M
# rows of 500 series, 50 requests per read.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLL=$B/tlswatch-collector
BENCH=$B/bench/bench_api
if [ "${BENCH_QUICK:-0}" = 1 ]; then  # make bench-quick-api
	N1=${BENCH_API_N1:-100000} N2=${BENCH_API_N2:-1000000} SERIES=${BENCH_API_SERIES:-500}
	REQS=${BENCH_API_REQS:-50}
else
	N1=${BENCH_API_N1:-1000000} N2=${BENCH_API_N2:-10000000} SERIES=${BENCH_API_SERIES:-2000}
	REQS=${BENCH_API_REQS:-200}
fi
IVL=${BENCH_API_INTERVAL_S:-30}
WINDOWS=${BENCH_API_WINDOWS:-1h 4h 24h}
GRID=${BENCH_API_GRID:-/api/v1/grid?window=1h}
SERIES=$(( SERIES / 20 * 20 ))
[ "$SERIES" -ge 20 ] || SERIES=20
TARGETS=$(( SERIES / 20 ))

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"

say() { printf '%s\n' "$*"; }
status=0
fail() { say "api: FAILED: $*" >&2; status=1; }
now() { date +%s.%N; }
calc() { case "$1" in *NA*|"") echo NA; return;; esac; awk "BEGIN { printf \"%.${2:-1}f\", $1 }" 2>/dev/null || echo NA; }
ratio() { if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN { if ($2 == 0) print \"NA\"; else printf \"%.2f\", $1 / $2 }"; fi; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
secs() { case $1 in *h) echo $(( ${1%h} * 3600 ));; *d) echo $(( ${1%d} * 86400 ));; *m) echo $(( ${1%m} * 60 ));; *) echo "$1";; esac; }

BASE=${BENCH_API_BASE:-}
case $BASE in ""|/*) ;; *) BASE=$top/$BASE ;; esac
for f in "$COLL" "$BENCH" ${BASE:+"$BASE/tlswatch-collector" "$BASE/bench/bench_api"}; do
	[ -x "$f" ] || { say "api: $f missing (build it first)" >&2; exit 2; }
done

tw_init
tw_alloc_ports PG COLLP HTTPP
W=$TW_WORK
PSQL() { $TW_PG_PSQL -d tlswatch "$@"; }

sh "$top/tests/harness/mkpki-pipeline.sh" "$W/pipe" bench-p1:eu-west >"$W/logs/pki.log" 2>&1 ||
	tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET work_mem = '64MB'" -c "ALTER SYSTEM SET shared_buffers = '512MB'" \
	-c "ALTER SYSTEM SET max_wal_size = '4GB'" >/dev/null
$TW_PG_STOP >/dev/null 2>&1 && $TW_PG_START >/dev/null 2>&1 || tw_die "PostgreSQL restart failed"
tw_pg_createdb tlswatch
cat >"$W/collector.yaml" <<EOF
listen: 127.0.0.1:$COLLP
tls:
  ca_file: $W/pipe/pipe-ca.pem
  cert_file: $W/pipe/collector.pem
  key_file: $W/pipe/collector.key
http:
  listen: 127.0.0.1:$HTTPP
database:
  conninfo: "host=127.0.0.1 port=$PG user=postgres dbname=tlswatch"
log:
  level: warn
EOF
"$COLL" migrate -c "$W/collector.yaml" >"$W/logs/migrate.log" 2>&1 || { cat "$W/logs/migrate.log" >&2; tw_die "collector migrate failed"; }
CONNINFO="host=127.0.0.1 port=$PG user=postgres dbname=tlswatch"

# One rollup table from results, as the ingest statement builds it: per
# (bucket, key, outcome) first (g1), then per key (put_rollup).
rollup_sql() {  # rollup_sql TABLE UNIT
	h_in="" h_out="" k=1
	while [ $k -le 20 ]; do
		h_in="$h_in, count(*) FILTER (WHERE tw_latency_bucket(handshake_ms) = $k) AS h$k"
		h_out="$h_out${h_out:+, }sum(h$k)"
		k=$((k + 1))
	done
	cat <<EOF
INSERT INTO $1 (bucket, target, port, sni, region, profile, service, attempts, successes, failures,
	outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, handshake_ms_count, mtls_attempts,
	mtls_failures, ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count, expiring_soon_count,
	min_days_to_expiry, min_chain_not_after)
SELECT bucket, target, port, sni, region, profile, max(service), sum(attempts),
	coalesce(sum(attempts) FILTER (WHERE tw_is_success(outcome)), 0),
	coalesce(sum(attempts) FILTER (WHERE NOT tw_is_success(outcome)), 0),
	jsonb_object_agg(outcome, attempts), sum(handshakes), ARRAY[$h_out]::bigint[],
	sum(handshake_ms_sum), sum(handshake_ms_count), sum(mtls_attempts), sum(mtls_failures),
	sum(ocsp_stapled_count), sum(cipher_fallback_count), sum(sni_mismatch_count),
	sum(expiring_soon_count), min(min_days_to_expiry), min(min_chain_not_after)
FROM (SELECT date_trunc('$2', started_at) AS bucket, target, port, coalesce(sni, '') AS sni, region,
	profile, outcome, max(service) AS service, count(*) AS attempts, count(tls_version) AS handshakes,
	coalesce(sum(handshake_ms), 0) AS handshake_ms_sum, count(handshake_ms) AS handshake_ms_count,
	count(*) FILTER (WHERE mtls) AS mtls_attempts,
	count(*) FILTER (WHERE mtls AND tw_is_mtls_failure(outcome)) AS mtls_failures,
	count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_stapled) AS ocsp_stapled_count,
	count(*) FILTER (WHERE 'cipher_fallback' = ANY (findings)) AS cipher_fallback_count,
	count(*) FILTER (WHERE NOT sni_match) AS sni_mismatch_count,
	count(*) FILTER (WHERE 'expiring_soon' = ANY (findings)) AS expiring_soon_count,
	min(days_to_expiry) AS min_days_to_expiry, min(chain_not_after_min) AS min_chain_not_after
	$h_in
	FROM results GROUP BY 1, 2, 3, 4, 5, 6, 7) g1
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6;
EOF
}

# Rollup rows are written in bucket order, as the ingest writes them (minute
# after minute): the rows of one window sit together on disk, as they do in
# a deployment (hash-aggregate order would scatter them, one page per row).
#
# N raw results ending now: tick k of series s (s = ((t * 4) + r) * 5 + p)
# at now - (ticks - k) * IVL + phase(s). Outcomes: profile "legacy" of every
# 7th target fails protocol_version; 1 in 97 attempts connect_timeout (no
# handshake); the rest ok with a latency spread over 5-250 ms.
seed() {  # seed N
	ticks=$(( $1 / SERIES ))
	PSQL >"$W/logs/seed.log" 2>&1 <<EOF
TRUNCATE results, rollup_1m, rollup_1h, targets, certificate_sightings, probes;
SET synchronous_commit = off;
INSERT INTO results (probe_id, seq, region, probe_version, started_at, received_at, target, port, sni,
	profile, service, labels, interval_ms, mtls, outcome, findings, tls_version, cipher, ocsp_stapled,
	sni_match, days_to_expiry, chain_not_after_min, handshake_ms, total_ms)
SELECT 'bench-' || rg, k * $(( SERIES / 4 )) + t * 5 + p, rg, '1.0', at, at, 't' || t || '.bench.example',
	443, 't' || t || '.bench.example', pr, 'svc' || (t % 50), jsonb_build_object('team', 'team' || (t % 10)),
	$IVL * 1000, false, oc, '{}',
	CASE WHEN oc = 'ok' THEN 'TLSv1.3' END, CASE WHEN oc = 'ok' THEN 'TLS_AES_128_GCM_SHA256' END,
	CASE WHEN oc = 'ok' THEN (t % 3 = 0) END, CASE WHEN oc = 'ok' THEN true END,
	CASE WHEN oc = 'ok' THEN 40 + t % 300 END,
	CASE WHEN oc = 'ok' THEN now() + ((40 + t % 300) || ' days')::interval END,
	CASE WHEN oc <> 'connect_timeout' THEN 5 + ((k * 31 + s * 17) % 490) / 2.0 END,
	CASE WHEN oc <> 'connect_timeout' THEN 10 + ((k * 31 + s * 17) % 490) / 2.0 END
FROM (SELECT k, s, t, p, (ARRAY['eu-west','us-east','ap-south','sa-east'])[r + 1] AS rg,
	(ARRAY['modern','intermediate','legacy','tls13','Android 4.4.2'])[p + 1] AS pr,
	now() - (($ticks - k) * $IVL) * interval '1 second' + (s % $IVL) * interval '1 second' AS at,
	CASE WHEN p = 2 AND t % 7 = 0 THEN 'protocol_version'
	     WHEN (k * 13 + s) % 97 = 0 THEN 'connect_timeout' ELSE 'ok' END AS oc
	FROM generate_series(0, $ticks - 1) AS k,
	     LATERAL (SELECT s, s / 20 AS t, (s / 5) % 4 AS r, s % 5 AS p
		      FROM generate_series(0, $SERIES - 1) AS s) x) y;
$(rollup_sql rollup_1m minute)
$(rollup_sql rollup_1h hour)
INSERT INTO targets (target, port, sni, service, labels, first_seen, last_seen)
SELECT DISTINCT ON (target, port, sni) target, port, sni, service, labels, started_at, started_at
FROM results WHERE seq < $(( SERIES / 4 )) ORDER BY target, port, sni, started_at DESC;
EOF
	[ $? -eq 0 ] || { cat "$W/logs/seed.log" >&2; return 1; }
	PSQL -c "VACUUM ANALYZE" >/dev/null 2>&1
}

start_collector() {
	"${MCOLL:-$COLL}" run -c "$W/collector.yaml" </dev/null >"$W/logs/collector.log" 2>&1 &
	CPID=$!
	TW_PIDS="$TW_PIDS $CPID"
	i=0 code=000
	while [ $i -lt 150 ]; do  # /readyz: database connected and migrated
		code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTPP/readyz" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	tail -5 "$W/logs/collector.log" >&2
	return 1
}
stop_collector() {
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
}

# measure LABEL TAG: every read, p50/p95 into variables P50_<tag>_<i>/P95_<tag>_<i>
measure() {
	tag=$1
	idx=0
	start_collector || { fail "collector did not become ready"; return; }
	curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTPP/api/v1/slis?window=1h" >"$W/probe.code" 2>/dev/null
	HAVE_API=$(cat "$W/probe.code")
	for win in $WINDOWS grid; do
		idx=$((idx + 1))
		if [ "$win" = grid ]; then path=$GRID; else path="/api/v1/slis?window=$win&group_by=target"; fi
		if [ "$HAVE_API" = 200 ]; then
			out=$("${MBENCH:-$BENCH}" http 127.0.0.1 "$HTTPP" "$REQS" "$path" 2>"$W/logs/bench_api.err")
			rc=$?
			what="GET $path"
		elif [ "$win" != grid ]; then
			# no SLI endpoint in this build: the statement it runs
			out=$("${MBENCH:-$BENCH}" sql "$CONNINFO" "$REQS" "$(secs "$win")" target 2>"$W/logs/bench_api.err")
			rc=$?
			what="SQL of GET /api/v1/slis?window=$win&group_by=target (no endpoint in this build)"
		else
			out="" rc=0 what="GET $path (no API in this build)"
		fi
		say "   $what: $out"
		[ $rc -eq 0 ] || { fail "bench_api ($what) exited $rc"; sed 's/^/     /' "$W/logs/bench_api.err" | head -3; }
		eval "P50_${tag}_$idx=$(kv "$out" p50_ms) P95_${tag}_$idx=$(kv "$out" p95_ms)"
		eval "WHAT_$idx=\"\$what\""
		# the store side alone, for the same window (the SLI reads only)
		[ "$win" = grid ] && continue
		out=$("${MBENCH:-$BENCH}" sql "$CONNINFO" "$REQS" "$(secs "$win")" target 2>>"$W/logs/bench_api.err")
		say "     statement alone (bench_api sql, window $win, group target): $out"
		eval "SQL95_${tag}_$idx=$(kv "$out" p95_ms)"
		# what the statement reads: the rollup rows of the window (the
		# subject's bench_api; a baseline reads the same rows)
		out=$("$BENCH" rows "$CONNINFO" "$(secs "$win")" 2>>"$W/logs/bench_api.err")
		say "     rollup rows the statement reads (bench_api rows): $out"
		eval "ROWS_${tag}_$idx=$(kv "$out" rows)"
	done
	stop_collector
}

PGVER=$($TW_PG_PSQL -d tlswatch -At -c "SHOW server_version" 2>/dev/null)
say "== api: SLI reads, $SERIES series ($TARGETS targets x 4 regions x 5 profiles) every ${IVL}s; $REQS requests per read ($(nproc) CPUs, PostgreSQL $PGVER)"
for tag in 1 2; do
	eval "n=\$N$tag"
	w0=$(now)
	seed "$n" || { fail "seeding $n rows failed"; continue; }
	ROWS=$(PSQL -At -c "SELECT count(*) FROM results")
	R1M=$(PSQL -At -c "SELECT count(*) FROM rollup_1m")
	R1H=$(PSQL -At -c "SELECT count(*) FROM rollup_1h")
	SPAN=$(PSQL -At -c "SELECT round(extract(epoch FROM max(started_at) - min(started_at)) / 3600, 1) FROM results")
	CHECK=$(PSQL -At -c "SELECT (SELECT sum(attempts) FROM rollup_1m) = $ROWS AND (SELECT sum(attempts) FROM rollup_1h) = $ROWS")
	say "   seeded in $(calc "$(now) - $w0" 1)s: results $ROWS rows over ${SPAN}h, rollup_1m $R1M rows, rollup_1h $R1H rows; rollups = raw counts: $CHECK"
	[ "$CHECK" = t ] || fail "rollup attempts differ from the raw rows"
	eval "ROWS_$tag=$ROWS SPAN_$tag=$SPAN"
	measure "$tag"
	if [ -n "$BASE" ]; then
		# the baseline build on the same rows, right after (BENCH_API_BASE)
		say "   baseline $BASE on the same rows:"
		MCOLL=$BASE/tlswatch-collector MBENCH=$BASE/bench/bench_api measure "b$tag"
	fi
done

say "---------------- api summary ----------------"
say "  history: ${ROWS_1:-NA} raw rows over ${SPAN_1:-NA}h, ${ROWS_2:-NA} over ${SPAN_2:-NA}h ($SERIES series); a window longer than the"
say "  shorter history reads more rollup rows in the longer one (its length, not the raw rows, is what differs)"
idx=0
for win in $WINDOWS grid; do
	idx=$((idx + 1))
	eval "what=\${WHAT_$idx:-?} a=\${P95_1_$idx:-NA} b=\${P95_2_$idx:-NA} a5=\${P50_1_$idx:-NA} b5=\${P50_2_$idx:-NA} s1=\${SQL95_1_$idx:-NA} s2=\${SQL95_2_$idx:-NA} r1=\${ROWS_1_$idx:-NA} r2=\${ROWS_2_$idx:-NA}"
	say "  $what"
	say "    ${ROWS_1:-NA} raw rows: p50 $a5 ms p95 $a ms | ${ROWS_2:-NA} raw rows: p50 $b5 ms p95 $b ms | p95 ratio $(ratio "$b" "$a") (goal <= 1.5); statement alone p95 $s1 / $s2 ms, ratio $(ratio "$s2" "$s1")"
	if [ -n "$BASE" ]; then
		eval "c=\${P95_b1_$idx:-NA} d=\${P95_b2_$idx:-NA} t1=\${SQL95_b1_$idx:-NA} t2=\${SQL95_b2_$idx:-NA}"
		say "    baseline ($BASE), same rows, run right after: p95 $c ms | $d ms | ratio $(ratio "$d" "$c"); statement alone p95 $t1 / $t2 ms; this build / baseline p95: $(ratio "$a" "$c") / $(ratio "$b" "$d")"
	fi
	[ "$win" = grid ] && continue
	# a window longer than the shorter history is not full there: its ratio
	# then compares the window's length too (rollup rows read), not only raw rows
	full=$(awk "BEGIN { print (${SPAN_1:-0} * 3600 >= $(secs "$win")) ? \"full in both\" : \"NOT full at ${ROWS_1:-NA} raw rows (${SPAN_1:-NA}h of history)\" }")
	say "    rollup rows read: $r1 / $r2 (ratio $(ratio "$r2" "$r1")); window $full; statement p95 per 1000 rollup rows read: $(ratio "$s1" "$(calc "$r1 / 1000" 3)") / $(ratio "$s2" "$(calc "$r2 / 1000" 3)") ms"
done
say "api status: $([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
