"""End to end: sluiced accepts mail over SMTP from real clients (smtplib, swaks, raw sockets),
enforces its limits with the right replies, and the queue commands see what it accepted."""
import os
import smtplib
import ssl
import subprocess
import tempfile
import time
import unittest

import sluicetest as st

MSG = "From: a@example.com\r\nTo: b@example.org\r\nSubject: e2e\r\nMessage-ID: <{mid}@e2e>\r\n\r\nhello\r\n"


class Submission(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-sub-")
        cls.cert, cls.key = st.make_cert(cls.tmp, "mta.sluice.test")
        cls.d = st.Daemon(smtpd_tls_cert_file=cls.cert, smtpd_tls_key_file=cls.key,
                          message_size_limit=20000, smtpd_recipient_limit=3,
                          smtpd_client_connection_count_limit=2, smtpd_timeout="2s").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def by_msgid(self, mid):
        """The queued message whose body has this Message-ID."""
        for m in self.d.queue():
            body = self.d.sluice("queue", "show", "--body", m["queue_id"]).stdout.decode()
            if f"<{mid}@e2e>" in body:
                return m, body
        return None, None

    def test_ehlo_keywords(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            code, _ = s.ehlo("client.test")
            self.assertEqual(code, 250)
            for kw in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "starttls"):
                self.assertTrue(s.has_extn(kw), kw)
            self.assertEqual(s.esmtp_features["size"], "20000")

    def test_smtplib_message_is_queued(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            refused = s.sendmail("a@example.com", ["b@example.org", "c@example.net"],
                                 MSG.format(mid="plain"))
            self.assertEqual(refused, {})
        m, body = self.by_msgid("plain")
        self.assertIsNotNone(m)
        self.assertEqual(m["sender"], "a@example.com")
        self.assertEqual(sorted(r["address"] for r in m["recipients"]), ["b@example.org", "c@example.net"])
        self.assertTrue(body.startswith("Received: from client") or body.startswith("Received: from"), body[:200])
        self.assertIn("by mta.sluice.test (sluice) with ESMTP id " + m["queue_id"], body.replace("\r\n\t", " "))
        self.assertIn("\r\n\r\nhello\r\n", body)
        self.assertIn("Date: ", body)   # added: the client gave none

    def test_pipelining_raw(self):
        c = st.SMTPRaw(self.d.port)
        self.assertEqual(c.reply()[0], 220)
        c.send("EHLO pipe.test\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.send("MAIL FROM:<p@example.com>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send("Message-ID: <pipe@e2e>\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("2.0.0 Ok: queued as", lines[0])
        self.assertEqual(c.reply()[0], 221)
        c.close()
        m, body = self.by_msgid("pipe")
        self.assertIsNotNone(m)
        self.assertIn("\r\n.leading dot\r\n", body)   # dot-unstuffed

    def test_swaks_pipelining_and_starttls(self):
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.d.port}", "--from", "sw@example.com",
                            "--to", "t1@example.org,t2@example.org", "--pipeline", "-tls",
                            "--header", "Message-ID: <swaks@e2e>", "--helo", "swaks.test"],
                           capture_output=True, timeout=60)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("STARTTLS", out)
        self.assertIn("250 2.0.0 Ok: queued as", out)
        m, body = self.by_msgid("swaks")
        self.assertIsNotNone(m)
        self.assertIn("with ESMTPS id", body.replace("\r\n\t", " "))

    def test_smtplib_starttls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.starttls(context=ctx)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            self.assertEqual(s.sendmail("a@example.com", ["b@example.org"], MSG.format(mid="tls")), {})

    def test_size_limit(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.ehlo()
            code, msg = s.mail("a@example.com", ["SIZE=30000"])
            self.assertEqual(code, 552)
            self.assertTrue(msg.startswith(b"5.3.4"), msg)
            s.rset()
            # no SIZE= this time (sendmail() would add it): the limit bites at end of data
            self.assertEqual(s.mail("a@example.com")[0], 250)
            self.assertEqual(s.rcpt("b@example.org")[0], 250)
            code, msg = s.data(MSG.format(mid="big") + "x" * 30000 + "\r\n")
            self.assertEqual(code, 552)
            self.assertTrue(msg.startswith(b"5.3.4"), msg)
        self.assertIsNone(self.by_msgid("big")[0])

    def test_recipient_limit(self):
        c = st.SMTPRaw(self.d.port)
        c.reply()
        c.send("EHLO r.test\r\nMAIL FROM:<a@example.com>\r\n")
        c.reply(), c.reply()
        codes = []
        for i in range(4):
            c.send(f"RCPT TO:<r{i}@example.org>\r\n")
            code, lines = c.reply()
            codes.append(code)
        self.assertEqual(codes, [250, 250, 250, 452])
        self.assertIn("4.5.3", lines[0])
        c.send("QUIT\r\n")
        c.close()

    def test_bad_sequence_and_unknown(self):
        c = st.SMTPRaw(self.d.port)
        c.reply()
        c.send("RCPT TO:<x@example.org>\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 503)
        self.assertIn("5.5.1", lines[0])
        c.send("BOGUS\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 500)
        self.assertIn("5.5.2", lines[0])
        c.send("QUIT\r\n")
        c.close()

    def test_timeout(self):
        c = st.SMTPRaw(self.d.port)
        c.reply()
        code, lines = c.reply()   # smtpd_timeout = 2s
        self.assertEqual(code, 421)
        self.assertIn("4.4.2", lines[0])
        self.assertTrue(c.closed())
        c.close()

    def test_per_ip_connection_limit(self):
        a, b = st.SMTPRaw(self.d.port), st.SMTPRaw(self.d.port)
        self.assertEqual(a.reply()[0], 220)
        self.assertEqual(b.reply()[0], 220)
        c = st.SMTPRaw(self.d.port)
        code, lines = c.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.7.0", lines[0])
        self.assertIn("too many connections", lines[0].lower())
        self.assertTrue(c.closed())
        for x in (a, b, c):
            x.close()
        time.sleep(0.2)
        d = st.SMTPRaw(self.d.port)   # the slots are free again
        self.assertEqual(d.reply()[0], 220)
        d.close()

    def test_queue_commands(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.sendmail("q@example.com", ["q1@example.org"], MSG.format(mid="qcmd"))
        m, _ = self.by_msgid("qcmd")
        qid = m["queue_id"]
        out = self.d.sluice("queue", "show", qid).stdout.decode()
        self.assertIn("q1@example.org", out)
        self.assertIn("pending", out)
        self.d.sluice("queue", "hold", qid)
        held = [x for x in self.d.queue() if x["queue_id"] == qid][0]
        self.assertEqual(held["queue_name"], "hold")
        self.assertIn("!", self.d.sluice("queue", "list").stdout.decode().split(qid)[1][:2])
        self.d.sluice("queue", "release", qid)
        self.assertEqual([x for x in self.d.queue() if x["queue_id"] == qid][0]["queue_name"], "active")
        r = self.d.sluice("queue", "delete", qid, "0000000000ZZ", check=False)
        self.assertEqual(r.returncode, 1)            # one id was not there
        self.assertIn(b"no such message", r.stderr)
        self.assertFalse([x for x in self.d.queue() if x["queue_id"] == qid])
        r = self.d.sluice("queue", "show", qid, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.d.sluice("queue", "flush").returncode, 0)


class RelayDenied(unittest.TestCase):
    def test_outside_mynetworks(self):
        d = st.Daemon(mynetworks=["10.0.0.0/8"]).start()
        try:
            c = st.SMTPRaw(d.port)
            c.reply()
            c.send("EHLO out.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<victim@example.org>\r\n")
            c.reply(), c.reply()
            code, lines = c.reply()
            self.assertEqual(code, 554)
            self.assertIn("5.7.1", lines[0])
            self.assertIn("Relay access denied", lines[0])
            c.close()
            self.assertEqual(d.queue(), [])
        finally:
            d.cleanup()


class Restart(unittest.TestCase):
    def test_queue_survives_restart(self):
        d = st.Daemon().start()
        try:
            with smtplib.SMTP("127.0.0.1", d.port) as s:
                for i in range(20):
                    s.sendmail("a@example.com", [f"u{i}@example.org"], MSG.format(mid=f"r{i}"))
            before = sorted((m["queue_id"], m["recipients"][0]["address"]) for m in d.queue())
            self.assertEqual(len(before), 20)
            self.assertEqual(d.stop(), 0)
            r = d.sluice("queue", "list", check=False)
            self.assertEqual(r.returncode, 69)
            self.assertIn(b"not running", r.stderr)
            d.start()
            after = sorted((m["queue_id"], m["recipients"][0]["address"]) for m in d.queue())
            self.assertEqual(before, after)
        finally:
            d.cleanup()


if __name__ == "__main__":
    st.main()
