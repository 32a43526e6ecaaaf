#!/usr/bin/env python3
"""webhook_receiver.py - a scripted HTTP receiver for the notifier's tests.

    webhook_receiver.py --port PORT --log FILE [--script "500,500,202"]
                        [--secret whsec_...] [--reject-bad-sig] [--delay-ms N]

Answers every POST with the next status of --script (comma-separated; an
item STATUS:SECONDS adds "Retry-After: SECONDS", STATUS:date:SECONDS a
Retry-After HTTP-date SECONDS from now); after the last item, the last one
repeats (default 200). Appends one JSON line per request to --log, flushed at
once:
    {"t": unix seconds (float), "method", "path", "headers": {lower-case name: value},
     "body": text, "status": answered, "sig": true|false|null}
With --secret it verifies the Standard Webhooks signature (webhook-id,
webhook-timestamp within 5 minutes, webhook-signature "v1,<base64>" list) with
the shared secret, as the specification's reference libraries do; "sig" is
the result (null without --secret), and --reject-bad-sig answers 401 to a
bad one. Binds 127.0.0.1 only. Exits when its parent process does (a test
that failed half-way leaves nothing running).
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

TOLERANCE = 5 * 60


def verify(secret, headers, body):
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return False
    try:
        ts_i = int(ts)
    except ValueError:
        return False
    if abs(time.time() - ts_i) > TOLERANCE:
        return False
    key = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    key = base64.b64decode(key)
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for s in sigs.split(" "):
        version, _, sig = s.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--script", default="200")
    ap.add_argument("--secret")
    ap.add_argument("--reject-bad-sig", action="store_true")
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()

    script = [x.strip() for x in a.script.split(",") if x.strip()] or ["200"]
    lock = threading.Lock()
    state = {"i": 0}
    logf = open(a.log, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("receiver: " + (fmt % args) + "\n")

        def do_POST(self):
            t = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            headers = {k.lower(): v for k, v in self.headers.items()}
            sig = verify(a.secret, headers, body) if a.secret else None
            with lock:
                item = script[min(state["i"], len(script) - 1)]
                state["i"] += 1
            parts = item.split(":")
            status = int(parts[0])
            retry_after = None
            if len(parts) == 2:
                retry_after = parts[1]
            elif len(parts) == 3 and parts[1] == "date":
                retry_after = email.utils.formatdate(time.time() + int(parts[2]), usegmt=True)
            if a.reject_bad_sig and sig is False:
                status, retry_after = 401, None
            if a.delay_ms:
                time.sleep(a.delay_ms / 1000.0)
            rec = {"t": t, "method": "POST", "path": self.path, "headers": headers,
                   "body": body.decode("utf-8", "replace"), "status": status, "sig": sig}
            with lock:
                logf.write(json.dumps(rec) + "\n")
            out = json.dumps({"status": status}).encode()
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer.daemon_threads = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H)
    srv.serve_forever()


if __name__ == "__main__":
    main()
