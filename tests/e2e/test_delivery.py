"""End to end delivery (issue 4): the real sluiced resolving through a real local DNS server
(Knot) and delivering to `sluice sink` receivers on 127.0.0.x: plain delivery by MX,
fallback when the first MX is down, A-only domains, null MX and NXDOMAIN bounces, 421
mid-transaction, mixed RCPT results, a DSN parsed back, lifetime expiry, STARTTLS
may/encrypt/verify, connection reuse, a dead host, and SIGKILL during delivery."""
import email
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import sluicetest as st
from knot import Knot

PORT = st.free_port()   # every sink listens on this port, on its own 127.0.0.x address

ZONES = {
    "d1.test": "@ MX 10 mx1\n@ MX 20 mx2\nmx1 A 127.0.0.2\nmx2 A 127.0.0.3\n",
    "fallback.test": "@ MX 10 down\n@ MX 20 up\ndown A 127.0.0.9\nup A 127.0.0.3\n",
    "aonly.test": "@ A 127.0.0.2\n",
    "nullmx.test": "@ MX 0 .\n",
    "back.test": "@ MX 10 mx\nmx A 127.0.0.5\n",
    "tls.test": "@ MX 10 mx\nmx A 127.0.0.6\n",
    "dead.test": "@ MX 10 mx\nmx A 127.0.0.7\n",
}


def delivered(sink, rcpt):
    return [r for r in sink.records() if rcpt in r["rcpts"]]


class Delivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.knot = Knot(ZONES)
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-dlv-")
        # mx1 (127.0.0.2) rejects ^bad, says 421 for ^drop at RCPT, defers ^later
        rules = os.path.join(cls.tmp, "rules")
        with open(rules, "w") as f:
            f.write("rcpt to /^drop/ => 421 4.7.0 Too busy, closing\n"
                    "rcpt to /^later/ => 451 4.3.0 Temporary local problem\n")
        cls.mx1 = st.Sink("--reject-rcpt", "^bad", "--reply-script", rules, listen=[f"127.0.0.2:{PORT}"])
        cls.mx2 = st.Sink(listen=[f"127.0.0.3:{PORT}"])
        cls.back = st.Sink(listen=[f"127.0.0.5:{PORT}"])   # where DSNs to senders go
        cls.d = st.Daemon(deliver=True, dns_servers=[cls.knot.server], smtp_port=PORT, minimal_backoff_time="1s",
                          maximal_backoff_time="2s", queue_run_delay="1s", smtp_helo_timeout="2s",
                          smtp_connect_timeout="2s", smtp_connection_cache_time_limit="1s",
                          smtp_tls_security_level="may").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        for s in (cls.mx1, cls.mx2, cls.back):
            s.kill()
        cls.knot.stop()

    def submit(self, rcpts, sender="s@back.test", subject="t", extra=""):
        mid = f"<{random.getrandbits(64):x}@e2e>"
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.sendmail(sender, rcpts, f"Message-ID: {mid}\r\nSubject: {subject}\r\n{extra}\r\nbody\r\n")
        return mid

    def wait_records(self, sink, n, mid=None, timeout=20):
        return st.wait_for(lambda: len([r for r in sink.records() if mid is None or r["message_id"] == mid]) >= n,
                           timeout=timeout, what=f"{n} deliveries")

    def test_mx_delivery_and_reuse(self):
        mids = [self.submit(["ok1@d1.test", "ok2@d1.test"]) for _ in range(5)]
        for mid in mids:
            self.wait_records(self.mx1, 1, mid)
        recs = [r for r in self.mx1.records() if r["message_id"] in mids]
        self.assertEqual(len(recs), 5)                      # one transaction, both recipients
        self.assertEqual(sorted(recs[0]["rcpts"]), ["ok1@d1.test", "ok2@d1.test"])
        st.wait_for(lambda: not [m for m in self.d.queue()], what="an empty queue")
        self.assertIn("relay=mx1.d1.test[127.0.0.2]:%d" % PORT, self.d.logtext())
        self.assertIn("status=sent (250 2.0.0 Ok: queued as", self.d.logtext())
        sessions = {r["session"] for r in recs}
        self.assertLess(len(sessions), 5)                   # connections were reused

    def test_fallback_to_second_mx(self):
        mid = self.submit(["x@fallback.test"])
        self.wait_records(self.mx2, 1, mid)
        self.assertIn("relay=up.fallback.test[127.0.0.3]", self.d.logtext())

    def test_a_only_domain(self):
        mid = self.submit(["y@aonly.test"])
        self.wait_records(self.mx1, 1, mid)

    def test_mixed_rcpt_results_and_dsn(self):
        mid = self.submit(["good@d1.test", "bad-user@d1.test"], sender="sender@back.test")
        self.wait_records(self.mx1, 1, mid)
        rec = [r for r in self.mx1.records() if r["message_id"] == mid][0]
        self.assertEqual(rec["rcpts"], ["good@d1.test"])
        dsn_rec = st.wait_for(lambda: [r for r in self.back.records() if r["rcpts"] == ["sender@back.test"]
                                       and r["mail_from"] == ""], what="the DSN")[0]
        msg = email.message_from_bytes(self.back.stored(dsn_rec["queue_id"]))
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = msg.get_payload()
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        fields = parts[1].get_payload()
        per_rcpt = fields[1] if isinstance(fields, list) else None
        text = parts[1].as_string()
        self.assertIn("Final-Recipient: rfc822; bad-user@d1.test", text)
        self.assertIn("Action: failed", text)
        self.assertIn("Status: 5.1.1", text)
        self.assertIn("Diagnostic-Code: smtp;", text)
        if per_rcpt is not None:
            self.assertEqual(per_rcpt["Action"], "failed")
        self.assertEqual(parts[2].get_content_type(), "text/rfc822-headers")
        self.assertIn(mid, parts[2].as_string())

    def test_null_mx_and_nxdomain_bounce(self):
        self.submit(["u@nullmx.test"], sender="nm@back.test")
        self.submit(["u@nosuch.d1.test"], sender="nx@back.test")   # NXDOMAIN from the authority
        got = st.wait_for(lambda: {r["rcpts"][0] for r in self.back.records()} >= {"nm@back.test", "nx@back.test"},
                          what="two DSNs")
        self.assertTrue(got)
        texts = {r["rcpts"][0]: self.back.stored(r["queue_id"]).decode() for r in self.back.records()
                 if r["rcpts"][0] in ("nm@back.test", "nx@back.test")}
        self.assertIn("Status: 5.1.10", texts["nm@back.test"])
        self.assertIn("Status: 5.1.2", texts["nx@back.test"])

    def test_421_mid_transaction_defers(self):
        mid = self.submit(["drop-me@d1.test", "fine@d1.test"])
        m = st.wait_for(lambda: [x for x in self.d.queue() if any(r["address"] == "drop-me@d1.test"
                                                                 for r in x["recipients"])
                                 and all("delay_reason" in r for r in x["recipients"])], what="a deferral")[0]
        reasons = [r["delay_reason"] for r in m["recipients"]]
        self.assertTrue(all("421 4.7.0" in r for r in reasons), reasons)   # both deferred, none bounced
        self.assertFalse([r for r in self.mx1.records() if r["message_id"] == mid])
        self.d.sluice("queue", "delete", m["queue_id"])


class Lifetime(unittest.TestCase):
    def test_expiry_returns_to_sender(self):
        with Knot(ZONES) as knot:
            rules = tempfile.NamedTemporaryFile("w", delete=False)
            rules.write("rcpt to /^later/ => 451 4.3.0 Temporary local problem\n")
            rules.close()
            mx1 = st.Sink("--reply-script", rules.name, listen=[f"127.0.0.2:{PORT}"])
            back = st.Sink(listen=[f"127.0.0.5:{PORT}"])
            d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_port=PORT, minimal_backoff_time="0.5s",
                          maximal_backoff_time="1s", maximal_queue_lifetime="3s").start()
            try:
                with smtplib.SMTP("127.0.0.1", d.port) as s:
                    s.sendmail("exp@back.test", ["later@d1.test"], "Subject: expire\r\n\r\nx\r\n")
                rec = st.wait_for(lambda: back.records(), timeout=30, what="the expiry DSN")[0]
                text = back.stored(rec["queue_id"]).decode()
                self.assertIn("Status: 4.3.0", text)
                self.assertIn("Action: failed", text)
                self.assertGreaterEqual(len(mx1.records("refusal")), 2)   # it was retried first
                self.assertIn("status=expired", d.logtext())
            finally:
                d.cleanup()
                mx1.kill()
                back.kill()
                os.unlink(rules.name)


class TLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-tls-")
        # a CA and a certificate for mx.tls.test signed by it
        ca_key, ca = os.path.join(cls.tmp, "ca.key"), os.path.join(cls.tmp, "ca.pem")
        key, csr, cert = (os.path.join(cls.tmp, n) for n in ("mx.key", "mx.csr", "mx.pem"))
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
            "-days", "2", "-subj", "/CN=sluice test CA")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=mx.tls.test")
        ext = os.path.join(cls.tmp, "ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:mx.tls.test\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)
        cls.ca, cls.cert, cls.key = ca, cert, key

    def run_level(self, level, tls_sink, zones_extra=""):
        zones = dict(ZONES)
        with Knot(zones) as knot:
            args = ["--tls-cert", self.cert, "--tls-key", self.key] if tls_sink else []
            sink = st.Sink(*args, listen=[f"127.0.0.6:{PORT}"])
            d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_port=PORT, smtp_tls_security_level=level,
                          smtp_tls_CAfile=self.ca, minimal_backoff_time="30s").start()
            try:
                with smtplib.SMTP("127.0.0.1", d.port) as s:
                    s.sendmail("a@src.test", ["t@tls.test"], "Subject: tls\r\n\r\nx\r\n")
                time.sleep(0.2)
                ok = st.wait_for(lambda: sink.records() or [m for m in d.queue()
                                                          if "delay_reason" in m["recipients"][0]],
                                 what="an outcome")
                return sink.records(), d.queue(), d.logtext()
            finally:
                d.cleanup()
                sink.kill()

    def test_may_uses_tls(self):
        recs, queue, log = self.run_level("may", True)
        self.assertEqual(len(recs), 1)
        self.assertTrue(recs[0]["tls"])

    def test_may_without_tls_offered_is_plain(self):
        recs, queue, log = self.run_level("may", False)
        self.assertEqual(len(recs), 1)
        self.assertFalse(recs[0]["tls"])

    def test_encrypt_refuses_plaintext(self):
        recs, queue, log = self.run_level("encrypt", False)
        self.assertEqual(recs, [])
        self.assertIn("TLS", queue[0]["recipients"][0]["delay_reason"])

    def test_verify_passes_with_the_right_ca(self):
        recs, queue, log = self.run_level("verify", True)
        self.assertEqual(len(recs), 1)
        self.assertTrue(recs[0]["tls"])
        self.assertIn("Verified TLS connection established to mx.tls.test", log)


class JsonLog(unittest.TestCase):
    def test_delivery_lines_as_json(self):
        with Knot(ZONES) as knot:
            sink = st.Sink(listen=[f"127.0.0.2:{PORT}"])
            d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_port=PORT, log_format="json").start()
            try:
                with smtplib.SMTP("127.0.0.1", d.port) as s:
                    s.sendmail("a@src.test", ["j1@d1.test", "j2@d1.test"], "Subject: json\r\n\r\nx\r\n")
                st.wait_for(lambda: d.logtext().count('"status":"sent"') >= 2, what="two JSON lines")
                events = [json.loads(l) for l in d.logtext().splitlines() if l.startswith("{")]
                sent = sorted(e["to"] for e in events if e["status"] == "sent")
                self.assertEqual(sent, ["j1@d1.test", "j2@d1.test"])
                e = events[0]
                for k in ("queue_id", "relay", "delay", "delays", "dsn", "reply"):
                    self.assertIn(k, e)
                self.assertEqual(len(e["delays"]), 4)
                self.assertTrue(e["relay"].startswith("mx1.d1.test[127.0.0.2]"))
            finally:
                d.cleanup()
                sink.kill()


class DeadHost(unittest.TestCase):
    def test_greeting_timeout_defers(self):
        with Knot(ZONES) as knot:
            silent = socket.socket()
            silent.bind(("127.0.0.7", PORT))
            silent.listen(5)   # accepts, never greets
            d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_port=PORT, smtp_helo_timeout="1s",
                          minimal_backoff_time="60s").start()
            try:
                with smtplib.SMTP("127.0.0.1", d.port) as s:
                    s.sendmail("a@src.test", ["z@dead.test"], "Subject: dead\r\n\r\nx\r\n")
                m = st.wait_for(lambda: [x for x in d.queue() if "delay_reason" in x["recipients"][0]],
                                timeout=15, what="the deferral")[0]
                self.assertIn("timed out", m["recipients"][0]["delay_reason"])
            finally:
                d.cleanup()
                silent.close()


class KillDuringDelivery(unittest.TestCase):
    def test_sigkill_then_restart(self):
        N = 1500
        with Knot(ZONES) as knot:
            sink = st.Sink("--tarpit", "0.01", listen=[f"127.0.0.2:{PORT}"])
            d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_port=PORT, minimal_backoff_time="0.5s",
                          maximal_backoff_time="1s", smtp_destination_concurrency_limit=5)
            try:
                d.write_conf()
                d.params["smtp_port"] = 9   # first: nothing delivers while we queue
                d.write_conf()
                d.start()
                with smtplib.SMTP("127.0.0.1", d.port) as s:
                    for i in range(N):
                        s.sendmail("k@src.test", [f"k{i}@d1.test"], f"Message-ID: <k{i}@kill>\r\n\r\nx\r\n")
                d.stop()
                d.params["smtp_port"] = PORT
                d.write_conf()
                kills = 0
                kill_times = []
                while True:
                    d.start()
                    if not d.queue():
                        break
                    time.sleep(random.uniform(0.02, 0.15))
                    kill_times.append(time.time())
                    d.kill()
                    kills += 1
                    if kills > 30:
                        break
                st.wait_for(lambda: not d.queue(), timeout=60, what="the queue to empty")
                summary = sink.stop()   # flushes the record
                recs = sink.records()
                got, first = {}, {}
                for r in sorted(recs, key=lambda r: r["time"]):
                    got[r["message_id"]] = got.get(r["message_id"], 0) + 1
                    first.setdefault(r["message_id"], r["time"])
                missing = [i for i in range(N) if f"<k{i}@kill>" not in got]
                dups = sum(c - 1 for c in got.values())
                print(f"{kills} kills during delivery of {N} messages: {len(missing)} lost, {dups} duplicates")
                self.assertEqual(missing, [])
                self.assertEqual(summary["duplicates"], dups)
                # a duplicate is only a message whose 250 arrived just before a kill, before
                # its "delivered" record was on disk: its first acceptance lies within the
                # last moments (one group commit; 2 s is generous) before some kill
                for mid, n in got.items():
                    if n > 1:
                        self.assertTrue(any(k - 2.0 <= first[mid] <= k for k in kill_times),
                                        f"{mid} was delivered twice, first at {first[mid]:.3f}, "
                                        f"not just before a kill ({kill_times})")
            finally:
                d.cleanup()
                sink.kill()


if __name__ == "__main__":
    st.main()
