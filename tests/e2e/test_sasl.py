"""End to end: relaying through a smarthost that wants a login, as an ESP's does (SendGrid,
SES, Mailgun on port 587: STARTTLS, then AUTH, then mail).  The receiver is an independent
one written here with Python's socket and ssl modules: it offers AUTH only after TLS,
checks PLAIN (RFC 4616) and LOGIN logins, refuses MAIL without one (530) and notes every
line it was sent.  sluiced reads its login from a Postfix-style sasl_passwd file.
Checked: the login is used over TLS and mail goes through; the mechanism filter picks
LOGIN; a wrong password defers (never bounces) with the server's words in the log; without
TLS no password is sent at all (noplaintext, the default) and the mail waits; a relay that
answers MAIL with "530 Authentication required" because no login is configured makes the
mail wait too, with a warning naming the parameters; no password ever appears in a log or
in `sluice config`."""
import base64
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import unittest

import sluicetest as st

USER, PASSWORD = "apikey", "s3cret-Pa55:with-colon"


class FakeESP:
    """A smarthost: STARTTLS (when given a certificate), AUTH PLAIN LOGIN after TLS."""

    def __init__(self, cert=None, key=None, password=PASSWORD, ignore_initial=False):
        self.ignore_initial = ignore_initial   # answer AUTH PLAIN's initial response with 334
        self.ctx = None
        if cert:
            self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ctx.load_cert_chain(cert, key)
        self.password = password
        self.lines, self.accepted, self.lock = [], [], threading.Lock()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.srv.close()

    def serve(self, conn):
        s = {"conn": conn, "f": conn.makefile("rb"), "tls": False, "user": None}
        try:
            self.send(s, "220 esp.test ESMTP ready")
            while self.command(s):
                pass
        except (OSError, ssl.SSLError, ValueError):
            pass
        conn.close()

    def send(self, s, text):
        s["conn"].sendall(text.encode() + b"\r\n")

    def readline(self, s):
        line = s["f"].readline()
        if not line:
            raise ValueError("eof")
        line = line.decode().rstrip("\r\n")
        with self.lock:
            self.lines.append((s["tls"], line))
        return line

    def command(self, s):
        line = self.readline(s)
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            caps = ["esp.test", "PIPELINING", "SIZE 10240000"]
            if self.ctx and not s["tls"]:
                caps.append("STARTTLS")
            if s["tls"] or not self.ctx:
                caps.append("AUTH PLAIN LOGIN")
            self.send(s, "\r\n".join(("250-" if i < len(caps) - 1 else "250 ") + c for i, c in enumerate(caps)))
        elif verb == "STARTTLS":
            self.send(s, "220 2.0.0 go ahead")
            s["conn"] = self.ctx.wrap_socket(s["conn"], server_side=True)
            s["f"], s["tls"] = s["conn"].makefile("rb"), True
        elif verb == "AUTH":
            self.auth(s, line.split(" ")[1:])
        elif verb == "MAIL":
            self.send(s, "250 2.1.0 ok" if s["user"] else "530 5.7.0 Authentication required")
        elif verb == "RCPT":
            self.send(s, "250 2.1.5 ok")
        elif verb == "DATA":
            self.send(s, "354 go ahead")
            while self.readline(s) != ".":
                pass
            with self.lock:
                self.accepted.append(s["user"])
            self.send(s, "250 2.0.0 queued")
        elif verb == "QUIT":
            self.send(s, "221 2.0.0 bye")
            return False
        else:
            self.send(s, "250 2.0.0 ok")
        return True

    def auth(self, s, args):
        mech = args[0].upper()
        if mech == "PLAIN" and self.ignore_initial:
            self.send(s, "334 ")
            _, user, pw = base64.b64decode(self.readline(s)).decode().split("\0")
        elif mech == "PLAIN":
            _, user, pw = base64.b64decode(args[1]).decode().split("\0")
        else:
            self.send(s, "334 VXNlcm5hbWU6")
            user = base64.b64decode(self.readline(s)).decode()
            self.send(s, "334 UGFzc3dvcmQ6")
            pw = base64.b64decode(self.readline(s)).decode()
        if user == USER and pw == self.password:
            s["user"] = f"{user}/{mech}"
            self.send(s, "235 2.7.0 Authentication successful")
        else:
            self.send(s, "535 5.7.8 Authentication credentials invalid")


class Sasl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-sasl-")
        cls.cert, cls.key = st.make_cert(cls.tmp, "esp.test")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def relay_through(self, esp, tls="encrypt", **params):
        pw = os.path.join(self.tmp, f"sasl_passwd.{esp.port}")
        with open(pw, "w") as f:   # Postfix's format; the file postmap would read
            f.write(f"# ESP login\n[127.0.0.1]:{esp.port}    {USER}:{PASSWORD}\n")
        d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{esp.port}", smtp_tls_security_level=tls,
                      smtp_sasl_auth_enable=True, smtp_sasl_password_maps=[f"hash:{pw}"],
                      minimal_backoff_time="1h", maximal_backoff_time="2h", **params)
        self.addCleanup(d.cleanup)
        d.start()
        d.sluice("send", "-f", "app@app.test", "user@dest.test", input=b"Subject: via ESP\n\nhello\n")
        return d

    def no_secret_anywhere(self, d):
        self.assertNotIn(PASSWORD, d.logtext())
        r = d.sluice("config", "smtp_sasl_password_maps")
        self.assertNotIn(PASSWORD.encode(), r.stdout)

    def test_plain_after_starttls(self):
        esp = FakeESP(self.cert, self.key)
        self.addCleanup(esp.close)
        d = self.relay_through(esp, log_level="debug")
        st.wait_for(lambda: esp.accepted, what="the ESP to accept the message")
        self.assertEqual(esp.accepted, [f"{USER}/PLAIN"])
        st.wait_for(lambda: not d.queue(), what="the queue to empty")
        auth = [(tls, l) for tls, l in esp.lines if l.upper().startswith("AUTH")]
        self.assertEqual(len(auth), 1)
        self.assertTrue(auth[0][0], "AUTH was sent before TLS")
        self.assertIn("AUTH PLAIN ********", d.logtext())   # the debug log shows no secret
        self.no_secret_anywhere(d)

    def test_plain_when_the_initial_response_is_ignored(self):
        esp = FakeESP(self.cert, self.key, ignore_initial=True)
        self.addCleanup(esp.close)
        self.relay_through(esp)
        st.wait_for(lambda: esp.accepted, what="the ESP to accept the message")
        self.assertEqual(esp.accepted, [f"{USER}/PLAIN"])

    def test_login_mechanism_filter(self):
        esp = FakeESP(self.cert, self.key)
        self.addCleanup(esp.close)
        self.relay_through(esp, smtp_sasl_mechanism_filter=["!plain", "static:rest"])
        st.wait_for(lambda: esp.accepted, what="the ESP to accept the message")
        self.assertEqual(esp.accepted, [f"{USER}/LOGIN"])

    def test_wrong_password_defers(self):
        esp = FakeESP(self.cert, self.key, password="another")
        self.addCleanup(esp.close)
        d = self.relay_through(esp, initial_destination_concurrency=2)
        for k in range(9):
            d.sluice("send", "-f", "app@app.test", f"u{k}@dest.test", input=b"Subject: more\n\nx\n")
        st.wait_for(lambda: "SASL authentication failed" in d.logtext(), what="the failure")
        time.sleep(1.0)
        q = d.queue()
        self.assertEqual(len(q), 10)
        tries = [l for _, l in esp.lines if l.upper().startswith("AUTH")]
        self.assertLessEqual(len(tries), 2, "the same wrong password was tried for every message")
        self.assertIn("delivery temporarily suspended", d.logtext())
        reasons = [m["recipients"][0].get("delay_reason", "") for m in q]
        self.assertTrue(any("535 5.7.8" in r for r in reasons), reasons)
        self.assertIn("status=deferred", d.logtext())
        self.assertNotIn("status=bounced", d.logtext())
        self.assertEqual(esp.accepted, [])
        self.no_secret_anywhere(d)

    def test_wrong_password_suspends_without_shaping_too(self):
        esp = FakeESP(self.cert, self.key, password="another")
        self.addCleanup(esp.close)
        d = self.relay_through(esp, smtp_destination_concurrency_limit=2, shaping=False)
        for k in range(9):
            d.sluice("send", "-f", "app@app.test", f"v{k}@dest.test", input=b"Subject: more\n\nx\n")
        st.wait_for(lambda: "delivery temporarily suspended" in d.logtext(), what="the suspension")
        time.sleep(1.0)
        self.assertLessEqual(len([l for _, l in esp.lines if l.upper().startswith("AUTH")]), 2)

    def test_no_password_without_tls(self):
        esp = FakeESP()   # no certificate: AUTH offered in plaintext
        self.addCleanup(esp.close)
        d = self.relay_through(esp, tls="may")
        st.wait_for(lambda: "SASL authentication failed" in d.logtext(), what="the refusal to log in")
        time.sleep(0.3)
        self.assertEqual([l for _, l in esp.lines if l.upper().startswith("AUTH")], [])
        self.assertIn("noplaintext", d.queue()[0]["recipients"][0]["delay_reason"])
        self.assertEqual(esp.accepted, [])

    def test_plaintext_when_allowed(self):
        esp = FakeESP()
        self.addCleanup(esp.close)
        self.relay_through(esp, tls="none", smtp_sasl_security_options="noanonymous")
        st.wait_for(lambda: esp.accepted, what="the ESP to accept the message")
        self.assertEqual(esp.accepted, [f"{USER}/PLAIN"])

    def test_login_required_but_not_configured_defers(self):
        esp = FakeESP(self.cert, self.key)
        self.addCleanup(esp.close)
        d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{esp.port}", smtp_tls_security_level="encrypt",
                      minimal_backoff_time="1h", maximal_backoff_time="2h")
        self.addCleanup(d.cleanup)
        d.start()
        d.sluice("send", "-f", "app@app.test", "user@dest.test", input=b"Subject: no login\n\nhello\n")
        st.wait_for(lambda: "wants a login before it takes mail" in d.logtext(), what="the warning")
        self.assertIn("530 5.7.0", d.queue()[0]["recipients"][0]["delay_reason"])
        self.assertNotIn("status=bounced", d.logtext())

    def test_config_masks_inline_passwords(self):
        d = st.Daemon(smtp_sasl_password_maps=[f"[smtp.esp.test]:587 {USER}:{PASSWORD}"])
        self.addCleanup(d.cleanup)
        out = d.sluice("config", "smtp_sasl_password_maps").stdout.decode()
        self.assertIn(f"[smtp.esp.test]:587 {USER}:********", out)
        self.assertNotIn(PASSWORD, out)
        bad = d.sluice("-o", "smtp_sasl_password_maps=[h]:587 nocolon", "config", check=False)
        self.assertEqual(bad.returncode, 78)
        self.assertIn(b"NEXTHOP USER:PASSWORD", bad.stderr)


if __name__ == "__main__":
    st.main()
