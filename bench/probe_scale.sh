#!/bin/sh
# bench/probe_scale.sh - one tlswatch-probe daemon with many schedule
# entries against local endpoints (issue 3, "Benchmarks"), called by
# bench/run.sh. Figures are printed, not asserted.
#
#   nginx (1 worker, ECDSA P-256 leaf for *.bench.test) on PORTS local ports
#   private PostgreSQL + tlswatch-collector, so the probe's spool and uplink
#   run as in production
#   tlswatch-probe run: TARGETS distinct targets (tNNNN.bench.test, sni =
#   host, connect_to 127.0.0.1, spread over the ports) x 4 profiles =
#   TARGETS*4 entries, every INTERVAL
#
# After WARM seconds the probe is asked for its stats (SIGUSR1) and its CPU
# time is read; SECS seconds later again. Printed: entries, handshakes in the
# window, CPU seconds per handshake (probe utime+stime / handshakes), peak
# RSS (VmHWM), lateness p50/p99/max of scheduled starts and the overdue
# count (from the probe's stats file, cumulative since start).
#
# Knobs (environment): PROBE_SCALE_TARGETS (2500), PROBE_SCALE_INTERVAL (30s),
# PROBE_SCALE_SECS (60), PROBE_SCALE_WARM (5), PROBE_SCALE_PORTS (4),
# TW_BUILD (build dir).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
PROBE=$B/tlswatch-probe
COLL=$B/tlswatch-collector
NT=${PROBE_SCALE_TARGETS:-2500}
INTERVAL=${PROBE_SCALE_INTERVAL:-30s}
SECS=${PROBE_SCALE_SECS:-60}
WARM=${PROBE_SCALE_WARM:-5}
NPORTS=${PROBE_SCALE_PORTS:-4}
PROFILES='[modern, intermediate, tls13, "Chrome 101 (Win 10)"]'

. "$top/tests/harness/fixtures.sh"
. "$top/tests/harness/pg.sh"

say() { printf '%s\n' "$*"; }
status=0
fail() { say "probe_scale: FAILED: $*" >&2; status=1; }
calc() { case "$1" in *NA*|"") echo NA; return;; esac; awk "BEGIN { printf \"%.${2:-1}f\", $1 }" 2>/dev/null || echo NA; }
HZ=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# a process and its children, live and reaped (nginx master + worker)
tree_ticks() {
	{
		sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }'
		for _s in /proc/[0-9]*/stat; do
			sed 's/.*) //' "$_s" 2>/dev/null | awk -v pp="$1" '$2 == pp { print $12 + $13 }'
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }
# jget FILE KEY.PATH: one value of the stats JSON
jget() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2" 2>/dev/null || echo NA; }
# SIGUSR1 and wait (up to 10 s) until the stats file has been rewritten
snap() {
	_old=$(stat -c %Y.%s "$ST" 2>/dev/null; jget "$ST" time)
	kill -USR1 "$PPID_" 2>/dev/null
	_i=0
	while [ $_i -lt 100 ]; do
		sleep 0.1
		_new=$(stat -c %Y.%s "$ST" 2>/dev/null; jget "$ST" time)
		[ "$_new" != "$_old" ] && break
		_i=$((_i + 1))
	done
	cp "$ST" "$1"
}

for f in "$PROBE" "$COLL"; do
	[ -x "$f" ] || { say "probe_scale: $f missing (build it first)" >&2; exit 2; }
done
command -v nginx >/dev/null || { say "probe_scale: nginx not installed" >&2; exit 2; }

tw_init
W=$TW_WORK
ports=""; vars=""
i=1; while [ $i -le "$NPORTS" ]; do vars="$vars NGP$i"; i=$((i + 1)); done
tw_alloc_ports PG COLLP $vars
for v in $vars; do eval "ports=\"\$ports \$$v\""; done

# ---- target PKI: ECDSA P-256 CA + leaf for *.bench.test ------------------------------------
(
	set -e
	cd "$W"
	export OPENSSL_CONF=/dev/null
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key
	openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=tw scale CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out ca.pem
	openssl ecparam -name prime256v1 -genkey -noout -out leaf.key
	openssl req -new -key leaf.key -subj "/CN=bench.test" -out leaf.csr
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:*.bench.test,DNS:localhost,IP:127.0.0.1" >leaf.ext
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 2 \
		-extfile leaf.ext -out leaf.pem
) >"$W/logs/pki.log" 2>&1 || tw_die "target PKI generation failed"
sh "$top/tests/harness/mkpki-pipeline.sh" "$W/pipe" probe-a:eu-west >>"$W/logs/pki.log" 2>&1 ||
	tw_die "mkpki-pipeline.sh failed"

# ---- nginx -------------------------------------------------------------------------------------
mkdir -p "$W/nginx"
{
	cat <<EOF
user root;
worker_processes 1;
daemon off;
master_process on;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    server {
EOF
	for p in $ports; do echo "        listen 127.0.0.1:$p ssl backlog=1024;"; done
	cat <<EOF
        server_name _;
        ssl_certificate $W/leaf.pem;
        ssl_certificate_key $W/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "ok\n"; }
    }
}
EOF
} >"$W/nginx/nginx.conf"
nginx -p "$W/nginx" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" -t >"$W/logs/nginx-t.log" 2>&1 ||
	{ cat "$W/logs/nginx-t.log" >&2; tw_die "nginx config test failed"; }
nginx -p "$W/nginx" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" </dev/null >"$W/logs/nginx.log" 2>&1 &
NGINX_PID=$!
TW_PIDS="$TW_PIDS $NGINX_PID"
for p in $ports; do TW_WAIT="$TW_WAIT nginx:$p:$NGINX_PID"; done

# ---- PostgreSQL + collector --------------------------------------------------------------------
tw_pg_start "$PG"
tw_pg_createdb tlswatch
cat >"$W/collector.yaml" <<EOF
listen: 127.0.0.1:$COLLP
tls:
  ca_file: $W/pipe/pipe-ca.pem
  cert_file: $W/pipe/collector.pem
  key_file: $W/pipe/collector.key
database:
  conninfo: "host=127.0.0.1 port=$PG user=postgres dbname=tlswatch"
  connections: 2
log:
  level: warn
EOF
"$COLL" migrate -c "$W/collector.yaml" >"$W/logs/migrate.log" 2>&1 || { cat "$W/logs/migrate.log" >&2; tw_die "collector migrate failed"; }
"$COLL" run -c "$W/collector.yaml" </dev/null >"$W/logs/collector.log" 2>&1 &
CPID=$!
TW_PIDS="$TW_PIDS $CPID"
TW_WAIT="$TW_WAIT collector:$COLLP:$CPID"
tw_wait_ports 20

# ---- probe.yaml: NT targets x 4 profiles -------------------------------------------------------
{
	cat <<EOF
probe:
  id: probe-a
  region: eu-west
collector:
  address: 127.0.0.1:$COLLP
  ca_file: $W/pipe/pipe-ca.pem
  cert_file: $W/pipe/probe-a.pem
  key_file: $W/pipe/probe-a.key
spool:
  path: $W/spool
concurrency: 1000
log:
  level: info
defaults:
  interval: $INTERVAL
  timeout: 10s
  profiles: $PROFILES
  ca_file: $W/ca.pem
targets:
EOF
	printf '%s\n' $ports | awk -v nt="$NT" '
		{ port[n++] = $1 }
		END { for (i = 0; i < nt; i++)
			printf "  - {host: t%05d.bench.test, port: %d, connect_to: 127.0.0.1, service: svc-%02d}\n",
				i, port[i % n], i % 50 }'
} >"$W/probe.yaml"
"$PROBE" run -c "$W/probe.yaml" --check-config >"$W/logs/check-config.log" 2>&1 ||
	{ cat "$W/logs/check-config.log" >&2; tw_die "probe.yaml rejected"; }

ST=$W/stats.json
ulimit -n 8192 2>/dev/null
"$PROBE" run -c "$W/probe.yaml" --stats-file "$ST" --summary-interval 10s </dev/null >"$W/logs/probe.log" 2>&1 &
PPID_=$!
TW_PIDS="$TW_PIDS $PPID_"
i=0; while [ ! -s "$ST" ] && [ $i -lt 200 ] && tw_alive "$PPID_"; do sleep 0.1; i=$((i + 1)); done
[ -s "$ST" ] || { tail -20 "$W/logs/probe.log" >&2; tw_die "the probe wrote no stats file"; }
ENTRIES=$(jget "$ST" entries)
STARTUP_CPU=$(calc "$(cpu_ticks "$PPID_") / $HZ" 2)
say "   probe pid $PPID_: $ENTRIES entries ($NT targets x 4 profiles: $PROFILES), interval $INTERVAL, nginx 1 worker on$ports"
say "   startup (config with $ENTRIES entries, TLS contexts, spool, stats file): ${STARTUP_CPU}s CPU, RSS $(status_kb "$PPID_" VmRSS) KiB"

sleep "$WARM"
snap "$W/s0.json"; t0=$(date +%s.%N); c0=$(cpu_ticks "$PPID_"); n0=$(tree_ticks "$NGINX_PID"); k0=$(cpu_ticks "$CPID")
say "   measuring for ${SECS}s (after ${WARM}s warm-up) ..."
sleep "$SECS"
snap "$W/s1.json"; t1=$(date +%s.%N); c1=$(cpu_ticks "$PPID_"); n1=$(tree_ticks "$NGINX_PID"); k1=$(cpu_ticks "$CPID")
HWM=$(status_kb "$PPID_" VmHWM)
tw_alive "$PPID_" || fail "the probe died"

P0=$(jget "$W/s0.json" produced); P1=$(jget "$W/s1.json" produced)
HS=$((P1 - P0))
WALL=$(calc "$t1 - $t0" 2)
CPU=$(calc "($c1 - $c0) / $HZ" 2)
CPU_HS=NA
[ "$HS" -gt 0 ] && CPU_HS=$(calc "($c1 - $c0) / $HZ / $HS * 1000000" 0)
OK0=$(jget "$W/s0.json" by_outcome.ok); OK1=$(jget "$W/s1.json" by_outcome.ok)
LP50=$(jget "$W/s1.json" lateness_ms.p50); LP99=$(jget "$W/s1.json" lateness_ms.p99)
LMAX=$(jget "$W/s1.json" lateness_ms.max); LCNT=$(jget "$W/s1.json" lateness_ms.count)
OVERDUE=$(jget "$W/s1.json" overdue); FAILED=$(jget "$W/s1.json" failed)
ERRS=$(jget "$W/s1.json" result_errors)
ACKED=$(jget "$W/s1.json" uplink.acked_seq); LAST=$(jget "$W/s1.json" last_seq)
SPOOLREC=$(jget "$W/s1.json" spool.records)
EXPECT=$(python3 -c "import re,sys
m = re.fullmatch(r'(\d+)(ms|s|m|h)', sys.argv[1]); f = {'ms': .001, 's': 1, 'm': 60, 'h': 3600}
print('%.0f' % (int(sys.argv[2]) / (int(m.group(1)) * f[m.group(2)])))" "$INTERVAL" "$ENTRIES" 2>/dev/null || echo NA)

# stop the probe (drains to the collector), then count the rows
kill -TERM "$PPID_" 2>/dev/null
i=0; while tw_alive "$PPID_" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ROWS=$($TW_PG_PSQL -d tlswatch -At -c "SELECT count(*) FROM results" 2>/dev/null)
PFINAL=$(jget "$ST" produced)
grep -E 'level=(warn|error)' "$W/logs/probe.log" | head -5 | sed 's/^/   probe log: /'
sed -n '/^\(.*\)ERROR\|emerg\|crit/p' "$W/nginx/error.log" 2>/dev/null | head -3 | sed 's/^/   nginx: /'

say ""
say "---------------- probe scale summary ($(nproc) CPUs) ----------------"
say "  entries                 : $ENTRIES ($NT targets x 4 profiles), interval $INTERVAL -> $EXPECT scheduled handshakes/s"
say "  handshakes in window    : $HS in ${WALL}s = $(calc "$HS / $WALL" 1)/s (ok $((OK1 - OK0)), not ok total $FAILED, result errors $ERRS)"
say "  probe CPU               : ${CPU}s -> $CPU_HS us per handshake ($(calc "100 * ($c1 - $c0) / $HZ / $WALL" 1)% of one core); startup ${STARTUP_CPU}s"
say "  probe peak RSS (VmHWM)  : $HWM KiB (certificates' keys by OpenSSL's built-in methods: $(jget "$W/s1.json" tls_builtin_keys))"
say "  lateness of starts      : p50 $LP50 ms, p99 $LP99 ms, max $LMAX ms over $LCNT starts since start"
say "  overdue slots           : $OVERDUE"
say "  uplink                  : acked seq $ACKED of $LAST at the end of the window (spool $SPOOLREC records); after stop: $ROWS rows in results of $PFINAL produced"
say "  nginx CPU (1 worker)    : $(calc "($n1 - $n0) / $HZ" 2)s; collector CPU $(calc "($k1 - $k0) / $HZ" 2)s in the window"
[ "$ROWS" = "$PFINAL" ] || fail "results holds $ROWS rows, the probe produced $PFINAL"
say "probe_scale status: $([ $status -eq 0 ] && echo ok || echo 'SOME STEPS FAILED (see above)')"
exit $status
