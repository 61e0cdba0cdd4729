"""End to end: `sluice classify` - plain reply lines, --json-in objects (the corpus' own
format), lines that are not replies, administrators' rules before the shipped ones, and the
exit codes for a bad rules file, a missing input and bad usage."""
import json
import os
import subprocess
import tempfile
import unittest

SLUICE = os.environ.get("SLUICE", "sluice")
CORPUS = os.path.join(os.environ.get("SLUICE_SOURCE_DIR", "."), "..", "shared", "corpus",
                      "replies-dev.jsonl")


def classify(*args, stdin=""):
    """Run sluice classify; (exit code, output objects, stderr)."""
    p = subprocess.run([SLUICE, "classify", *args], input=stdin.encode(), capture_output=True,
                       timeout=60)
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    return p.returncode, out, p.stderr.decode()


class Classify(unittest.TestCase):
    def test_plain_lines(self):
        lines = [
            "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to user "
            "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            "450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted for 300 seconds",
            "smtp; 452 4.2.2 <a@example.org>... Over quota",
            "host mx.example.org[192.0.2.1] said: 421-4.7.0 Too many concurrent connections "
            "421 4.7.0 try again later (in reply to MAIL FROM command)",
            "550 5.7.1 Service unavailable; blocked using zen.spamhaus.org",
            "4.7.1 Greylisting in action, please come back in 00:04:35",
        ]
        rc, out, _ = classify(stdin="\n".join(lines) + "\n\n# a comment\n")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out), len(lines))
        want = [("reputation", 421, "4.7.0", "yahoo", None),
                ("greylisting", 450, "4.2.0", "postgrey", 300),
                ("mailbox", 452, "4.2.2", None, None),
                ("too_many_connections", 421, "4.7.0", None, None),
                ("permanent", 550, "5.7.1", None, None),
                ("greylisting", None, "4.7.1", "milter-greylist", 275)]
        for o, (cls, code, enh, prov, hint) in zip(out, want):
            self.assertEqual((o["class"], o["code"], o["enhanced"]), (cls, code, enh), o)
            self.assertEqual(o["retry_hint_seconds"], hint, o)
            if prov:
                self.assertEqual(o["provider"], prov, o)
            self.assertTrue(o["rule"], o)
            self.assertNotIn("error", o)
        self.assertEqual(out[3]["stage"], "mail")
        self.assertIs(out[0]["closed"], True)

    def test_garbage_never_stops(self):
        rc, out, _ = classify(stdin="hello world\n\x00\xff binary\n450 4.2.0 Greylisted\n")
        self.assertEqual(rc, 0)
        self.assertEqual([o["class"] for o in out], ["other", "other", "greylisting"])
        self.assertIn("error", out[0])
        self.assertIn("error", out[1])

    def test_json_in(self):
        objs = [
            {"id": "a", "code": 451, "enhanced": "4.7.650", "text": "The mail server [1.2.3.4] has "
             "been temporarily rate limited due to IP reputation."},
            {"id": 7, "code": None, "enhanced": "4.2.1", "text": "The user you are trying to "
             "contact is receiving mail too quickly."},
            {"code": "421", "text": "Too many concurrent SMTP connections; please try again later.",
             "stage": "greeting", "closes_connection": True},
            {"code": 450, "enh": "4.7.1", "text": "widget", "stage": "rcpt", "closed": False},
        ]
        lines = [json.dumps(o) for o in objs] + ["not json", "[1,2]", '{"foo": 1}']
        rc, out, _ = classify("--json-in", stdin="\n".join(lines) + "\n")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out), 7)
        self.assertEqual((out[0]["id"], out[0]["class"], out[0]["provider"]),
                         ("a", "reputation", "microsoft"))
        self.assertEqual((out[1]["id"], out[1]["class"]), (7, "rate_limited"))
        self.assertEqual((out[2]["class"], out[2]["stage"], out[2]["closed"]),
                         ("too_many_connections", "greeting", True))
        self.assertEqual((out[3]["stage"], out[3]["closed"], out[3]["enhanced"]),
                         ("rcpt", False, "4.7.1"))
        for o in out[4:]:
            self.assertEqual(o["class"], "other")
            self.assertIn("error", o)

    def test_rules_override_and_errors(self):
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "mine.rules")
            with open(good, "w") as f:
                f.write("# local knowledge\nrate_limited acme code=421 text=/\\[TSS04\\]/\n")
            line = "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred\n"
            rc, out, _ = classify("--rules", good, stdin=line)
            self.assertEqual(rc, 0)
            self.assertEqual((out[0]["class"], out[0]["rule"], out[0]["provider"]),
                             ("rate_limited", good + ":2", "acme"))
            bad = os.path.join(d, "bad.rules")
            with open(bad, "w") as f:
                f.write("other - text=/ok/\n\nother - text=/a(/\n")
            rc, out, err = classify("--rules=" + bad, stdin=line)
            self.assertEqual(rc, 78)
            self.assertEqual(out, [])
            self.assertIn(bad + ":3: bad regex at offset 2", err)
            rc, _, err = classify("--rules", os.path.join(d, "absent"), stdin=line)
            self.assertEqual(rc, 78)
            self.assertIn("No such file", err)
            inp = os.path.join(d, "replies.txt")
            with open(inp, "w") as f:
                f.write(line)
            rc, out, _ = classify(inp)
            self.assertEqual((rc, out[0]["class"]), (0, "reputation"))
        rc, _, err = classify("/nonexistent/replies")
        self.assertEqual(rc, 66)
        rc, _, err = classify("--bogus")
        self.assertEqual(rc, 64)
        self.assertIn("usage", err)

    @unittest.skipUnless(os.path.exists(CORPUS), "the corpus (shared/ beside the repo) is absent")
    def test_corpus_file_as_is(self):
        with open(CORPUS) as f:
            text = f.read()
        rc, out, _ = classify("--json-in", CORPUS)
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
        self.assertEqual((rc, len(out)), (0, len(items)))
        agree = sum(o["class"] == it["class"] for o, it in zip(out, items))
        self.assertGreaterEqual(agree / len(items), 0.95)
        self.assertEqual([o["id"] for o in out], [it["id"] for it in items])


if __name__ == "__main__":
    unittest.main()
