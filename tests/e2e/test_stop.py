"""End to end: stopping sluiced with SIGTERM while clients submit, over SMTP and through the
control socket (`sluice send`).  A stop finishes the commits in progress and answers them,
refuses what comes later (SMTP: 421; `sluice send`: the message goes to the maildrop, which
the next start imports), so after a restart the queue holds exactly the messages the
clients were told were queued - none lost, none queued behind a client's back (which would
be sent twice when it tried again).  A second SIGTERM stops at once, still cleanly."""
import os
import signal
import smtplib
import threading
import time
import unittest

import sluicetest as st


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = set()
        self.n = 0

    def next(self, kind):
        with self.lock:
            self.n += 1
            return f"{kind}{self.n}@dest.test"

    def ack(self, rcpt):
        with self.lock:
            self.acked.add(rcpt)


def smtp_client(d, ledger, stop):
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", d.port, timeout=10) as s:
                while not stop.is_set():
                    rcpt = ledger.next("s")
                    s.sendmail("a@app.test", [rcpt], b"Subject: stop\r\n\r\nx\r\n")
                    ledger.ack(rcpt)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.01)


def send_client(d, ledger, stop):
    while not stop.is_set():
        rcpt = ledger.next("c")
        r = d.sluice("send", "-f", "b@app.test", rcpt, check=False, input=b"Subject: stop\n\nx\n")
        if r.returncode == 0:
            ledger.ack(rcpt)


class Stop(unittest.TestCase):
    def run_clients(self, d, signals):
        ledger, stop = Ledger(), threading.Event()
        threads = [threading.Thread(target=smtp_client, args=(d, ledger, stop)) for _ in range(4)]
        threads += [threading.Thread(target=send_client, args=(d, ledger, stop)) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        for k in range(signals):
            d.proc.send_signal(signal.SIGTERM)
            time.sleep(0.01)
        rc = d.proc.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
        return ledger, rc

    def check_queue(self, d, ledger):
        d.start()
        drop = os.path.join(d.qdir, "maildrop")
        st.wait_for(lambda: not [f for f in os.listdir(drop) if not f.startswith("tmp.")], timeout=30,
                    what="the maildrop to be imported")
        queued = {}
        for m in d.queue():
            for r in m["recipients"]:
                queued[r["address"]] = queued.get(r["address"], 0) + 1
        self.assertGreater(len(ledger.acked), 20)
        self.assertTrue(any(r.startswith("c") for r in ledger.acked))
        self.assertEqual(sorted(r for r in ledger.acked if r not in queued), [], "acknowledged but lost")
        self.assertEqual(sorted(r for r in queued if r not in ledger.acked), [], "queued behind the client's back")
        self.assertEqual(sorted(r for r, n in queued.items() if n > 1), [], "queued twice")

    def test_graceful_stop(self):
        d = st.Daemon()
        try:
            d.start()
            ledger, rc = self.run_clients(d, 1)
            self.assertEqual(rc, 0)
            self.assertIn("signal 15: shutting down", d.logtext())
            self.assertIn("sluiced stopped", d.logtext())
            self.check_queue(d, ledger)
        finally:
            d.cleanup()

    def test_second_signal(self):
        d = st.Daemon()
        try:
            d.start()
            ledger, rc = self.run_clients(d, 2)
            self.assertEqual(rc, 0)   # not killed by the second signal
            self.assertIn("sluiced stopped", d.logtext())
            # nothing acknowledged is lost (what was committed unanswered may be queued)
            d.start()
            queued = {r["address"] for m in d.queue() for r in m["recipients"]}
            drop = os.path.join(d.qdir, "maildrop")
            st.wait_for(lambda: not [f for f in os.listdir(drop) if not f.startswith("tmp.")], timeout=30,
                        what="the maildrop to be imported")
            queued = {r["address"] for m in d.queue() for r in m["recipients"]}
            self.assertEqual(sorted(ledger.acked - queued), [])
        finally:
            d.cleanup()


if __name__ == "__main__":
    st.main()
