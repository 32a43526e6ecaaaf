"""testssl_agree.py TESTSSL_OUT PROBE_JSONL - agreement of `tlswatch-probe check
--profile all --json` with `ALL_CLIENTS=true testssl -c` on the same endpoint:
per client name both report the same protocol version and cipher, or both no
connection. Prints "FILE: AGREE/TOTAL" and each disagreement. Used for issue
10's client-fidelity numbers (see the helper report / README)."""
import json, re, sys
ts = {}
lines = open(sys.argv[1], errors="replace").read().split("Running client simulations", 1)[-1].splitlines()
for l in lines:
    m = re.match(r"^ (\S.*?)\s{2,}(No connection|(SSLv[23]|TLSv1(?:\.[0-3])?) (\S+?),?(?:\s|$))", l)
    if not m:
        continue
    name = m.group(1).strip()
    ts[name] = None if m.group(2) == "No connection" else (m.group(3).replace("TLSv1.0", "TLSv1"), m.group(4).rstrip(","))
pr = {}
for l in open(sys.argv[2]):
    o = json.loads(l)
    v = o.get("tls_version")
    pr[o["profile"]] = (v, o.get("cipher")) if v and o.get("outcome") not in (
        "protocol_version", "no_shared_cipher", "tls_alert", "not_tls", "io_error", "handshake_timeout") else None
agree = total = 0
dis = []
for name, t in ts.items():
    if name not in pr:
        continue
    total += 1
    if pr[name] == t:
        agree += 1
    else:
        dis.append(f"  {name}: testssl {t} probe {pr[name]}")
print(f"{sys.argv[1]}: {agree}/{total}")
print("\n".join(dis))
