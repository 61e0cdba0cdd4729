"""The gauntlet, scaled down (issue 5; the full scenario is bench/bench_gauntlet.sh): the real
sluiced delivers 60 messages to 12 recipients at 3 domains into one `sluice sink` that
greylists (3 s), allows 2 connections per client IP and 12 messages per 5 s, and refuses 5%
of connections at random (fixed seed).  (The rate window is one of the windows sluiced's rate
learner tries, 1 2 5 10 15 20 30 60 ... s, like the full scenario's 10 s; a receiver's 3 s
window is learned as 5 s, which alone costs 1.6x here.)  sluiced's time constants are scaled down with the
receiver's: greylist_min_retry_time 1s (so the greylist window is learned within the test)
and overload_backoff_time 1s.

Checked: every message delivered exactly once and none lost; completion within 1.6x the
theoretical minimum T_min = G + ceil((M - N) / N) * W (generous: CI machines are noisy, and
ASan builds are slower); once the connection limit is learned, no more "too many
connections" 421s; `sluice status --json` shows the learned concurrency 2, a learned rate
limit and a greylist window; the log has shaping decision lines for greylisting,
too_many_connections and rate_limited."""
import json
import math
import re
import smtplib
import time
import unittest
from datetime import datetime, timezone

import sluicetest as st

MESSAGES, DOMAINS, USERS = 60, 3, 4
GREYLIST, MAX_CONN, RATE_N, RATE_W, OVERLOAD, SEED = 3, 2, 12, 5, 0.05, 7
T_MIN = GREYLIST + math.ceil((MESSAGES - RATE_N) / RATE_N) * RATE_W   # 23 s
BOUND = 1.6
SENDER = "app@source.test"


def log_time(line):
    """The timestamp of a sluiced log line, as epoch seconds."""
    ts = line.split(" ", 1)[0]
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Gauntlet(unittest.TestCase):
    def setUp(self):
        self.sink = st.Sink("--greylist", str(GREYLIST), "--max-conn-per-ip", str(MAX_CONN),
                            "--rate", f"{RATE_N}/{RATE_W}", "--overload", str(OVERLOAD), "--seed", str(SEED))
        port = self.sink.errtext().split("listening on ")[1].split()[0].rsplit(":", 1)[1]
        self.d = st.Daemon(deliver=True, relayhost=f"[127.0.0.1]:{port}", log_level="info",
                           greylist_min_retry_time="1s", overload_backoff_time="1s").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.kill()

    def test_gauntlet(self):
        rcpts = [f"user{u:02d}@d{d}.test" for d in range(1, DOMAINS + 1) for u in range(1, USERS + 1)]
        want, t0 = {}, None
        with smtplib.SMTP("127.0.0.1", self.d.port, local_hostname="inject.test", timeout=30) as smtp:
            for seq in range(MESSAGES):
                rcpt = rcpts[seq % len(rcpts)]
                mid = f"<gauntlet.{seq:04d}@inject.test>"
                smtp.sendmail(SENDER, [rcpt], f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: gauntlet {seq}\r\n"
                                              f"Message-ID: {mid}\r\n\r\n" + "x" * 76 + "\r\n")
                want[mid] = rcpt
                if t0 is None:
                    t0 = time.time()

        # wait well past the bound, so that a slow run says how slow it was
        deadline = time.time() + 2 * T_MIN + 5
        while len({r["message_id"] for r in self.sink.records()} & set(want)) < MESSAGES:
            if time.time() > deadline:
                got = len({r["message_id"] for r in self.sink.records()} & set(want))
                self.fail(f"only {got} of {MESSAGES} messages at the sink after {time.time() - t0:.0f} s; "
                          f"sluiced's shaping lines:\n" +
                          "\n".join(l for l in self.d.logtext().splitlines() if "shaping: " in l))
            time.sleep(0.2)
        accepts = self.sink.records()
        seen, t_done = set(), None
        for r in accepts:
            if r["message_id"] in want and r["message_id"] not in seen:
                seen.add(r["message_id"])
                if len(seen) == len(want):
                    t_done = r["time"]
        elapsed = t_done - t0
        status = json.loads(self.d.sluice("status", "--json").stdout)
        text = self.d.sluice("status").stdout.decode()
        time.sleep(0.5)   # the last delivery's log lines
        log = self.d.logtext()
        summary = self.sink.stop()
        refusals = self.sink.records("refusal")
        by_policy = {}
        for r in refusals:
            if r["code"] == 421:
                by_policy[r["policy"]] = by_policy.get(r["policy"], 0) + 1
        dest = status["destinations"][0]
        print(f"\ngauntlet: {len(seen)}/{MESSAGES} delivered in {elapsed:.1f} s = {elapsed / T_MIN:.2f}x T_min "
              f"({T_MIN} s); {summary.get('connections')} connections; 421s {by_policy}; learned: concurrency "
              f"{dest.get('concurrency_learned')}, rate {dest.get('rate_limit')}, greylist window "
              f"{dest.get('greylist_window_s')}; classes {dest.get('counts_by_class')}")

        # every message once, none lost, nothing else
        self.assertEqual(len(seen), MESSAGES)
        self.assertEqual(summary["duplicates"], 0)
        self.assertEqual(summary["accepted"], MESSAGES)
        for r in accepts:
            self.assertEqual(r["rcpts"], [want[r["message_id"]]])

        # the shaping decisions, one kind of line at least for each limit
        decisions = [l for l in log.splitlines() if "shaping: " in l]
        for cls in ("greylisting", "too_many_connections", "rate_limited"):
            self.assertTrue(any(re.search(r"shaping: \S+: " + cls, l) for l in decisions),
                            f"no shaping decision for {cls} in the log:\n" + "\n".join(decisions))

        # the limit is learned from the first refusals, not after a storm of reconnections
        self.assertLessEqual(by_policy.get("max_conn_per_ip", 0), 10, f"421s by policy: {by_policy}")

        # once learned, the connection limit holds: no 421 for too many connections later
        # than a second after the decision (connections already being opened may still be
        # refused)
        learned_at = min(log_time(l) for l in decisions if re.search(r"shaping: \S+: too_many_connections", l))
        late = [r for r in refusals if r["policy"] == "max_conn_per_ip" and r["time"] > learned_at + 1.0]
        self.assertEqual([], [f"session {r['session']} at +{r['time'] - learned_at:.2f} s" for r in late],
                         "421 too many connections more than 1 s after the first too_many_connections decision")

        # what sluice status says it learned
        self.assertEqual(dest["concurrency_learned"], MAX_CONN)
        self.assertEqual(dest["concurrency_limit"], MAX_CONN)
        self.assertIsNotNone(dest["rate_limit"], "no learned rate limit in sluice status")
        self.assertGreater(dest["rate_limit"]["messages"], 0)
        self.assertIn("greylist_window_s", dest)
        self.assertGreaterEqual(dest["greylist_window_s"], GREYLIST)
        for cls in ("greylisting", "too_many_connections", "rate_limited"):
            self.assertGreater(dest["counts_by_class"].get(cls, 0), 0, cls)

        # the rate now, and the same in the text form for people
        self.assertIn("rate_now", dest)
        self.assertGreater(dest["rate_now"]["per_seconds"], 0)
        self.assertLessEqual(dest["rate_now"]["messages"], RATE_N)
        self.assertIn("(learned 2, max", text)
        self.assertRegex(text, r"limit \d+ per \d+s \(learned\)")
        self.assertIn("refusals by class:", text)
        self.assertIn("too_many_connections", text)

        # the time, against the theoretical minimum
        self.assertLessEqual(elapsed, BOUND * T_MIN,
                             f"{elapsed:.1f} s is more than {BOUND}x the minimum of {T_MIN} s")


if __name__ == "__main__":
    st.main()
