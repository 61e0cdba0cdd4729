"""End to end DKIM signing: sluiced signs what it queues when the From: domain (or a
parent of it) has a key in dkim_signing_keys, with RSA-2048 and Ed25519 keys made here by
openssl, and the messages the sink receives are verified by dkimpy (python3-dkim), an
independent implementation, with the public keys as they would be published in DNS.  A
changed body or an added From: must fail verification; mail from other domains is not
signed; List-Unsubscribe and List-Unsubscribe-Post are signed when present; a key that
cannot be used stops `sluiced -n` and the daemon with the reason."""
import base64
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import threading
import time
import unittest

import sluicetest as st

VERIFY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dkim_verify.py")
SYS_PYTHON = "/usr/bin/python3"


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def make_key(path, kind):
    """A private key at path; returns its DNS record text."""
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "ED25519", "-out", path)
    der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    if kind == "rsa":
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()   # the raw key


def dkimpy_available():
    return os.access(SYS_PYTHON, os.X_OK) and subprocess.run(
        [SYS_PYTHON, "-c", "import dkim"], capture_output=True).returncode == 0


def verify(msg, record, tmp):
    path = os.path.join(tmp, "verify.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run([SYS_PYTHON, VERIFY, path, record], capture_output=True, timeout=60)
    return r.stdout.decode().strip()


def tags(msg):
    """The tags of the first DKIM-Signature field, unfolded."""
    m = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", msg, re.S | re.M)
    assert m, msg[:400]
    v = re.sub(rb"\s+", b"", m.group(1)).decode()
    return dict(t.split("=", 1) for t in v.split(";") if t)


@unittest.skipUnless(dkimpy_available(), "python3-dkim is not installed")
class DkimSigning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-dkim-")
        cls.rsa = os.path.join(cls.tmp, "rsa.pem")
        cls.ed = os.path.join(cls.tmp, "ed.pem")
        cls.rec_rsa = make_key(cls.rsa, "rsa")
        cls.rec_ed = make_key(cls.ed, "ed")
        cls.rec_other = make_key(os.path.join(cls.tmp, "other.pem"), "rsa")
        cls.sink = st.Sink("--reject-rcpt", "^bad")
        port = cls.sink.errtext().split("listening on ")[1].split()[0].rsplit(":", 1)[1]
        cls.d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{port}",
                          minimal_backoff_time="1s",
                          dkim_signing_keys=[f"Example.COM s2026 {cls.rsa}", f"ed.example.org e1 {cls.ed}",
                                             f"sluice.test n1 {cls.ed}"])
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def deliver(self, sender, headers, body):
        mid = f"<{os.urandom(6).hex()}@test>"
        msg = f"Message-ID: {mid}\r\n{headers}\r\n{body}"
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.sendmail(sender, ["rcpt@dest.test"], msg.encode())
        rec = st.wait_for(lambda: [r for r in self.sink.records() if r["message_id"] == mid],
                          what="delivery of " + mid)[0]
        return self.sink.stored(rec["queue_id"])

    def test_rsa_signature_verifies(self):
        got = self.deliver("alice@example.com",
                           "From: Alice <alice@example.com>\r\nTo: rcpt@dest.test\r\n"
                           "Subject:  Hello   there\r\n\tfolded\r\n"
                           "List-Unsubscribe: <https://example.com/u/1>\r\n"
                           "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                           "Hi  Bob,  \r\n\r\nline two\t\r\n\r\n\r\n")
        t = tags(got)
        self.assertEqual((t["v"], t["a"], t["c"], t["d"], t["s"]),
                         ("1", "rsa-sha256", "relaxed/relaxed", "example.com", "s2026"))
        h = t["h"].lower().split(":")
        self.assertEqual(h.count("from"), 2)   # the one present, and one more: oversigned
        for name in ("to", "subject", "message-id", "date", "list-unsubscribe", "list-unsubscribe-post"):
            self.assertIn(name, h)
        self.assertNotIn("received", h)
        self.assertEqual(verify(got, self.rec_rsa, self.tmp), "pass")
        # a changed body, an added From: and another key all fail
        self.assertEqual(verify(got.replace(b"line two", b"line 2"), self.rec_rsa, self.tmp), "fail")
        self.assertEqual(verify(got.replace(b"\r\n\r\n", b"\r\nFrom: mallory@evil.test\r\n\r\n", 1),
                                self.rec_rsa, self.tmp), "fail")
        self.assertEqual(verify(got, self.rec_other, self.tmp), "fail")

    def test_bare_cr_survives(self):
        # the server keeps a bare CR; the signature must cover it as a verifier sees it
        mid = f"<{os.urandom(6).hex()}@test>"
        c = st.SMTPRaw(self.d.port)
        self.assertEqual(c.reply()[0], 220)
        c.send("EHLO raw.test\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.send("MAIL FROM:<alice@example.com>\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.send("RCPT TO:<rcpt@dest.test>\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.send("DATA\r\n")
        self.assertEqual(c.reply()[0], 354)
        c.send(f"From: alice@example.com\r\nMessage-ID: {mid}\r\nSubject: a\rbare CR\r\n\r\n"
               "a line\rwith a bare CR\r\n.\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.close()
        rec = st.wait_for(lambda: [r for r in self.sink.records() if r["message_id"] == mid],
                          what="delivery of " + mid)[0]
        got = self.sink.stored(rec["queue_id"])
        self.assertIn(b"a line\rwith a bare CR", got)
        self.assertEqual(verify(got, self.rec_rsa, self.tmp), "pass")

    def test_ed25519_for_a_subdomain(self):
        got = self.deliver("bob@mail.ed.example.org",
                           "From: bob@Mail.Ed.Example.org\r\nTo: rcpt@dest.test\r\nSubject: ed\r\n",
                           "short body\r\n")
        t = tags(got)
        self.assertEqual((t["a"], t["d"], t["s"]), ("ed25519-sha256", "ed.example.org", "e1"))
        self.assertEqual(verify(got, self.rec_ed, self.tmp), "pass")
        self.assertEqual(verify(got.replace(b"short body", b"short bodY"), self.rec_ed, self.tmp), "fail")

    def test_notifications_signed(self):
        # a bounce sluiced writes (From: MAILER-DAEMON@mta.sluice.test) is signed too
        mid = f"<{os.urandom(6).hex()}@test>"
        with smtplib.SMTP("127.0.0.1", self.d.port) as s:
            s.sendmail("bounce-me@example.com", ["bad@dest.test"],
                       f"From: bounce-me@example.com\r\nMessage-ID: {mid}\r\nSubject: b\r\n\r\nx\r\n".encode())
        rec = st.wait_for(lambda: [r for r in self.sink.records() if r["rcpts"] == ["bounce-me@example.com"]],
                          what="the bounce")[0]
        got = self.sink.stored(rec["queue_id"])
        self.assertIn(b"From: MAILER-DAEMON@mta.sluice.test", got)
        t = tags(got)
        self.assertEqual((t["a"], t["d"], t["s"]), ("ed25519-sha256", "sluice.test", "n1"))
        self.assertEqual(verify(got, self.rec_ed, self.tmp), "pass")

    def test_other_domains_unsigned(self):
        got = self.deliver("carol@example.net", "From: carol@example.net\r\nSubject: x\r\n", "x\r\n")
        self.assertNotIn(b"DKIM-Signature", got)
        # the envelope sender does not choose the key: the From: field does
        got = self.deliver("alice@example.com", "From: dave@notexample.com\r\nSubject: y\r\n", "y\r\n")
        self.assertNotIn(b"DKIM-Signature", got)

    def test_stop_while_signing(self):
        # SIGTERM while clients keep sending: every message that got its 250 is in the
        # queue after the restart, once, and signed (the workers finish their jobs first),
        # and every queued message got its 250
        d = st.Daemon(dkim_signing_keys=[f"example.com s2026 {self.rsa}"])
        acked, lock, stop = {}, threading.Lock(), threading.Event()

        def client(k):
            n = 0
            try:
                with smtplib.SMTP("127.0.0.1", d.port, timeout=10) as s:
                    while not stop.is_set():
                        rcpt = f"c{k}-{n}@dest.test"
                        s.sendmail(f"a{k}@example.com", [rcpt],   # raises unless the 250 came
                                   f"From: a{k}@example.com\r\nSubject: {n}\r\n\r\nx\r\n".encode())
                        with lock:
                            acked[rcpt] = 1
                        n += 1
            except (OSError, smtplib.SMTPException):
                pass

        try:
            d.start()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            self.assertEqual(d.stop(), 0)
            stop.set()
            for t in threads:
                t.join(30)
            d.start()
            queued = {}
            for m in d.queue():
                for r in m["recipients"]:
                    queued[r["address"]] = queued.get(r["address"], 0) + 1
                    if len(queued) <= 5:   # a few bodies: signed
                        body = d.sluice("queue", "show", "--body", m["queue_id"]).stdout
                        self.assertTrue(body.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;"), body[:200])
            self.assertGreater(len(acked), 20)
            missing = [r for r in acked if r not in queued]
            self.assertEqual(missing, [], "acknowledged but not queued")
            # a stop lets the commits in progress finish and answers them: nothing is queued
            # that its client was not told about (it would send it again: a duplicate)
            self.assertEqual([r for r in queued if r not in acked], [], "queued but never acknowledged")
            self.assertEqual([r for r, c in queued.items() if c > 1], [], "queued twice")
        finally:
            d.cleanup()

    def test_bad_keys_refused(self):
        bad = os.path.join(self.tmp, "weak.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512", "-out", bad)
        for entry, why in ((f"example.com s1 {bad}", "at least 1024"),
                           (f"example.com s1 {self.tmp}/missing.pem", "cannot read"),
                           ("example.com s1", "DOMAIN SELECTOR")):
            r = subprocess.run([st.SLUICED, "-n", "-o", "dkim_signing_keys=" + entry], capture_output=True)
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn(why, r.stderr.decode())
        d = st.Daemon(dkim_signing_keys=[f"example.com s1 {bad}"])
        try:
            d.start(wait=False)
            self.assertEqual(d.proc.wait(20), 78)
            self.assertIn("at least 1024", d.logtext())
        finally:
            d.cleanup()


if __name__ == "__main__":
    st.main()
