#!/bin/sh
# bench/run.sh - `make bench`: handshake throughput of the probe engine next
# to openssl s_time, blackbox_exporter and testssl.sh, all against one local
# nginx on 127.0.0.1 (loopback only). Figures are printed, not asserted.
# A step that fails is reported and the others still run; the exit status is
# non-zero when any step failed.
#
# Then 4. ingest (bench/ingest.sh: collector vs psql \copy vs one INSERT
# per row) and 5. probe scale (bench/probe_scale.sh: one probe daemon with
# 10,000 schedule entries), each with its own PostgreSQL; their knobs are
# documented at the top of those scripts (BENCH_INGEST_N, PROBE_SCALE_*).
# BENCH_SKIP="ingest scale" skips them. 7. api (bench/api.sh: SLI reads with
# 1M and 10M raw rows; BENCH_SKIP="api").
#
# Knobs (environment): BENCH_N (5000), BENCH_BB_PROBES (1000),
# BENCH_BB_PAR (4), BENCH_STIME_SECS (10), BENCH_TESTSSL_TIMEOUT (240).
# BENCH_SKIP also takes "blackbox" and "testssl" (steps 2b and 3), so
# BENCH_SKIP="blackbox testssl ingest eval report api" runs the probe engine
# goals alone (steps 1, 2a and 5). BENCH_K1/BENCH_K2 (1/200): the two
# concurrencies of step 1; RSS per concurrent handshake is
# (RSS(K2) - RSS(K1)) / (K2 - K1).
set -u

B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
PROBE=$B/tlswatch-probe
HSBENCH=$B/bench/bench_handshake
N=${BENCH_N:-5000}
BB_PROBES=${BENCH_BB_PROBES:-1000}
BB_PAR=${BENCH_BB_PAR:-4}
STIME_SECS=${BENCH_STIME_SECS:-10}
TESTSSL_TIMEOUT=${BENCH_TESTSSL_TIMEOUT:-240}
TESTSSL=$(command -v testssl.sh 2>/dev/null || command -v testssl 2>/dev/null || echo testssl)
BBX=/usr/bin/prometheus-blackbox-exporter

T=$(mktemp -d /tmp/tw-bench.XXXXXX)
NGINX_PID= BB_PID=
status=0

cleanup() {
	for p in $BB_PID $NGINX_PID; do
		kill "$p" 2>/dev/null && { i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$p" 2>/dev/null; }
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { printf '%s\n' "$*"; }
fail() { say "bench: FAILED: $*" >&2; status=1; }
now() { date +%s.%N; }
# float arithmetic: calc 'EXPR' (awk), NA when an operand is NA/empty
calc() { case "$1" in *NA*|"") echo NA; return;; esac; awk "BEGIN { printf \"%.${2:-1}f\", $1 }" 2>/dev/null || echo NA; }
ratio() { if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = NA ] || [ "$2" = NA ]; then echo NA; else awk "BEGIN { if ($2 == 0) print \"NA\"; else printf \"%.2f\", $1 / $2 }"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT PID: up to 10 s for a listener on 127.0.0.1:PORT
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$2" 2>/dev/null || return 1
		python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.1; i=$((i+1))
	done
	return 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null | tr -d '\n'; }  # utime+stime (after comm, no spaces in comm here)
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

for f in "$PROBE" "$HSBENCH"; do
	[ -x "$f" ] || { say "bench: $f missing (run make bench from the top level)" >&2; exit 2; }
done
command -v nginx >/dev/null || { say "bench: nginx not installed" >&2; exit 2; }

# ---- PKI: ECDSA P-256 CA + leaf (SAN localhost, 127.0.0.1) ---------------------------------
say "== PKI (ECDSA P-256, generated now) in $T"
(
	set -e
	cd "$T"
	export OPENSSL_CONF=/dev/null
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key
	openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=tw bench CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out ca.pem
	openssl ecparam -name prime256v1 -genkey -noout -out leaf.key
	openssl req -new -key leaf.key -subj "/CN=localhost" -out leaf.csr
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >leaf.ext
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 2 \
		-extfile leaf.ext -out leaf.pem
	openssl verify -CAfile ca.pem leaf.pem
) >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; say "bench: PKI generation failed" >&2; exit 2; }
CA=$T/ca.pem

# ---- nginx ----------------------------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
master_process on;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl backlog=1024;
        server_name localhost;
        ssl_certificate $T/leaf.pem;
        ssl_certificate_key $T/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "ok\n"; }
    }
}
EOF
nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -t >"$T/nginx/t.log" 2>&1 ||
	{ cat "$T/nginx/t.log" >&2; say "bench: nginx config test failed" >&2; exit 2; }
nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" >"$T/nginx/out.log" 2>&1 &
NGINX_PID=$!
wait_port "$NGINX_PORT" "$NGINX_PID" ||
	{ cat "$T/nginx/error.log" "$T/nginx/out.log" >&2; say "bench: nginx did not start" >&2; exit 2; }
say "== nginx $(nginx -v 2>&1 | sed 's/.*: //') pid $NGINX_PID on 127.0.0.1:$NGINX_PORT (1 worker, session cache + tickets off)"
say "   host: $(nproc) CPUs, $(openssl version)"

# ---- 1. probe engine: full handshakes per CPU-second ---------------------------------------
skipped() { case " ${BENCH_SKIP:-} " in *" $1 "*) return 0;; esac; return 1; }
K1=${BENCH_K1:-1}
K2=${BENCH_K2:-200}
say "   load average at start: $(cat /proc/loadavg)"

# ---- 1. crypto floor: what one handshake of step 1 cannot do without -------------------------
# The client of a TLS 1.3 handshake with an ECDSA P-256 leaf signed by a P-256
# CA does two ECDSA P-256 verifications (CertificateVerify, the leaf's
# signature) and one X25519 key generation + one X25519 derivation.
say ""
say "== 1. crypto floor: openssl speed ecdhx25519 ecdsap256 (2 P-256 verifies + 2 X25519 ops per handshake)"
FLOOR_US=NA FLOOR_HS=NA
if openssl speed -seconds 2 ecdhx25519 ecdsap256 >"$T/speed.out" 2>"$T/speed.err"; then
	VERIFY_S=$(awk '/ecdsa \(nistp256\)/ { print $NF }' "$T/speed.out" | head -1)
	X25519_S=$(awk '/ecdh \(X25519\)/ { print $NF }' "$T/speed.out" | head -1)
	FLOOR_US=$(calc "2 * 1000000 / $VERIFY_S + 2 * 1000000 / $X25519_S" 1)
	FLOOR_HS=$(calc "1000000 / $FLOOR_US" 0)
	say "   P-256 verify ${VERIFY_S}/s, X25519 ${X25519_S} ops/s -> ${FLOOR_US} us of crypto per handshake = ${FLOOR_HS} hs/CPU-s"
else
	fail "openssl speed exited non-zero"; tail -3 "$T/speed.err" >&2
fi

say ""
say "== 1. probe engine (bench_handshake, profile modern, verify on), N=$N per run, K=$K1 then K=$K2"
for K in $K1 $K2; do
	out=$(ulimit -n 4096 2>/dev/null; "$HSBENCH" 127.0.0.1 "$NGINX_PORT" "$CA" "$N" "$K" modern 2>"$T/hs$K.err")
	rc=$?
	say "   K=$K rc=$rc: $out"
	[ -s "$T/hs$K.err" ] && sed 's/^/   K='"$K"' stderr: /' "$T/hs$K.err"
	if [ $rc -ne 0 ] || [ -z "$out" ]; then
		fail "bench_handshake K=$K exited $rc"
		eval "HS_CPU_$K=NA HS_WALL_$K=NA HS_FAIL_$K=NA HS_RSS_$K=NA"
		continue
	fi
	eval "HS_CPU_$K=$(kv "$out" hs_per_cpu_s) HS_WALL_$K=$(kv "$out" hs_per_wall_s)"
	eval "HS_FAIL_$K=$(kv "$out" failures) HS_RSS_$K=$(kv "$out" maxrss_kb) HS_OK_$K=$(kv "$out" ok)"
	[ "$(kv "$out" failures)" != 0 ] && fail "bench_handshake K=$K: $(kv "$out" failures) failed handshakes"
done
# step 1 ran K1 and K2; the summary names them 1 and 200
eval "HS_CPU_1=\$HS_CPU_$K1 HS_WALL_1=\$HS_WALL_$K1 HS_FAIL_1=\$HS_FAIL_$K1 HS_RSS_1=\$HS_RSS_$K1"
eval "HS_CPU_200=\$HS_CPU_$K2 HS_WALL_200=\$HS_WALL_$K2 HS_FAIL_200=\$HS_FAIL_$K2 HS_RSS_200=\$HS_RSS_$K2"
if [ "$HS_RSS_1" != NA ] && [ "$HS_RSS_200" != NA ]; then
	RSS_PER=$(calc "($HS_RSS_200 - $HS_RSS_1) / ($K2 - $K1)" 1)
else
	RSS_PER=NA
fi
BARE_US=NA
[ "$HS_CPU_200" != NA ] && BARE_US=$(calc "1000000 / $HS_CPU_200" 0)
# The same engine paced as the daemon of step 5 is (its 10,000 entries every
# 30 s start 333 handshakes/s), for the daemon-vs-engine goal at equal load.
PACE_RATE=${BENCH_RATE:-333}
PACE_N=${BENCH_PACED_N:-5000}
PACED_US=NA
out=$(ulimit -n 4096 2>/dev/null; "$HSBENCH" 127.0.0.1 "$NGINX_PORT" "$CA" "$PACE_N" 1000 modern "$PACE_RATE" 2>"$T/hsp.err")
rc=$?
say "   paced ${PACE_RATE}/s rc=$rc: $out"
if [ $rc -eq 0 ] && [ -n "$out" ] && [ "$(kv "$out" failures)" = 0 ]; then
	PACED_US=$(calc "1000000 / $(kv "$out" hs_per_cpu_s)" 0)
else
	fail "bench_handshake paced at ${PACE_RATE}/s: rc $rc, $(kv "$out" failures) failures"
fi

# ---- 2a. openssl s_time ----------------------------------------------------------------------
say ""
say "== 2a. openssl s_time -new -time $STIME_SECS (verify on: -CAfile + -verify 4)"
# Run under python to also get the child's user+sys CPU (s_time reports per user-second only).
python3 - "$NGINX_PORT" "$CA" "$STIME_SECS" >"$T/stime.out" 2>"$T/stime.err" <<'EOF'
import resource, subprocess, sys
port, ca, secs = sys.argv[1:4]
p = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:" + port, "-new",
                    "-time", secs, "-CAfile", ca, "-verify", "4"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(p.stdout)
sys.stderr.write(p.stderr[-2000:])
print("CHILD_CPU %.3f %.3f" % (ru.ru_utime, ru.ru_stime))
sys.exit(p.returncode)
EOF
rc=$?
ST_LINE=$(grep 'connections/user sec' "$T/stime.out" | head -1)
say "   rc=$rc: $ST_LINE"
ST_USER=NA ST_CPU=NA
if [ $rc -ne 0 ] || [ -z "$ST_LINE" ]; then
	fail "openssl s_time exited $rc"; tail -5 "$T/stime.err" >&2
else
	ST_CONNS=$(printf '%s\n' "$ST_LINE" | awk '{ print $1 }')
	ST_USER=$(printf '%s\n' "$ST_LINE" | sed -n 's/.*; *\([0-9.]*\) connections\/user sec.*/\1/p')
	set -- $(sed -n 's/^CHILD_CPU //p' "$T/stime.out")
	ST_CPU=$(calc "$ST_CONNS / ($1 + $2)" 1)
	say "   s_time: $ST_CONNS connections, user ${1}s sys ${2}s -> $ST_CPU conn per (user+sys) CPU-second"
	grep -c 'verify error' "$T/stime.err" >/dev/null 2>&1 && say "   s_time verify errors in stderr: $(grep -c 'verify error' "$T/stime.err")"
fi

# ---- 2b. blackbox_exporter -------------------------------------------------------------------
say ""
say "== 2b. blackbox_exporter tcp prober with tls (verify on, ca_file), $BB_PROBES probes, $BB_PAR in parallel"
BB_RATE=NA BB_OK=NA
if skipped blackbox; then
	say "   (skipped: BENCH_SKIP)"
elif [ -x "$BBX" ]; then
	BB_PORT=$(free_port)
	cat >"$T/blackbox.yml" <<EOF
modules:
  tls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config:
        ca_file: $CA
        insecure_skip_verify: false
EOF
	"$BBX" --config.file="$T/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" --log.level=warn \
		>"$T/bb.log" 2>&1 &
	BB_PID=$!
	if wait_port "$BB_PORT" "$BB_PID"; then
		URL="http://127.0.0.1:$BB_PORT/probe?module=tls&target=127.0.0.1:$NGINX_PORT"
		one=$(curl -s --noproxy '*' "$URL" | grep -E '^probe_(success|ssl_last_chain_info|tls_version_info)' | head -3 | tr '\n' ' ')
		say "   first probe: $one"
		HZ=$(getconf CLK_TCK)
		c0=$(cpu_ticks "$BB_PID"); w0=$(now)
		seq "$BB_PROBES" | xargs -P "$BB_PAR" -I{} curl -s --noproxy '*' -o "$T/bbr.{}" -w '%{http_code}\n' "$URL" >"$T/bb.codes"
		xrc=$?
		w1=$(now); c1=$(cpu_ticks "$BB_PID")
		BB_OK=$(cat "$T"/bbr.* | grep -c '^probe_success 1')
		BB_HTTP200=$(grep -c '^200$' "$T/bb.codes")
		rm -f "$T"/bbr.*
		BB_CPU=$(calc "($c1 - $c0) / $HZ" 2)
		BB_RATE=$(calc "$BB_OK / (($c1 - $c0) / $HZ)" 1)
		BB_WALLRATE=$(calc "$BB_OK / ($w1 - $w0)" 1)
		say "   xargs/curl rc=$xrc http200=$BB_HTTP200 probe_success=1: $BB_OK / $BB_PROBES"
		say "   exporter CPU (utime+stime) ${BB_CPU}s -> $BB_RATE probes per CPU-second; $BB_WALLRATE probes/wall-s"
		[ $xrc -ne 0 ] && fail "curl loop exited $xrc"
		[ "$BB_OK" != "$BB_PROBES" ] && fail "blackbox: only $BB_OK of $BB_PROBES probes succeeded"
	else
		fail "blackbox_exporter did not start"; tail -5 "$T/bb.log" >&2
	fi
	kill "$BB_PID" 2>/dev/null; wait "$BB_PID" 2>/dev/null; BB_PID=
else
	fail "$BBX not installed"
fi

# ---- 3. client simulation: tlswatch-probe check vs testssl.sh -c -----------------------------
say ""
say "== 3. client simulation wall time: tlswatch-probe check --profile testssl-current vs testssl.sh -c"
PC_WALL=NA TS_WALL=NA
if skipped testssl; then
say "   (skipped: BENCH_SKIP)"
else
w0=$(now)
"$PROBE" check --profile testssl-current --ca-file "$CA" --json "127.0.0.1:$NGINX_PORT" >"$T/check.json" 2>"$T/check.err"
crc=$?
w1=$(now)
PC_WALL=$(calc "$w1 - $w0" 2)
PC_N=$(grep -c . "$T/check.json")
PC_OK=$(grep -c '"outcome":"ok"' "$T/check.json")
say "   tlswatch-probe check rc=$crc: ${PC_WALL}s wall, $PC_N profiles, $PC_OK outcome ok"
[ -s "$T/check.err" ] && sed 's/^/   check stderr: /' "$T/check.err" | head -5
if [ "$PC_OK" != "$PC_N" ]; then
	say "   not ok:"; grep -v '"outcome":"ok"' "$T/check.json" | head -5 | cut -c1-300 | sed 's/^/     /'
fi
case $crc in 0|1) ;; *) fail "tlswatch-probe check exited $crc"; PC_WALL=NA ;; esac

TS_WALL=NA
if command -v "$TESTSSL" >/dev/null 2>&1; then
	w0=$(now)
	timeout "$TESTSSL_TIMEOUT" "$TESTSSL" --openssl /usr/bin/openssl --warnings off --color 0 --quiet \
		--nodns none -c "127.0.0.1:$NGINX_PORT" >"$T/testssl.out" 2>&1
	trc=$?
	w1=$(now)
	TS_WALL=$(calc "$w1 - $w0" 2)
	TS_N=$(sed -n '/Running client simulations/,$p' "$T/testssl.out" | grep -cE 'TLSv1|SSLv|No connection')
	say "   testssl.sh -c rc=$trc: ${TS_WALL}s wall, $TS_N client lines"
	if [ $trc -eq 124 ]; then
		fail "testssl.sh hit the ${TESTSSL_TIMEOUT}s timeout (its wall time is a lower bound)"
	elif [ $trc -ne 0 ]; then
		say "   (testssl.sh exit status $trc; last lines:)"; tail -3 "$T/testssl.out" | sed 's/^/     /'
	fi
else
	fail "testssl.sh not installed"
fi
fi # step 3

# ---- 4. ingest and 5. probe scale (own scripts, own PostgreSQL) ------------------------------
# Run with output shown as it comes; the exit status is kept in a file.
substep() {  # substep NAME SCRIPT
	case " ${BENCH_SKIP:-} " in *" $1 "*) say "   (skipped: BENCH_SKIP)"; echo 0 >"$T/$1.rc"; : >"$T/$1.out"; return;; esac
	{ TW_BUILD=$B sh "$2" 2>&1; echo $? >"$T/$1.rc"; } | tee "$T/$1.out" | sed 's/^/   /'
	rc=$(cat "$T/$1.rc" 2>/dev/null || echo 1)
	[ "$rc" = 0 ] || fail "$1 ($2) exited $rc"
}
HERE=$(cd "$(dirname "$0")" && pwd)
say ""
say "== 4. ingest: probes -> collector -> PostgreSQL, vs psql \\copy and one INSERT per row"
substep ingest "$HERE/ingest.sh"
say ""
say "== 5. probe scale: one probe daemon, many schedule entries, local nginx"
substep scale "$HERE/probe_scale.sh"
say ""
say "== 6. alert evaluation: all default rules, 10,000 SLO series, 30 days of rollups"
substep eval "$HERE/eval.sh"
say ""
say "== 7. report: a 90-day leadership report from the rollups (bench/report.sh; BENCH_SKIP=report skips it)"
substep report "$HERE/report.sh"
say "== 8. API: SLI reads with 1M and 10M raw rows (same series, longer history)"
substep api "$HERE/api.sh"

# ---- summary ----------------------------------------------------------------------------------
say ""
say "================ tlswatch bench summary ================"
say "probe engine, modern profile, full handshakes (no resumption), verify on, N=$N each:"
say "  K=1   : ${HS_CPU_1} hs/CPU-s  ${HS_WALL_1} hs/wall-s  failures ${HS_FAIL_1}  peak RSS ${HS_RSS_1} KiB"
say "  K=200 : ${HS_CPU_200} hs/CPU-s  ${HS_WALL_200} hs/wall-s  failures ${HS_FAIL_200}  peak RSS ${HS_RSS_200} KiB"
say "  RSS per concurrent handshake ((RSS@$K2 - RSS@$K1)/($K2 - $K1)): ${RSS_PER} KiB"
say "openssl s_time -new      : ${ST_USER} conn/user-s (its own figure), ${ST_CPU} conn/(user+sys)-s"
say "blackbox_exporter tcp+tls: ${BB_RATE} probes/CPU-s (exporter utime+stime, incl. its HTTP serving)"
say "ratios (probe K=1 / K=200 hs per CPU-s against):"
say "  s_time user-s   : $(ratio "$HS_CPU_1" "$ST_USER") / $(ratio "$HS_CPU_200" "$ST_USER")"
say "  s_time user+sys : $(ratio "$HS_CPU_1" "$ST_CPU") / $(ratio "$HS_CPU_200" "$ST_CPU")"
say "  blackbox        : $(ratio "$HS_CPU_1" "$BB_RATE") / $(ratio "$HS_CPU_200" "$BB_RATE")"
say "client simulation wall time: tlswatch-probe check ${PC_WALL}s, testssl.sh -c ${TS_WALL}s, testssl/probe $(ratio "$TS_WALL" "$PC_WALL")x"
# the three probe engine goals of issue 11, next to the figures they started from
DAEMON_US=$(sed -n 's/.*-> \([0-9.]*\) us per handshake.*/\1/p' "$T/scale.out" 2>/dev/null | head -1)
[ -n "$DAEMON_US" ] || DAEMON_US=NA
say "probe engine goals (issue 11; baselines measured on e830b67):"
say "  full handshakes per CPU-second, K=$K2 : ${HS_CPU_200} (goal >= 3,000; baseline 2,291); $(ratio "$HS_CPU_200" "$ST_CPU")x s_time user+sys, $(ratio "$HS_CPU_200" "$FLOOR_HS")x the crypto floor (${FLOOR_HS} hs/CPU-s = ${FLOOR_US} us)"
say "  RSS per concurrent handshake      : ${RSS_PER} KiB (goal <= 64; baseline 78)"
say "  daemon per handshake (step 5)     : ${DAEMON_US} us CPU vs the engine paced at ${PACE_RATE}/s ${PACED_US} us = $(ratio "$DAEMON_US" "$PACED_US")x (goal <= 1.20x; baseline 655 us vs 460-515 us unpaced); vs K=$K2 unpaced ${BARE_US} us = $(ratio "$DAEMON_US" "$BARE_US")x"
say "  load average at the end: $(cat /proc/loadavg)"
sed -n '/^-* ingest summary/,/^ingest status/p' "$T/ingest.out" 2>/dev/null
sed -n '/^-* probe scale summary/,/^probe_scale status/p' "$T/scale.out" 2>/dev/null
sed -n '/^-* eval summary/,/^eval status/p' "$T/eval.out" 2>/dev/null
sed -n '/^-* report summary/,/^report status/p' "$T/report.out" 2>/dev/null
sed -n '/^-* api summary/,/^api status/p' "$T/api.out" 2>/dev/null
say "bench status: $([ $status -eq 0 ] && echo ok || echo 'SOME STEPS FAILED (see above)')"
say "========================================================"
exit $status
