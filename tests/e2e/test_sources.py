"""End to end: sending addresses by class and IP warm-up (smtp_source_classes,
smtp_source_class_maps, ip_warmup_schedule) against `sluice sink` on loopback.

Transactional and bulk mail leave from their own addresses (the sink records the client
address of every message); when the receiver refuses the bulk address for its reputation,
the bulk mail waits and the transactional mail keeps flowing.  A warming address sends its
daily volume first and the rest goes out through the warm one of the class; `sluice status`
shows the counts; `sluiced -n` refuses a schedule for an address that is not ours."""
import json
import smtplib
import subprocess
import tempfile
import time
import os
import unittest

import sluicetest as st
from knot import Knot

TX, BULK, NEW = "127.0.0.10", "127.0.0.20", "127.0.0.21"


def sink_port(sink):
    return sink.errtext().split("listening on ")[1].split()[0].rsplit(":", 1)[1]


def send(d, sender, n, tag, domain="dest.test"):
    with smtplib.SMTP("127.0.0.1", d.port) as s:
        for i in range(n):
            msg = (f"From: {sender}\r\nTo: r{i}@{domain}\r\nSubject: {tag} {i}\r\n"
                   f"Message-ID: <{tag}-{i}@test>\r\n\r\nbody\r\n")
            s.sendmail(sender, [f"r{i}@{domain}"], msg.encode())


def by_client(sink, tag):
    out = {}
    for r in sink.records():
        if r["message_id"].startswith(f"<{tag}-"):
            out.setdefault(r["client_ip"], []).append(r["message_id"])
    return out


class Sources(unittest.TestCase):
    def test_classes_isolate_reputation(self):
        tmp = tempfile.mkdtemp(prefix="sluice-e2e-src-")
        script = os.path.join(tmp, "rules")
        with open(script, "w") as f:   # Gmail's words for a sending IP with a low reputation
            f.write(f"connect ip {BULK} => 421 4.7.0 [{BULK}] Our system has detected that this message is "
                    "likely suspicious due to the very low reputation of the sending IP address.\n")
        sink = st.Sink("--reply-script", script, workdir=tmp)
        d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{sink_port(sink)}",
                      smtp_source_classes=[f"tx {TX}", f"bulk {BULK}"],
                      smtp_source_class_maps=["@news.test bulk"], minimal_backoff_time="1s")
        try:
            d.start()
            send(d, "news@news.test", 5, "bulk")
            send(d, "app@app.test", 5, "tx")
            st.wait_for(lambda: len(by_client(sink, "tx").get(TX, [])) == 5, what="the transactional mail")
            self.assertEqual(set(by_client(sink, "tx")), {TX})
            self.assertEqual(by_client(sink, "bulk"), {})
            st.wait_for(lambda: len(d.queue()) == 5, what="the bulk mail to wait in the queue")
            status = json.loads(d.sluice("status", "--json").stdout)
            dests = {x["destination"]: x for x in status["destinations"]}
            bulk = dests[f"[127.0.0.1]:{sink_port(sink)} via {BULK}"]
            self.assertEqual(bulk["last_class"], "reputation")
            self.assertGreater(bulk["paused_for_s"], 60)
            tx = dests[f"[127.0.0.1]:{sink_port(sink)} via {TX}"]
            self.assertEqual(tx["delivered"], 5)
            self.assertNotIn("paused_for_s", tx)
            src = {x["address"]: x for x in status["sources"]}
            self.assertEqual((src[TX]["class"], src[BULK]["class"]), ("tx", "bulk"))
            watched = [(a["address"], a["source"]) for a in status["blocklists"]["addresses"]]
            self.assertEqual(watched, [(TX, "smtp_source_classes"), (BULK, "smtp_source_classes")])
            # more transactional mail is not held back by the paused bulk destination
            send(d, "app@app.test", 3, "tx2")
            st.wait_for(lambda: len(by_client(sink, "tx2").get(TX, [])) == 3, what="more transactional mail")
            self.assertIn(f"via {BULK}", d.sluice("status").stdout.decode())
        finally:
            d.cleanup()
            sink.stop()

    def test_warmup_fills_the_new_address_first(self):
        sink = st.Sink()
        today = time.strftime("%Y-%m-%d", time.gmtime())
        d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{sink_port(sink)}", log_format="json",
                      smtp_source_classes=[f"bulk {BULK} {NEW}"], ip_warmup_schedule=[f"{NEW} {today} 1000 3"])
        try:
            d.start()
            send(d, "news@news.test", 8, "w")
            st.wait_for(lambda: sum(len(v) for v in by_client(sink, "w").values()) == 8, what="all 8 messages")
            got = by_client(sink, "w")
            self.assertEqual(len(got.get(NEW, [])), 3)   # its 3 for today
            self.assertEqual(len(got.get(BULK, [])), 5)
            status = json.loads(d.sluice("status", "--json").stdout)
            src = {x["address"]: x for x in status["sources"]}
            self.assertEqual(src[NEW]["used_today"], 3)
            self.assertEqual(src[NEW]["warmup"], {"day": 1, "target": 1000, "cap_today": 3})
            self.assertNotIn("warmup", src[BULK])
            self.assertIn("warm-up", d.sluice("status").stdout.decode())
            sent = [json.loads(l[l.index("{"):]) for l in d.logtext().splitlines() if '"status":"sent"' in l]
            self.assertEqual(sorted(e["source"] for e in sent), [BULK] * 5 + [NEW] * 3)
        finally:
            d.cleanup()
            sink.stop()

    @unittest.skipUnless(Knot.available(), "knotd is not installed")
    def test_listed_address_left_aside(self):
        # the blocklist watch finds BULK listed: the class sends from NEW only
        knot = Knot({"dnsbl.test": "2.0.0.127 A 127.0.0.2\n20.0.0.127 A 127.0.0.2\n"})
        sink = st.Sink()
        d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{sink_port(sink)}", dns_servers=[knot.server],
                      smtp_source_classes=[f"bulk {BULK} {NEW}"], dnsbl_watch_zones=["dnsbl.test"])
        try:
            d.start()
            st.wait_for(lambda: any(a["listed"] for a in json.loads(d.sluice("status", "--json").stdout)
                                    .get("sources", [])), what="the listing to reach the scheduler")
            send(d, "news@news.test", 6, "l")
            st.wait_for(lambda: sum(len(v) for v in by_client(sink, "l").values()) == 6, what="all 6 messages")
            self.assertEqual(set(by_client(sink, "l")), {NEW})
            self.assertIn(f"blocklist: {BULK} (class bulk) is listed: the class sends from its other addresses",
                          d.logtext())
        finally:
            d.cleanup()
            sink.stop()
            knot.stop()

    @unittest.skipUnless(Knot.available(), "knotd is not installed")
    def test_family_mismatch_defers(self):
        # an IPv6 source and an MX with IPv4 addresses only: deferred (our limit), never bounced
        knot = Knot({"v4only.test": "@ MX 10 mx\nmx A 127.0.0.1\n"})
        d = st.Daemon(deliver=True, dns_servers=[knot.server], smtp_source_classes=["v6 ::1"])
        try:
            d.start()
            send(d, "a@app.test", 1, "fam", domain="v4only.test")
            def reason():
                q = d.queue()
                return q and q[0]["recipients"][0].get("delay_reason", "")
            st.wait_for(lambda: "no IPv6 address for the source address ::1" in (reason() or ""),
                        what="the deferral")
            self.assertNotIn("status=bounced", d.logtext())
            self.assertIn("dsn=4.4.4", d.logtext())
        finally:
            d.cleanup()
            knot.stop()

    def test_bad_configuration(self):
        for args, why in (([f"smtp_source_classes=bulk {BULK}", f"ip_warmup_schedule={NEW} 2026-01-01 100"],
                           "is not a sending address"),
                          (["smtp_source_class_maps=@news.test bulk"], "with a class of smtp_source_classes"),
                          ([f"smtp_source_classes=bulk {BULK}, tx {BULK}"], "in more than one class"),
                          ([f"smtp_source_classes=bulk {BULK}", "smtp_source_default_class=tx"], "not a class"),
                          ([f"smtp_source_classes=bulk {BULK} ::1"], "mixes IPv4 and IPv6")):
            argv = [st.SLUICED, "-n"]
            for a in args:
                argv += ["-o", a]
            r = subprocess.run(argv, capture_output=True)
            self.assertEqual(r.returncode, 78, r)
            self.assertIn(why, r.stderr.decode())


if __name__ == "__main__":
    st.main()
