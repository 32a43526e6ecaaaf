#!/bin/sh
# bench/ingest.sh - ingest throughput (issue 3, "Benchmarks"), called by
# bench/run.sh: results per second from probe connections into PostgreSQL
# through tlswatch-collector, next to `psql \copy` of the same rows as CSV
# into the same table and one autocommit INSERT per row. Figures are
# printed, not asserted; exit status non-zero when a step failed.
#
#   private PostgreSQL (tests/harness/pg.sh: fsync off, synchronous_commit off)
#   -> tlswatch-collector migrate; run (database.connections = DB_CONNS)
#   -> bench_ingest: K mTLS probe connections, Hello + ResultBatch frames of
#      BATCH with WINDOW unacked batches, until every seq is acked
#   -> count(*) of results = N
#   -> \copy (SELECT * FROM results) TO results.csv; TRUNCATE; time
#      \copy results FROM results.csv CSV
#   -> INSERT_N rows as one autocommit INSERT each (psql -f), from a saved copy
#
# Two collector lines: deploy (BENCH_INGEST_TARGETS=1250 targets x 4 profiles x
# K probes = 20,000 series at 30-60 s, bench_ingest.c) and adversarial (every
# result its own series-minute); \copy and INSERT use the deploy rows.
# Knobs (environment): BENCH_INGEST_N (1000000), BENCH_INGEST_PROBES (4),
# BENCH_INGEST_DB_CONNS (4), BENCH_INGEST_BATCH (500), BENCH_INGEST_WINDOW (8),
# BENCH_INGEST_INSERT_N (100000, capped at N), TW_BUILD (build dir),
# BENCH_INGEST_PERF (1: a perf profile of each collector line, by role:
# bench/ingest_perf.sh).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLL=$B/tlswatch-collector
BENCH=$B/bench/bench_ingest
N=${BENCH_INGEST_N:-1000000}
K=${BENCH_INGEST_PROBES:-4}
DB_CONNS=${BENCH_INGEST_DB_CONNS:-4}
BATCH=${BENCH_INGEST_BATCH:-500}
WINDOW=${BENCH_INGEST_WINDOW:-8}
INSERT_N=${BENCH_INGEST_INSERT_N:-100000}
[ "$INSERT_N" -gt "$N" ] && INSERT_N=$N

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
. "$here/ingest_perf.sh"

say() { printf '%s\n' "$*"; }
status=0
fail() { say "ingest: FAILED: $*" >&2; status=1; }
now() { date +%s.%N; }
calc() { case "$1" in *NA*|"") echo NA; return;; esac; awk "BEGIN { printf \"%.${2:-1}f\", $1 }" 2>/dev/null || echo NA; }
ratio() { if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN { if ($2 == 0) print \"NA\"; else printf \"%.2f\", $1 / $2 }"; fi; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
HZ=$(getconf CLK_TCK)
# utime+stime of PID in ticks (field 14+15 counted after the "(comm)")
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# all of PostgreSQL: the postmaster, its reaped children (cutime+cstime) and
# the live ones (backends, walwriter, autovacuum, ...), in ticks
# (after a short pause: a backend whose psql just quit may not be reaped yet,
# and an exited, unreaped one shows no CPU time)
pg_ticks() {
	sleep 0.5
	_pm=$(head -1 "$TW_WORK/pg/data/postmaster.pid" 2>/dev/null)
	[ -n "$_pm" ] || { echo 0; return; }
	{
		sed 's/.*) //' "/proc/$_pm/stat" | awk '{ print $12 + $13 + $14 + $15 }'
		for _s in /proc/[0-9]*/stat; do
			sed 's/.*) //' "$_s" 2>/dev/null | awk -v pm="$_pm" '$2 == pm { print $12 + $13 }'
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }

for f in "$COLL" "$BENCH"; do
	[ -x "$f" ] || { say "ingest: $f missing (build it first)" >&2; exit 2; }
done

tw_init
tw_alloc_ports PG COLLP HTTPP
W=$TW_WORK
PSQL() { $TW_PG_PSQL -d tlswatch "$@"; }

# ---- PKI: K probe certificates (CN = id, OU = region) --------------------------------------
regions="eu-west us-east ap-south sa-east eu-central us-west ap-northeast af-south"
specs_a="" specs_d="" i=1
while [ $i -le "$K" ]; do
	r=$(printf '%s\n' $regions | sed -n "$(( (i - 1) % 8 + 1 ))p")
	specs_a="$specs_a bench-a$i:$r"
	specs_d="$specs_d bench-d$i:$r"
	i=$((i + 1))
done
sh "$top/tests/harness/mkpki-pipeline.sh" "$W/pipe" $specs_a $specs_d >"$W/logs/pki.log" 2>&1 ||
	tw_die "mkpki-pipeline.sh failed"

# ---- PostgreSQL + collector ----------------------------------------------------------------
tw_pg_start "$PG"
tw_pg_createdb tlswatch
PGVER=$($TW_PG_PSQL -d tlswatch -At -c "SHOW server_version" 2>/dev/null)
cat >"$W/collector.yaml" <<EOF
listen: 127.0.0.1:$COLLP
tls:
  ca_file: $W/pipe/pipe-ca.pem
  cert_file: $W/pipe/collector.pem
  key_file: $W/pipe/collector.key
http:
  listen: 127.0.0.1:$HTTPP
  metrics_refresh: 1h
database:
  conninfo: "host=127.0.0.1 port=$PG user=postgres dbname=tlswatch"
  connections: $DB_CONNS
log:
  level: info
EOF
w0=$(now)
"$COLL" migrate -c "$W/collector.yaml" >"$W/logs/migrate.log" 2>&1 || { cat "$W/logs/migrate.log" >&2; tw_die "collector migrate failed"; }
say "   migrate: $(calc "$(now) - $w0" 2)s"

# statement durations of the collector's transactions go to the PostgreSQL
# log (for the breakdown below); turned off again before COPY / INSERT
# (not their bind parameters: the collector's jsonb parameter would make the
# log writes a large part of what is measured - perf: 12% in errfinish)
$TW_PG_PSQL -d tlswatch -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
	-c "ALTER SYSTEM SET log_parameter_max_length = 0" \
	-c "SELECT pg_reload_conf()" >/dev/null || fail "cannot enable statement logging"
# New WAL segments are not zero-filled: the collector lines run first on a
# fresh cluster and paid for creating every segment (perf: 29% of
# PostgreSQL's CPU in XLogFileInit), which the \copy line, run later on the
# recycled segments, did not. Off for every line (PostgreSQL 15: wal_init_zero).
$TW_PG_PSQL -d tlswatch -c "ALTER SYSTEM SET wal_init_zero = off" \
	-c "SELECT pg_reload_conf()" >/dev/null || fail "cannot set wal_init_zero"
# BENCH_INGEST_EXPLAIN=1 (diagnostics, slows the run): auto_explain logs the
# plan with actual times of every collector statement over 200 ms
if [ "${BENCH_INGEST_EXPLAIN:-0}" = 1 ]; then
	$TW_PG_PSQL -d tlswatch -c "LOAD 'auto_explain'" \
		-c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
		-c "ALTER SYSTEM SET auto_explain.log_min_duration = 200" \
		-c "ALTER SYSTEM SET auto_explain.log_analyze = on" \
		-c "SELECT pg_reload_conf()" >/dev/null || fail "cannot enable auto_explain"
fi

# collector_start LOG: a collector on $W/collector.yaml, ready (sets CPID);
# collector_stop: SIGTERM, and wait for it to exit
collector_start() {
	"$COLL" run -c "$W/collector.yaml" </dev/null >"$W/logs/$1" 2>&1 &
	CPID=$!
	TW_PIDS="$TW_PIDS $CPID"
	TW_WAIT="collector:$COLLP:$CPID"
	tw_wait_ports 20
	_i=0
	while [ $_i -lt 100 ]; do  # /readyz: database connected and migrated
		code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTPP/readyz" 2>/dev/null)
		[ "$code" = 200 ] && break
		sleep 0.1; _i=$((_i + 1))
	done
	[ "$code" = 200 ] || fail "collector /readyz answered $code after 10 s"
}
collector_stop() {
	kill -TERM "$CPID" 2>/dev/null
	_i=0; while tw_alive "$CPID" && [ $_i -lt 150 ]; do sleep 0.1; _i=$((_i + 1)); done
}
collector_start collector.log
say "   collector pid $CPID, $DB_CONNS DB connections, PostgreSQL $PGVER (fsync off, synchronous_commit off)"

# ---- 1. collector ingest, two lines -----------------------------------------------------------
# The collector's off-path work is held off while a line runs, so that the
# path's figure does not depend on whether a periodic run falls inside its
# 15-20 s (it did: 0.52-0.96x \copy over three runs of one build, the
# builder and the /metrics refresh then taking up to a third of both CPUs,
# bench/ingest_perf.sh). That work is then measured on its own, and the line
# is also given end to end: until rollup_1m holds every row.
#  - the builders: a session holds their advisory lock (1953985907, 17;
#    collector/rollup_hourly.c), so the leader skips them, as it does when
#    another collector builds; the bench adds the tail after the line;
#  - the /metrics refresh: every hour (http.metrics_refresh above), its
#    first at startup on empty tables. Its cost is a reader's, not the
#    ingest's (BENCHMARKS.md).
builders_hold() {
	rm -f "$W/builders.held"
	# the session stays idle once it holds the lock: a statement left
	# running (pg_sleep) holds a snapshot, and with it back the pruning of
	# the rows every ingest transaction updates (probe_spools, probes,
	# certificate_sightings): the ingest statement then slowed from 9 to
	# 50 ms per transaction over a line (the builder's long steps and a
	# /metrics refresh running 10 s do the same, which is part of why
	# the figures moved so much between runs before)
	{ printf 'SELECT pg_advisory_lock(1953985907, 17);\n\\! touch %s\n' "$W/builders.held"
	  sleep 86400 & echo $! >"$W/builders.sleep"; wait; } | PSQL -qAt >/dev/null 2>&1 &
	HOLD_PID=$!
	_i=0
	while [ ! -e "$W/builders.held" ] && [ $_i -lt 600 ]; do sleep 0.1; _i=$((_i + 1)); done
	[ -e "$W/builders.held" ] || fail "could not take the builders' lock in 60 s"
}
builders_release() {
	# psql reads the end of its input and quits: the session ends, and the
	# lock with it
	kill "$(cat "$W/builders.sleep" 2>/dev/null)" 2>/dev/null
	wait "$HOLD_PID" 2>/dev/null
}
# ingest_line MODE TARGETS SPECS: N results of BENCH_INGEST_MODE=MODE from the
# probes SPECS into the empty tables; sets LINE_RATE, LINE_PGUS, LINE_ROLL1M.
ingest_line() {
LMODE=$1 LTARGETS=$2 lspecs=$3
say ""
say "== ingest 1 ($LMODE). tlswatch-collector: $K probes x mTLS, $N results, batches of $BATCH, window $WINDOW, $LTARGETS targets x 4 profiles per probe"
PGLOG_OFF=$(wc -c <"$W/logs/postgres.log")
c0=$(cpu_ticks "$CPID"); p0=$(pg_ticks)
ulimit -n 4096 2>/dev/null
builders_hold
[ "${BENCH_INGEST_PERF:-0}" = 1 ] && perf_start "$LMODE"
out=$(BENCH_INGEST_MODE=$LMODE BENCH_INGEST_TARGETS=$LTARGETS "$BENCH" 127.0.0.1 "$COLLP" "$W/pipe" "$N" "$BATCH" "$WINDOW" $lspecs 2>"$W/logs/bench_ingest.err")
brc=$?
c1=$(cpu_ticks "$CPID"); p1=$(pg_ticks)
[ "${BENCH_INGEST_PERF:-0}" = 1 ] && perf_stop "$LMODE"
builders_release
COL_HWM=$(status_kb "$CPID" VmHWM); COL_RSS=$(status_kb "$CPID" VmRSS)
say "   bench_ingest rc=$brc: $out"
[ -s "$W/logs/bench_ingest.err" ] && sed 's/^/   bench_ingest stderr: /' "$W/logs/bench_ingest.err" | head -10
COL_RATE=NA
if [ $brc -ne 0 ] || [ -z "$out" ]; then
	fail "bench_ingest exited $brc"
else
	COL_RATE=$(kv "$out" results_per_s)
	COL_WALL=$(kv "$out" wall_s)
	CLIENT_CPU=$(kv "$out" client_cpu_s)
fi
COL_CPU=$(calc "($c1 - $c0) / $HZ" 2)
COL_CPU_TOTAL=$(calc "$(cpu_ticks "$CPID") / $HZ" 2)
PG_CPU=$(calc "($p1 - $p0) / $HZ" 2)
ROWS=$(PSQL -At -c "SELECT count(*) FROM results")
# rollup_1m is built off the ingest path (sql/020_rollup_1m_builder.sql): the
# collector's leader adds the rows every evaluation interval, and what the
# run left in the tail is added here, as the leader would next; its cost
# belongs in the total and is printed with it
LINE_BUILD_PGUS=NA LINE_E2E=NA
if [ "$(PSQL -At -c "SELECT to_regproc('tw_rollup_1m_step') IS NOT NULL")" = t ]; then
	TAIL=$(PSQL -At -c "SELECT count(*) FROM results WHERE ingest_batch > (SELECT ready_batch FROM rollup_1m_state)")
	p2=$(pg_ticks); w2=$(now)
	# claims and steps until the tail is empty: the collector's own builder
	# (the leader) may hold a claim or run a step meanwhile, and a claim
	# returns nothing while an earlier one is not fully added
	steps=0 left=$TAIL
	while [ "$left" -gt 0 ] && [ $steps -lt 100000 ]; do
		PSQL -qAt -c "SELECT tw_rollup_1m_claim()" >/dev/null || { fail "rollup_1m claim failed"; break; }
		# the leader's session settings (collector/evaluator.c: no JIT, work_mem 128MB)
		r=$(PSQL -qAt -c "SET jit = off" -c "SET work_mem = '128MB'" -c "SELECT tw_rollup_1m_step(50)") ||
			{ fail "tw_rollup_1m_step failed"; break; }
		[ -n "$r" ] && steps=$((steps + 1))
		left=$(PSQL -At -c "SELECT count(*) FROM results WHERE ingest_batch > (SELECT ready_batch FROM rollup_1m_state)")
		[ -n "$r" ] || sleep 0.2
	done
	w3=$(now); p3=$(pg_ticks)
	LINE_BUILD_PGUS=$(calc "($p3 - $p2) * 1000000 / $HZ / ($TAIL + ($TAIL == 0))" 1)
	[ -n "${COL_WALL:-}" ] && LINE_E2E=$(calc "$N / ($COL_WALL + $w3 - $w2)" 0)
	say "   rollup_1m builder: $TAIL results were still in the tail after the run; added in $steps steps," \
		"$(calc "$w3 - $w2" 2)s, PostgreSQL CPU $(calc "($p3 - $p2) / $HZ" 2)s = $LINE_BUILD_PGUS us per result"
fi
ROLL=$(PSQL -At -c "SELECT coalesce(sum(attempts), 0) FROM rollup_1m")
ROLL1M=$(PSQL -At -c "SELECT count(*) FROM rollup_1m")
CERTS=$(PSQL -At -c "SELECT count(*) FROM certificates")
say "   count(*) results = $ROWS (expected $N); rollup_1m rows $ROLL1M, sum(attempts) $ROLL; certificates $CERTS"
[ "$ROWS" = "$N" ] || fail "results holds $ROWS rows, expected $N"
[ "$ROLL" = "$N" ] || fail "rollup_1m attempts $ROLL, expected $N"
# the inventories against the results (db_seen.h: a last_seen may trail
# the newest result by less than a minute, nothing else may differ)
BAD_INV=$(PSQL -At -c "WITH r AS (SELECT fingerprint_sha256 AS fp, target, port, region,
	min(started_at) AS f, max(started_at) AS l FROM results WHERE fingerprint_sha256 IS NOT NULL
	GROUP BY 1, 2, 3, 4),
t AS (SELECT target, port, coalesce(sni, '') AS sni, max(started_at) AS l FROM results GROUP BY 1, 2, 3)
SELECT (SELECT count(*) FROM r FULL JOIN certificate_sightings s ON s.fingerprint_sha256 = r.fp
	AND s.target = r.target AND s.port = r.port AND s.region = r.region
	WHERE r.fp IS NULL OR s.fingerprint_sha256 IS NULL OR s.first_seen <> r.f OR s.last_seen > r.l
	OR s.last_seen <= r.l - interval '1 minute')
 + (SELECT count(*) FROM (SELECT DISTINCT fp FROM r) d FULL JOIN certificates c
	ON c.fingerprint_sha256 = d.fp WHERE d.fp IS NULL OR c.fingerprint_sha256 IS NULL)
 + (SELECT count(*) FROM t FULL JOIN targets g USING (target, port, sni)
	WHERE t.l IS NULL OR g.last_seen IS NULL OR g.last_seen > t.l
	OR g.last_seen <= t.l - interval '1 minute')")
say "   inventories (certificates, sightings, targets) against the results: ${BAD_INV:-NA} rows differ"
[ "$BAD_INV" = 0 ] || fail "certificates, sightings or targets differ from the results in ${BAD_INV:-NA} rows"
say "   collector: CPU ${COL_CPU}s during the run (${COL_CPU_TOTAL}s since start), peak RSS (VmHWM) ${COL_HWM} KiB, RSS now ${COL_RSS} KiB"
say "   PostgreSQL (all processes): CPU ${PG_CPU}s during the run; bench_ingest client CPU ${CLIENT_CPU:-NA}s"
# where the time went, from the PostgreSQL log (log_min_duration_statement = 0)
tail -c +"$((PGLOG_OFF + 1))" "$W/logs/postgres.log" | awk '
	/duration: [0-9.]+ ms/ && !/ plan:/ {
		match($0, /duration: [0-9.]+ ms/); d = substr($0, RSTART + 10, RLENGTH - 13) + 0
		k = "other"
		if ($0 ~ /statement: (BEGIN; COPY staging|COPY results|COPY ingest_roll)/) k = "copy"
		else if ($0 ~ /(statement|execute [^:]*): WITH (ins|r1|c) AS/) k = "ingest"
		else if ($0 ~ /execute [^:]*: (WITH l AS MATERIALIZED .*)?INSERT INTO probe_spools/) k = "lock"
		else if ($0 ~ /ROLLBACK/) k = "rollback"
		n[k]++; s[k] += d; if (d > mx[k]) mx[k] = d
	}
	END {
		if (!n["ingest"]) { print "   (no statement durations in the PostgreSQL log)"; exit }
		printf "   PostgreSQL time per transaction: %d transactions; COPY statements %d, %.1f ms avg (%.1f s total), ingest statement %.1f ms avg, max %.0f ms (%.1f s total); watermark lock %d, %.1f s; other statements %d, %.1f s\n",
			n["ingest"], n["copy"], s["copy"] / (n["copy"] ? n["copy"] : 1), s["copy"] / 1000,
			s["ingest"] / n["ingest"], mx["ingest"], s["ingest"] / 1000, n["lock"], s["lock"] / 1000,
			n["other"], s["other"] / 1000
	}'
if [ "${BENCH_INGEST_EXPLAIN:-0}" = 1 ]; then  # time per table written, from the auto_explain plans
	tail -c +"$((PGLOG_OFF + 1))" "$W/logs/postgres.log" | python3 -c '
import re, sys
tot = {}; plans = 0; dur = 0.0
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms  plan:", line)
    if m:
        plans += 1; dur += float(m.group(1)); continue
    m = re.search(r"Insert on (\w+) .*actual time=[0-9.]+\.\.([0-9.]+)", line)
    if m:
        tot[m.group(1)] = tot.get(m.group(1), 0.0) + float(m.group(2))
if plans:
    print("   auto_explain: %d ingest plans, %.1f s in total; time per INSERT node (incl. its input):" % (plans, dur / 1000))
    for k, v in sorted(tot.items(), key=lambda kv: -kv[1]):
        print("     %-22s %8.1f s  %5.1f%%" % (k, v / 1000, 100 * v / dur))
'
fi
LINE_RATE=$COL_RATE LINE_PGUS=$(calc "$PG_CPU * 1000000 / $N" 1) LINE_ROLL1M=$ROLL1M
LINE_COLUS=$(calc "$COL_CPU * 1000000 / $N" 1) LINE_WALL=${COL_WALL:-NA} LINE_HWM=$COL_HWM
LINE_BUILD=$LINE_BUILD_PGUS
}

ingest_line adversarial 1000 "$specs_a"
ADV_RATE=$LINE_RATE ADV_PGUS=$LINE_PGUS ADV_ROLL1M=$LINE_ROLL1M ADV_COLUS=$LINE_COLUS ADV_WALL=$LINE_WALL
ADV_BUILD=$LINE_BUILD ADV_E2E=$LINE_E2E
# each line into empty tables, through a collector started again: a
# collector keeps what it committed of the sightings and targets rows
# (collector/db_seen.h), which a TRUNCATE under it would make wrong, and the
# deploy line's results fall in the adversarial line's minutes
collector_stop
PSQL -q -c "TRUNCATE results, rollup_1m, rollup_1h, certificates, certificate_sightings, targets, probes, probe_spools" \
	-c "VACUUM ANALYZE" -c "CHECKPOINT" || fail "TRUNCATE between the lines failed"
collector_start collector-deploy.log
ingest_line deploy "${BENCH_INGEST_TARGETS:-1250}" "$specs_d"
DEP_RATE=$LINE_RATE DEP_PGUS=$LINE_PGUS DEP_ROLL1M=$LINE_ROLL1M DEP_COLUS=$LINE_COLUS DEP_WALL=$LINE_WALL
DEP_BUILD=$LINE_BUILD DEP_E2E=$LINE_E2E

cat "$W/logs/collector.log" "$W/logs/collector-deploy.log" | grep -E 'level=(warn|error)|WARN|ERROR' | head -5 | sed 's/^/   collector log: /'
$TW_PG_PSQL -d tlswatch -c "LOAD 'auto_explain'" -c "ALTER SYSTEM RESET log_min_duration_statement" \
	-c "ALTER SYSTEM RESET log_parameter_max_length" \
	-c "ALTER SYSTEM RESET session_preload_libraries" \
	-c "ALTER SYSTEM RESET auto_explain.log_min_duration" -c "ALTER SYSTEM RESET auto_explain.log_analyze" \
	-c "SELECT pg_reload_conf()" >/dev/null
collector_stop

# ---- 1c. one /metrics refresh over the deploy line's 20,000 series ----------------------------
# A collector started again on the same database refreshes /metrics once at
# startup (collector/metrics.c): from its start until tlswatch_metrics_
# refreshes_total (or _refresh_failures_total) reads 1. Before 674a442 that
# refresh took 26 s at this size and always hit its 10 s timeout.
say ""
say "== ingest 1c. one /metrics refresh, deploy rows (rollup_1m built), a collector started again"
w0=$(now)
"$COLL" run -c "$W/collector.yaml" </dev/null >"$W/logs/collector2.log" 2>&1 &
CPID2=$!
TW_PIDS="$TW_PIDS $CPID2"
REFRESH=NA
i=0
while [ $i -lt 600 ] && tw_alive "$CPID2"; do
	m=$(curl -s --noproxy '*' "http://127.0.0.1:$HTTPP/metrics" 2>/dev/null)
	ok=$(printf '%s\n' "$m" | sed -n 's/^tlswatch_metrics_refreshes_total \([0-9]*\)$/\1/p')
	bad=$(printf '%s\n' "$m" | sed -n 's/^tlswatch_metrics_refresh_failures_total \([0-9]*\)$/\1/p')
	if [ "${ok:-0}" -ge 1 ] || [ "${bad:-0}" -ge 1 ]; then
		REFRESH="$([ "${ok:-0}" -ge 1 ] && echo ok || echo FAILED) in $(calc "$(now) - $w0" 2)s from the collector's start"
		REFRESH="$REFRESH, $(printf '%s\n' "$m" | grep -c '^probe_success{') per-target series served"
		break
	fi
	sleep 0.2; i=$((i + 1))
done
say "   refresh: $REFRESH"
case $REFRESH in ok*) ;; *) fail "the /metrics refresh did not succeed: $REFRESH" ;; esac
kill -TERM "$CPID2" 2>/dev/null
i=0; while tw_alive "$CPID2" && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done

# ---- the rollup_1h builder's cost (sql/016_rollup_1h_builder.sql) ----------------------------
# rollup_1h is built off the ingest path, by the leader; its cost belongs in
# the total. The deploy line's hours (its rollup_1m rows) are built again
# from scratch here, step by step as rollup_hourly.c does (one REPEATABLE
# READ transaction per hour, without JIT as the leader's session), with the
# collector stopped.
BUILD_PGUS=NA
if [ "$(PSQL -At -c "SELECT to_regproc('tw_rollup_1h_step') IS NOT NULL")" = t ]; then
say ""
say "== ingest 1b. rollup_1h builder over the deploy line's rollup_1m ($DEP_ROLL1M rows)"
PSQL -q -c "UPDATE rollup_1h_state SET mark_before = date_trunc('hour', (SELECT min(bucket) FROM rollup_1m), 'UTC'),
	ready_before = date_trunc('hour', (SELECT min(bucket) FROM rollup_1m), 'UTC')" \
	-c "DELETE FROM rollup_1h_dirty" -c "DELETE FROM rollup_1h" -c "CHECKPOINT" || fail "resetting rollup_1h failed"
p0=$(pg_ticks); w0=$(now)
PSQL -qAt -c "SELECT tw_rollup_1h_claim(now() + interval '2 hours', interval '0')" >/dev/null || fail "claim failed"
BHOURS=0
while [ $BHOURS -lt 100 ]; do
	h=$(PSQL -qAt -c "SET jit = off" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT tw_rollup_1h_step()" -c "COMMIT") ||
		{ fail "tw_rollup_1h_step failed"; break; }
	[ -n "$h" ] || break
	BHOURS=$((BHOURS + 1))
done
w1=$(now); p1=$(pg_ticks)
BROWS=$(PSQL -At -c "SELECT count(*) FROM rollup_1h")
BSUM=$(PSQL -At -c "SELECT coalesce(sum(attempts), 0) FROM rollup_1h")
BPG=$(calc "($p1 - $p0) / $HZ" 2)
say "   $BHOURS hours, $BROWS rollup_1h rows (sum(attempts) $BSUM) in $(calc "$w1 - $w0" 2)s; PostgreSQL CPU ${BPG}s:" \
	"$(calc "$BPG * 1000000 / ($BROWS + ($BROWS == 0))" 1) us per built row," \
	"$(calc "$BPG * 1000000 / ($DEP_ROLL1M + ($DEP_ROLL1M == 0))" 1) us per rollup_1m row," \
	"$(calc "$BPG * 1000000 / $N" 1) us per ingested result"
[ "$BSUM" = "$N" ] || fail "rollup_1h built sum(attempts) $BSUM, expected $N"
BUILD_PGUS=$(calc "$BPG * 1000000 / $N" 1)
fi

# ---- 2. the same rows through psql \copy -------------------------------------------------------
say ""
say "== ingest 2. psql \\copy results FROM CSV (the same $ROWS rows, same partitioned table + indexes)"
w0=$(now)
PSQL -c "\\copy (SELECT * FROM results) TO '$W/results.csv' CSV" || fail "export to CSV failed"
say "   exported to CSV in $(calc "$(now) - $w0" 2)s ($(( $(wc -c <"$W/results.csv") / 1048576 )) MiB)"
PSQL -c "CREATE TABLE results_save AS SELECT * FROM results ORDER BY probe_id, seq LIMIT $INSERT_N" ||
	fail "saving $INSERT_N rows failed"
PSQL -c "TRUNCATE results" -c "CHECKPOINT" || fail "TRUNCATE failed"
p0=$(pg_ticks); w0=$(now)
PSQL -c "\\copy results FROM '$W/results.csv' CSV"
crc=$?
w1=$(now); p1=$(pg_ticks)
COPY_ROWS=$(PSQL -At -c "SELECT count(*) FROM results")
COPY_WALL=$(calc "$w1 - $w0" 3)
COPY_RATE=NA
if [ $crc -ne 0 ]; then
	fail "\\copy FROM exited $crc"
else
	COPY_RATE=$(calc "$COPY_ROWS / ($w1 - $w0)" 0)
fi
COPY_PGUS=$(calc "($p1 - $p0) * 1000000 / $HZ / $COPY_ROWS" 1)
say "   rc=$crc: $COPY_ROWS rows in ${COPY_WALL}s -> $COPY_RATE rows/s; PostgreSQL CPU $(calc "($p1 - $p0) / $HZ" 2)s ($COPY_PGUS us/row)"
[ "$COPY_ROWS" = "$ROWS" ] || fail "COPY loaded $COPY_ROWS rows, expected $ROWS"

# ---- 3. one autocommit INSERT per row ----------------------------------------------------------
say ""
say "== ingest 3. one INSERT per row, autocommit (psql -f), $INSERT_N rows (not the full N: runtime)"
PSQL -At -c "SELECT format('INSERT INTO results SELECT (%L::results).*;', r) FROM results_save r" \
	-o "$W/inserts.sql" || fail "generating the INSERT file failed"
PSQL -c "TRUNCATE results" -c "CHECKPOINT" || fail "TRUNCATE failed"
p0=$(pg_ticks); w0=$(now)
PSQL -f "$W/inserts.sql" >/dev/null
irc=$?
w1=$(now); p1=$(pg_ticks)
INS_ROWS=$(PSQL -At -c "SELECT count(*) FROM results")
INS_RATE=NA
if [ $irc -ne 0 ]; then
	fail "psql -f inserts exited $irc"
else
	INS_RATE=$(calc "$INS_ROWS / ($w1 - $w0)" 0)
fi
INS_PGUS=$(calc "($p1 - $p0) * 1000000 / $HZ / $INS_ROWS" 1)
say "   rc=$irc: $INS_ROWS rows in $(calc "$w1 - $w0" 3)s -> $INS_RATE rows/s; PostgreSQL CPU $(calc "($p1 - $p0) / $HZ" 2)s ($INS_PGUS us/row)"
[ "$INS_ROWS" = "$INSERT_N" ] || fail "INSERT loaded $INS_ROWS rows, expected $INSERT_N"

# ---- summary -----------------------------------------------------------------------------------
# Baselines: issue 11, clean checkout 3546a96 (1,000,000 results, adversarial
# data, idle 2-CPU machine): collector 15,774/s, COPY 92,306/s, INSERT 8,370/s.
say ""
say "---------------- ingest summary ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $PGVER, fsync off) ----------------"
say "  line                                       rows/s   x COPY  x INSERT  PG CPU us/row  collector CPU us/row  rollup_1m rows"
printf '  %-40s %8s  %6s  %8s  %13s  %20s  %s\n' "collector, deploy ($K probes, $DB_CONNS conns)" "$DEP_RATE" \
	"$(ratio "$DEP_RATE" "$COPY_RATE")" "$(ratio "$DEP_RATE" "$INS_RATE")" "$DEP_PGUS" "$DEP_COLUS" "$DEP_ROLL1M"
printf '  %-40s %8s  %6s  %8s  %13s  %20s  %s\n' "collector, adversarial (1 row/series-min)" "$ADV_RATE" \
	"$(ratio "$ADV_RATE" "$COPY_RATE")" "$(ratio "$ADV_RATE" "$INS_RATE")" "$ADV_PGUS" "$ADV_COLUS" "$ADV_ROLL1M"
printf '  %-40s %8s  %6s  %8s  %13s\n' "deploy end to end (+ rollup_1m catch-up)" "$DEP_E2E" \
	"$(ratio "$DEP_E2E" "$COPY_RATE")" "$(ratio "$DEP_E2E" "$INS_RATE")" "-"
printf '  %-40s %8s  %6s  %8s  %13s\n' "adversarial end to end (+ catch-up)" "$ADV_E2E" \
	"$(ratio "$ADV_E2E" "$COPY_RATE")" "$(ratio "$ADV_E2E" "$INS_RATE")" "-"
printf '  %-40s %8s  %6s  %8s  %13s\n' "psql \\copy CSV (results only)" "$COPY_RATE" 1.00 \
	"$(ratio "$COPY_RATE" "$INS_RATE")" "$COPY_PGUS"
printf '  %-40s %8s  %6s  %8s  %13s\n' "one INSERT per row, autocommit ($INSERT_N)" "$INS_RATE" \
	"$(ratio "$INS_RATE" "$COPY_RATE")" 1.00 "$INS_PGUS"
say "  rollup_1m builder (off the ingest path, what the run left in the tail): ${DEP_BUILD:-NA} (deploy), ${ADV_BUILD:-NA} (adversarial) PG CPU us per result"
say "  rollup_1h builder (off the ingest path, deploy rows): ${BUILD_PGUS:-NA} PG CPU us per ingested result"
say "  goals: deploy >= 0.5x COPY (aim 0.8x), > 10x INSERT. baseline (issue 11, 3546a96, 1M adversarial, idle):"
say "         collector 15774/s = 0.17x COPY, 1.9x INSERT; PG CPU 79 us/row vs 10.7 for COPY"
say "ingest status: $([ $status -eq 0 ] && echo ok || echo 'SOME STEPS FAILED (see above)')"
exit $status
