"""test_doctor_logs - `sluice doctor logs` and `sluice doctor queue` end to end: the real CLI
on the synthetic logs and queue listings of tests/data/doctor (plain, gzip, stdin, several
files), its JSON (schema sluice-doctor/1) and exit codes (0 ok, 1 warnings, 2 failures,
64 usage, 66 no input, 69 no queue); the log of a real sluiced whose deliveries are refused;
`doctor queue` reading the running sluiced through its control socket, and running a host's
postqueue (a stand-in in PATH) with the deadline killing one that hangs."""
import gzip
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluicetest import SLUICE, Daemon, wait_for  # noqa: E402

SRC = os.environ.get("SLUICE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
LOGS = os.path.join(SRC, "tests", "data", "doctor", "logs")
QUEUE = os.path.join(SRC, "tests", "data", "doctor", "queue")
NOW = "1741093200"   # the queue listings' "now" (2025-03-04 13:00 UTC)


def doctor(*args, stdin=None, env=None, timeout=60):
    """Run `sluice doctor ARGS`; returns (exit status, stdout, stderr)."""
    e = dict(os.environ, TZ="UTC", NO_COLOR="1")
    e.update(env or {})
    r = subprocess.run([SLUICE] + list(args), input=stdin, capture_output=True, timeout=timeout, env=e)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def doctor_json(*args, **kw):
    """`sluice doctor ... --json`: (exit status, the parsed report)."""
    rc, out, err = doctor(*args, "--json", **kw)
    try:
        return rc, json.loads(out)
    except ValueError:
        raise AssertionError(f"not JSON (exit {rc}): {out[:500]!r} {err[:500]!r}")


def verdicts(rep):
    """{domain: (verdict, status)} of a logs report."""
    return {d["domain"]: (d["verdict"], d["status"]) for d in rep["data"]["destinations"]}


def read(path):
    """A file's text, "" while it does not exist."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def closed_port():
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Logs(unittest.TestCase):
    def test_exit_codes_follow_the_verdicts(self):
        cases = [("postfix-greylisting.log", 0, "example.net", "greylisting"),
                 ("exim-ratelimit-unexplained.log", 1, "corp.example", "rate_limiting"),
                 ("sluice-connections.log", 1, "exch.example", "too_many_connections"),
                 ("exim-reputation.log", 2, "yahoo.com", "reputation"),
                 ("postfix-network.log", 2, "example.org", "network")]
        for name, code, domain, verdict in cases:
            with self.subTest(name=name):
                rc, rep = doctor_json("doctor", "logs", "--year", "2025", os.path.join(LOGS, name))
                self.assertEqual(rc, code)
                self.assertEqual(rep["schema"], "sluice-doctor/1")
                self.assertEqual(rep["command"], "logs")
                self.assertEqual(verdicts(rep)[domain][0], verdict)
                ids = [c["id"] for c in rep["checks"]]
                self.assertIn("input", ids)
                self.assertIn("summary", ids)
                self.assertIn("dest:" + domain, ids)
                check = next(c for c in rep["checks"] if c["id"] == "dest:" + domain)
                self.assertTrue(check["evidence"], check)
                self.assertTrue(rep["data"]["messages"])

    def test_several_files_gzip_and_stdin(self):
        rc, rep = doctor_json("doctor", "logs", "--year", "2025", os.path.join(LOGS, "postfix-greylisting.log.gz"),
                              os.path.join(LOGS, "exim-ratelimit.log"))
        self.assertEqual(rc, 1)
        v = verdicts(rep)
        self.assertEqual(v["example.net"][0], "greylisting")
        self.assertEqual(v["corp.example"][0], "rate_limiting")
        self.assertEqual(rep["data"]["summary"]["input"]["files"], 2)
        with open(os.path.join(LOGS, "sluice-reputation.log"), "rb") as f:
            rc, rep = doctor_json("doctor", "logs", "-", stdin=f.read())
        self.assertEqual(rc, 2)
        self.assertEqual(verdicts(rep)["yahoo.com"][0], "reputation")
        d = next(d for d in rep["data"]["destinations"] if d["domain"] == "yahoo.com")
        self.assertEqual(d["provider_code"], "TSS04")

    def test_text_output(self):
        rc, out, err = doctor("doctor", "logs", "--year", "2025", "--timelines", "2",
                              os.path.join(LOGS, "postfix-greylisting.log"))
        self.assertEqual(rc, 0, err)
        self.assertIn("example.net: greylisting", out)
        self.assertIn("> Mar  4 10:00:00 mail postfix/smtp", out)
        self.assertIn("Timelines", out)
        self.assertIn("INFO: sluice doctor logs", out)

    def test_garbage_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = os.path.join(tmp, "junk.log")
            with open(junk, "wb") as f:
                f.write(b"\x00\x01\x02 not a log\n" * 50 + os.urandom(4096) + b"\n{\"x\":1}\n")
            rc, rep = doctor_json("doctor", "logs", junk)
            self.assertIn(rc, (0, 1))
            check = next(c for c in rep["checks"] if c["id"] == "input")
            self.assertEqual(check["status"], "info")
            self.assertGreater(rep["data"]["summary"]["input"]["unrecognised"], 0)
            gz = os.path.join(tmp, "cut.log.gz")
            with open(os.path.join(LOGS, "exim-overload.log"), "rb") as f:
                data = gzip.compress(f.read())
            with open(gz, "wb") as f:
                f.write(data[:len(data) // 2])   # a truncated gzip file
            rc, out, err = doctor("doctor", "logs", gz)
            self.assertNotEqual(rc, 0)
        rc, out, err = doctor("doctor", "logs", "/nonexistent/mail.log")
        self.assertEqual(rc, 66)
        self.assertIn("/nonexistent/mail.log", err)
        rc, rep = doctor_json("doctor", "logs", "/nonexistent/mail.log", os.path.join(LOGS, "postfix-greylisting.log"))
        self.assertEqual(rc, 1)   # one file read: its report, and a warning for the other
        self.assertEqual(next(c for c in rep["checks"] if c["id"] == "files")["status"], "warn")
        rc, out, err = doctor("doctor", "logs", "--no-such-option", "x")
        self.assertEqual(rc, 64)

    def test_sluiced_own_log(self):
        """A real sluiced whose relay refuses connections: its maillog_file says "network"."""
        tmp = tempfile.mkdtemp(prefix="sluice-doctor-")
        mail_log = os.path.join(tmp, "mail.log")
        d = Daemon(workdir=tmp, relayhost=f"[127.0.0.1]:{closed_port()}", maillog_file=mail_log)
        try:
            d.start()
            with smtplib.SMTP("127.0.0.1", d.port) as s:
                for i in range(3):
                    s.sendmail("app@sender.test", [f"user{i}@refusing.test"], f"Subject: {i}\r\n\r\nbody\r\n")
            wait_for(lambda: read(mail_log).count("status=deferred") >= 3, timeout=30,
                     what="three deferrals in maillog_file")
            for args in ([mail_log], []):   # without FILE: the configuration's maillog_file
                rc, rep = doctor_json("-c", d.conf, "doctor", "logs", *args)
                self.assertEqual(rc, 2, rep)
                dest = next(x for x in rep["data"]["destinations"] if x["domain"] == "refusing.test")
                self.assertEqual(dest["verdict"], "network")
                self.assertEqual(dest["deferred_by"].get("connection_refused"), dest["deferred"])
                summary = rep["data"]["summary"]
                self.assertGreaterEqual(summary["input"]["by_format"].get("sluice"), dest["attempts"])
                self.assertEqual(summary["input"]["unrecognised"], 0)
        finally:
            d.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
        rc, out, err = doctor("-o", "maillog_file=", "doctor", "logs")   # no FILE and no maillog_file
        self.assertEqual(rc, 64)


class Queue(unittest.TestCase):
    def test_listings(self):
        for name, fmt in [("postqueue-j.json", "json"), ("postqueue-p.txt", "postfix"),
                          ("postqueue-p-long.txt", "postfix"), ("exim-bp.txt", "exim"),
                          ("sendmail-mailq.txt", "sendmail")]:
            with self.subTest(name=name):
                rc, rep = doctor_json("doctor", "queue", "--now", NOW, os.path.join(QUEUE, name))
                self.assertEqual(rc, 2)   # a message waits 27 hours
                self.assertEqual(rep["command"], "queue")
                self.assertEqual(rep["data"]["source"]["format"], fmt)
                grid = rep["data"]["grid"]
                self.assertEqual(grid["total"]["total"], 10)
                self.assertEqual(grid["messages"], 7)
                rows = {r["domain"]: r for r in grid["destinations"]}
                self.assertEqual(rows["corp.example"]["total"], 4)
                if fmt != "exim":
                    self.assertEqual(rows["corp.example"]["top_class"], "rate_limited")
                    self.assertEqual(rows["example.net"]["top_class"], "greylisting")
        rc, out, err = doctor("doctor", "queue", "--now", NOW, "--warn-age", "2d", "--fail-age", "3d",
                              os.path.join(QUEUE, "postqueue-p.txt"))
        self.assertEqual(rc, 2)   # still: example.org times out for over a day
        self.assertIn("Queue shape", out)
        self.assertIn("corp.example: rate_limited", out)

    def test_from_and_errors(self):
        rc, rep = doctor_json("doctor", "queue", "--from", "exim", "--now", NOW, os.path.join(QUEUE, "postqueue-j.json"))
        self.assertEqual(rep["data"]["grid"]["messages"], 0)
        self.assertGreater(rep["data"]["source"]["unrecognised_lines"], 0)
        self.assertEqual(doctor("doctor", "queue", "/nonexistent/q.txt")[0], 66)
        self.assertEqual(doctor("doctor", "queue", "--from", "lotus", "x")[0], 64)
        self.assertEqual(doctor("doctor", "queue", "a", "b")[0], 64)

    def fake_postqueue(self, tmp, body):
        """A directory with a stand-in postqueue script, and a config whose queue is empty."""
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        path = os.path.join(bindir, "postqueue")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        conf = os.path.join(tmp, "sluice.conf")
        with open(conf, "w") as f:
            f.write(f'queue_directory = "{tmp}/queue";\n')
        return bindir, conf

    def test_runs_the_hosts_postqueue(self):
        with tempfile.TemporaryDirectory() as tmp:
            listing = os.path.join(QUEUE, "postqueue-j.json")
            bindir, conf = self.fake_postqueue(tmp, f'[ "$1" = -j ] && exec cat "{listing}"; exit 1')
            env = {"PATH": bindir + ":" + os.environ.get("PATH", "")}
            rc, rep = doctor_json("-c", conf, "doctor", "queue", "--now", NOW, env=env)
            self.assertEqual(rc, 2)
            self.assertIn("postqueue -j", rep["subject"])
            self.assertEqual(rep["data"]["grid"]["total"]["total"], 10)

    def test_hanging_command_is_killed(self):
        with tempfile.TemporaryDirectory() as tmp:
            bindir, conf = self.fake_postqueue(tmp, "exec sleep 60")
            env = {"PATH": bindir + ":" + os.environ.get("PATH", "")}
            t0 = time.time()
            rc, out, err = doctor("-c", conf, "doctor", "--timeout", "1", "queue", "--from", "postfix", env=env)
            self.assertLess(time.time() - t0, 15)
            self.assertEqual(rc, 69)
            self.assertIn("did not finish", err)

    def test_running_sluiced(self):
        d = Daemon()
        try:
            d.start()
            with smtplib.SMTP("127.0.0.1", d.port) as s:
                s.sendmail("app@sender.test", ["a@one.test", "b@one.test", "c@two.test"], "Subject: q\r\n\r\nx\r\n")
            wait_for(lambda: len(d.queue()) >= 1, what="the message in the queue")
            rc, rep = doctor_json("-c", d.conf, "doctor", "queue", "--from", "sluice")
            self.assertIn(rc, (0, 1))
            self.assertIn("sluiced", rep["subject"])
            rows = {r["domain"]: r["total"] for r in rep["data"]["grid"]["destinations"]}
            self.assertEqual(rows, {"one.test": 2, "two.test": 1})
            rc, rep = doctor_json("-c", d.conf, "doctor", "queue")   # auto: the daemon first
            self.assertIn("sluiced", rep["subject"])
        finally:
            d.cleanup()
        rc, out, err = doctor("-c", d.conf, "doctor", "queue", "--from", "sluice")
        self.assertEqual(rc, 69)


if __name__ == "__main__":
    unittest.main(verbosity=2)
