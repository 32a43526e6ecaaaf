#!/bin/sh
# make demo - tlswatch as a small multi-region network on one machine, on
# 127.0.0.1 only:
#
#   12 endpoints with real defects (nginx, and openssl s_server for the
#      two nginx cannot play), certificates from a demo web PKI
#   3 regions: us-east 5 ms, eu-west 40 ms, ap-south 150 ms and 1% loss
#      (one-way delays), a probe each. Where the kernel has the netem qdisc
#      (and we are root), each region is a network namespace joined to the
#      host by a veth pair with netem on it (deploy/demo/netns.sh) and its
#      probe runs inside; elsewhere each region is a relay on loopback
#      (tlswatch-demo-relay) that adds the delay and drops connections.
#      DEMO_NET=netns|relay forces one (netns fails when netem is missing).
#   a private PostgreSQL under var/pg (initdb once, reused), the collector
#      (mTLS ingest, HTTP API, dashboard), a local webhook receiver as pager
#
# While it runs: ap-south is routed to a stale shop backend (certificate
# drift), api goes down and comes back (a page fires, reaches the receiver,
# resolves), www's certificate is rotated.
#
# Until Ctrl-C; DEMO_SECONDS=N runs N seconds, writes a report and stops.
# Everything it starts is stopped by PID; logs stay in var/demo/logs/.
# DEMO_VAR=DIR puts var/ elsewhere (the test does).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
B=${TW_BUILD:-build}
case $B in /*) ;; *) B=$here/$B ;; esac
PROBE=$B/tlswatch-probe
COLLECTOR=$B/tlswatch-collector
RELAY=$B/tlswatch-demo-relay
VAR=${DEMO_VAR:-$here/var}
D=$VAR/demo
LOGS=$D/logs
RUN=$D/run
EP=$D/pki-endpoints
PIPE=$D/pki
SECS=${DEMO_SECONDS:-0}
HOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
. "$here/deploy/demo/configs.sh"
. "$here/deploy/demo/netns.sh"
NET=relay          # relay | netns: how the regions are made
EP_ADDR=127.0.0.1  # where the endpoints and the ingest listen
NET_ID=$(netns_id "$D")
COLL_NAME=demo

say() { printf '%s\n' "$*"; }
die() {
	say "demo: $*" >&2
	exit 1
}
case $SECS in '' | *[!0-9]*) die "DEMO_SECONDS wants a whole number of seconds, not \"$SECS\"" ;; esac
for _e in $DEMO_ENDPOINTS; do
	case " www api shop expiring expired nochain wrongname tls10 tls13 mtls revoked slow " in
	*" ${_e%%:*} "*) ;;
	*) die "DEMO_ENDPOINTS: no endpoint \"${_e%%:*}\" in this demo (see deploy/demo/configs.sh)" ;;
	esac
done
case " $DEMO_ENDPOINTS " in
*[[:space:]]www:*[[:space:]]api:* | *[[:space:]]api:*[[:space:]]www:*) ;;
*) die "DEMO_ENDPOINTS must keep www and api (the story and its checks use them)" ;;
esac
for f in "$PROBE" "$COLLECTOR" "$RELAY"; do
	[ -x "$f" ] || die "$f is not built (run: make demo)"
done
for t in openssl nginx python3 psql; do
	command -v $t >/dev/null 2>&1 || die "$t not found (make demo installs it: deploy/demo/deps.sh)"
done

# ---- processes: started in their own session (a Ctrl-C reaches the demo,
# which stops them in order), remembered by PID, stopped by PID.
PIDS=""
STARTED=0
STOP=0
t=0
T0=$(date +%s)
start() { # NAME CMD...
	_n=$1; shift
	setsid "$@" </dev/null >>"$LOGS/$_n.log" 2>&1 &
	PIDS="$! $PIDS"
	echo "$! $_n" >>"$RUN/pids"
	eval "PID_$(echo "$_n" | tr -c 'A-Za-z0-9\n' _)=$!"
	STARTED=$((STARTED + 1))
}
pid_of() { eval "echo \${PID_$(echo "$1" | tr -c 'A-Za-z0-9\n' _):-}"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() { # PID [SECS]: TERM, then KILL
	alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null
	_n=0
	while alive "$1" && [ $_n -lt $((${2:-5} * 10)) ]; do sleep 0.1; _n=$((_n + 1)); done
	alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
PG_STOP=""
SUMMARY=""
teardown() {
	_rc=$1
	trap - EXIT
	# a second Ctrl-C must not leave half of it running; every stop is bounded
	trap "" INT TERM HUP PIPE
	for _p in $(pid_of probe_us_east) $(pid_of probe_eu_west) $(pid_of probe_ap_south); do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $PIDS; do stop_pid "$_p" 10; done
	[ -n "$PG_STOP" ] && eval "$PG_STOP" >>"$LOGS/pg_ctl.log" 2>&1
	# the namespaces go once nothing runs inside them any more
	[ "$NET" = netns ] && _gone=$(netns_down "$NET_ID" | wc -l) &&
		say "demo: removed its network: $_gone namespaces, veths and addresses"
	rm -f "$RUN/pids"
	_el=$(($(date +%s) - T0))
	[ -n "$SUMMARY" ] && say "$SUMMARY"
	say "demo: stopped after ${_el}s: $STARTED processes by PID$([ -n "$PG_STOP" ] && echo ' and PostgreSQL'); logs in ${LOGS#"$here"/}/, data kept in ${VAR#"$here"/}/"
	exit "$_rc"
}
trap 'teardown $?' EXIT
trap 'STOP=1' INT TERM HUP

mkdir -p "$LOGS" "$RUN" "$D/spool" "$D/reports" || die "cannot create $D"
for _f in "$LOGS"/*.log; do [ -f "$_f" ] && mv "$_f" "$_f.prev"; done
say "tlswatch demo: logs in ${LOGS#"$here"/}/"
# A run that was killed (SIGKILL, a closed terminal) left its processes: the
# ones it recorded that still run with this demo's files are stopped first.
if [ -f "$RUN/pids" ]; then
	while read -r _p _n; do
		case $(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null) in
		*"$D"*) say "demo: stopping $_n (pid $_p) left by an earlier run"; stop_pid "$_p" 5 ;;
		esac
	done <"$RUN/pids"
	rm -f "$RUN/pids"
fi

# ---- network mode: namespaces + netem where the kernel has netem, else
# the relays; DEMO_NET forces one. A killed run's namespaces (same var/,
# same ID) are removed first, whatever the mode now.
case ${DEMO_NET:-auto} in
auto) netns_check && NET=netns ;;
netns) netns_check || die "DEMO_NET=netns: $NETNS_ERR"; NET=netns ;;
relay) ;;
*) die "DEMO_NET wants netns or relay, not \"$DEMO_NET\"" ;;
esac
_left=$(netns_down "$NET_ID")
[ -n "$_left" ] && say "demo: removed the network an earlier run left: $(echo $_left)"
_regions=""
for _r in $DEMO_REGIONS; do
	IFS=: read -r _name _delay _loss <<EOF
$_r
EOF
	_regions="$_regions${_regions:+, }$_name $_delay ms$([ "$_loss" != 0 ] && echo " + $_loss% loss")"
done
if [ "$NET" = netns ]; then
	EP_ADDR=$(netns_service_addr "$NET_ID")
	COLL_NAME=demo-netns
	netns_up "$NET_ID" "$DEMO_REGIONS" || { netns_down "$NET_ID" >/dev/null; die "network namespaces: $NETNS_ERR"; }
	say "  network   namespaces + netem: $_regions (one way, each direction; loss on the region's"
	say "            packets): $(netns_name "$NET_ID" '<region>'), veth to the host, endpoints on $EP_ADDR"
else
	case ${DEMO_NET:-auto} in
	relay) _why="DEMO_NET=relay" ;;
	*) _why=$NETNS_ERR ;;
	esac
	say "  network   one relay per region on loopback (tlswatch-demo-relay): $_regions"
	say "            (one way, each direction; loss drops connections); not namespaces: $_why"
fi

# ---- ports (free now; a server that cannot bind one fails its start check)
_names="pg ingest http hook www api shop shoplegacy expiring expired nochain wrongname tls10 tls13 mtls revoked slowbackend slowfront"
for _r in $DEMO_REGIONS; do
	for _e in $DEMO_ENDPOINTS; do _names="$_names R_$(echo "${_r%%:*}" | tr - _)_${_e%%:*}"; done
done
_vals=$(python3 - $_names <<'EOF'
import socket, sys
socks = []
for _ in sys.argv[1:]:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join("P_%s=%d" % (n, s.getsockname()[1]) for n, s in zip(sys.argv[1:], socks)))
EOF
) || die "could not allocate ports"
eval "$_vals"  # P_NAME; P_R_<region>_<endpoint> is a region relay's port

# ---- PKI: the web PKI is made again once a day (its expiring certificate
# keeps its 5 days) and whenever its script changed; the probe -> collector
# PKI once, by deploy/pki.sh.
if [ ! -f "$EP/stamp" ] || [ "$here/deploy/demo/pki-endpoints.sh" -nt "$EP/stamp" ] ||
	[ $(($(date +%s) - $(cat "$EP/stamp"))) -gt 86400 ]; then
	rm -rf "$EP"
	sh "$here/deploy/demo/pki-endpoints.sh" "$EP" || die "the endpoints' PKI failed (see $EP/openssl.log)"
fi
{
	sh "$here/deploy/pki.sh" --dir "$PIPE" init &&
		sh "$here/deploy/pki.sh" --dir "$PIPE" collector "$COLL_NAME" --san IP:127.0.0.1 --san DNS:localhost \
			$([ "$EP_ADDR" != 127.0.0.1 ] && echo "--san IP:$EP_ADDR") &&
		for _r in $DEMO_REGIONS; do sh "$here/deploy/pki.sh" --dir "$PIPE" probe "probe-${_r%%:*}" "${_r%%:*}" || exit 1; done
} >>"$LOGS/pki.log" 2>&1 || die "deploy/pki.sh failed (see $LOGS/pki.log)"
say "  pki       endpoints: ${EP#"$here"/}/ (demo root CA); probes and collector: ${PIPE#"$here"/}/ (deploy/pki.sh)"

# ---- PostgreSQL: initdb once under var/pg, reused by every run
PGBIN=$(pg_config --bindir 2>/dev/null)
[ -x "$PGBIN/initdb" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || die "no PostgreSQL server (initdb) found; make demo installs postgresql"
PGD=$VAR/pg
AS=""
mkdir -p "$PGD" || die "mkdir $PGD failed"
if [ "$(id -u)" = 0 ]; then
	chown postgres "$PGD" && chmod 0755 "$VAR" || die "chown postgres $PGD failed"
	AS="runuser -u postgres --"
	$AS test -w "$PGD" || die "the postgres user cannot write $PGD (is a parent directory closed to others?)"
fi
if [ ! -f "$PGD/data/PG_VERSION" ]; then
	$AS "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres --no-sync >"$LOGS/initdb.log" 2>&1 ||
		die "initdb failed (see $LOGS/initdb.log)"
	printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >>"$PGD/data/postgresql.conf"
	_init="initialised"
else
	_init="reused"
fi
# a PostgreSQL left by a killed run is stopped first
$AS "$PGBIN/pg_ctl" -D "$PGD/data" status >/dev/null 2>&1 &&
	$AS "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w stop >>"$LOGS/pg_ctl.log" 2>&1
: >"$LOGS/postgres.log"
[ -n "$AS" ] && chown postgres "$LOGS/postgres.log"
$AS "$PGBIN/pg_ctl" -D "$PGD/data" -l "$LOGS/postgres.log" -w -t 60 \
	-o "-p $P_pg -c listen_addresses=127.0.0.1 -k $PGD" start >>"$LOGS/pg_ctl.log" 2>&1 ||
	die "PostgreSQL did not start (see $LOGS/postgres.log)"
PG_STOP="$AS $PGBIN/pg_ctl -D $PGD/data -m fast -w stop"
PG_CONNINFO="host=127.0.0.1 port=$P_pg user=postgres dbname=postgres connect_timeout=5"
PSQL="psql -X -q -At -h 127.0.0.1 -p $P_pg -U postgres -d postgres"
say "  postgres  ${PGD#"$here"/} ($_init), 127.0.0.1:$P_pg"

# ---- collector and pager
write_collector
"$COLLECTOR" migrate -c "$RUN/collector.yaml" >>"$LOGS/migrate.log" 2>&1 || die "migrate failed (see $LOGS/migrate.log)"
"$COLLECTOR" run -c "$RUN/collector.yaml" --check-config >>"$LOGS/collector.log" 2>&1 ||
	die "collector configuration refused (see $LOGS/collector.log)"
start pager python3 "$here/tests/harness/webhook_receiver.py" --port "$P_hook" \
	--log "$D/pager.jsonl" --secret "$HOOK_SECRET" --reject-bad-sig
start collector "$COLLECTOR" run -c "$RUN/collector.yaml"

# ---- endpoints
API_UP=1
WWW_CERT=www
AP_SHOP=$P_shop
write_nginx
nginx -t -q -c "$D/nginx/nginx.conf" -p "$D/nginx" >>"$LOGS/nginx.log" 2>&1 || die "nginx refused its configuration (see $LOGS/nginx.log)"
start nginx nginx -c "$D/nginx/nginx.conf" -p "$D/nginx" -e "$LOGS/nginx.log"
export OPENSSL_CONF=/dev/null
start s_server-mtls openssl s_server -accept "$EP_ADDR:$P_mtls" -www -quiet -no-CAfile -no-CApath \
	-no-CAstore -cert "$EP/mtls.pem" -key "$EP/mtls.key" -cert_chain "$EP/int.pem" \
	-Verify 1 -CAfile "$EP/ca-bundle.pem"
start s_server-revoked openssl s_server -accept "$EP_ADDR:$P_revoked" -www -quiet -no-CAfile \
	-no-CApath -no-CAstore -cert "$EP/revoked.pem" -key "$EP/revoked.key" -cert_chain "$EP/int.pem" \
	-status_file "$EP/revoked.der"
unset OPENSSL_CONF
echo "slow $P_slowfront $EP_ADDR:$P_slowbackend" >"$RUN/relay-slow.map"
start relay-slow "$RELAY" --map "$RUN/relay-slow.map" --region slow-backend --delay-ms 250 \
	--listen-addr "$EP_ADDR"

# ---- regions (relay mode: one relay each; netns mode: the namespaces are up)
_relays=""
for _r in $DEMO_REGIONS; do
	IFS=: read -r _name _delay _loss <<EOF
$_r
EOF
	[ "$NET" = relay ] || continue
	write_map "$_name"
	start "relay-$_name" "$RELAY" --map "$RUN/relay-$_name.map" --region "$_name" \
		--delay-ms "$_delay" --loss "$_loss" --seed "$P_pg"
	_relays="$_relays relay-$_name:127.0.0.1:$(port_of "R_$(echo "$_name" | tr - _)_www")"
done

# everything listening? (a process that died says so in its log)
python3 - 60 collector:$EP_ADDR:$P_ingest collector-http:127.0.0.1:$P_http pager:127.0.0.1:$P_hook \
	nginx:$EP_ADDR:$P_www s_server-mtls:$EP_ADDR:$P_mtls s_server-revoked:$EP_ADDR:$P_revoked \
	relay-slow:$EP_ADDR:$P_slowfront $_relays \
	<<'EOF' || die "servers did not come up"
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
for arg in sys.argv[2:]:
    name, host, port = arg.split(":")
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                print("demo: %s does not listen on %s:%s after %ss (see its log)"
                      % (name, host, port, sys.argv[1]), file=sys.stderr)
                sys.exit(1)
            time.sleep(0.1)
EOF
for _r in $DEMO_REGIONS; do
	_name=${_r%%:*}
	write_probe "$_name"
	"$PROBE" run -c "$RUN/probe-$_name.yaml" --check-config >>"$LOGS/probe-$_name.log" 2>&1 ||
		die "probe-$_name.yaml refused (see $LOGS/probe-$_name.log)"
	if [ "$NET" = netns ]; then
		start "probe-$_name" ip netns exec "$(netns_name "$NET_ID" "$_name")" \
			"$PROBE" run -c "$RUN/probe-$_name.yaml"
	else
		start "probe-$_name" "$PROBE" run -c "$RUN/probe-$_name.yaml"
	fi
done
say "  endpoints 12 on nginx and openssl s_server: www api shop expiring expired nochain wrongname"
say "            tls10 tls13 mtls revoked slow (.demo.test); profiles modern and legacy, every 2 s"
say "  regions   $_regions ($NET)"

H=http://127.0.0.1:$P_http
REPORT_DIR=$D/reports
cat >"$D/state.env" <<EOF
DEMO_HTTP=$H
DEMO_PG_CONNINFO="$PG_CONNINFO"
DEMO_PAGER_LOG=$D/pager.jsonl
DEMO_EVENTS=$D/events.log
DEMO_REPORT_DIR=$REPORT_DIR
DEMO_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
: >"$D/events.log"
say ""
say "Open:"
say "  dashboard   $H/"
say "  API         curl -s '$H/api/v1/grid?window=5m'                   (region x endpoint health)"
say "              curl -s '$H/api/v1/alerts?state=all'                 (the page, tickets)"
say "              curl -s '$H/api/v1/targets/shop.demo.test%3A443'     (certificate drift)"
say "              curl -s '$H/api/v1/slis?window=5m&group_by=region'   (latency per region)"
say "              curl -s $H/metrics | grep ^tlswatch_result_outcome"
say "  pager       $D/pager.jsonl (what the webhook receiver got)"
say "  report      $REPORT_DIR/ (written when the demo stops)"
say "  database    $PSQL"
say ""
[ "$SECS" -gt 0 ] && say "Running for ${SECS}s (DEMO_SECONDS). Events:" || say "Running until Ctrl-C. Events:"

event() { # what happened, with the seconds since the probes started
	_line=$(printf '  [%4ss] %s' "$1" "$2")
	say "$_line"
	echo "t=$1 $3" >>"$D/events.log"
}
nginx_reload() { kill -HUP "$(pid_of nginx)" 2>/dev/null; }
fp() { openssl x509 -in "$EP/$1.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | cut -c1-12; }
# What reached the pager since the last look: one line per delivery; the
# receiver's log is kept across runs, so this run starts at its end.
PAGER_SEEN=$(wc -l <"$D/pager.jsonl" 2>/dev/null || echo 0)
pager_news() {
	_out=$(python3 - "$D/pager.jsonl" "$PAGER_SEEN" <<'EOF'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
seen = int(sys.argv[2])
for line in lines[seen:]:
    try:
        rec = json.loads(line)
        d = json.loads(rec["body"]).get("data", {})
    except (ValueError, KeyError):
        continue
    if not 200 <= rec.get("status", 0) < 300:
        continue
    if d.get("action") == "trigger":
        print("pager <- %s fired: %s" % (d.get("severity", "?"), (d.get("summary") or "")[:90]))
    else:
        print("pager <- %s resolved: %s %s (%s)" % (d.get("severity", "?"), d.get("rule", "?"),
                                                d.get("subject", "?"), d.get("region_group", "all")))
print(len(lines))
EOF
)
	PAGER_SEEN=$(printf '%s\n' "$_out" | tail -1)
	printf '%s\n' "$_out" | sed '$d' | while IFS= read -r _l; do [ -n "$_l" ] && printf '  [%4ss] %s\n' "$t" "$_l"; done
}

summary() {
	_since="to_timestamp($T0)"
	_res=$($PSQL -c "SELECT count(*) FROM results WHERE received_at >= $_since" 2>/dev/null)
	_al=$($PSQL -c "SELECT count(*) FILTER (WHERE state = 'firing') || ' firing, ' || count(*) FILTER (WHERE state = 'resolved' AND resolved_at >= $_since) || ' resolved' FROM alerts" 2>/dev/null)
	_hooks=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r["t"] >= float(sys.argv[2]) and 200 <= r["status"] < 300 and r["sig"] is True
print(n)' "$D/pager.jsonl" "$T0" 2>/dev/null)
	say "demo: ${t}s of probing: ${_res:-?} results from 3 regions x 12 endpoints; alerts now ${_al:-?}; ${_hooks:-0} signed webhooks delivered to the pager"
}
# ---- the story: events at fixed seconds of wall-clock time since the
# probes started (a loaded machine delays a step, never skips one)
t=0
L0=$(date +%s)
step=0
while [ "$STOP" = 0 ]; do
	sleep 1
	t=$(($(date +%s) - L0))
	if [ $step = 0 ] && [ $t -ge 10 ]; then
		step=1
		AP_SHOP=$P_shoplegacy
		if [ "$NET" = netns ]; then
			# no relay in this mode: ap-south's probe is told the new address
			write_probe ap-south
			kill -HUP "$(pid_of probe-ap-south)" 2>/dev/null
		else
			write_map ap-south
			kill -HUP "$(pid_of relay-ap-south)" 2>/dev/null
		fi
		event $t "ap-south's load balancer now sends shop.demo.test to the legacy backend (another certificate: drift)" reroute
	fi
	if [ $step = 1 ] && [ $t -ge 15 ]; then
		step=2
		API_UP=0
		write_nginx
		nginx_reload
		event $t "api.demo.test goes down (its server stops listening): the page should fire" api_down
	fi
	if [ $step = 2 ] && [ $t -ge 30 ]; then
		step=3
		WWW_CERT=www-rotated
		write_nginx
		nginx_reload
		event $t "www.demo.test's certificate is rotated: sha256 $(fp www)... -> $(fp www-rotated)..." rotate
	fi
	if [ $step = 3 ] && [ $t -ge 45 ]; then
		step=4
		API_UP=1
		write_nginx
		nginx_reload
		event $t "api.demo.test is back: the page should resolve" api_up
	fi
	pager_news
	for _p in $PIDS; do
		alive "$_p" || { say "demo: a process (pid $_p) exited; see $LOGS/"; STOP=1; break; }
	done
	[ "$SECS" -gt 0 ] && [ "$t" -ge "$SECS" ] && break
done

[ "$STOP" = 1 ] && say ""
SUMMARY=$(summary)

# ---- the report (h-report's subcommand, when this build has it)
if "$COLLECTOR" report --help >/dev/null 2>&1; then
	if "$COLLECTOR" report -c "$RUN/collector.yaml" --period 7d --out "$REPORT_DIR" \
		>"$RUN/report.out" 2>>"$LOGS/report.log"; then
		say "report: $(grep -E '\.(html|pdf)$' "$RUN/report.out" | tr '\n' ' ')"
	else
		say "report: failed (see $LOGS/report.log)"
	fi
else
	say "reports: not available in this build"
fi
exit 0
