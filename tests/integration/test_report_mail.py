#!/usr/bin/env python3
"""test_report_mail.py - reads the messages an aiosmtpd Mailbox handler
saved (a maildir) for test_report_sched.c.

    test_report_mail.py MAILDIR OUT_PDF

Prints one line per message: "to=<To> subject=<Subject> parts=<n>
pdf=<bytes>" and writes the first application/pdf attachment (decoded) of
the first message to OUT_PDF. Exit 1 when there is no message."""
import mailbox
import sys

box = mailbox.Maildir(sys.argv[1], create=False)
msgs = [box[k] for k in sorted(box.keys())]
if not msgs:
    print("no message")
    sys.exit(1)
written = False
for m in msgs:
    parts = list(m.walk()) if m.is_multipart() else [m]
    pdf = b""
    for p in parts:
        if p.get_content_type() == "application/pdf":
            pdf = p.get_payload(decode=True)
            break
    text = ""
    for p in parts:
        if p.get_content_type() == "text/plain":
            text = p.get_payload(decode=True).decode("utf-8", "replace")
            break
    print("to=%s subject=%s parts=%d pdf=%d text=%s" % (
        m["To"], m["Subject"], len(parts), len(pdf), text.replace("\r\n", "|")))
    if pdf and not written:
        with open(sys.argv[2], "wb") as f:
            f.write(pdf)
        written = True
