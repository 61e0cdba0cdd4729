"""End to end: reloading the configuration (SIGHUP, `sluice reload`) while clients submit.
A valid configuration takes effect (the banner changes) in the same process (same pid),
the listening socket is handed over, so no client is ever refused a connection, and the
queue afterwards holds exactly the messages clients were told were queued.  An invalid
configuration is refused: `sluice reload` says why and signals nothing, a bare SIGHUP is
logged, and sluiced keeps running with the previous one."""
import os
import signal
import smtplib
import socket
import threading
import time
import unittest

import sluicetest as st


class Clients:
    """Threads that submit, a new connection per message, and note what they were told."""

    def __init__(self, port, n=4):
        self.port, self.lock, self.stop = port, threading.Lock(), threading.Event()
        self.acked, self.refused_conn, self.other, self.serial = set(), 0, 0, 0
        self.threads = [threading.Thread(target=self.run) for _ in range(n)]
        for t in self.threads:
            t.start()

    def next_rcpt(self):
        with self.lock:
            self.serial += 1
            return f"r{self.serial}@dest.test"

    def run(self):
        while not self.stop.is_set():
            rcpt = self.next_rcpt()
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                    s.sendmail("a@app.test", [rcpt], b"Subject: reload\r\n\r\nx\r\n")
                with self.lock:
                    self.acked.add(rcpt)
            except ConnectionRefusedError:
                with self.lock:
                    self.refused_conn += 1
            except (OSError, smtplib.SMTPException):   # a 421 from the stopping process
                with self.lock:
                    self.other += 1

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def banner(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        return s.recv(512).decode()


class Reload(unittest.TestCase):
    def setUp(self):
        self.d = st.Daemon(smtpd_banner="$myhostname ESMTP gen0")
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def set_banner(self, text):
        self.d.params["smtpd_banner"] = f"$myhostname ESMTP {text}"
        self.d.write_conf()

    def test_reload_under_load(self):
        pid = self.d.proc.pid
        clients = Clients(self.d.port)
        try:
            for gen in range(1, 4):
                time.sleep(0.3)
                self.set_banner(f"gen{gen}")
                if gen % 2:
                    self.d.proc.send_signal(signal.SIGHUP)
                else:
                    r = self.d.sluice("reload")
                    self.assertIn(b"runs with the new configuration", r.stdout)
                st.wait_for(lambda: f"gen{gen}" in banner(self.d.port), what=f"banner gen{gen}")
            time.sleep(0.3)
        finally:
            clients.finish()
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.proc.pid, pid)
        self.assertEqual(self.d.logtext().count("reload: the configuration is valid"), 3)
        print(f"acked {len(clients.acked)}, refused connections {clients.refused_conn}, other errors {clients.other}")
        self.assertEqual(clients.refused_conn, 0, "a client was refused while sluiced reloaded")
        self.assertGreater(len(clients.acked), 20)
        queued = [r["address"] for m in self.d.queue() for r in m["recipients"]]
        self.assertEqual(len(queued), len(set(queued)), "a message queued twice")
        self.assertEqual(set(queued) - clients.acked, set(), "queued behind a client's back")
        self.assertEqual(clients.acked - set(queued), set(), "acknowledged but lost")

    def test_invalid_configuration_is_refused(self):
        self.d.params["smtpd_recipient_limit"] = 0   # out of range
        self.set_banner("broken")
        r = self.d.sluice("reload", check=False)
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"smtpd_recipient_limit", r.stderr)
        self.d.proc.send_signal(signal.SIGHUP)
        st.wait_for(lambda: "reload: configuration error" in self.d.logtext(), what="the error line")
        self.assertIn("still running with the previous one", self.d.logtext())
        self.assertIn("gen0", banner(self.d.port))
        self.assertIsNone(self.d.proc.poll())
        del self.d.params["smtpd_recipient_limit"]
        self.set_banner("fixed")
        self.d.sluice("reload")
        self.assertIn("fixed", banner(self.d.port))

    def test_signals_during_a_reload(self):
        pid = self.d.proc.pid
        self.set_banner("again")
        self.d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.005)
        self.d.proc.send_signal(signal.SIGHUP)   # mid-reload: neither may kill it
        self.d.proc.send_signal(signal.SIGUSR1)  # (logrotate)
        st.wait_for(lambda: "again" in banner(self.d.port), what="the new banner")
        time.sleep(0.2)
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.proc.pid, pid)
        self.assertIn("again", banner(self.d.port))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to drop to mail_owner")
    def test_what_the_unprivileged_daemon_cannot_open_is_refused(self):
        d = st.Daemon(mail_owner="nobody", smtpd_banner="$myhostname ESMTP first")
        self.addCleanup(d.cleanup)
        os.chmod(d.dir, 0o755)   # mail_owner must reach the queue directory
        d.params["maillog_file"] = os.path.join(d.dir, "mail.log")   # root creates it
        d.write_conf()
        d.start()
        d.params["smtpd_banner"] = "$myhostname ESMTP second"
        d.write_conf()
        r = d.sluice("reload", check=False)   # the log root made is mail_owner's now
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("second", banner(d.port))
        locked = os.path.join(d.dir, "rootonly")
        os.mkdir(locked, 0o700)
        d.params["maillog_file"] = os.path.join(locked, "mail.log")
        d.params["smtpd_banner"] = "$myhostname ESMTP unopenable"
        d.write_conf()
        r = d.sluice("reload", check=False)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"maillog_file", r.stderr)
        self.assertIn(b"as nobody", r.stderr)
        self.assertIsNone(d.proc.poll())
        self.assertIn("second", banner(d.port))

    def test_unbindable_new_address_is_refused(self):
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        self.addCleanup(held.close)
        port = held.getsockname()[1]
        self.d.params["listen"] = [f"127.0.0.1:{self.d.port}", f"127.0.0.1:{port}"]
        self.set_banner("two")
        r = self.d.sluice("reload", check=False)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"Address already in use", r.stderr)
        self.assertIsNone(self.d.proc.poll())
        self.assertIn("gen0", banner(self.d.port))

    def test_usr1_only_reopens_the_log(self):
        self.set_banner("unread")
        self.d.proc.send_signal(signal.SIGUSR1)
        st.wait_for(lambda: "SIGUSR1: log reopened" in self.d.logtext(), what="the reopen line")
        self.assertIn("gen0", banner(self.d.port))


if __name__ == "__main__":
    st.main()
