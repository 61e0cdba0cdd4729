"""End to end: the sendmail interface (`sluice send`, or the binary invoked as sendmail),
the maildrop when the daemon is down, mailq, configuration checks and exit codes."""
import os
import subprocess
import tempfile
import time
import unittest

import sluicetest as st


class Sendmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = st.Daemon(myorigin="origin.test").start()
        cls.bindir = tempfile.mkdtemp(prefix="sluice-bin-")
        for name in ("sendmail", "mailq"):
            os.symlink(os.path.abspath(st.SLUICE), os.path.join(cls.bindir, name))
        cls.sendmail = os.path.join(cls.bindir, "sendmail")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def send(self, msg, *args, check=True):
        return self.d.sluice(*args, input=msg.encode(), check=check, prog=self.sendmail)

    def find(self, token):
        """(listing entry, body) of the queued message containing token."""
        for m in self.d.queue():
            body = self.d.sluice("queue", "show", "--body", m["queue_id"]).stdout.decode()
            if token in body:
                return m, body
        return None, None

    def test_extract_recipients_and_bcc_removed(self):
        msg = ("To: Alice <alice@example.org>, bob@example.net\nCc: \"Carol, C\" <carol@example.com>\n"
               "Bcc: secret@example.org\nSubject: t-flag\n\nbody t-flag\n")
        self.send(msg, "-t", "-f", "sender@example.com")
        m, body = self.find("body t-flag")
        self.assertIsNotNone(m)
        self.assertEqual(sorted(r["address"] for r in m["recipients"]),
                         ["alice@example.org", "bob@example.net", "carol@example.com", "secret@example.org"])
        self.assertNotIn("secret@example.org", body)
        self.assertNotIn("Bcc", body)
        self.assertEqual(m["sender"], "sender@example.com")

    def test_headers_completed_and_dot_handling(self):
        self.send("Subject: dots\n\nline one\n.\nnot sent\n", "-F", "Full Name", "-f", "me@example.com",
                  "local-user, other@example.net")
        m, body = self.find("line one")
        self.assertIsNotNone(m)
        self.assertNotIn("not sent", body)          # without -i a lone "." ends the message
        self.assertEqual(sorted(r["address"] for r in m["recipients"]),
                         ["local-user@origin.test", "other@example.net"])
        self.assertIn('From: "Full Name" <me@example.com>', body)
        self.assertIn("Date: ", body)
        self.assertIn("Message-ID: <" + m["queue_id"], body)
        self.assertTrue(body.startswith("Received: by mta.sluice.test (sluice, from userid"))
        self.assertIn("\r\n", body)
        self.send("Subject: keepdots\n\nfirst\n.\nsecond keepdots\n", "-oi", "x@example.org")
        m, body = self.find("second keepdots")
        self.assertIn("\r\n.\r\nsecond keepdots", body)

    def test_exit_codes(self):
        r = self.send("Subject: none\n\nx\n", check=False)
        self.assertEqual(r.returncode, 64)
        r = self.send("Subject: none\n\nx\n", "-t", check=False)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"no recipient", r.stderr)
        r = self.send("x\n", "-Z", check=False)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([self.sendmail, "-o", "message_size_limit=nonsense", "x@example.org"],
                           input=b"x\n", capture_output=True)
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"message_size_limit", r.stderr)

    def test_mailq(self):
        self.send("Subject: mq\n\nmailq body\n", "mq@example.org")
        r = subprocess.run([os.path.join(self.bindir, "mailq"), "-C", self.d.conf], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"mq@example.org", r.stdout)
        self.assertIn(b"Request", r.stdout)


class Maildrop(unittest.TestCase):
    def test_daemon_down_then_picked_up(self):
        d = st.Daemon().start()
        try:
            d.stop()
            r = d.sluice("send", "-f", "md@example.com", "late@example.org",
                         input=b"Subject: maildrop\n\nwhile down\n")
            self.assertEqual(r.returncode, 0)
            drop = os.path.join(d.qdir, "maildrop")
            self.assertEqual(len(os.listdir(drop)), 1)
            d.start()
            q = st.wait_for(lambda: d.queue(), what="the maildrop pickup")
            self.assertEqual(len(q), 1)
            self.assertEqual(q[0]["recipients"][0]["address"], "late@example.org")
            st.wait_for(lambda: not os.listdir(drop), what="the maildrop file to go")
            # restart: imported once only
            d.stop()
            d.start()
            self.assertEqual(len(d.queue()), 1)
        finally:
            d.cleanup()

    def test_garbage_maildrop_file_set_aside(self):
        d = st.Daemon().start()
        try:
            d.stop()
            drop = os.path.join(d.qdir, "maildrop")
            with open(os.path.join(drop, "garbage.1"), "wb") as f:
                f.write(b"\x00\x01 not json\n")
            d.start()
            st.wait_for(lambda: os.path.exists(os.path.join(d.qdir, "corrupt", "maildrop-garbage.1")),
                        what="the bad file to be set aside")
            self.assertEqual(d.queue(), [])
            self.assertIn("not a valid maildrop file", d.logtext())
        finally:
            d.cleanup()


class Config(unittest.TestCase):
    def run_check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(text)
        try:
            return subprocess.run([st.SLUICED, "-n", "-c", f.name], capture_output=True), f.name
        finally:
            pass

    def test_good(self):
        r, path = self.run_check('queue_directory = "/tmp/x";\nsmtpd_timeout = "5m";\n'
                                 'mynetworks = ["127.0.0.0/8", "10.0.0.0/8"];\nlisten = "127.0.0.1:2525, [::1]:2525";\n')
        os.unlink(path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_errors_name_file_and_line(self):
        cases = [("queue_directory = \"/tmp/x\";\nbroken = = ;\n", ":2:"),
                 ("queue_directory = \"/tmp/x\";\n\nno_such_param = 1;\n", ":3: unknown parameter"),
                 ("smtpd_timeout = \"5x\";\n", ":1: smtpd_timeout"),
                 ("listen = [\"127.0.0.1\"];\n", ":1: listen"),
                 ("mynetworks = \"300.1.1.1/8\";\n", ":1: mynetworks")]
        for text, want in cases:
            r, path = self.run_check(text)
            os.unlink(path)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn(path + want, r.stderr.decode(), text)

    def test_override_without_file(self):
        r = subprocess.run([st.SLUICED, "-n", "-o", "queue_directory=/tmp/q", "-o", "listen=127.0.0.1:2525"],
                           capture_output=True)
        self.assertEqual(r.returncode, 0)
        r = subprocess.run([st.SLUICED, "-n", "-o", "smtpd_timeout=forever"], capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"-o smtpd_timeout=forever", r.stderr)
        r = subprocess.run([st.SLUICE, "-o", "maximal_backoff_time=4000s", "-o", "smtpd_timeout=10m",
                            "config", "smtpd_timeout"], capture_output=True)
        if r.returncode == 0:
            self.assertIn(b"smtpd_timeout = 10m", r.stdout)
        r = subprocess.run([st.SLUICE, "-o", "smtpd_timeout=1h", "config", "smtpd_timeout"], capture_output=True)
        self.assertEqual(r.stdout, b"smtpd_timeout = 1h\n")


if __name__ == "__main__":
    st.main()
