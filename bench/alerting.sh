#!/bin/sh
# bench/alerting.sh - what the issue-10 alerting adds to one evaluation: a
# private PostgreSQL (tests/harness/pg.sh), BENCH_ALERT_TARGETS targets
# (500) x 3 regions x 2 profiles probed once a minute for an hour (results
# and rollup_1m; 2 % of targets failing in two regions, 10 % rotating their
# certificate in one), then `tlswatch-collector evaluate` with the default
# slos.yaml, three times, and once with every statement's time logged: the
# certificate-change statement (rules_certs.c) and the region quorum
# (rules_quorum.c) next to the rules that were there before. Figures are
# printed, not asserted.
#
#   sh bench/alerting.sh            (after make build/tlswatch-collector)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
COLL=$B/tlswatch-collector
[ -x "$COLL" ] || { echo "alerting: $COLL missing (build it first)" >&2; exit 2; }
N=${BENCH_ALERT_TARGETS:-500}

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
tw_init
tw_alloc_ports PG
tw_pg_start "$PG"
W=$TW_WORK
cat >"$W/collector.yaml" <<Y
listen: 127.0.0.1:1
tls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}
database: {conninfo: "$TW_PG_CONNINFO dbname=postgres"}
alerting: {collector_id: bench, slo_file: $W/slos.yaml}
Y
: >"$W/slos.yaml"
"$COLL" migrate -c "$W/collector.yaml" >/dev/null 2>&1 || tw_die "migrate failed"
P="$TW_PG_PSQL -d postgres -q"
$P -c "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, port,
  profile, outcome, tls_version, fingerprint_sha256, cert_not_after)
 SELECT 'p-' || r, row_number() OVER (), r, t, t, 't' || i || '.example', 443, p,
   CASE WHEN i % 50 = 0 AND r <> 'us' THEN 'connect_timeout' ELSE 'ok' END, 'TLSv1.3',
   CASE WHEN i % 10 = 0 AND r = 'eu' AND t > '2026-03-02T09:30:00Z' THEN 'new' ELSE 'old' END || i,
   '2026-09-01'
 FROM generate_series(1, $N) i, unnest(ARRAY['eu', 'us', 'ap']) r,
   unnest(ARRAY['modern', 'legacy']) p,
   generate_series('2026-03-02T09:00:00Z'::timestamptz, '2026-03-02T09:59:00Z', interval '1 minute') t" \
	|| tw_die "results"
$P -c "INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts,
  successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum,
  handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, cipher_fallback_count,
  sni_mismatch_count, expiring_soon_count)
 SELECT date_trunc('minute', started_at), target, port, '', region, profile, NULL, count(*),
   count(*) FILTER (WHERE outcome = 'ok'), count(*) FILTER (WHERE outcome <> 'ok'),
   jsonb_build_object(min(outcome), count(*)), 0, '{}', 0, 0, 0, 0, 0, 0, 0, 0
 FROM results GROUP BY 1, 2, 3, 5, 6" || tw_die "rollups"
$P -c "ANALYZE"
echo "== alerting: $($P -At -c 'SELECT count(*) FROM results') results, $($P -At -c 'SELECT count(*) FROM rollup_1m') rollup_1m rows ($(nproc) CPUs)"
for i in 1 2 3; do
	"$COLL" evaluate -c "$W/collector.yaml" --json --now "2026-03-02T10:00:0${i}Z" 2>/dev/null | tail -1 |
		/usr/bin/python3 -c 'import json, sys; j = json.load(sys.stdin); print("   evaluation %s: %.1f ms, %d alert changes, %d certificate changes" % (sys.argv[1], j["duration_ms"], j["changes"], len(j["certificate_changes"])))' "$i"
done
echo "   firing region_quorum pages: $($P -At -c "SELECT count(*) FROM alerts WHERE rule = 'region_quorum' AND state = 'firing'"), certificate_changes rows: $($P -At -c 'SELECT count(*) FROM certificate_changes')"
$P -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
: >"$W/logs/postgres.log"
"$COLL" evaluate -c "$W/collector.yaml" --json --now 2026-03-02T10:00:06Z >/dev/null 2>&1
echo "   statements over 5 ms in a steady evaluation:"
/usr/bin/python3 - "$W/logs/postgres.log" <<'PY'
import re, sys
names = [("INSERT INTO certificate_changes", "certificate changes (new)"), ("'region_quorum'", "region_quorum (new)"),
         ("chain_not_after_min_depth", "cert_expiry"), ("sni_mismatch_count", "sni_mismatch"),
         ("cert_fingerprint_drift", "cert_fingerprint_drift"), ("mtls_attempts", "mtls_mass_failure")]
text = open(sys.argv[1], errors="replace").read()
for m in re.finditer(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*?)(?=\n\S|\Z)", text, re.S):
    ms, sql = float(m.group(1)), m.group(2)
    if ms < 5:
        continue
    name = next((n for k, n in names if k in sql), sql[:50].replace("\n", " "))
    print("     %8.1f ms  %s" % (ms, name))
PY
