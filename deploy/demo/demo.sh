#!/bin/sh
# make demo - the whole pipeline on one machine, on 127.0.0.1 only:
#
#   7 deliberately defective TLS endpoints (openssl s_server, throwaway PKI)
#   a private PostgreSQL (initdb in a temp dir)
#   tlswatch-collector (mTLS ingest, /metrics, /readyz)
#   3 tlswatch-probe daemons, one per simulated region (eu-west, us-east,
#     ap-south), each with its own client certificate (CN = probe id, OU =
#     region); ap-south is routed to a stale backend for "shop", as a
#     misrouting load balancer would
#
# It runs for DEMO_SECONDS (default 20), prints what PostgreSQL holds - the
# region x endpoint health grid, latency, certificates - then stops
# everything. DEMO_KEEP=1 keeps it all running until Ctrl-C.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
B=${TW_BUILD:-build}
PROBE="$here/$B/tlswatch-probe"
COLLECTOR="$here/$B/tlswatch-collector"
. "$here/tests/harness/fixtures.sh"
. "$here/tests/harness/pg.sh"
tw_init

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

PKI="$TW_WORK/pki"
PIPE="$TW_WORK/pipe"
tw_alloc_ports GOOD EXPIRED INCOMPLETE MISMATCH WEAK TLS1 SELF OCSPP DEADP PG COLL HTTP HOOK
step "PKI for the endpoints and for the probe -> collector stream"
sh "$here/tests/harness/mkpki.sh" "$PKI" "$OCSPP" "$DEADP" >/dev/null || tw_die "PKI generation failed"
sh "$here/tests/harness/mkpki-pipeline.sh" "$PIPE" probe-eu:eu-west probe-us:us-east probe-ap:ap-south \
	|| tw_die "pipeline PKI generation failed"
echo "ok: $PKI, $PIPE"

step "7 defective endpoints"
srv() {
	_n=$1 _p=$2; shift 2
	tw_start "$_n" "$_p" openssl s_server -accept "127.0.0.1:$_p" -www -quiet \
		-no-CAfile -no-CApath -no-CAstore "$@"
}
srv healthy    "$GOOD"       -cert "$PKI/good.pem" -key "$PKI/good.key" -cert_chain "$PKI/int.pem"
srv expired    "$EXPIRED"    -cert "$PKI/expired.pem" -key "$PKI/expired.key" -cert_chain "$PKI/int.pem"
srv no-intermediate "$INCOMPLETE" -cert "$PKI/good.pem" -key "$PKI/good.key"
srv wrong-name "$MISMATCH"   -cert "$PKI/other.pem" -key "$PKI/other.key" -cert_chain "$PKI/int.pem"
srv rsa1024    "$WEAK"       -cert "$PKI/rsa1024.pem" -key "$PKI/rsa1024.key" -cert_chain "$PKI/int.pem" \
	-cipher 'DEFAULT:@SECLEVEL=0'
srv tls10-only "$TLS1"       -cert "$PKI/good.pem" -key "$PKI/good.key" -cert_chain "$PKI/int.pem" \
	-tls1 -cipher 'DEFAULT:@SECLEVEL=0'
srv self-signed "$SELF"      -cert "$PKI/selfsigned.pem" -key "$PKI/selfsigned.key"
tw_wait_ports 20 || tw_die "demo endpoints did not start"
for e in "healthy $GOOD" "expired $EXPIRED" "no-intermediate $INCOMPLETE" "wrong-name $MISMATCH" \
	 "rsa1024 $WEAK" "tls10-only $TLS1" "self-signed $SELF"; do
	set -- $e; printf '  %-16s 127.0.0.1:%s\n' "$1" "$2"
done

step "PostgreSQL (private, in $TW_WORK/pg)"
tw_pg_start "$PG"
echo "ok: $TW_PG_CONNINFO"

step "collector: migrate, then run (mTLS on 127.0.0.1:$COLL, HTTP on 127.0.0.1:$HTTP)"
# a local "pager": a webhook receiver that verifies our Standard Webhooks signature
SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
tw_start pager "$HOOK" python3 "$here/tests/harness/webhook_receiver.py" --port "$HOOK" \
	--log "$TW_WORK/pager.jsonl" --secret "$SECRET" --reject-bad-sig
cat >"$TW_WORK/slos.yaml" <<EOF
slos:
  - {name: shop, sli: availability, objective: 99.9, window: 30d, selector: {service: shop}}
  - {name: shop-eu, sli: availability, objective: 99.9, window: 30d, selector: {service: shop, region: eu-west}}
  - {name: healthy, sli: availability, objective: 99.9, window: 30d, selector: {service: healthy}}
  - {name: healthy-latency, sli: latency, threshold_ms: 100, objective: 99, window: 30d, selector: {service: healthy}}
EOF
cat >"$TW_WORK/notify.yaml" <<EOF
sinks:
  - {name: pager, type: webhook, url: "http://127.0.0.1:$HOOK/tlswatch", secret: $SECRET}
routes:
  - sinks: [pager]
delivery:
  poll_interval: 500ms
EOF
cat >"$TW_WORK/collector.yaml" <<EOF
listen: 127.0.0.1:$COLL
tls:
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/collector.pem
  key_file: $PIPE/collector.key
http:
  listen: 127.0.0.1:$HTTP
database:
  conninfo: "$TW_PG_CONNINFO"
  connections: 2
alerting:
  slo_file: $TW_WORK/slos.yaml
  evaluation_interval: 5s
  collector_id: demo-collector
  notify_file: $TW_WORK/notify.yaml
EOF
"$COLLECTOR" migrate -c "$TW_WORK/collector.yaml" 2>"$TW_WORK/logs/migrate.log" || { cat "$TW_WORK/logs/migrate.log"; tw_die "migrate failed"; }
tw_start collector "$COLL" "$COLLECTOR" run -c "$TW_WORK/collector.yaml"
tw_wait_ports 20 || tw_die "collector did not start"

# probe_yaml ID SHOP_PORT: every endpoint, 4 client profiles, every 5 s.
# "shop" is the same service everywhere, but ap-south's load balancer sends
# it to the expired backend.
probe_yaml() {
	cat <<EOF
probe:
  id: $1
  region: $2
collector:
  address: localhost:$COLL
  ca_file: $PIPE/pipe-ca.pem
  cert_file: $PIPE/$1.pem
  key_file: $PIPE/$1.key
  batch_max_delay: 200ms
spool:
  path: $TW_WORK/spool-$1
  max_bytes: 16MiB
concurrency: 100
defaults:
  interval: 5s
  timeout: 3s
  ca_file: $PKI/root.pem
  profiles: [modern, intermediate, tls13, "Android 4.4.2"]
targets:
  - {host: good.tw.test, port: 443, connect_to: "127.0.0.1:$3", service: shop, labels: {endpoint: shop}}
  - {host: good.tw.test, port: $GOOD, connect_to: 127.0.0.1, service: healthy, labels: {endpoint: healthy}}
  - {host: good.tw.test, port: $EXPIRED, connect_to: 127.0.0.1, service: expired, labels: {endpoint: expired}}
  - {host: good.tw.test, port: $INCOMPLETE, connect_to: 127.0.0.1, service: no-intermediate, labels: {endpoint: no-intermediate}}
  - {host: good.tw.test, port: $MISMATCH, connect_to: 127.0.0.1, service: wrong-name, labels: {endpoint: wrong-name}}
  - {host: good.tw.test, port: $WEAK, connect_to: 127.0.0.1, service: rsa1024, labels: {endpoint: rsa1024}}
  - {host: good.tw.test, port: $TLS1, connect_to: 127.0.0.1, service: tls10-only, labels: {endpoint: tls10-only}}
  - {host: good.tw.test, port: $SELF, connect_to: 127.0.0.1, service: self-signed, labels: {endpoint: self-signed}}
EOF
}
step "3 probes: probe-eu (eu-west), probe-us (us-east), probe-ap (ap-south)"
probe_yaml probe-eu eu-west "$GOOD" >"$TW_WORK/probe-eu.yaml"
probe_yaml probe-us us-east "$GOOD" >"$TW_WORK/probe-us.yaml"
probe_yaml probe-ap ap-south "$EXPIRED" >"$TW_WORK/probe-ap.yaml"
for p in eu us ap; do
	"$PROBE" run -c "$TW_WORK/probe-$p.yaml" --check-config >/dev/null || tw_die "probe-$p.yaml is invalid"
	tw_start "probe-$p" - "$PROBE" run -c "$TW_WORK/probe-$p.yaml" --log-level info
done
secs=${DEMO_SECONDS:-20}
echo "probing for $secs s (8 endpoints x 4 profiles x 3 regions, every 5 s)..."
i=0
while [ "$i" -lt "$secs" ]; do
	sleep 1; i=$((i + 1))
	n=$($TW_PG_PSQL -d postgres -tAc "SELECT count(*) FROM results" 2>/dev/null || echo "?")
	if [ -t 1 ]; then printf '\r  %3ds  %s results stored' "$i" "$n"
	elif [ $((i % 5)) -eq 0 ]; then printf '  %3ds  %s results stored\n' "$i" "$n"; fi
done
[ -t 1 ] && echo

PSQL="$TW_PG_PSQL -d postgres -P pager=off"
step "health grid: handshake success by endpoint and region (last ${secs}s, from rollup_1m)"
$PSQL -c "
SELECT service AS endpoint,
  max(CASE WHEN region = 'eu-west'  THEN round(100.0 * successes / attempts) || '%' END) AS \"eu-west\",
  max(CASE WHEN region = 'us-east'  THEN round(100.0 * successes / attempts) || '%' END) AS \"us-east\",
  max(CASE WHEN region = 'ap-south' THEN round(100.0 * successes / attempts) || '%' END) AS \"ap-south\"
FROM (SELECT service, region, sum(successes) successes, sum(attempts) attempts
      FROM rollup_1m GROUP BY 1, 2) s
GROUP BY 1 ORDER BY 1"

step "why: outcomes per endpoint (all regions, all profiles)"
$PSQL -c "
SELECT service AS endpoint, outcome, count(*) AS results,
       string_agg(DISTINCT region, ',') AS regions
FROM results GROUP BY 1, 2 ORDER BY 1, 3 DESC"

step "latency: handshake p50 / p95 (ms) per region, completed handshakes"
$PSQL -c "
SELECT region, count(*) AS handshakes,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY handshake_ms)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY handshake_ms)::numeric, 2) AS p95_ms
FROM results WHERE tls_version IS NOT NULL GROUP BY 1 ORDER BY 1"

step "certificate inventory: where each certificate is served"
$PSQL -c "
SELECT left(c.fingerprint_sha256, 16) AS fingerprint, c.subject, c.not_after::date AS not_after,
       s.target || ':' || s.port AS target, string_agg(s.region, ',' ORDER BY s.region) AS regions
FROM certificates c JOIN certificate_sightings s USING (fingerprint_sha256)
GROUP BY 1, 2, 3, 4 ORDER BY 4, 1"

step "probes (identity and region from their certificates)"
$PSQL -c "SELECT probe_id, region, version, last_seq, round(clock_offset_ms::numeric, 1) AS clock_offset_ms,
               last_seen FROM probes ORDER BY 1"

step "alerts (evaluated every 5 s by the collector holding the evaluator lock)"
$PSQL -c "SELECT rule, severity, state, subject, region_group AS regions, left(summary, 90) AS summary
          FROM alerts WHERE state <> 'resolved' ORDER BY severity, rule, subject"

step "SLO status now (tlswatch-collector evaluate --dry-run)"
"$COLLECTOR" evaluate -c "$TW_WORK/collector.yaml" --dry-run 2>/dev/null | head -30

step "a report of the last day (tlswatch-collector report; docs/reports.md)"
REPORTS="$here/$B/demo-report"
mkdir -p "$REPORTS" && "$COLLECTOR" report -c "$TW_WORK/collector.yaml" --period 1d \
	--format html,pdf,md,json --out "$REPORTS" 2>"$TW_WORK/logs/report.log" \
	|| { cat "$TW_WORK/logs/report.log"; tw_die "report failed"; }

step "the pager received (signed webhooks, verified by the receiver)"
python3 - "$TW_WORK/pager.jsonl" <<'EOF'
import json, sys
n = ok = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for line in lines:
    r = json.loads(line)
    n += 1
    ok += r.get("sig") is True
    try:
        body = json.loads(r["body"])
    except Exception:
        body = {}
    a = body.get("data", body)
    print("  %-9s %-8s %s" % (a.get("action", a.get("event", "?")), a.get("severity", "?"),
                              (a.get("summary") or "")[:100]))
print("  %d notifications, %d with a valid signature" % (n, ok))
EOF

step "collector: /readyz and a few /metrics lines"
python3 - "$HTTP" <<'EOF'
import sys, urllib.request
port = sys.argv[1]
for path in ("/readyz", "/metrics"):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode()
    except Exception as e:
        body = f"error: {e}"
    if path == "/readyz":
        print("readyz:", body.strip())
    else:
        for line in body.splitlines():
            if line.startswith("#"):
                continue
            if any(k in line for k in ("rows_inserted", "results_received", "evaluator_leader",
                                       "notify_delivered")):
                print(" ", line)
EOF

if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo
	echo "DEMO_KEEP=1: everything keeps running; PostgreSQL: $TW_PG_PSQL -d postgres"
	echo "collector metrics: http://127.0.0.1:$HTTP/metrics   (Ctrl-C stops it all)"
	while :; do sleep 3600; done
fi
echo
echo "demo: done; everything stopped. (DEMO_KEEP=1 make demo keeps it running.)"
exit 0
