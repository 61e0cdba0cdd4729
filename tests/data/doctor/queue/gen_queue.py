#!/usr/bin/env python3
"""gen_queue.py - write the queue listings the doctor-queue tests read, in each program's
exact layout (column widths from Postfix showq_compat.c, Exim queue.c, Sendmail printqueue):
postqueue -j (also sluice's `queue list --json`), postqueue -p with short and long queue ids,
exim -bp, Sendmail mailq.  The same queue in every format: greylisting at example.net,
421 rate limiting at corp.example, a connection timeout at example.org, mail on hold.
Times are relative to NOW (pass --now to doctor queue); local time is UTC in the tests.
Run from this directory: python3 gen_queue.py"""
import json
import time

NOW = 1741093200  # 2025-03-04 13:00:00 UTC

# (queue id short, long, exim id, sendmail id, state, age s, size, sender, [(rcpt, reason)])
GREY = ("host mx1.example.net[192.0.2.10] said: 451 4.7.1 <{r}>: Recipient address rejected: Greylisted, "
        "see https://postgrey.schweikert.ch/help/example.net.html (in reply to RCPT TO command)")
RATE = ("host mail.corp.example[198.51.100.20] said: 421 4.4.2 Message submission rate for this client has "
        "exceeded the configured limit (in reply to MAIL FROM command)")
TIMEOUT = "connect to mx.example.org[203.0.113.10]:25: Connection timed out"
MSGS = [
    ("4F1A2B3C4D", "4ZqLk33Q8Kz9xYw", "1tpP4C-0000G8-00", "t9TJtcXt017788", "deferred", 180, 4213,
     "newsletter@sender.example", [("alice@example.net", GREY), ("bob@example.net", GREY)]),
    ("4F1A2B3E00", "4ZqLk34JYwz9xZ1", "1tpP4D-000000000Gj-000K", "t9TJtcXu017791", "deferred", 420, 4213,
     "newsletter@sender.example", [("carol@example.net", GREY)]),
    ("5B2C3D4E5F", "4ZqLk35mNkz9y02", "1tpP4E-0000HK-06", "t9TJtdXa017802", "deferred", 2700, 1877,
     "billing@sender.example", [("dave@corp.example", RATE), ("erin@corp.example", RATE),
                                ("frank@corp.example", RATE)]),
    ("5B2C3D4F60", "4ZqLk36pQRz9y13", "1tpP4F-000000000Hm-001a", "t9TJteXb017811", "deferred", 9000, 1877,
     "billing@sender.example", [("grace@corp.example", RATE)]),
    ("6C3D4E5F61", "4ZqLk37sTUz9y24", "1tpP4G-0000Ja-0c", "t9TJtfXc017820", "active", 30, 902,
     "alerts@sender.example", [("heidi@example.com", None)]),
    ("7D4E5F6172", "4ZqLk38vWXz9y35", "1tpP4H-0000Kb-0d", "t9TJtgXd017829", "deferred", 100000, 3311,
     "", [("ivan@example.org", TIMEOUT)]),
    ("8E5F617283", "4ZqLk39yZaz9y46", "1tpP4I-0000Lc-0e", "t9TJthXe017838", "hold", 5400, 650,
     "root@sender.example", [("judy@example.com", None)]),
]


def asct(t):
    return time.strftime("%a %b %e %H:%M:%S", time.gmtime(t))


def postqueue_json():
    out = []
    for sq, lq, eq, smq, st, age, size, snd, rc in MSGS:
        out.append(json.dumps({"queue_name": st, "queue_id": sq, "arrival_time": NOW - age, "message_size": size,
                               "forced_expire": False, "sender": snd,
                               "recipients": [dict({"address": r}, **({"delay_reason": w.format(r=r)} if w else {}))
                                              for r, w in rc]}))
    return out


def postqueue_p(long_ids):
    mark = {"active": "*", "hold": "!", "deferred": ""}
    if long_ids:
        out = ["%-17s %8s %-19s %s" % ("----Queue ID-----", "--Size--", "---Arrival Time----", "--Sender/Recipient------")]
    else:
        out = ["%-11s %7s %-20s %s" % ("-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")]
    total = 0
    for i, (sq, lq, eq, smq, st, age, size, snd, rc) in enumerate(MSGS):
        if i:
            out.append("")
        qid = (lq if long_ids else sq) + mark[st]
        stamp = asct(NOW - age) + " " + time.strftime("%Y", time.gmtime(NOW - age))
        sender = snd or "MAILER-DAEMON"
        if long_ids:
            out.append("%-17s %8d %19.19s %s" % (qid, size, stamp, sender))
        else:
            out.append("%-11s %7d %20.20s %s" % (qid, size, stamp, sender))
        last = ""
        for r, w in rc:
            why = w.format(r=r) if w else ""
            if why != last:
                show = why or "reason unavailable"
                out.append("%*s(%s)" % (max(76 - len(show), 0), "", show))
                last = why
            out.append(("%-17s %8s %-19s %s" if long_ids else "%-11s %7s %-20s %s") % ("", "", "", r))
        total += size
    out.append("")
    out.append("-- %d Kbytes in %d Requests." % (total // 1024, len(MSGS)))
    return out


def exim_size(n):
    if n < 1024:
        return "%5d" % n
    return "%4.1fK" % (n / 1024)


def exim_age(age):
    m = age // 60
    if m > 90:
        h = (m + 30) // 60
        return "%2dd" % ((h + 12) // 24) if h > 72 else "%2dh" % h
    return "%2dm" % m


def exim_bp():
    out = []
    for sq, lq, eq, smq, st, age, size, snd, rc in MSGS:
        line = "%s %s %s <%s>" % (exim_age(age), exim_size(size), eq, snd)
        if st == "hold":
            line += " *** frozen ***"
        out.append(line)
        for r, w in rc:
            out.append("          %s" % r)
        if st == "active":
            out.append("        D heidi-archive@example.com")
        out.append("")
    return out


def sendmail_mailq():
    out = ["\t\t/var/spool/mqueue (%d requests)" % len(MSGS),
           "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------"]
    mark = {"active": "*", "hold": " ", "deferred": " "}
    for sq, lq, eq, smq, st, age, size, snd, rc in MSGS:
        stamp = time.strftime("%a %b %e %H:%M", time.gmtime(NOW - age))
        out.append("%-14s%s %8d %-16s <%s>" % (smq, mark[st], size, stamp, snd))
        if st == "hold":
            out.append("     QUARANTINE: held by the administrator")
        last = None
        for r, w in rc:
            if w and w != last:
                text = w.format(r=r)
                text = "Deferred: " + (text.split("said: ", 1)[1].split(" (in reply")[0] if "said: " in text
                                       else "Connection timed out with mx.example.org.")
                out.append("      8BITMIME   (%s)" % text)
                last = w
            out.append("\t\t\t\t\t <%s>" % r)
    out.append("\t\tTotal requests: %d" % len(MSGS))
    return out


def write(name, lines):
    with open(name, "w") as f:
        f.write("\n".join(lines) + "\n")


write("postqueue-j.json", postqueue_json())
write("postqueue-p.txt", postqueue_p(False))
write("postqueue-p-long.txt", postqueue_p(True))
write("exim-bp.txt", exim_bp())
write("sendmail-mailq.txt", sendmail_mailq())
