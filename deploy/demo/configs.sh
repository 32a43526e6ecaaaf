# configs.sh - sourced by demo.sh: the configuration files of the demo's
# servers, written into $RUN from the ports demo.sh allocated. Each function
# writes one file; demo.sh calls them again when an event changes one (the
# nginx configuration when api goes down or www's certificate is rotated, a
# region's relay map, or in netns mode its probe's configuration, when it is
# routed to another backend).

# The endpoints the probes watch: NAME DEFECT. NAME.demo.test is the name
# (SNI); the backend port is $P_NAME. DEMO_ENDPOINTS (a subset of these, www
# and api at least) lightens the probes' load: the VM test runs the demo on
# an emulated CPU that cannot do 36 handshakes a second.
DEMO_ENDPOINTS=${DEMO_ENDPOINTS:-"www:none api:outage shop:drift expiring:expiring_soon expired:cert_expired
nochain:chain_incomplete wrongname:hostname_mismatch tls10:tls1.0_only tls13:tls1.3_only
mtls:client_cert_required revoked:revoked slow:slow"}
DEMO_REGIONS="us-east:5:0 eu-west:40:0 ap-south:150:1"

port_of() { eval "echo \$P_$1"; }

# nginx serves every endpoint but the two that need openssl s_server (mtls:
# nginx completes the handshake without a client certificate and answers
# 400; revoked: a staple from a file, whatever it says). $API_UP and
# $WWW_CERT are the state the events change.
write_nginx() {
	_ng=$D/nginx
	mkdir -p "$_ng/tmp"
	{
		cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $_ng/nginx.pid;
error_log $LOGS/nginx.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $_ng/tmp/body;
    proxy_temp_path $_ng/tmp/proxy;
    fastcgi_temp_path $_ng/tmp/fastcgi;
    uwsgi_temp_path $_ng/tmp/uwsgi;
    scgi_temp_path $_ng/tmp/scgi;
    default_type text/plain;
EOF
		# srv NAME PORT CERT CHAIN(yes|no) PROTOCOLS [CIPHERS]
		srv() {
			_pem=$EP/$3.pem
			if [ "$4" = yes ]; then cat "$EP/$3.pem" "$EP/int.pem" >"$_ng/$3-chain.pem"; _pem=$_ng/$3-chain.pem; fi
			cat <<EOF
    server {
        listen $EP_ADDR:$2 ssl;
        ssl_certificate $_pem;
        ssl_certificate_key $EP/$3.key;
        ssl_protocols $5;
        ssl_ciphers ${6:-HIGH:!aNULL};
        location / { return 200 "$1.demo.test\n"; }
    }
EOF
		}
		srv www "$P_www" "$WWW_CERT" yes "TLSv1.2 TLSv1.3"
		[ "$API_UP" = 1 ] && srv api "$P_api" api yes "TLSv1.2 TLSv1.3"
		srv shop "$P_shop" shop yes "TLSv1.2 TLSv1.3"
		srv shop-legacy "$P_shoplegacy" shop-legacy yes "TLSv1.2 TLSv1.3"
		srv expiring "$P_expiring" expiring yes "TLSv1.2 TLSv1.3"
		srv expired "$P_expired" expired yes "TLSv1.2 TLSv1.3"
		srv nochain "$P_nochain" nochain no "TLSv1.2 TLSv1.3"
		srv wrongname "$P_wrongname" other yes "TLSv1.2 TLSv1.3"
		srv tls10 "$P_tls10" tls10 yes "TLSv1" "DEFAULT:@SECLEVEL=0"
		srv tls13 "$P_tls13" tls13 yes "TLSv1.3"
		srv slow "$P_slowbackend" slow yes "TLSv1.2 TLSv1.3"
		echo "}"
	} >"$_ng/nginx.conf.new" && mv "$_ng/nginx.conf.new" "$_ng/nginx.conf"
}

# One relay per region: NAME LISTEN_PORT BACKEND. $AP_SHOP is where
# ap-south's load balancer sends shop.demo.test.
write_map() { # REGION
	_f=$RUN/relay-$1.map
	for _e in $DEMO_ENDPOINTS; do
		_n=${_e%%:*}
		case $_n in slow) _to=$P_slowfront ;; *) _to=$(port_of "$_n") ;; esac
		[ "$_n" = shop ] && [ "$1" = ap-south ] && _to=$AP_SHOP
		echo "$_n $(port_of "R_$(echo "$1" | tr - _)_$_n") $EP_ADDR:$_to"
	done >"$_f.new" && mv "$_f.new" "$_f"
}

# Relay mode: the probe dials its region's relay on 127.0.0.1. Netns mode
# (the probe runs in its region's namespace): it dials the endpoints at
# $EP_ADDR, the host's service address, through its veth; for ap-south's
# shop that is $AP_SHOP, the backend its "load balancer" picks.
write_probe() { # REGION
	_r=$1
	_pd=$PIPE/probes/probe-$_r
	{
		cat <<EOF
probe:
  id: probe-$_r
  region: $_r
collector:
  address: $EP_ADDR:$P_ingest
  ca_file: $_pd/ca.pem
  cert_file: $_pd/probe.pem
  key_file: $_pd/probe.key
  batch_max_delay: 200ms
  heartbeat: 2s
spool:
  path: $D/spool/$_r
  max_bytes: 16MiB
log:
  level: info
defaults:
  interval: 2s
  timeout: 5s
  profiles: [modern, legacy]
  ca_file: $EP/root.pem
  expiry_warn_days: 30
  revocation: staple
targets:
EOF
		for _e in $DEMO_ENDPOINTS; do
			_n=${_e%%:*}
			if [ "$NET" = netns ]; then
				case $_n in slow) _to=$P_slowfront ;; *) _to=$(port_of "$_n") ;; esac
				[ "$_n" = shop ] && [ "$_r" = ap-south ] && _to=$AP_SHOP
				_to=$EP_ADDR:$_to
			else
				_to=127.0.0.1:$(port_of "R_$(echo "$_r" | tr - _)_$_n")
			fi
			echo "  - {host: $_n.demo.test, connect_to: \"$_to\", service: $_n, labels: {defect: ${_e#*:}}}"
		done
	} >"$RUN/probe-$_r.yaml.new" && mv "$RUN/probe-$_r.yaml.new" "$RUN/probe-$_r.yaml"
}

write_collector() {
	_cd=$PIPE/collectors/$COLL_NAME
	cat >"$RUN/collector.yaml" <<EOF
listen: $EP_ADDR:$P_ingest
tls:
  ca_file: $_cd/probes-ca.pem
  cert_file: $_cd/collector.pem
  key_file: $_cd/collector.key
http:
  listen: 127.0.0.1:$P_http
  metrics_refresh: 2s
database:
  conninfo: "$PG_CONNINFO"
  connections: 2
log:
  level: info
alerting:
  slo_file: $RUN/slos.yaml
  evaluation_interval: 2s
  collector_id: demo-collector
  external_url: http://127.0.0.1:$P_http
  notify_file: $RUN/notify.yaml
EOF
	# api's SLO pages within seconds of an outage and resolves within
	# seconds of recovery: a one-minute window (one rollup bucket) and an
	# error ratio above 50% (burn rate 5 at a 90% objective); real SLOs
	# keep the defaults, as www's does.
	cat >"$RUN/slos.yaml" <<EOF
slos:
  - name: api-availability
    description: api.demo.test handshakes succeed (demo windows, in seconds)
    sli: availability
    objective: 90
    window: 1d
    selector: {service: api}
    rules:
      - {name: slo_burn_fast, burn_rate: 5, long_window: 1m, short_window: 1m, min_events: 6, min_failures: 3, resolve_after: 2}
      - {name: slo_burn_slow, enabled: false}
      - {name: slo_burn_ticket, enabled: false}
  - name: www-availability
    sli: availability
    objective: 99.9
    window: 30d
    selector: {service: www}
  - name: www-latency
    sli: latency
    threshold_ms: 500
    objective: 99
    window: 30d
    selector: {service: www}
    split_by_region: true
alerts:
  resolve_after: 2
  sni_mismatch: {min_events: 3, window: 1m}
  drift: {fingerprint_for: 1m}
EOF
	cat >"$RUN/notify.yaml" <<EOF
sinks:
  - {name: pager, type: webhook, url: "http://127.0.0.1:$P_hook/tlswatch", secret: $HOOK_SECRET}
routes:
  - sinks: [pager]
delivery:
  poll_interval: 500ms
EOF
}
