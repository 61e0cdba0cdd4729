"""End to end: the queue's file system fills up.  sluiced's spool lives on a small tmpfs
(mounted here; root only).  While the relay is down, clients submit until the space is gone:
new mail must then be refused with 452 4.3.1 at MAIL FROM (Postfix's queue_minfree rule:
1.5 x message_size_limit must stay free), every refusal is a 4xx, and a disk-full spell leaves
no empty segment files behind.  A daemon restarted on a completely full disk must still start
(it can only free space by delivering), and once the relay is back every message a client was
told was queued is delivered exactly once, the space comes back and new mail is accepted."""
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

import sluicetest as st

BODY = b"Subject: full\r\n\r\n" + (b"x" * 76 + b"\r\n") * 100   # ~8 KB


def can_mount():
    """A tmpfs can be mounted here (root, and mount(8) allowed)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    d = tempfile.mkdtemp(prefix="sluice-mnt-")
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                          capture_output=True).returncode != 0:
            return False
        subprocess.run(["umount", d], check=True)
        return True
    finally:
        os.rmdir(d)


def submit(port, rcpt):
    """One message; returns None when queued, else (stage, code, text) of the refusal."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("app@app.test", [rcpt], BODY)
        return None
    except smtplib.SMTPSenderRefused as e:
        return ("mail", e.smtp_code, e.smtp_error.decode(errors="replace"))
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return ("rcpt", code, text.decode(errors="replace"))
    except smtplib.SMTPDataError as e:
        return ("data", e.smtp_code, e.smtp_error.decode(errors="replace"))


@unittest.skipUnless(can_mount(), "needs root and a tmpfs mount")
class DiskFull(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-full-")
        self.mnt = os.path.join(self.dir, "fs")
        os.mkdir(self.mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", self.mnt], check=True)
        self.relay_port = st.free_port()   # nothing listens yet: deliveries are deferred
        qdir = os.path.join(self.mnt, "q")
        self.d = st.Daemon(workdir=self.dir, deliver=True, queue_directory=qdir,
                           relayhost=f"[127.0.0.1]:{self.relay_port}",
                           spool_segment_size="1m", message_size_limit="100k",
                           minimal_backoff_time="1h", maximal_backoff_time="2h")
        self.d.qdir = qdir
        self.sink = None

    def tearDown(self):
        self.d.stop()
        if self.sink:
            self.sink.kill()
        subprocess.run(["umount", "-l", self.mnt])
        shutil.rmtree(self.dir, ignore_errors=True)

    def delivered(self):
        return [rc for rec in self.sink.records() for rc in rec["rcpts"]]

    def spool_files(self):
        return os.listdir(os.path.join(self.mnt, "q", "spool"))

    def fill(self):
        """Submit until ten refusals in a row; returns (queued recipients, refusals)."""
        queued, refusals, streak, n = [], [], 0, 0
        while streak < 10:
            n += 1
            self.assertLess(n, 2000, "the 6 MB file system never filled up")
            rcpt = f"u{n}@dest.test"
            r = submit(self.d.port, rcpt)
            if r is None:
                queued.append(rcpt)
                streak = 0
            else:
                refusals.append(r)
                streak += 1
        return queued, refusals

    def test_full_then_drain(self):
        self.d.start()
        queued, refusals = self.fill()
        self.assertGreater(len(queued), 300)   # 6 MB of ~8 KB messages, less the reserve
        for stage, code, text in refusals:
            self.assertTrue(400 <= code < 500, f"a refusal that is not temporary: {code} {text}")
        at_mail = [r for r in refusals if r[0] == "mail"]
        self.assertTrue(at_mail, f"no refusal at MAIL FROM: {refusals[:5]}")
        self.assertEqual(at_mail[-1][1], 452)
        self.assertIn("4.3.1", at_mail[-1][2])
        self.assertTrue("bytes left for the queue" in self.d.logtext(), "no low-space line")
        self.assertLess(len(self.spool_files()), 30, "failed segments were left behind")

        # fill the rest of the file system (the zero-filled spare segment too, which would
        # otherwise give the restart its first segment), then restart: sluiced must come up
        self.d.stop()
        spare = os.path.join(self.mnt, "q", "spool", "spare.tmp")
        if os.path.exists(spare):
            os.unlink(spare)
        try:
            with open(os.path.join(self.mnt, "filler"), "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:   # ENOSPC, at the open or at a write
            pass
        self.assertLess(shutil.disk_usage(self.mnt).free, 8192)
        self.d.start()   # recovery may free an empty segment, else the head waits for room
        self.assertEqual(len(self.d.queue()), len(queued))
        r = submit(self.d.port, "late@dest.test")
        self.assertIsNotNone(r)
        self.assertEqual(r[:2], ("mail", 452))

        # the relay comes back: everything queued is delivered once, the space comes back
        self.sink = st.Sink(listen=[f"127.0.0.1:{self.relay_port}"])
        self.d.sluice("queue", "flush")
        st.wait_for(lambda: not self.d.queue(), timeout=60, what="the queue to drain")
        st.wait_for(lambda: len(self.delivered()) >= len(queued), what="the sink's records")
        time.sleep(0.5)   # anything more would be a duplicate
        got = self.delivered()
        self.assertEqual(sorted(got), sorted(queued), "lost or duplicated mail")
        self.assertGreater(shutil.disk_usage(self.mnt).free, 4 * 1024 * 1024)
        if os.path.exists(os.path.join(self.mnt, "filler")):
            os.unlink(os.path.join(self.mnt, "filler"))
        self.assertIsNone(submit(self.d.port, "after@dest.test"))
        st.wait_for(lambda: "accepting mail" in self.d.logtext(), what="the recovery line")
        # a disk-full spell is logged now and then, not once per failed record
        self.assertLess(self.d.logtext().count("could not be made durable"), 10)


@unittest.skipUnless(can_mount(), "needs root and a tmpfs mount")
class DeclaredSize(unittest.TestCase):
    """MAIL FROM's SIZE= counts, on a 256 MB tmpfs nothing else writes to: the room must
    stay at queue_minfree after the message, and a message may fill at most half of it."""

    def test_size_against_queue_minfree(self):
        tmp = tempfile.mkdtemp(prefix="sluice-size-")
        mnt = os.path.join(tmp, "fs")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", mnt], check=True)
        qdir = os.path.join(mnt, "q")
        d = st.Daemon(workdir=tmp, queue_directory=qdir, spool_segment_size="1m",
                      message_size_limit="60m", queue_minfree="210m")
        d.qdir = qdir
        try:
            d.start()

            def mail(size):
                c = st.SMTPRaw(d.port)
                c.reply()
                c.send("EHLO t\r\n")
                c.reply()
                c.send(f"MAIL FROM:<a@app.test> SIZE={size}\r\n" if size else "MAIL FROM:<a@app.test>\r\n")
                code, lines = c.reply()
                c.close()
                return code, lines[-1]

            self.assertEqual(mail(None)[0], 250)        # ~254 MB free, 210 MB to keep
            self.assertEqual(mail(20 << 20)[0], 250)    # 24 MB to spare after it
            code, text = mail(50 << 20)                 # would leave less than queue_minfree
            self.assertEqual(code, 452)
            self.assertIn("4.3.1 Insufficient system storage", text)
            d.stop()
            d.params["queue_minfree"] = 0
            d.params["message_size_limit"] = "150m"     # keep 225 MB free: the fs has ~254
            d.write_conf()
            d.start()
            self.assertEqual(mail(20 << 20)[0], 250)
            self.assertEqual(mail(140 << 20)[0], 452)   # over half of the room
        finally:
            d.cleanup()
            subprocess.run(["umount", "-l", mnt])
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    st.main()
