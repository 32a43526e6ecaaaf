# fixtures.sh - sourced (POSIX sh) helpers for fixture scripts that start real
# servers on loopback for an integration test binary.
#
#   . tests/harness/fixtures.sh
#   tw_init                          # TW_WORK temp dir, logs dir, teardown trap
#   tw_alloc_ports A B C             # sets $A $B $C to distinct free 127.0.0.1 ports
#   tw_start NAME PORT CMD [ARG...]  # CMD in the background, log in $TW_WORK/logs/NAME.log;
#                                    # PORT ("-" for none) is waited for by tw_wait_ports
#   tw_on_exit "shell command"       # extra teardown (e.g. pg_ctl stop), run first
#   tw_wait_ports [SECONDS]          # every started port accepts, or fail and print logs
#   tw_run_watched SECONDS CMD...    # run CMD under a watchdog; returns its exit status
#   tw_start_silent NAME PORT        # accepts TCP, never says a byte
#   tw_start_ocsp NAME PORT MAPFILE  # OCSP over HTTP from pre-generated DER responses
#
# Everything started here is killed by pid in the EXIT trap; logs are printed
# when the script fails (exit status != 0) or TW_SHOW_LOGS=1. TW_KEEP=1 keeps
# the work directory. Servers must bind 127.0.0.1 only.

TW_PIDS=""
TW_WAIT=""
TW_ON_EXIT=""
TW_WORK=""
TW_USED_PORTS=""
TW_DOG=""

tw_log() { echo "fixtures: $*" >&2; }

tw_die() {
	tw_log "$*"
	exit 1
}

tw_init() {
	TW_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tlswatch-it.XXXXXX") || tw_die "mktemp failed"
	mkdir -p "$TW_WORK/logs" || tw_die "mkdir failed"
	export TW_WORK
	trap 'tw_teardown $?' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

tw_on_exit() { TW_ON_EXIT="$1
$TW_ON_EXIT"; }

# Distinct free ports, bound together so they differ, then released. Another
# process could take one before our server binds it; tw_wait_ports notices.
# They are drawn below the kernel's ephemeral range (ip_local_port_range):
# a port there is what every outgoing connection and every bind to port 0
# takes, so a server a test stops for a while (PostgreSQL down for 30 s)
# found its port used as some connection's source port when it came back.
tw_alloc_ports() {
	_ports=$(python3 - "$#" <<'EOF'
import random, socket, sys
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
socks, tries = [], 0
while len(socks) < int(sys.argv[1]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    port = random.randrange(10000, low) if low > 11000 and tries < 1000 else 0
    tries += 1
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
) || tw_die "could not allocate ports"
	for _var in "$@"; do
		_p=${_ports%% *}
		_ports=${_ports#* }
		eval "$_var=$_p"
		TW_USED_PORTS="$TW_USED_PORTS $_p"
	done
}

tw_start() {
	_name=$1; _port=$2; shift 2
	"$@" </dev/null >"$TW_WORK/logs/$_name.log" 2>&1 &
	TW_PIDS="$TW_PIDS $!"
	[ "$_port" = "-" ] || TW_WAIT="$TW_WAIT $_name:$_port:$!"
}

# Connects to each started port until it accepts; fails fast when a server
# process died (bad arguments, port taken). Bounded by SECONDS (default 20).
tw_wait_ports() {
	python3 - "${1:-20}" $TW_WAIT <<'EOF' || tw_die "servers did not come up"
import os, socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
pending = [a.split(":") for a in sys.argv[2:]]
while pending:
    left = []
    for name, port, pid in pending:
        try:
            os.kill(int(pid), 0)
            # a zombie still answers kill(0): look at /proc
            with open("/proc/%s/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    raise ProcessLookupError
        except (ProcessLookupError, FileNotFoundError):
            print("fixtures: server %s (port %s) exited" % (name, port), file=sys.stderr)
            sys.exit(1)
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=0.5).close()
        except OSError:
            left.append((name, port, pid))
    pending = left
    if pending:
        if time.monotonic() > deadline:
            print("fixtures: not accepting: %s" % " ".join(n + ":" + p for n, p, _ in pending),
                  file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)
EOF
}

tw_start_silent() {
	tw_start "$1" "$2" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
held = []
while True:
    c, _ = s.accept()      # accept and keep: TCP works, the peer never speaks
    held.append(c)
    held = held[-200:]
' "$2"
}

# OCSP responder on 127.0.0.1 (`openssl ocsp -port` binds every interface).
# MAPFILE lines: SERIAL_HEX RESPONSE_DER DELAY_MS. The response is chosen by
# finding the DER-encoded serial in the request (POST body or GET path).
tw_start_ocsp() {
	tw_start "$1" "$2" python3 -c '
import base64, http.server, sys, time, urllib.parse
port, mapfile = int(sys.argv[1]), sys.argv[2]
table = []
for line in open(mapfile):
    if not line.strip():
        continue
    serial, path, delay = line.split()
    b = bytes.fromhex(serial if len(serial) % 2 == 0 else "0" + serial)
    if b[0] & 0x80:
        b = b"\x00" + b
    table.append((bytes([2, len(b)]) + b, open(path, "rb").read(), int(delay)))
UNAUTHORIZED = bytes.fromhex("30030a0106")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def answer(self, req):
        body, delay = UNAUTHORIZED, 0
        for needle, der, d in table:
            if needle in req:
                body, delay = der, d
                break
        self.log_message("request %d bytes -> %d bytes after %d ms", len(req), len(body), delay)
        time.sleep(delay / 1000.0)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.answer(self.rfile.read(n))
    def do_GET(self):
        tail = urllib.parse.unquote(self.path.rsplit("/", 1)[-1])
        try:
            req = base64.b64decode(tail + "=" * (-len(tail) % 4))
        except Exception:
            req = b""
        self.answer(req)
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
' "$2" "$3"
}

# Prints each server log, minus s_server's per-connection noise, last lines.
tw_dump_logs() {
	[ -n "$TW_WORK" ] && [ -d "$TW_WORK/logs" ] || return 0
	for _f in "$TW_WORK"/logs/*.log; do
		_body=$(grep -v -e '^Using default temp DH parameters$' -e '^ACCEPT$' \
			-e 'unexpected eof while reading' "$_f" 2>/dev/null | tail -n 25)
		[ -n "$_body" ] || continue
		echo "----- $(basename "$_f")"
		echo "$_body"
	done
}

# Runs CMD in the background and waits; after SECONDS it gets SIGTERM, then
# SIGKILL. Returns CMD's exit status.
tw_run_watched() {
	_secs=$1; shift
	"$@" &
	_cmd=$!
	TW_PIDS="$TW_PIDS $_cmd"
	(
		trap 'kill "$_sp" 2>/dev/null; exit 0' TERM
		sleep "$_secs" </dev/null >/dev/null 2>&1 &
		_sp=$!
		wait "$_sp" || exit 0
		tw_log "watchdog: $* still running after ${_secs}s, killing it"
		kill -TERM "$_cmd" 2>/dev/null
		sleep 5
		kill -KILL "$_cmd" 2>/dev/null
	) &
	TW_DOG=$!
	wait "$_cmd"
	_rc=$?
	kill -TERM "$TW_DOG" 2>/dev/null
	wait "$TW_DOG" 2>/dev/null
	TW_DOG=""
	return $_rc
}

# True while PID runs (a zombie, dead but not yet reaped, does not count).
tw_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

tw_teardown() {
	_rc=$1
	trap - EXIT INT TERM HUP
	trap "" PIPE  # a closed output pipe must not stop the teardown
	if [ -n "$TW_ON_EXIT" ]; then
		eval "$TW_ON_EXIT" >/dev/null 2>&1
	fi
	[ -n "$TW_DOG" ] && kill -TERM "$TW_DOG" 2>/dev/null
	for _p in $TW_PIDS; do kill -TERM "$_p" 2>/dev/null; done
	_n=0
	while [ $_n -lt 30 ]; do
		_alive=""
		for _p in $TW_PIDS; do tw_alive "$_p" && _alive="$_alive $_p"; done
		[ -z "$_alive" ] && break
		sleep 0.1
		_n=$((_n + 1))
	done
	for _p in $TW_PIDS; do kill -KILL "$_p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$_rc" -ne 0 ] || [ "${TW_SHOW_LOGS:-0}" = 1 ]; then
		tw_dump_logs
	fi
	if [ -n "$TW_WORK" ]; then
		if [ "${TW_KEEP:-0}" = 1 ]; then
			tw_log "kept $TW_WORK"
		else
			rm -rf "$TW_WORK"
		fi
	fi
	exit "$_rc"
}

# tw_stop_clean WHAT PID SECS: SIGTERM, then 0 only if PID exits with status
# 0 within SECS (a daemon under SANITIZE=1 exits non-zero on a leak or an
# error report). Says what went wrong on stderr otherwise.
tw_stop_clean() {
	kill -TERM "$2" 2>/dev/null
	_n=0
	while tw_alive "$2" && [ $_n -lt $(($3 * 10)) ]; do sleep 0.1; _n=$((_n + 1)); done
	if tw_alive "$2"; then
		echo "$1 still running $3 s after SIGTERM" >&2
		return 1
	fi
	wait "$2"
	_st=$?
	[ "$_st" -eq 0 ] || { echo "$1 exited $_st after SIGTERM (expected 0)" >&2; return 1; }
	return 0
}
