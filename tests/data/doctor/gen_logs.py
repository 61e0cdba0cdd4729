#!/usr/bin/env python3
"""gen_logs.py - write the synthetic mail logs the doctor-logs tests read (logs/*.log, *.gz).

Each scenario is one receiving behaviour (greylisting, rate limiting, too many connections,
reputation, authentication, overload, network), simulated for a batch of messages with the
retry schedule of the sending MTA, then written exactly as Postfix (syslog), Exim (main log)
and sluice (text and JSON delivery lines) log it.  Every scenario also delivers to a healthy
domain, so each file has a second destination with verdict "healthy".  Deterministic: the
same files on every run (fixed seed, gzip mtime 0).  Run from this directory:
    python3 gen_logs.py
The replies are real wordings (Postfix/postgrey, Exchange, Yahoo, Postfix reject texts)."""
import gzip
import json
import os
import random
import time

T0 = 1741082400  # 2025-03-04 10:00:00 UTC
HEALTHY = ("example.com", "mx.example.com", "192.0.2.80")
SENT_TEXT = "250 2.0.0 Ok: queued as {q}"

GREY = "451 4.7.1 <{r}>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/{d}.html"
GREY_UNEXPLAINED = "450 4.7.1 Please try again later"
RATE = "421 4.4.2 Message submission rate for this client has exceeded the configured limit"
RATE_UNEXPLAINED = "421 4.7.0 Try again later"
CONN = "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel"
REPUT = ("421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user "
         "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes")
AUTH = "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.25]"
OVERLOAD = "452 4.3.1 Insufficient system resources"

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sluice_qid(n):
    v = (T0 * 1000000 + n * 7919) & ((1 << 60) - 1)
    return "".join(CROCKFORD[(v >> (5 * (11 - i))) & 31] for i in range(12))


def exim_qid(n, new=False):
    def enc(v, k):
        s = ""
        for _ in range(k):
            s = B62[v % 62] + s
            v //= 62
        return s
    if new:
        return f"{enc(T0 + n, 6)}-{enc(1000 + n * 37, 11)}-{enc(n * 13 + 7, 4)}"
    return f"{enc(T0 + n, 6)}-{enc(1000 + n * 37, 6)}-{enc(n % 62 * 3, 2)}"


def postfix_qid(n):
    return "%X" % (0x4F1A2B3C4D + n * 0x1B3)


class Event:
    """One attempt for one recipient: status sent/deferred, reply or failure text."""

    def __init__(self, t, msg, status, reply=None, stage="RCPT TO", kind="reply", host=None):
        self.t, self.msg, self.status, self.reply, self.stage, self.kind = t, msg, status, reply, stage, kind
        self.host = host or msg["mx"]


def simulate(scn, retry):
    """Run the scenario's behaviour over its messages with the MTA's retry schedule."""
    rnd = random.Random(scn["seed"])
    events = []
    for i, m in enumerate(scn["messages"]):
        t = m["t"]
        for attempt in range(12):
            outcome = scn["behave"](m, attempt, t, rnd)
            events.append(Event(t, m, *outcome))
            if outcome[0] == "sent":
                break
            t += retry(attempt, rnd)
            if t > T0 + 6 * 3600:
                break
    events.sort(key=lambda e: (e.t, e.msg["n"]))
    return events


def retry_postfix(k, rnd):   # queue_run_delay 300s, backoff 300s doubling up to 4000s
    return min(300 * 2 ** k, 4000) + rnd.randint(0, 40)


def retry_exim(k, rnd):      # F,2h,15m retry rule, queue runner every 5 minutes
    return 900 + rnd.randint(0, 290)


def retry_sluice(k, rnd):    # minimal_backoff_time 5m doubling, +-10% jitter
    b = min(300 * 2 ** k, 4000)
    return int(b * (0.9 + 0.2 * rnd.random()))


def messages(domain, mx, ip, count, start, spacing, names):
    out = []
    for i in range(count):
        out.append({"n": len(out), "t": start + i * spacing, "rcpt": f"{names[i % len(names)]}{i}@{domain}",
                    "domain": domain, "mx": mx, "ip": ip})
    return out


NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def with_healthy(msgs, count=6):
    h = messages(*HEALTHY, count, T0 + 30, 240, ["news", "info"])
    for i, m in enumerate(h):
        m["n"] = 1000 + i
        m["healthy"] = True
    return msgs + h


def healthy_or(fn):
    def behave(m, attempt, t, rnd):
        if m.get("healthy"):
            return ("sent", SENT_TEXT.format(q="7D1E%05X" % (m["n"] * 31)), "end of DATA")
        return fn(m, attempt, t, rnd)
    return behave


def grey(text):
    def fn(m, attempt, t, rnd):
        if t - m["t"] < 280:   # postgrey --delay=300 (a little slack as postgrey counts)
            return ("deferred", text.format(r=m["rcpt"], d=m["domain"]), "RCPT TO")
        return ("sent", SENT_TEXT.format(q="8A2B%05X" % (m["n"] * 17)), "end of DATA")
    return fn


def rate(text):
    """The receiver takes about 4 messages per 10-minute window; the rest get the reply,
    whatever the retry interval."""
    window = {}

    def fn(m, attempt, t, rnd):
        w = t // 600
        if window.get(w, 0) < 4 and not (attempt == 0 and m["n"] % 3 == 1):
            window[w] = window.get(w, 0) + 1
            return ("sent", SENT_TEXT.format(q="9C3D%05X" % (m["n"] * 13)), "end of DATA")
        return ("deferred", text, "MAIL FROM")
    return fn


def conn(m, attempt, t, rnd):
    if attempt < 2 and m["n"] % 2 == 0:
        return ("deferred", CONN, "initial greeting")
    return ("sent", SENT_TEXT.format(q="AB4E%05X" % m["n"]), "end of DATA")


def always(text, stage):
    def fn(m, attempt, t, rnd):
        return ("deferred", text, stage)
    return fn


def reput(m, attempt, t, rnd):
    if attempt < 3 or m["n"] % 4:
        return ("deferred", REPUT, "MAIL FROM")
    return ("sent", SENT_TEXT.format(q="BC5F%05X" % m["n"]), "end of DATA")


def timeout(m, attempt, t, rnd):
    return ("deferred", None, "connect", "timeout")


SCENARIOS = {
    "greylisting": dict(seed=1, behave=healthy_or(grey(GREY)),
                        messages=with_healthy(messages("example.net", "mx1.example.net", "192.0.2.10", 8, T0, 420, NAMES))),
    "greylisting-unexplained": dict(seed=2, behave=healthy_or(grey(GREY_UNEXPLAINED)),
                                    messages=with_healthy(messages("example.net", "mx1.example.net", "192.0.2.10", 8, T0, 420, NAMES))),
    "ratelimit": dict(seed=3, behave=healthy_or(rate(RATE)),
                      messages=with_healthy(messages("corp.example", "mail.corp.example", "198.51.100.20", 24, T0, 15, NAMES))),
    "ratelimit-unexplained": dict(seed=4, behave=healthy_or(rate(RATE_UNEXPLAINED)),
                                  messages=with_healthy(messages("corp.example", "mail.corp.example", "198.51.100.20", 24, T0, 15, NAMES))),
    "connections": dict(seed=5, behave=healthy_or(conn),
                        messages=with_healthy(messages("exch.example", "smtp.exch.example", "198.51.100.30", 12, T0, 5, NAMES))),
    "reputation": dict(seed=6, behave=healthy_or(reput),
                       messages=with_healthy(messages("yahoo.com", "mta5.am0.yahoodns.net", "67.195.204.74", 8, T0, 120, NAMES))),
    "authentication": dict(seed=7, behave=healthy_or(always(AUTH, "RCPT TO")),
                           messages=with_healthy(messages("strict.example", "mx.strict.example", "198.51.100.40", 6, T0, 300, NAMES))),
    "overload": dict(seed=8, behave=healthy_or(lambda m, a, t, r: ("deferred", OVERLOAD, "MAIL FROM") if a < 1 else
                                              ("sent", SENT_TEXT.format(q="CD6A%05X" % m["n"]), "end of DATA")),
                     messages=with_healthy(messages("busy.example", "mx.busy.example", "198.51.100.50", 8, T0, 200, NAMES))),
    "network": dict(seed=9, behave=timeout,
                    messages=messages("example.org", "mx.example.org", "203.0.113.10", 5, T0, 600, NAMES) +
                    [dict(m, n=100 + m["n"]) for m in messages("example.edu", "mx.example.edu", "203.0.113.20", 4, T0 + 60, 700, NAMES)]),
}


def pf_num(x):
    """A delay as Postfix prints it: "311", "17.5", "0.42", "0" (no exponent)."""
    if x >= 100:
        return "%d" % x
    s = ("%.1f" if x >= 10 else "%.2f") % x
    s = s.rstrip("0").rstrip(".")
    return s or "0"


def syslog_stamp(t):
    return time.strftime("%b %e %H:%M:%S", time.gmtime(t))


def iso_exim(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def iso_sluice(t, frac):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % frac


def failure_text(e):
    """Postfix's (and sluice's) text in parentheses for a failed attempt."""
    m = e.msg
    if e.kind == "timeout":
        return f"connect to {m['mx']}[{m['ip']}]:25: Connection timed out"
    if e.stage == "initial greeting":
        return f"host {m['mx']}[{m['ip']}] refused to talk to me: {e.reply}"
    return f"host {m['mx']}[{m['ip']}] said: {e.reply} (in reply to {e.stage} command)"


def dsn_of(e):
    if e.status == "sent":
        return "2.0.0"
    if e.kind == "timeout":
        return "4.4.1"
    return e.reply.split()[1] if e.reply.split()[1][0] == "4" else "4.0.0"


def postfix_lines(events, scn):
    out, seen, pid = [], set(), {}
    for e in events:
        m = e.msg
        q = postfix_qid(m["n"])
        if q not in seen:
            seen.add(q)
            out.append(f"{syslog_stamp(m['t'])} mail postfix/qmgr[1187]: {q}: from=<newsletter@sender.example>, "
                       f"size=4213, nrcpt=1 (queue active)")
        p = pid.setdefault(m["n"] % 5, 2300 + m["n"] % 5 * 17)
        delay = e.t - m["t"] + 0.42
        relay = "none" if e.kind == "timeout" else f"{m['mx']}[{m['ip']}]:25"
        if e.kind == "timeout":
            out.append(f"{syslog_stamp(e.t)} mail postfix/smtp[{p}]: connect to {m['mx']}[{m['ip']}]:25: Connection timed out")
        text = e.reply if e.status == "sent" else failure_text(e)
        out.append(f"{syslog_stamp(e.t)} mail postfix/smtp[{p}]: {q}: to=<{m['rcpt']}>, relay={relay}, "
                   f"delay={pf_num(delay)}, delays={pf_num(delay - 0.4)}/0.01/0.2/0.19, dsn={dsn_of(e)}, "
                   f"status={e.status} ({text})")
        if e.status == "sent":
            out.append(f"{syslog_stamp(e.t)} mail postfix/qmgr[1187]: {q}: removed")
    return out


def exim_reply_text(e):
    m = e.msg
    if e.kind == "timeout":
        return None
    after = {"RCPT TO": f"RCPT TO:<{m['rcpt']}>", "MAIL FROM": "MAIL FROM:<newsletter@sender.example> SIZE=4213",
             "initial greeting": "initial connection", "end of DATA": "end of data"}[e.stage]
    return f"SMTP error from remote mail server after {after}: {e.reply}"


def exim_lines(events, scn):
    out, seen = [], set()
    for e in events:
        m = e.msg
        q = exim_qid(m["n"], new=m["n"] % 2 == 1)
        if q not in seen:
            seen.add(q)
            out.append(f"{iso_exim(m['t'])} {q} <= newsletter@sender.example H=app.sender.example [192.0.2.5] "
                       f"P=esmtp S=4213 id=20250304.{m['n']}@sender.example")
        if e.status == "sent":
            out.append(f"{iso_exim(e.t)} {q} => {m['rcpt']} R=dnslookup T=remote_smtp H={m['mx']} [{m['ip']}] "
                       f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"{e.reply}\"")
            out.append(f"{iso_exim(e.t)} {q} Completed")
        elif e.kind == "timeout":
            out.append(f"{iso_exim(e.t)} {q} H={m['mx']} [{m['ip']}] Connection timed out")
            out.append(f"{iso_exim(e.t)} {q} == {m['rcpt']} R=dnslookup T=remote_smtp defer (110): Connection timed out")
        else:
            code = {"RCPT TO": -44, "MAIL FROM": -45, "initial greeting": -46}.get(e.stage, -46)
            out.append(f"{iso_exim(e.t)} {q} == {m['rcpt']} R=dnslookup T=remote_smtp defer ({code}) "
                       f"H={m['mx']} [{m['ip']}]: {exim_reply_text(e)}")
    return out


def sluice_lines(events, scn, as_json=False):
    out = []
    for k, e in enumerate(events):
        m = e.msg
        q = sluice_qid(m["n"])
        relay = "none" if e.kind == "timeout" else f"{m['mx']}[{m['ip']}]:25"
        text = e.reply if e.status == "sent" else failure_text(e)
        delay = e.t - m["t"] + 0.42
        if as_json:
            out.append(json.dumps({"ts": e.t + k % 7 / 10, "queue_id": q, "to": m["rcpt"], "relay": relay,
                                   "delay": round(delay, 2), "delays": [round(delay - 0.4, 2), 0.0, 0.2, 0.2],
                                   "dsn": dsn_of(e), "status": e.status, "reply": text},
                                  separators=(",", ":")))
            continue
        level = "info" if e.status == "sent" else "notice"
        out.append(f"{iso_sluice(e.t, 41520 + k)} sluiced[812]: {level}: {q}: to=<{m['rcpt']}>, relay={relay}, "
                   f"delay={delay:.2f}, delays={delay - 0.4:.2f}/0.00/0.20/0.20, dsn={dsn_of(e)}, "
                   f"status={e.status} ({text})")
    return out


def write(path, lines, gz=False):
    data = ("\n".join(lines) + "\n").encode()
    if gz:
        with open(path, "wb") as f:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
                g.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def main():
    os.makedirs("logs", exist_ok=True)
    for name, scn in SCENARIOS.items():
        pf = postfix_lines(simulate(scn, retry_postfix), scn)
        ex = exim_lines(simulate(scn, retry_exim), scn)
        sl = simulate(scn, retry_sluice)
        write(f"logs/postfix-{name}.log", pf)
        write(f"logs/exim-{name}.log", ex)
        write(f"logs/sluice-{name}.log", sluice_lines(sl, scn))
        if name in ("greylisting", "ratelimit", "network"):
            write(f"logs/sluice-{name}.json.log", sluice_lines(sl, scn, as_json=True))
            write(f"logs/postfix-{name}.log.gz", pf, gz=True)
            write(f"logs/exim-{name}.log.gz", ex, gz=True)


if __name__ == "__main__":
    main()
