#!/usr/bin/env python3
"""test_report_smtp.py - an SMTP sink on loopback for test_report_sched.c:
Debian's aiosmtpd with its Mailbox handler, saving every message it
accepts into a maildir.

    test_report_smtp.py PORT MAILDIR

Binds 127.0.0.1 only. Exits when its parent process does, so a test that
failed half-way leaves nothing running."""
import os
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

port, maildir = int(sys.argv[1]), sys.argv[2]
parent = os.getppid()
ctl = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)
ctl.start()
print("listening on 127.0.0.1:%d, saving into %s" % (port, maildir), flush=True)
try:
    while os.getppid() == parent:
        time.sleep(0.2)
finally:
    ctl.stop()
