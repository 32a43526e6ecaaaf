#!/usr/bin/env python3
"""A tiny SMTP server with STARTTLS (RFC 3207) for integration tests.

    smtp_starttls.py PORT CERT_CHAIN KEY

Listens on 127.0.0.1:PORT only. Greets with 220, answers EHLO (advertising
STARTTLS before TLS, not after), HELO, NOOP, RSET, QUIT and STARTTLS; after
"220 Ready" it runs the TLS handshake with CERT_CHAIN/KEY and keeps speaking
SMTP over TLS. Everything else gets 502. One thread per connection.
"""
import socketserver
import ssl
import sys

HOST = "smtp.tw.test"


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def send(self, f, line):
        f.write(line.encode() + b"\r\n")
        f.flush()

    def handle(self):
        sock = self.request
        rf, wf = self.rfile, self.wfile
        tls = False
        self.send(wf, "220 %s ESMTP tlswatch-test" % HOST)
        while True:
            line = rf.readline(1024)
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.send(wf, "250-%s greets %s" % (HOST, cmd[5:] or "you"))
                if not tls:
                    self.send(wf, "250-STARTTLS")
                self.send(wf, "250 8BITMIME")
            elif verb == "HELO":
                self.send(wf, "250 %s" % HOST)
            elif verb in ("NOOP", "RSET"):
                self.send(wf, "250 OK")
            elif verb == "QUIT":
                self.send(wf, "221 Bye")
                return
            elif verb == "STARTTLS" and not tls:
                self.send(wf, "220 Ready to start TLS")
                try:
                    sock = self.server.ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    print("handshake failed: %s" % e, file=sys.stderr, flush=True)
                    return
                print("TLS %s %s" % (sock.version(), sock.cipher()[0]), file=sys.stderr,
                      flush=True)
                tls = True
                rf = sock.makefile("rb")
                wf = sock.makefile("wb")
            else:
                self.send(wf, "502 Command not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: smtp_starttls.py PORT CERT_CHAIN KEY")
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.serve_forever()


if __name__ == "__main__":
    main()
