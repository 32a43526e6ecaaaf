#!/bin/sh
# bench/copy_format.sh - PostgreSQL's CPU for `COPY results` in the text
# format against the binary one (BENCHMARKS.md, "Binary COPY of results"):
# N synthetic rows shaped like bench/ingest.sh's deploy rows (every column
# type of results: text, timestamps, integers, floats, a text[] and two
# jsonb), exported once in each format, then loaded back REPS times in
# each format, alternating, into the emptied table (same partitions and
# indexes). PostgreSQL CPU is utime+stime of all its processes during the
# load (as bench/ingest.sh counts it). Figures are printed, not asserted.
#
#   TW_BUILD=build sh bench/copy_format.sh      (N=200000, REPS=5)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
N=${N:-200000}
REPS=${REPS:-5}
. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"
[ -x "$B/tlswatch-collector" ] || { echo "copy_format: $B/tlswatch-collector missing" >&2; exit 2; }

tw_init
tw_alloc_ports PG COLLP
W=$TW_WORK
tw_pg_start "$PG"
tw_pg_createdb tlswatch
cat >"$W/collector.yaml" <<EOC
listen: 127.0.0.1:$COLLP
tls:
  ca_file: /dev/null
  cert_file: /dev/null
  key_file: /dev/null
database:
  conninfo: "host=127.0.0.1 port=$PG user=postgres dbname=tlswatch"
EOC
"$B/tlswatch-collector" migrate -c "$W/collector.yaml" >"$W/logs/migrate.log" 2>&1 ||
	{ cat "$W/logs/migrate.log" >&2; tw_die "migrate failed"; }
P() { $TW_PG_PSQL -d tlswatch "$@"; }
HZ=$(getconf CLK_TCK)
# all of PostgreSQL, in ticks (bench/ingest.sh's pg_ticks)
pg_ticks() {
	sleep 0.5
	_pm=$(head -1 "$W/pg/data/postmaster.pid" 2>/dev/null)
	{
		sed 's/.*) //' "/proc/$_pm/stat" | awk '{ print $12 + $13 + $14 + $15 }'
		for _s in /proc/[0-9]*/stat; do
			sed 's/.*) //' "$_s" 2>/dev/null | awk -v pm="$_pm" '$2 == pm { print $12 + $13 }'
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}
# the server writes and reads the files: its data directory is its own
D=$W/pg/data
P <<EOS || tw_die "generating rows failed"
INSERT INTO results (probe_id, seq, spool_epoch, region, probe_version, started_at, received_at,
  target, port, sni, address, profile, service, labels, interval_ms, mtls, outcome, findings,
  verify_errors, tls_version, cipher, cipher_iana, grp, alpn, resumed, ocsp_stapled, ocsp_status,
  sni_match, cert_not_before, cert_not_after, days_to_expiry, chain_not_after_min,
  chain_not_after_min_depth, chain_len, leaf_subject, leaf_sans, leaf_issuer, leaf_key,
  leaf_sig_alg, fingerprint_sha256, dns_ms, connect_ms, handshake_ms, total_ms, ocsp_responder_named)
SELECT 'bench-d' || (i % 4), i, '0123456789abcdef0123456789abcdef', 'eu-west', '1.0.0',
  now() - (i || ' s')::interval, now(), 't' || (i % 1250) || '.example', 443,
  't' || (i % 1250) || '.example', '127.0.0.1', 'modern', 'web', '{"team": "sre"}', 30000, false,
  'ok', '{}', '[]', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256', 'X25519', 'h2',
  false, true, 'good', true, now() - interval '30 days', now() + interval '60 days',
  59.5 + i / 1e6, now() + interval '50 days', 1, 3, 'CN=t.example',
  ARRAY['t.example', 'www.t.example'], 'CN=Bench CA', 'EC-P-256', 'ecdsa-with-SHA256',
  'AB:CD:' || (i % 1250), 0.1 * (i % 7), 0.5 + i % 3, 12.25 + (i % 100) / 3.0,
  15.125 + (i % 90), true
FROM generate_series(1, $N) i;
COPY (SELECT * FROM results) TO '$D/r.txt';
COPY (SELECT * FROM results) TO '$D/r.bin' (FORMAT binary);
EOS
printf 'copy_format: %s rows; text %s bytes, binary %s bytes; load %s\n' "$N" \
	"$(wc -c <"$D/r.txt")" "$(wc -c <"$D/r.bin")" "$(cut -d' ' -f1-3 /proc/loadavg)"
rep=1
while [ "$rep" -le "$REPS" ]; do
	for fmt in text binary; do
		f=$D/r.txt o=""
		[ "$fmt" = binary ] && { f=$D/r.bin; o="(FORMAT binary)"; }
		P -c "TRUNCATE results" -c "CHECKPOINT" >/dev/null
		t0=$(pg_ticks)
		P -c "COPY results FROM '$f' $o" >/dev/null || tw_die "COPY $fmt failed"
		t1=$(pg_ticks)
		awk -v f="$fmt" -v r="$rep" -v t="$((t1 - t0))" -v hz="$HZ" -v n="$N" \
			'BEGIN { printf "  rep %d %-6s PostgreSQL CPU %6.0f ms = %5.2f us/row\n", r, f, t * 1000 / hz, t * 1e6 / hz / n }'
	done
	rep=$((rep + 1))
done
printf 'copy_format: load at the end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
