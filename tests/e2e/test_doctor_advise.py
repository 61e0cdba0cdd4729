"""End to end `sluice doctor advise` and `sluice doctor` without a subcommand (issue 6).

advise: a Postfix log written here (greylisting retried too early, rate limiting, too many
connections, a Yahoo-style cap of 20 messages per connection, a recipient cap, a healthy
domain) with a main.cf and a master.cf next to it; the suggested values and their evidence
read back from --json, the diffs from the text output, exit codes 0/1/2/64/66, a sluice log
on standard input, sluice's maillog_file when no --logs is given.

doctor: a running sluiced (relaying to a black hole on loopback, so its mail stays queued)
with smtp_bind_address 127.0.1.10 and its names served by a local Knot (PTR, A, MX, SPF,
DMARC); the combined report's parts (ip, domain, queue, logs, advice and what sluiced's
status shows); then the same with sluiced stopped.  Nothing leaves loopback: DNS goes to
Knot only, DNSBLs are skipped for the loopback address, the outbound address is configured."""
import json
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

import sluicetest as st
from knot import Knot

SLUICE = st.SLUICE
T0 = 1741082400  # 2025-03-04 10:00:00 UTC

GREY = "450 4.7.1 <{r}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.example.html"
RATE = "421 4.4.2 Message submission rate for this client has exceeded the configured limit"
CONN = "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel"
RCPT = "452 4.5.3 Too many recipients"


def stamp(t):
    return time.strftime("%b %e %H:%M:%S", time.gmtime(t))


class PostfixLog:
    """Postfix syslog lines, sorted by time when written."""

    def __init__(self):
        self.lines = []
        self.n = 0

    def qid(self):
        self.n += 1
        return "%X" % (0x4F1A2B3C4D + self.n * 0x1B3)

    def qmgr(self, t, q):
        self.lines.append((t, f"{stamp(t)} mail postfix/qmgr[1187]: {q}: from=<news@sender.example>, size=4213, "
                              "nrcpt=1 (queue active)"))

    def out(self, t, pid, q, rcpt, host, ip, ok, reply=None, stage="RCPT TO", use=0, talk=False, lost=False):
        cu = f"conn_use={use}, " if use > 1 else ""
        head = (f"{stamp(t)} mail postfix/smtp[{pid}]: {q}: to=<{rcpt}>, relay={host}[{ip}]:25, {cu}delay=1, "
                "delays=0.1/0/0.3/0.6, ")
        if ok:
            tail = f"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as B{q})"
        elif lost:
            tail = f"dsn=4.4.2, status=deferred (lost connection with {host}[{ip}] while sending MAIL FROM)"
        elif talk:
            tail = f"dsn={reply.split()[1]}, status=deferred (host {host}[{ip}] refused to talk to me: {reply})"
        else:
            tail = (f"dsn={reply.split()[1]}, status=deferred (host {host}[{ip}] said: {reply} "
                    f"(in reply to {stage} command))")
        self.lines.append((t, head + tail))

    def text(self):
        return "".join(l + "\n" for _, l in sorted(self.lines, key=lambda x: x[0]))


def troubled_log():
    p = PostfixLog()
    for i in range(6):   # greylisting: refused again after 120s, delivered after 360s
        t, q, r = T0 + i * 30, p.qid(), f"user{i}@grey.example"
        p.qmgr(t, q)
        for dt, pid, ok in ((0, 300, False), (120, 310, False), (360, 320, True)):
            p.out(t + dt, pid + i, q, r, "mx.grey.example", "198.51.100.10", ok, GREY.format(r=r))
    for i in range(20):  # rate limiting: 20 in 30s, then 20 an hour for 3 hours
        p.out(T0 + i * 3 // 2, 400 + i % 4, p.qid(), f"a{i}@corp.example", "mail.corp.example", "198.51.100.20", True)
    for k in range(60):
        ts = T0 + 30 + k * 180
        for j in range(2):
            p.out(ts + j, 410 + j, p.qid(), f"b{k}_{j}@corp.example", "mail.corp.example", "198.51.100.20", False,
                  RATE, "MAIL FROM")
        p.out(ts + 180, 412, p.qid(), f"c{k}@corp.example", "mail.corp.example", "198.51.100.20", True)
    for rnd in range(10):  # too many connections: 5 at once, 3 get in
        for j in range(5):
            p.out(T0 + 600 + rnd * 60, 500 + j, p.qid(), f"u{rnd}_{j}@exch.example", "smtp.exch.example",
                  "198.51.100.30", j < 3, CONN, talk=True)
    for c in range(3):     # Yahoo: 20 messages per connection, the 21st is dropped
        for k in range(1, 22):
            p.out(T0 + 1200 + c * 100 + k, 600 + c, p.qid(), f"y{c}_{k}@yahoo.com", "mta5.am0.yahoodns.net",
                  "67.195.204.74", k <= 20, use=k, lost=k == 21)
    q = p.qid()           # a recipient cap: 5 of 10 get in
    for k in range(10):
        p.out(T0 + 51, 700, q, f"m{k}@bulk.example", "mx.bulk.example", "198.51.100.50", k < 5, RCPT)
    healthy(p, 30)
    return p.text()


def healthy(p, n):
    for i in range(n):
        q = p.qid()
        p.qmgr(T0 + i * 60, q)
        p.out(T0 + i * 60, 800, q, f"h{i}@example.com", "mx.example.com", "192.0.2.80", True)


def sluice_grey_late():
    """sluice's own delivery lines: greylisted recipients delivered an hour later"""
    out = []
    for i in range(5):
        r = f"user{i}@grey.example"
        for dt, status in ((0, "deferred"), (3600, "sent")):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(T0 + i * 10 + dt))
            tail = (f"dsn=4.7.1, status=deferred (host mx.grey.example[198.51.100.10] said: {GREY.format(r=r)} "
                    "(in reply to RCPT TO command))" if status == "deferred"
                    else "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7D1E0)")
            out.append(f"{ts} sluiced[812]: notice: 01HFG5AZM{i:03d}: to=<{r}>, relay=mx.grey.example"
                       f"[198.51.100.10]:25, delay=0.42, delays=0.02/0.00/0.20/0.20, {tail}\n")
    return "".join(sorted(out))


MAIN_CF = """# the seed's fixes, as pasted
minimal_backoff_time = 120s
maximal_backoff_time = 4000s
maximal_queue_lifetime = 5d
smtp_destination_concurrency_limit = 2
smtp_destination_rate_delay = 1s
smtp_extra_recipient_limit = 10
"""

MASTER_CF = """smtp      inet  n       -       y       -       -       smtpd
smtp      unix  -       -       y       -       -       smtp
slow      unix  -       -       n       -       -       smtp
    -o smtp_destination_concurrency_limit=1
"""

STATUS_RC = {"pass": 0, "info": 0, "warn": 1, "fail": 2}


class DoctorAdvise(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-advise-")
        cls.log = cls.write("maillog", troubled_log())
        cls.main = cls.write("postfix/main.cf", MAIN_CF)
        cls.write("postfix/master.cf", MASTER_CF)
        cls.conf = cls.write("sluice.conf", f'queue_directory = "{cls.tmp}/queue";\nmyhostname = "mta.advise.test";\n')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def advise(self, *args, conf=None, json_out=True, stdin=None, pre=()):
        argv = [SLUICE, "-c", conf or self.conf, *pre, "doctor", "advise", *args]
        if json_out:
            argv.append("--json")
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120, input=stdin)
        if not json_out:
            return p.returncode, p.stdout, p.stderr
        try:
            j = json.loads(p.stdout)
        except ValueError:
            self.fail(f"{args}: no JSON (rc {p.returncode}): {p.stdout!r} {p.stderr!r}")
        self.assertEqual(j["schema"], "sluice-doctor/1")
        self.assertEqual(j["command"], "advise")
        self.assertEqual(p.returncode, STATUS_RC[j["status"]])
        return p.returncode, j

    @staticmethod
    def checks(j):
        return {c["id"]: c for c in j["checks"]}

    @staticmethod
    def change(j, target, name):
        for c in j["data"]["advice"]["changes"]:
            if c["target"] == target and c["name"] == name:
                return c
        return None

    def test_postfix_log_and_main_cf(self):
        rc, j = self.advise("--postfix-config", self.main, "--logs", self.log, "--year", "2025")
        self.assertEqual(rc, 1)
        got = self.checks(j)
        retry = got["retry"]
        self.assertEqual(retry["status"], "warn")
        self.assertEqual(retry["data"]["window_lower_s"], 120)
        self.assertIn("grey.example: 6 recipient(s) delivered after greylisting", retry["evidence"][0])
        rate = got["rate:corp.example"]
        self.assertEqual(rate["data"]["suggested_delay_s"], 180)
        self.assertTrue(any("421 4.4.2" in e for e in rate["evidence"]))
        self.assertEqual(got["concurrency:exch.example"]["data"]["suggested"], 3)
        self.assertEqual(got["per-connection:yahoo.com"]["data"]["suggested"], 20)
        self.assertEqual(got["recipients:bulk.example"]["data"]["suggested"], 5)
        # the Postfix diff
        self.assertEqual(self.change(j, "postfix:main.cf", "minimal_backoff_time")["value"], "3m")
        self.assertEqual(self.change(j, "postfix:main.cf", "minimal_backoff_time")["current"], "120s")
        self.assertEqual(self.change(j, "postfix:main.cf", "corp_destination_rate_delay")["value"], "3m")
        # main.cf's smtp_destination_concurrency_limit = 2 is already stricter than the 3 exch.example took
        self.assertIsNone(self.change(j, "postfix:main.cf", "exch_destination_concurrency_limit"))
        self.assertIn("smtp_destination_concurrency_limit = 2 (line 5) is already as strict",
                      got["concurrency:exch.example"]["explanation"])
        self.assertEqual(self.change(j, "postfix:main.cf", "bulk_destination_recipient_limit")["value"], "5")
        self.assertIn("-o smtp_connection_reuse_count_limit=20",
                      self.change(j, "postfix:master.cf", "yahoo")["value"])
        self.assertIn("yahoo:", self.change(j, "postfix:transport", "yahoo.com")["value"])
        self.assertIsNone(self.change(j, "postfix:main.cf", "smtp_extra_recipient_limit")["value"])
        # sluice: global caps, and nothing shaping learns by itself
        self.assertEqual(self.change(j, "sluice", "smtp_connection_reuse_count_limit")["value"], "20")
        self.assertEqual(self.change(j, "sluice", "smtp_destination_recipient_limit")["value"], "5")
        self.assertIsNone(self.change(j, "sluice", "smtp_destination_rate_delay"))
        # the lint of the seed's Fix 2 and the master.cf found next to main.cf
        self.assertEqual(got["maincf:extra-recipient-limit:smtp_extra_recipient_limit"]["status"], "warn")
        self.assertEqual(got["maincf:rate-delay-concurrency:smtp"]["status"], "warn")
        self.assertEqual(got["maincf:master-o:slow:smtp_destination_concurrency_limit"]["status"], "warn")
        self.assertEqual(j["data"]["advice"]["postfix_config"], self.main)

    def test_text_diffs(self):
        rc, out, err = self.advise("--postfix-config", self.main, "--logs", self.log, "--year", "2025",
                                   json_out=False)
        self.assertEqual(rc, 1, err)
        for want in ("== Changes for sluice", "== Changes for Postfix", "- minimal_backoff_time = 120s  (line 2)",
                     "+ minimal_backoff_time = 3m", "+ corp_destination_rate_delay = 3m",
                     "+ yahoo     unix  -       -       n       -       -       smtp",
                     "+     -o smtp_connection_reuse_count_limit=20", "+ yahoo.com                yahoo:",
                     "+ smtp_connection_reuse_count_limit = 20;", "== Postfix main.cf lint",
                     "WARN  Rate delay per destination: expected one delivery every 180s or more"):
            self.assertIn(want, out)

    def test_refused_main_cf(self):
        bad = self.write("bad/main.cf", "minimal_backoff_time = 5min\nmaximal_queue_lifetime = 300\n")
        rc, j = self.advise("--postfix-config", bad)
        self.assertEqual(rc, 2)
        got = self.checks(j)
        self.assertEqual(got["maincf:units:minimal_backoff_time"]["status"], "fail")
        self.assertEqual(got["maincf:units:maximal_queue_lifetime"]["status"], "warn")
        self.assertIn("300 days", got["maincf:units:maximal_queue_lifetime"]["explanation"])

    def test_healthy(self):
        p = PostfixLog()
        healthy(p, 20)
        log = self.write("healthy.log", p.text())
        good = self.write("good/main.cf", "minimal_backoff_time = 300s\nmaximal_backoff_time = 4000s\n")
        rc, j = self.advise("--postfix-config", good, "--logs", log, "--year", "2025")
        self.assertEqual(rc, 0)
        self.assertEqual(j["data"]["advice"]["changes"], [])
        self.assertEqual(self.checks(j)["retry"]["status"], "pass")

    def test_sluice_log_on_stdin(self):
        rc, j = self.advise("--logs", "-", "--year", "2025", stdin=sluice_grey_late(),
                            pre=("-o", "shaping=no", "-o", "minimal_backoff_time=1h"))
        self.assertEqual(rc, 1)
        c = self.change(j, "sluice", "minimal_backoff_time")
        self.assertEqual(c["value"], "5m")
        self.assertEqual(c["current"], "1h")
        self.assertIsNone(self.change(j, "postfix:main.cf", "minimal_backoff_time"))

    def test_maillog_file(self):
        conf = self.write("maillog.conf", f'queue_directory = "{self.tmp}/queue";\nmyhostname = "mta.advise.test";\n'
                                          f'maillog_file = "{self.log}";\n')
        rc, j = self.advise("--year", "2025", conf=conf)
        self.assertEqual(rc, 1)
        self.assertIn("rate:corp.example", self.checks(j))

    def test_usage_and_missing(self):
        rc, _, err = self.advise("--bogus", json_out=False)
        self.assertEqual(rc, 64)
        self.assertIn("usage", err)
        rc, _, err = self.advise("--postfix-config", os.path.join(self.tmp, "nope.cf"), json_out=False)
        self.assertEqual(rc, 66)
        rc, _, err = self.advise("--logs", os.path.join(self.tmp, "nope.log"), json_out=False)
        self.assertEqual(rc, 66)


ZONES = {
    "127.in-addr.arpa": "10.1.0 PTR mta.advise.test.\n",
    "advise.test": "\n".join([
        "@ MX 10 mta", "mta A 127.0.1.10",
        '@ TXT "v=spf1 ip4:127.0.1.10 -all"',
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@advise.test"',
    ]) + "\n",
}


@unittest.skipUnless(Knot.available(), "knotd is not installed (scripts/deps.sh test)")
class DoctorAll(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.knot = Knot(ZONES)
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-doctor-all-")
        cls.maillog = os.path.join(cls.tmp, "mail.log")
        with open(cls.maillog, "w") as f:
            f.write(troubled_log())
        cls.d = st.Daemon(workdir=cls.tmp, myhostname="mta.advise.test", myorigin="advise.test",
                          smtp_bind_address="127.0.1.10", maillog_file=cls.maillog,
                          dns_servers=[cls.knot.server]).start()
        with smtplib.SMTP("127.0.0.1", cls.d.port) as s:
            s.sendmail("a@advise.test", ["b@far.example"], "Subject: doctor\r\n\r\nx\r\n")
        st.wait_for(lambda: cls.status_dests(), timeout=20, what="a destination in sluiced's status")

    @classmethod
    def status_dests(cls):
        r = cls.d.sluice("status", "--json", check=False)
        try:
            return json.loads(r.stdout)["destinations"]
        except (ValueError, KeyError):
            return []

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.knot.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def doctor(self, json_out=True):
        argv = [SLUICE, "-c", self.d.conf, "doctor", "--dns-server", self.knot.server, "--timeout", "3"]
        if json_out:
            argv.append("--json")
        p = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        if not json_out:
            return p.returncode, p.stdout
        j = json.loads(p.stdout)
        self.assertEqual(j["command"], "all")
        self.assertEqual(p.returncode, STATUS_RC[j["status"]])
        return p.returncode, j

    def test_a_running(self):
        rc, j = self.doctor()
        got = {c["id"]: c for c in j["checks"]}
        want = {"config": "info", "addresses": "info", "ip:127.0.1.10:public": "info", "ip:127.0.1.10:ptr": "pass",
                "ip:127.0.1.10:fcrdns": "pass", "ip:127.0.1.10:helo-fqdn": "pass", "ip:127.0.1.10:helo-ptr": "pass",
                "ip:127.0.1.10:helo-resolves": "pass", "ip:127.0.1.10:dnsbl": "info", "domain:mx": "pass",
                "domain:spf-result": "pass", "domain:dmarc-policy": "pass", "dkim-config": "info",
                "queue:source": "info", "logs:dest:corp.example": "warn", "retry": "info",
                "rate:corp.example": "warn"}
        for cid, status in want.items():
            self.assertIn(cid, got, f"no {cid} in {sorted(got)}")
            self.assertEqual(got[cid]["status"], status, f"{cid}: {got[cid]}")
        self.assertIn("1 messages", got["queue:source"]["actual"])

        self.assertTrue(any(k.startswith("learned:") for k in got), sorted(got))
        self.assertIn("ip:127.0.1.10:", j["data"]["parts"])
        self.assertIn("queue", j["data"]["parts"])
        self.assertTrue(j["data"]["advice"]["sluiced"])
        self.assertGreaterEqual(rc, 1)

    def test_b_text(self):
        rc, out = self.doctor(json_out=False)
        for want in ("== Sending address 127.0.1.10", "== Sending domain advise.test (doctor domain)",
                     "== Queue (doctor queue)", "== Delivery log (doctor logs)", "== Advice",
                     "== Changes for sluice", "sluice doctor all mta.advise.test"):
            self.assertIn(want, out)

    def test_c_stopped(self):
        self.d.stop()
        try:
            rc, j = self.doctor()
            got = {c["id"]: c for c in j["checks"]}
            q = got["queue:source"]
            self.assertEqual(q["status"], "warn")
            self.assertIn("not running", q["actual"])
            self.assertIn("spool segment", q["explanation"])
            self.assertFalse(j["data"]["advice"]["sluiced"])
            self.assertFalse(any(k.startswith("learned:") for k in got))
        finally:
            self.d.start()


if __name__ == "__main__":
    st.main()
