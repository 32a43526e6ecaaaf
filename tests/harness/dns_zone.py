"""dns_zone.py PORT NAME=ADDR[,ADDR...] ... - a DNS server on 127.0.0.1:PORT
(UDP) for the tests: A and AAAA answers for the names given, NXDOMAIN for
any other name, an empty answer for other types. Just enough of RFC 1035
for libevent's evdns; one packet in, one packet out."""
import ipaddress
import socket
import struct
import sys

port = int(sys.argv[1])
zone = {}
for arg in sys.argv[2:]:
    name, addrs = arg.split("=", 1)
    zone[name.lower().rstrip(".")] = [ipaddress.ip_address(a) for a in addrs.split(",")]

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
# a TCP listener on the same port says "ready" to fixtures.sh's tw_wait_ports
ready = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ready.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ready.bind(("127.0.0.1", port))
ready.listen(16)
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    # the question: labels, then type and class
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    i += 1
    if qd != 1 or i + 4 > len(q):
        continue
    qtype, qclass = struct.unpack("!HH", q[i:i + 4])
    question = q[12:i + 4]
    name = ".".join(labels).lower()
    answers = []
    if name in zone:
        rcode = 0
        for a in zone[name]:
            if (qtype == 1 and a.version == 4) or (qtype == 28 and a.version == 6):
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(a.packed)) + a.packed)
    else:
        rcode = 3
    head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
    s.sendto(head + question + b"".join(answers), peer)
