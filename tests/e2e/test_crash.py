"""Crash test: concurrent clients submit (SMTP, and `sluice send`) while sluiced is killed
with SIGKILL at random moments, many times.  After each restart:
  - every message that got 250 (or whose `sluice send` exited 0) is queued exactly once,
    with all its recipients, under the queue id its client was told;
  - a message that did not get 250 is either absent or complete - never half-present;
  - no message is queued twice.
Each message has its own recipients (m<serial>-r<k>@...), so the queue listing identifies it.
SLUICE_CRASH_ITERATIONS sets the number of kills (default 25)."""
import os
import random
import re
import smtplib
import subprocess
import threading
import time
import unittest

import sluicetest as st

ITERATIONS = int(os.environ.get("SLUICE_CRASH_ITERATIONS", "25"))
SMTP_CLIENTS = 8
SEED = int(os.environ.get("SLUICE_CRASH_SEED", str(int(time.time()))))


class Ledger:
    """What the clients were told."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next = 0
        self.rcpts = {}      # serial -> recipient list
        self.acked = {}      # serial -> queue id (or "local" for sluice send)

    def new(self):
        with self.lock:
            serial = self.next
            self.next += 1
            n = 1 + serial % 3
            rc = [f"m{serial}-r{k}@example.org" for k in range(n)]
            self.rcpts[serial] = rc
            return serial, rc

    def ack(self, serial, qid):
        with self.lock:
            self.acked[serial] = qid


def smtp_client(port, ledger, stop):
    s = None
    while not stop.is_set():
        serial, rcpts = ledger.new()
        try:
            if s is None:
                s = smtplib.SMTP("127.0.0.1", port, timeout=5)
                s.ehlo("crash.test")
            s.mail(f"c{serial}@example.com")
            for r in rcpts:
                code, _ = s.rcpt(r)
                if code != 250:
                    raise smtplib.SMTPException("rcpt refused")
            body = f"Message-ID: <{serial}@crash>\r\nSubject: crash {serial}\r\n\r\n" + ("x" * 70 + "\r\n") * (serial % 40 + 1)
            code, msg = s.data(body)
            if code == 250:
                m = re.search(rb"queued as (\w+)", msg)
                ledger.ack(serial, m.group(1).decode())
        except (OSError, smtplib.SMTPException, EOFError):
            try:
                if s:
                    s.close()
            except OSError:
                pass
            s = None
            time.sleep(0.01)
    if s:
        try:
            s.close()
        except OSError:
            pass


def send_client(d, ledger, stop):
    while not stop.is_set():
        serial, rcpts = ledger.new()
        r = d.sluice("send", "-f", f"s{serial}@example.com", *rcpts, check=False,
                     input=f"Subject: send {serial}\n\nlocal\n".encode())
        if r.returncode == 0:
            ledger.ack(serial, "local")


class Crash(unittest.TestCase):
    def test_sigkill_during_submission(self):
        rnd = random.Random(SEED)
        print(f"seed {SEED}, {ITERATIONS} iterations")
        d = st.Daemon(spool_segment_size="256k")
        ledger = Ledger()
        try:
            totals = {"acked": 0, "unacked_present": 0}
            for it in range(ITERATIONS):
                d.start()
                stop = threading.Event()
                threads = [threading.Thread(target=smtp_client, args=(d.port, ledger, stop))
                           for _ in range(SMTP_CLIENTS)]
                threads.append(threading.Thread(target=send_client, args=(d, ledger, stop)))
                for t in threads:
                    t.start()
                time.sleep(rnd.uniform(0.05, 0.7))
                d.kill()
                time.sleep(rnd.uniform(0, 0.05))   # sendmail may fall back to the maildrop now
                stop.set()
                for t in threads:
                    t.join(30)
                d.start()
                drop = os.path.join(d.qdir, "maildrop")
                st.wait_for(lambda: not [f for f in os.listdir(drop) if not f.startswith("tmp.")],
                            timeout=30, what="the maildrop to be imported")
                self.check(d, ledger, totals)
                d.stop()
            print(f"acknowledged {totals['acked']} messages, all present; "
                  f"{totals['unacked_present']} unacknowledged but complete; "
                  f"{ledger.next} attempted")
            self.assertGreater(totals["acked"], 100)
        except AssertionError:
            print(d.logtext()[-4000:])
            raise
        finally:
            d.cleanup()

    def check(self, d, ledger, totals):
        seen = {}
        for m in d.queue():
            addrs = [r["address"] for r in m["recipients"]]
            serials = {int(re.match(r"m(\d+)-r\d+@", a).group(1)) for a in addrs}
            self.assertEqual(len(serials), 1, f"recipients of two messages mixed: {addrs}")
            serial = serials.pop()
            self.assertNotIn(serial, seen, f"message {serial} queued twice")
            seen[serial] = m["queue_id"]
            self.assertEqual(sorted(addrs), sorted(ledger.rcpts[serial]),
                             f"message {serial} is half-present")
        with ledger.lock:
            acked = dict(ledger.acked)
        for serial, qid in acked.items():
            self.assertIn(serial, seen, f"acknowledged message {serial} ({qid}) was lost")
            if qid != "local":
                self.assertEqual(seen[serial], qid)
        totals["acked"] = len(acked)
        totals["unacked_present"] = len([s for s in seen if s not in acked])


if __name__ == "__main__":
    st.main()
