"""End to end `sluice doctor probe` (issue 6): the seed's "telnet mail.recipient.com 25 /
EHLO" step against `sluice sink` in its refusal modes and against dead ports, read back from
--json (schema sluice-doctor/1) with exact statuses, verdicts, classes, timings and exit
codes:

  - a plain sink with --from/--rcpt: every phase passes, MAIL/RCPT/RSET/QUIT timed, no DATA
    ever sent (the sink accepted nothing);
  - 421 at the greeting: --overload 1 (overloaded), a reply-script connect rule replaying a
    real Microsoft reputation reply, --max-conn-per-ip 1 exceeded while this test holds a
    connection open (too_many_connections);
  - EHLO refused, MAIL refused, RCPT refused (--reject-rcpt: a failure) and greylisted
    (--greylist: a warning);
  - STARTTLS with a self-signed certificate: chain (and, by name, host name) warnings;
  - a tarpit greeting longer than --timeout, a listener that never accepts (banner hang),
    a listener whose backlog is full (connect hang), a closed port (connection refused);
  - MX resolution through a local Knot: two MX hosts on 127.0.0.2/127.0.0.3 with sinks on
    this test's port, a host without MX, NXDOMAIN, null MX, an MX host without an address,
    the 5-address limit and --all."""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import sluicetest as st
from knot import Knot

SLUICE = st.SLUICE
PORT = st.free_port()   # the Knot sinks listen on this port on 127.0.0.2 and 127.0.0.3
HELO = "mta.example.com"

# R070 of ../shared/corpus/replies-dev.jsonl: Microsoft's reputation throttle at connect.
R070 = ("451 4.7.650 The mail server [${ip}] has been temporarily rate limited due to IP "
        "reputation. For e-mail delivery information, see https://postmaster.live.com (S3113)")

ZONES = {
    "d1.test": "@ MX 10 mx1\n@ MX 20 mx2\nmx1 A 127.0.0.2\nmx2 A 127.0.0.3\n",
    "nullmx.test": "@ MX 0 .\n",
    "ghost.test": "@ MX 10 nowhere\n@ MX 20 mx\nmx A 127.0.0.3\n",
    "onlyghost.test": "@ MX 10 nowhere\n",
    "tls.test": "@ MX 10 mx\nmx A 127.0.0.2\n",
    "many.test": "".join(f"@ MX {10 + i} h{i}\nh{i} A 127.0.1.{10 + i}\n" for i in range(7)),
}


def probe(*args, timeout=2, dns=None, expect_rc=None):
    """Run doctor probe --json; (exit code, the report)."""
    argv = [SLUICE, "doctor", "probe", *args, "--json", "--timeout", str(timeout)]
    if dns:
        argv += ["--dns-server", dns]
    if "--helo" not in args:
        argv += ["--helo", HELO]
    r = subprocess.run(argv, capture_output=True, timeout=120)
    out = r.stdout.decode()
    try:
        rep = json.loads(out)
    except ValueError:
        raise AssertionError(f"{argv}: not JSON (rc {r.returncode}): {out!r} {r.stderr!r}")
    if expect_rc is not None and r.returncode != expect_rc:
        raise AssertionError(f"{argv}: exit {r.returncode}, want {expect_rc}:\n{out}")
    return r.returncode, rep


def probe_text(*args, timeout=2):
    """Run doctor probe without --json; (exit code, the text)."""
    argv = [SLUICE, "doctor", "probe", *args, "--timeout", str(timeout), "--helo", HELO]
    r = subprocess.run(argv, capture_output=True, timeout=120,
                       env={**os.environ, "NO_COLOR": "1"})
    return r.returncode, r.stdout.decode()


def checks(rep):
    """The checks by id."""
    return {c["id"]: c for c in rep["checks"]}


def statuses(rep, label):
    """{phase: status} of the checks of one address."""
    return {c["id"].split(":", 1)[0]: c["status"] for c in rep["checks"]
            if c["id"].endswith(":" + label)}


def closed_port():
    """A loopback port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(directory, cn, san=None):
    """A self-signed certificate valid 30 days; (cert, key)."""
    cert, key = os.path.join(directory, cn + ".pem"), os.path.join(directory, cn + ".key")
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", f"/CN={cn}"]
    if san:
        argv += ["-addext", f"subjectAltName={san}"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class ProbeSink(unittest.TestCase):
    """One sink on 127.0.0.1 per test, probed as an address literal."""

    def start(self, *args):
        self.sink = st.Sink(*args)
        self.port = int(self.sink.errtext().split("listening on 127.0.0.1:")[1].split()[0])
        self.label = "[127.0.0.1]"
        return self.sink

    def tearDown(self):
        if getattr(self, "sink", None):
            self.sink.stop()

    def run_probe(self, *args, **kw):
        return probe("[127.0.0.1]", "--port", str(self.port), *args, **kw)

    def test_ok_no_data(self):
        self.start()
        rc, rep = self.run_probe("--from", "a@example.com", "--rcpt", "b@example.org",
                                 expect_rc=0)
        self.assertEqual(statuses(rep, self.label),
                         {"connect": "pass", "greeting": "pass", "ehlo": "pass",
                          "starttls": "info", "mail": "pass", "rcpt": "pass"})
        self.assertEqual(checks(rep)["helo"]["status"], "pass")
        self.assertEqual(checks(rep)["overall"]["status"], "pass")
        self.assertEqual(rep["status"], "info")   # the literal's target line is info
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "ok")
        self.assertIsNone(h["class"])
        self.assertTrue(h["esmtp"])
        self.assertIn("PIPELINING", h["extensions"])
        self.assertEqual(h["mail"]["code"], 250)
        self.assertEqual(h["rcpt"]["code"], 250)
        for phase in ("connect", "greeting", "ehlo", "mail", "rcpt", "rset", "quit", "total"):
            self.assertIn(phase, h["timings_ms"])
            self.assertGreaterEqual(h["timings_ms"][phase], 0)
        self.assertNotIn("dns", h["timings_ms"])   # an address literal: no lookup
        said = [t["text"] for t in h["transcript"] if t["dir"] == ">"]
        self.assertEqual(said, [f"EHLO {HELO}", "MAIL FROM:<a@example.com>",
                                "RCPT TO:<b@example.org>", "RSET", "QUIT"])
        self.assertEqual(rep["data"]["target"]["kind"], "literal")
        self.assertEqual(self.sink.stop()["accepted"], 0)   # no DATA, no message
        self.sink = None

    def test_rcpt_alone_uses_null_sender(self):
        self.start()
        rc, rep = self.run_probe("--rcpt", "b@example.org", expect_rc=0)
        said = [t["text"] for t in rep["data"]["hosts"][0]["transcript"] if t["dir"] == ">"]
        self.assertIn("MAIL FROM:<>", said)
        self.assertNotIn("DATA", said)

    def test_overload_421_at_greeting(self):
        self.start("--overload", "1")
        rc, rep = self.run_probe(expect_rc=2)
        self.assertEqual(statuses(rep, self.label), {"connect": "pass", "greeting": "fail"})
        c = checks(rep)["greeting:" + self.label]
        self.assertEqual(c["actual"], "421 4.3.2 Service not available")
        self.assertEqual(c["evidence"], ["421 4.3.2 Service not available"])
        self.assertEqual(c["data"]["class"], "overloaded_or_maintenance")
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "refused_at_greeting")
        self.assertEqual(h["class"], "overloaded_or_maintenance")
        self.assertEqual(h["reply"]["code"], 421)
        self.assertIn("greeting", h["timings_ms"])
        self.assertEqual(checks(rep)["overall"]["status"], "fail")
        rc, text = probe_text("[127.0.0.1]", "--port", str(self.port), "-v")
        self.assertEqual(rc, 2)
        self.assertIn("FAIL  Greeting (banner): expected a 220 greeting, got 421 4.3.2 "
                      "Service not available\n", text)
        self.assertIn("      > 421 4.3.2 Service not available\n", text)
        self.assertIn("      verdict: refused_at_greeting (overloaded_or_maintenance)\n", text)
        self.assertIn(" < 421 4.3.2 Service not available\n", text)   # the transcript
        self.assertIn("      timings: connect ", text)

    def test_reply_script_reputation_at_connect(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        rules = os.path.join(d, "rules")
        with open(rules, "w") as f:
            f.write("# R070 Microsoft, as a connect-stage refusal\nconnect => " + R070 + "\n")
        self.start("--reply-script", rules)
        rc, rep = self.run_probe(expect_rc=2)
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "refused_at_greeting")
        self.assertEqual(h["class"], "reputation")
        self.assertEqual(h["provider"], "microsoft")
        self.assertEqual((h["reply"]["code"], h["reply"]["enh"]), (451, "4.7.650"))
        c = checks(rep)["greeting:" + self.label]
        self.assertIn("[127.0.0.1] has been temporarily rate limited due to IP reputation",
                      c["evidence"][0])
        self.assertIn("sluice doctor ip", c["explanation"])

    def test_too_many_connections(self):
        self.start("--max-conn-per-ip", "1")
        held = st.SMTPRaw(self.port)
        try:
            self.assertEqual(held.reply()[0], 220)   # the one connection allowed, held open
            rc, rep = self.run_probe(expect_rc=2)
        finally:
            held.close()
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "refused_at_greeting")
        self.assertEqual(h["class"], "too_many_connections")
        self.assertEqual(h["reply"]["text"], "Too many concurrent connections")
        self.assertIn("smtp_destination_concurrency_limit",
                      checks(rep)["greeting:" + self.label]["explanation"])

    def test_ehlo_refused(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        rules = os.path.join(d, "rules")
        with open(rules, "w") as f:
            f.write("helo => 550 5.7.1 <${helo}>: Helo command rejected: Host not found\n")
        self.start("--reply-script", rules)
        rc, rep = self.run_probe(expect_rc=2)
        self.assertEqual(statuses(rep, self.label),
                         {"connect": "pass", "greeting": "pass", "ehlo": "fail"})
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "helo_refused")
        self.assertEqual(h["reply"]["code"], 550)
        said = [t["text"] for t in h["transcript"] if t["dir"] == ">"]
        self.assertEqual(said[:2], [f"EHLO {HELO}", f"HELO {HELO}"])   # HELO tried too

    def test_mail_refused(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        rules = os.path.join(d, "rules")
        with open(rules, "w") as f:
            f.write("mail from /@spam\\.test$/ => 553 5.7.1 <${from}>: Sender address rejected\n")
        self.start("--reply-script", rules)
        rc, rep = self.run_probe("--from", "x@spam.test", "--rcpt", "b@example.org",
                                 expect_rc=2)
        self.assertEqual(statuses(rep, self.label)["mail"], "fail")
        self.assertNotIn("rcpt", statuses(rep, self.label))
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "mail_refused")
        self.assertEqual(h["class"], "permanent")

    def test_rcpt_refused(self):
        self.start("--reject-rcpt", "^nobody@")
        rc, rep = self.run_probe("--from", "a@example.com", "--rcpt", "nobody@example.org",
                                 expect_rc=2)
        st_ = statuses(rep, self.label)
        self.assertEqual((st_["mail"], st_["rcpt"]), ("pass", "fail"))
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "rcpt_refused")
        self.assertEqual((h["rcpt"]["code"], h["rcpt"]["enh"]), (550, "5.1.1"))
        self.assertIn(h["class"], ("mailbox", "permanent"))
        self.assertIn("rset", h["timings_ms"])   # RSET after the refusal, then QUIT
        self.assertEqual(checks(rep)["overall"]["status"], "fail")

    def test_rcpt_greylisted_is_a_warning(self):
        self.start("--greylist", "300")
        rc, rep = self.run_probe("--from", "a@example.com", "--rcpt", "b@example.org",
                                 expect_rc=1)
        self.assertEqual(statuses(rep, self.label)["rcpt"], "warn")
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "rcpt_refused")
        self.assertEqual(h["class"], "greylisting")
        self.assertEqual(checks(rep)["overall"]["status"], "pass")

    def test_starttls_self_signed(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        cert, key = self_signed(d, "localhost")
        self.start("--tls-cert", cert, "--tls-key", key)
        rc, rep = self.run_probe(expect_rc=1)
        self.assertEqual(statuses(rep, self.label),
                         {"connect": "pass", "greeting": "pass", "ehlo": "pass",
                          "starttls": "pass", "cert-chain": "warn", "cert-expiry": "pass"})
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "tls_problem")
        tls = h["tls"]
        self.assertTrue(tls["offered"] and tls["established"])
        self.assertTrue(tls["version"].startswith("TLSv1."))
        c = tls["certificate"]
        self.assertEqual(c["cn"], "localhost")
        self.assertTrue(c["self_signed"])
        self.assertFalse(c["chain_verified"])
        self.assertIn("self-signed", c["chain_error"])
        self.assertIsNone(c["name_match"])   # an address literal: no name to match
        self.assertIn(c["days_left"], (29, 30))
        for phase in ("starttls", "tls_handshake", "ehlo_tls"):
            self.assertIn(phase, h["timings_ms"])
        self.assertEqual(checks(rep)["overall"]["status"], "pass")

    def test_no_tls_option(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        cert, key = self_signed(d, "localhost")
        self.start("--tls-cert", cert, "--tls-key", key)
        rc, rep = self.run_probe("--no-tls", expect_rc=0)
        c = checks(rep)["starttls:" + self.label]
        self.assertEqual((c["status"], c["actual"]), ("info", "offered, not tried"))

    def test_tarpit_longer_than_timeout_hangs(self):
        self.start("--tarpit", "4")
        t0 = time.monotonic()
        rc, rep = self.run_probe(timeout=1, expect_rc=2)
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assertEqual(statuses(rep, self.label), {"connect": "pass", "greeting": "fail"})
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "banner_timeout")
        self.assertGreaterEqual(h["timings_ms"]["greeting"], 900)
        self.assertIn("outbound port 25 is most likely blocked",
                      checks(rep)["overall"]["explanation"])

    def test_non_fqdn_helo_warns(self):
        self.start()
        rc, rep = self.run_probe("--helo", "localhost", expect_rc=1)
        self.assertEqual(checks(rep)["helo"]["status"], "warn")
        self.assertEqual(rep["data"]["hosts"][0]["verdict"], "ok")


class ProbeDead(unittest.TestCase):
    """Ports where no SMTP server answers."""

    def test_connection_refused(self):
        port = closed_port()
        rc, rep = probe("[127.0.0.1]", "--port", str(port), expect_rc=2)
        c = checks(rep)["connect:[127.0.0.1]"]
        self.assertEqual(c["status"], "fail")
        self.assertTrue(c["actual"].startswith("Connection refused after"))
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "connection_refused")
        self.assertIn("connect", h["timings_ms"])
        self.assertNotIn("greeting", h["timings_ms"])
        self.assertIn("every connection is refused", checks(rep)["overall"]["explanation"])

    def test_listener_that_never_accepts(self):
        with socket.socket() as ls:   # the kernel completes the handshake; nobody speaks
            ls.bind(("127.0.0.1", 0))
            ls.listen(8)
            rc, rep = probe("[127.0.0.1]", "--port", str(ls.getsockname()[1]), timeout=1,
                            expect_rc=2)
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "banner_timeout")
        self.assertEqual(statuses(rep, "[127.0.0.1]"), {"connect": "pass", "greeting": "fail"})
        self.assertTrue(checks(rep)["greeting:[127.0.0.1]"]["actual"].startswith("no greeting"))

    def test_full_backlog_connect_hangs(self):
        with socket.socket() as ls:   # a listener whose accept queue is full drops our SYN
            ls.bind(("127.0.0.1", 0))
            ls.listen(0)
            port = ls.getsockname()[1]
            fill = []
            for _ in range(2):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(("127.0.0.1", port))
                fill.append(f)
            time.sleep(0.05)
            try:
                rc, rep = probe("[127.0.0.1]", "--port", str(port), timeout=1, expect_rc=2)
            finally:
                for f in fill:
                    f.close()
        h = rep["data"]["hosts"][0]
        self.assertEqual(h["verdict"], "connect_timeout")
        self.assertGreaterEqual(h["timings_ms"]["connect"], 900)
        self.assertIn("port 25", checks(rep)["connect:[127.0.0.1]"]["explanation"])

    def test_usage(self):
        for args in ([], ["--port", "0", "x.test"], ["a.test", "b.test"], ["--bogus", "a.test"]):
            r = subprocess.run([SLUICE, "doctor", "probe", *args], capture_output=True)
            self.assertEqual(r.returncode, 64, args)


@unittest.skipUnless(Knot.available(), "knotd is not installed (scripts/deps.sh test)")
class ProbeMX(unittest.TestCase):
    """Names resolved through a local Knot; sinks on 127.0.0.2/127.0.0.3 at PORT."""

    @classmethod
    def setUpClass(cls):
        cls.knot = Knot(ZONES)
        cls.dns = cls.knot.server

    @classmethod
    def tearDownClass(cls):
        cls.knot.stop()

    def test_two_mx_first_overloaded(self):
        mx1 = st.Sink("--overload", "1", listen=[f"127.0.0.2:{PORT}"])
        mx2 = st.Sink(listen=[f"127.0.0.3:{PORT}"])
        try:
            rc, rep = probe("d1.test", "--port", str(PORT), dns=self.dns, expect_rc=2)
        finally:
            mx1.stop()
            mx2.stop()
        t = rep["data"]["target"]
        self.assertEqual(t["kind"], "domain")
        self.assertEqual([(m["host"], m["pref"], m["addresses"]) for m in t["mx"]],
                         [("mx1.d1.test", 10, ["127.0.0.2"]),
                          ("mx2.d1.test", 20, ["127.0.0.3"])])
        self.assertGreaterEqual(t["mx_ms"], 0)
        self.assertEqual(checks(rep)["target"]["status"], "pass")
        h1, h2 = rep["data"]["hosts"]
        self.assertEqual((h1["host"], h1["address"], h1["mx_pref"]),
                         ("mx1.d1.test", "127.0.0.2", 10))
        self.assertEqual((h1["verdict"], h1["class"]),
                         ("refused_at_greeting", "overloaded_or_maintenance"))
        self.assertEqual((h2["host"], h2["verdict"]), ("mx2.d1.test", "ok"))
        for h in (h1, h2):
            self.assertIn("dns", h["timings_ms"])
        self.assertEqual(statuses(rep, "mx2.d1.test[127.0.0.3]")["greeting"], "pass")
        o = checks(rep)["overall"]
        self.assertEqual((o["status"], o["actual"]), ("warn", "1 of 2 addresses"))
        self.assertIn("most preferred", o["explanation"])

    def test_host_without_mx(self):
        sink = st.Sink(listen=[f"127.0.0.3:{PORT}"])
        try:
            rc, rep = probe("mx2.d1.test", "--port", str(PORT), dns=self.dns, expect_rc=0)
        finally:
            sink.stop()
        self.assertEqual(rep["data"]["target"]["kind"], "host")
        self.assertEqual(rep["status"], "info")   # STARTTLS not offered: info
        self.assertIn("no MX record", checks(rep)["target"]["actual"])
        self.assertEqual(rep["data"]["hosts"][0]["verdict"], "ok")

    def test_no_mail_servers(self):
        for name, actual in (("nope.d1.test", "NXDOMAIN"), ("nullmx.test", "MX 0 . (null MX)"),
                             ("onlyghost.test", "MX 10 nowhere.onlyghost.test")):
            rc, rep = probe(name, "--port", str(PORT), dns=self.dns, expect_rc=2)
            c = checks(rep)["target"]
            self.assertEqual(c["status"], "fail", name)
            self.assertTrue(c["actual"].startswith(actual), (name, c["actual"]))
            self.assertEqual(rep["data"].get("hosts"), None, name)

    def test_mx_host_without_address_is_skipped(self):
        sink = st.Sink(listen=[f"127.0.0.3:{PORT}"])
        try:
            rc, rep = probe("ghost.test", "--port", str(PORT), dns=self.dns, expect_rc=1)
        finally:
            sink.stop()
        self.assertEqual(checks(rep)["address:nowhere.ghost.test"]["status"], "warn")
        self.assertEqual([h["host"] for h in rep["data"]["hosts"]], ["mx.ghost.test"])

    def test_certificate_name_checked_against_mx(self):
        d = tempfile.mkdtemp(prefix="sluice-probe-")
        for cn, san, want in (("localhost", None, "warn"),
                              ("mx.tls.test", "DNS:mx.tls.test", "pass")):
            cert, key = self_signed(d, cn, san)
            sink = st.Sink("--tls-cert", cert, "--tls-key", key, listen=[f"127.0.0.2:{PORT}"])
            try:
                rc, rep = probe("tls.test", "--port", str(PORT), dns=self.dns, expect_rc=1)
            finally:
                sink.stop()
            c = checks(rep)["cert-name:mx.tls.test[127.0.0.2]"]
            self.assertEqual(c["status"], want, cn)
            self.assertEqual(rep["data"]["hosts"][0]["tls"]["certificate"]["name_match"],
                             want == "pass")

    def test_address_limit_and_all(self):
        rc, rep = probe("many.test", "--port", str(PORT), dns=self.dns, expect_rc=2)
        self.assertEqual(len(rep["data"]["hosts"]), 5)
        self.assertEqual(rep["data"]["target"]["not_tried"], 2)
        self.assertEqual(checks(rep)["not-tried"]["status"], "info")
        self.assertTrue(all(h["verdict"] == "connection_refused" for h in rep["data"]["hosts"]))
        rc, rep = probe("many.test", "--port", str(PORT), "--all", dns=self.dns, expect_rc=2)
        self.assertEqual([h["host"] for h in rep["data"]["hosts"]],
                         [f"h{i}.many.test" for i in range(7)])


if __name__ == "__main__":
    st.main()
