#!/bin/sh
# bench/api.sh - SLI reads as data grows (issue 11: "SLI endpoint p95 with
# 10M raw rows at most 1.5x the 1M case"), called by bench/run.sh. Figures
# are printed, not asserted; exit status non-zero when a step failed.
#
#   private PostgreSQL (tests/harness/pg.sh), two databases migrated by
#   tlswatch-collector migrate, one per size (N1, N2: the same fleet, N2/N1
#   times the history)
#   -> each: seed N raw results ending at the same moment END: SERIES series
#        (SERIES/20 targets x 4 regions x 5 profiles, 4 probes), one result
#        per series every INTERVAL_S seconds, deterministic outcomes and
#        latencies; then rollup_1m and rollup_1h by INSERT .. SELECT .. GROUP
#        BY from those rows with the ingest statement's definitions
#        (collector/db_sql.c: per bucket, key and outcome, then per key;
#        sql/001_init.sql), plus targets (labels); VACUUM ANALYZE; then
#        rollup_1d built as the alert leader builds it (bench_api rollup1d:
#        rollup_daily_run, collector/rollup_daily.c), so whole UTC days are
#        in rollup_1d at the larger size as in a deployment
#   -> one tlswatch-collector run (HTTP API) per database, both at once, and
#      per read (GET /api/v1/slis for each window in WINDOWS, grouped by
#      target, and the grid): REQS requests per size in alternating blocks
#      of BLOCK (1M, 10M, 1M, ...: bench_api http2), so both sizes meet the
#      same load (this machine's moves by 2x within minutes); p50/p95 of
#      each; the same statement without HTTP, interleaved the same way
#      (bench_api sql2: sli_query_sql); the rollup rows it reads at both
#      sizes (bench_api rows) and whether the window is full at both
#   -> the N2/N1 ratio of every p95 next to the goal (<= 1.5).
#
# Fleet shape (BENCH_API_SHAPE):
#   goal (default): 600 series every 60 s = 36,000 raw rows an hour, so 1M
#     rows are 27.8 hours of history - more than the longest window (24 h
#     plus at most one leading edge hour, 25 h) - and 10M rows are the same
#     fleet with 277.8 hours (11.6 days: rollup_1d holds 10 whole days).
#     The 24 h window is then full at both sizes: the same read, more data.
#   old: 2,000 series every 30 s (240,000 rows an hour: 1M = 4.2 h, 10M =
#     41.7 h), the shape of the earlier figures (BENCHMARKS.md); its 24 h
#     window is not full at 1M, so its 24 h ratio compares window lengths.
# BENCH_QUICK=1 (`make bench-quick-api`): 100k and 1M rows of 60 series every
# 60 s (3,600 rows an hour: 27.8 h and 277.8 h, both cover the 24 h window),
# 50 requests per read; with BENCH_API_SHAPE=old 500 series every 30 s.
#
# The data of both sizes ends at END = the start of the run + LEAD_S
# (BENCH_API_LEAD_S; 1800 s, quick 600 s): rows "in the future" of the
# moment of a read are never read by a window ending now, and the trailing
# minutes of every window stay populated while seeding and measuring go on
# (a history ending at the seed would leave them empty, more so at the size
# seeded first). The history before the start is then N/rate - LEAD_S.
#
# Knobs (environment): BENCH_API_N1, BENCH_API_N2, BENCH_API_SERIES,
# BENCH_API_INTERVAL_S (override the shape), BENCH_API_REQS (200, quick 50),
# BENCH_API_BLOCK (10), BENCH_API_WINDOWS ("1h 4h 24h"), BENCH_API_GRID (the
# grid's path, /api/v1/grid?window=1h), TW_BUILD (build dir), BENCH_API_BASE
# (a second build dir, e.g. of the base commit: its collectors and bench_api
# measured on the same rows right after this build's, for before/after in
# one run; interleaved between the sizes when its bench_api has sql2),
# BENCH_API_EXPLAIN=1 (print the plan, EXPLAIN (ANALYZE, BUFFERS), of every
# SLI statement at both sizes before its runs).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLL=$B/tlswatch-collector
BENCH=$B/bench/bench_api
SHAPE=${BENCH_API_SHAPE:-goal}
case $SHAPE:${BENCH_QUICK:-0} in
goal:1) S0=60 I0=60 ;;
old:1) S0=500 I0=30 ;;
goal:*) S0=600 I0=60 ;;
old:*) S0=2000 I0=30 ;;
*) echo "api: BENCH_API_SHAPE must be goal or old, not '$SHAPE'" >&2; exit 2 ;;
esac
if [ "${BENCH_QUICK:-0}" = 1 ]; then  # make bench-quick-api
	N1=${BENCH_API_N1:-100000} N2=${BENCH_API_N2:-1000000} REQS=${BENCH_API_REQS:-50}
	LEAD=${BENCH_API_LEAD_S:-600}
else
	N1=${BENCH_API_N1:-1000000} N2=${BENCH_API_N2:-10000000} REQS=${BENCH_API_REQS:-200}
	LEAD=${BENCH_API_LEAD_S:-1800}
fi
SERIES=${BENCH_API_SERIES:-$S0}
IVL=${BENCH_API_INTERVAL_S:-$I0}
BLOCK=${BENCH_API_BLOCK:-10}
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
tw_alloc_ports PG COLLP1 HTTPP1 COLLP2 HTTPP2
W=$TW_WORK
T0=$(date +%s)
END=$((T0 + LEAD))
PSQL() { db=$1; shift; $TW_PG_PSQL -d "tlswatch$db" "$@"; }

sh "$top/tests/harness/mkpki-pipeline.sh" "$W/pipe" bench-p1:eu-west >"$W/logs/pki.log" 2>&1 ||
	tw_die "mkpki-pipeline.sh failed"
tw_pg_start "$PG"
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET work_mem = '64MB'" -c "ALTER SYSTEM SET shared_buffers = '512MB'" \
	-c "ALTER SYSTEM SET max_wal_size = '4GB'" >/dev/null
$TW_PG_STOP >/dev/null 2>&1 && $TW_PG_START >/dev/null 2>&1 || tw_die "PostgreSQL restart failed"
for tag in 1 2; do
	tw_pg_createdb "tlswatch$tag"
	eval "cp=\$COLLP$tag hp=\$HTTPP$tag"
	cat >"$W/collector$tag.yaml" <<EOF
listen: 127.0.0.1:$cp
tls:
  ca_file: $W/pipe/pipe-ca.pem
  cert_file: $W/pipe/collector.pem
  key_file: $W/pipe/collector.key
http:
  listen: 127.0.0.1:$hp
database:
  conninfo: "host=127.0.0.1 port=$PG user=postgres dbname=tlswatch$tag"
log:
  level: warn
EOF
	"$COLL" migrate -c "$W/collector$tag.yaml" >"$W/logs/migrate$tag.log" 2>&1 ||
		{ cat "$W/logs/migrate$tag.log" >&2; tw_die "collector migrate failed"; }
	eval "CONNINFO$tag=\"host=127.0.0.1 port=$PG user=postgres dbname=tlswatch$tag\""
done

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
# N raw results ending at END: tick k of series s (s = ((t * 4) + r) * 5 + p)
# at END - (ticks - k) * IVL + phase(s). Outcomes: profile "legacy" of every
# 7th target fails protocol_version; 1 in 97 attempts connect_timeout (no
# handshake); the rest ok with a latency spread over 5-250 ms.
seed() {  # seed DB N
	ticks=$(( $2 / SERIES ))
	PSQL "$1" >"$W/logs/seed$1.log" 2>&1 <<EOF
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
	to_timestamp($END) - (($ticks - k) * $IVL) * interval '1 second' + (s % $IVL) * interval '1 second' AS at,
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
	[ $? -eq 0 ] || { cat "$W/logs/seed$1.log" >&2; return 1; }
	PSQL "$1" -c "VACUUM ANALYZE" >/dev/null 2>&1
}

start_collector() {  # start_collector TAG: the collector of database TAG
	eval "hp=\$HTTPP$1"
	"${MCOLL:-$COLL}" run -c "$W/collector$1.yaml" </dev/null >"$W/logs/collector$1.log" 2>&1 &
	eval "CPID$1=$!"
	TW_PIDS="$TW_PIDS $!"
	i=0 code=000
	while [ $i -lt 150 ]; do  # /readyz: database connected and migrated
		code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hp/readyz" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		eval "kill -0 \$CPID$1" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	tail -5 "$W/logs/collector$1.log" >&2
	return 1
}
stop_collectors() {
	for p in ${CPID1:-} ${CPID2:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	CPID1="" CPID2=""
}

# full WINDOW_S SIZE: is the window ending now covered by the history of SIZE
full() { eval "h=\${HIST_$2:-}"; [ -n "$h" ] && [ "$h" -le $(( $(date +%s) - $1 )) ] && echo yes || echo NO; }

# measure TAG: every read at both sizes, interleaved; p50/p95 into variables
# P50_<tag><size>_<i>, P95_<tag><size>_<i> (tag "" for this build, b for the
# baseline)
measure() {
	tag=$1 idx=0
	start_collector 1 && start_collector 2 || { fail "collector did not become ready"; stop_collectors; return; }
	HAVE_API=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTPP1/api/v1/slis?window=1h" 2>/dev/null)
	mb=${MBENCH:-$BENCH} sql2=1
	"$mb" 2>&1 | grep -q sql2 || sql2=0
	for win in $WINDOWS grid; do
		idx=$((idx + 1))
		if [ "$win" = grid ]; then path=$GRID; else path="/api/v1/slis?window=$win&group_by=target"; fi
		if [ "$HAVE_API" = 200 ]; then
			# the HTTP client is this build's (it only times GETs)
			out=$("$BENCH" http2 127.0.0.1 "$HTTPP1" "$HTTPP2" "$REQS" "$BLOCK" "$path" 2>"$W/logs/bench_api.err")
			rc=$?
			what="GET $path"
		else
			out="" rc=0 what="GET $path (no API in this build)"
		fi
		say "   $what, $REQS requests per size in alternating blocks of $BLOCK:"
		printf '%s\n' "$out" | sed 's/^1 /     1: /; s/^2 /     2: /'
		[ $rc -eq 0 ] || { fail "bench_api ($what) exited $rc"; sed 's/^/     /' "$W/logs/bench_api.err" | head -3; }
		for z in 1 2; do
			o=$(printf '%s\n' "$out" | sed -n "s/^$z //p")
			eval "P50_$tag${z}_$idx=$(kv "$o" p50_ms) P95_$tag${z}_$idx=$(kv "$o" p95_ms)"
		done
		eval "WHAT_$idx=\"\$what\""
		# the store side alone, for the same window (the SLI reads only)
		[ "$win" = grid ] && continue
		ws=$(secs "$win")
		if [ $sql2 = 1 ]; then
			out=$("$mb" sql2 "$CONNINFO1" "$CONNINFO2" "$REQS" "$BLOCK" "$ws" target 2>"$W/logs/sql2.err")
			how="interleaved"
			# BENCH_API_EXPLAIN=1: the plans at both sizes, before the runs
			[ "${BENCH_API_EXPLAIN:-0}" = 1 ] && sed 's/^/       | /' "$W/logs/sql2.err"
			cat "$W/logs/sql2.err" >>"$W/logs/bench_api.err"
		else
			out=$("$mb" sql "$CONNINFO1" "$REQS" "$ws" target 2>>"$W/logs/bench_api.err" | sed 's/^/1 /'
			      "$mb" sql "$CONNINFO2" "$REQS" "$ws" target 2>>"$W/logs/bench_api.err" | sed 's/^/2 /')
			how="one block per size (this bench_api has no sql2)"
		fi
		say "     statement alone (bench_api sql, window $win, group target, $how):"
		printf '%s\n' "$out" | sed 's/^1 /       1: /; s/^2 /       2: /'
		for z in 1 2; do
			o=$(printf '%s\n' "$out" | sed -n "s/^$z //p")
			eval "SQL95_$tag${z}_$idx=$(kv "$o" p95_ms)"
			# what the statement reads: the rollup rows of the window (this
			# build's bench_api; a baseline reads the same rows)
			eval "ci=\$CONNINFO$z"
			o=$("$BENCH" rows "$ci" "$ws" 2>>"$W/logs/bench_api.err")
			f=$(full "$ws" "$z")
			say "       $z: rollup rows the statement reads (bench_api rows): $o; window full: $f"
			eval "ROWS_$tag${z}_$idx=$(kv "$o" rows) FULL_$tag${z}_$idx=$f"
		done
	done
	stop_collectors
}

PGVER=$($TW_PG_PSQL -d tlswatch1 -At -c "SHOW server_version" 2>/dev/null)
RATE=$(( SERIES * 3600 / IVL ))
say "== api: SLI reads, shape $SHAPE: $SERIES series ($TARGETS targets x 4 regions x 5 profiles) every ${IVL}s = $RATE raw rows an hour;"
say "   $N1 rows = $(calc "$N1 / $RATE" 1) h of history, $N2 rows = $(calc "$N2 / $RATE" 1) h; longest window $(echo $WINDOWS | tr ' ' '\n' | tail -1) (+ up to 1 leading edge hour)"
say "   data ends at $(date -u -d "@$END" +%H:%M:%SZ) (start + ${LEAD}s: the trailing minutes stay populated while the run goes on)"
say "   $REQS requests per read and size, alternating blocks of $BLOCK; $(nproc) CPUs, PostgreSQL $PGVER; load $(cut -d' ' -f1-3 /proc/loadavg)"
for tag in 1 2; do
	eval "n=\$N$tag ci=\$CONNINFO$tag"
	w0=$(now)
	seed "$tag" "$n" || { fail "seeding $n rows failed"; continue; }
	w1=$(now)
	d1=$("$BENCH" rollup1d "$ci" 2>"$W/logs/rollup1d$tag.err") || { fail "rollup_1d: $(cat "$W/logs/rollup1d$tag.err")"; }
	ROWS=$(PSQL $tag -At -c "SELECT count(*) FROM results")
	R1M=$(PSQL $tag -At -c "SELECT count(*) FROM rollup_1m")
	R1H=$(PSQL $tag -At -c "SELECT count(*) FROM rollup_1h")
	R1D=$(PSQL $tag -At -c "SELECT count(*) FROM rollup_1d")
	HIST=$(PSQL $tag -At -c "SELECT floor(extract(epoch FROM min(started_at)))::bigint FROM results")
	SPAN=$(PSQL $tag -At -c "SELECT round(extract(epoch FROM max(started_at) - min(started_at)) / 3600, 1) FROM results")
	# rollup_1d: the whole days it holds sum to the raw rows of those days
	CHECK=$(PSQL $tag -At -c "SELECT (SELECT sum(attempts) FROM rollup_1m) = $ROWS AND (SELECT sum(attempts) FROM rollup_1h) = $ROWS
		AND (SELECT coalesce(sum(attempts), 0) FROM rollup_1d) = (SELECT count(*) FROM results
			WHERE started_at >= (SELECT coalesce(min(bucket), 'infinity') FROM rollup_1d)
			  AND started_at < (SELECT coalesce(max(bucket) + interval '1 day', '-infinity') FROM rollup_1d))")
	say "   size $tag: seeded in $(calc "$w1 - $w0" 1)s, rollup_1d ($d1) in $(calc "$(now) - $w1" 1)s: results $ROWS rows over ${SPAN}h"
	say "     (from $(date -u -d "@$HIST" '+%m-%d %H:%MZ')), rollup_1m $R1M rows, rollup_1h $R1H, rollup_1d $R1D; rollups = raw counts: $CHECK"
	[ "$CHECK" = t ] || fail "rollup attempts differ from the raw rows"
	eval "ROWS_$tag=$ROWS SPAN_$tag=$SPAN HIST_$tag=$HIST"
done
say "   measuring from $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
measure ""
if [ -n "$BASE" ]; then
	# the baseline build on the same rows, right after (BENCH_API_BASE)
	say "   baseline $BASE on the same rows:"
	MCOLL=$BASE/tlswatch-collector MBENCH=$BASE/bench/bench_api measure b
fi
say "   measured until $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

say "---------------- api summary ----------------"
say "  shape $SHAPE: $SERIES series every ${IVL}s; ${ROWS_1:-NA} raw rows over ${SPAN_1:-NA}h, ${ROWS_2:-NA} over ${SPAN_2:-NA}h;"
say "  both sizes measured at the same time (alternating blocks of $BLOCK requests)"
idx=0
for win in $WINDOWS grid; do
	idx=$((idx + 1))
	eval "what=\${WHAT_$idx:-?} a=\${P95_1_$idx:-NA} b=\${P95_2_$idx:-NA} a5=\${P50_1_$idx:-NA} b5=\${P50_2_$idx:-NA} s1=\${SQL95_1_$idx:-NA} s2=\${SQL95_2_$idx:-NA} r1=\${ROWS_1_$idx:-NA} r2=\${ROWS_2_$idx:-NA} f1=\${FULL_1_$idx:-NA} f2=\${FULL_2_$idx:-NA}"
	say "  $what"
	st="statement alone p95 $s1 / $s2 ms, ratio $(ratio "$s2" "$s1")"
	[ "$win" = grid ] && st="the grid's answer is cached 10 s"
	say "    ${ROWS_1:-NA} raw rows: p50 $a5 ms p95 $a ms | ${ROWS_2:-NA} raw rows: p50 $b5 ms p95 $b ms | p95 ratio $(ratio "$b" "$a") (goal <= 1.5); $st"
	if [ -n "$BASE" ]; then
		eval "c=\${P95_b1_$idx:-NA} d=\${P95_b2_$idx:-NA} t1=\${SQL95_b1_$idx:-NA} t2=\${SQL95_b2_$idx:-NA}"
		say "    baseline ($BASE), same rows, run right after: p95 $c ms | $d ms | ratio $(ratio "$d" "$c"); statement alone p95 $t1 / $t2 ms; this build / baseline p95: $(ratio "$a" "$c") / $(ratio "$b" "$d")"
	fi
	[ "$win" = grid ] && continue
	say "    rollup rows read: $r1 / $r2 (ratio $(ratio "$r2" "$r1")); window full: $f1 / $f2; statement p95 per 1000 rollup rows read: $(ratio "$s1" "$(calc "$r1 / 1000" 3)") / $(ratio "$s2" "$(calc "$r2 / 1000" 3)") ms"
done
say "api status: $([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
