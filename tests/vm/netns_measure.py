#!/usr/bin/python3
"""netns_measure.py - what each region's namespace really sees of the host:
run by tests/vm/netns_topology.sh once deploy/demo/netns.sh made the
namespaces (as root, on a kernel with netem).

    netns_measure.py SERVICE_ADDR NAMESPACE:DELAY_MS:LOSS_PCT ...

For each region, from inside its namespace (ip netns exec):
  - TCP connect time to a listener on SERVICE_ADDR, CONNECTS times: a
    connect is one round trip, so its median is 2 x the one-way delay (netem
    delays both directions); a lost SYN or SYN-ACK costs a 1 s retransmit,
    which the median ignores
  - DATAGRAMS UDP datagrams to SERVICE_ADDR, paced: how many arrive (loss is
    on the region's own packets only, so this counts it once)
Prints one line per check, "ok ..." or "FAIL ...", and exits 1 on a FAIL.
"""
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

CONNECTS = 25
DATAGRAMS = 3000

CHILD = r"""
import json, socket, sys, time
addr, tport, uport, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ms = []
for _ in range(n):
    t0 = time.monotonic()
    s = socket.create_connection((addr, tport), timeout=10)
    ms.append((time.monotonic() - t0) * 1000)
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(m):
    u.sendto(b"%08d" % i, (addr, uport))
    if i % 10 == 9:
        time.sleep(0.003)
print(json.dumps(ms))
"""


def acceptor(lsock):
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        c.close()


def measure(addr, ns, delay_ms):
    lsock = socket.socket()
    lsock.bind((addr, 0))
    lsock.listen(256)
    threading.Thread(target=acceptor, args=(lsock,), daemon=True).start()
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    usock.bind((addr, 0))
    seen = set()
    done = threading.Event()

    def receive():
        usock.settimeout(0.2)
        while True:
            try:
                data, _ = usock.recvfrom(64)
                seen.add(data)
            except socket.timeout:
                if done.is_set():
                    return

    rt = threading.Thread(target=receive, daemon=True)
    rt.start()
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CHILD, addr,
                          str(lsock.getsockname()[1]), str(usock.getsockname()[1]),
                          str(CONNECTS), str(DATAGRAMS)],
                         capture_output=True, text=True, timeout=300)
    # what is still on its way arrives within the delay
    time.sleep(2 * delay_ms / 1000 + 1.0)
    done.set()
    rt.join()
    lsock.close()
    usock.close()
    if out.returncode != 0:
        raise RuntimeError("in %s: %s" % (ns, out.stderr.strip()))
    return json.loads(out.stdout), len(seen)


def main():
    addr = sys.argv[1]
    fails = 0
    results = []

    def check(ok, text):
        nonlocal fails
        print(("ok   " if ok else "FAIL ") + text, flush=True)
        fails += 0 if ok else 1

    for spec in sys.argv[2:]:
        ns, delay, loss = spec.rsplit(":", 2)
        delay, loss = int(delay), float(loss)
        try:
            ms, got = measure(addr, ns, delay)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as e:
            check(False, "%s: measuring failed: %s" % (ns, e))
            continue
        med = statistics.median(ms)
        want = 2 * delay
        # netem adds exactly the delay; the rest is the two stacks and, in
        # an emulated guest, a slower CPU: up to 8 ms + 20 % on top
        check(want <= med <= want + 8 + 0.2 * want,
              "%s: TCP connect median %.1f ms (min %.1f, max %.1f, n=%d); want %d..%.0f ms "
              "(2 x %d ms one way)" % (ns, med, min(ms), max(ms), len(ms), want,
                                       want + 8 + 0.2 * want, delay))
        lost = DATAGRAMS - got
        if loss == 0:
            check(lost == 0, "%s: %d of %d datagrams lost; want 0 (no loss configured)"
                  % (ns, lost, DATAGRAMS))
        else:
            mean = DATAGRAMS * loss / 100
            lo, hi = max(1, int(mean * 0.3)), int(mean * 2.2 + 5)
            check(lo <= lost <= hi, "%s: %d of %d datagrams lost (%.2f%%); want %d..%d at %g%% loss"
                  % (ns, lost, DATAGRAMS, 100.0 * lost / DATAGRAMS, lo, hi, loss))
        results.append((ns, med))
    if len(results) == len(sys.argv[2:]):
        meds = [m for _, m in results]
        check(meds == sorted(meds), "connect medians ordered as the delays: %s"
              % ", ".join("%s %.1f ms" % r for r in results))
    print("measure: %d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
