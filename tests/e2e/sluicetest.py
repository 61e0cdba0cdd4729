"""sluicetest - helpers for the end-to-end tests: run the real sluiced from an inline config
on loopback, drive it with real clients (smtplib, swaks, raw sockets), read its queue.

Paths come from the environment ctest sets: SLUICED, SLUICE (built programs)."""
import json
import os
import shutil
import signal
import random
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SLUICED = os.environ.get("SLUICED", "sluiced")
SLUICE = os.environ.get("SLUICE", "sluice")


def free_port():
    """An unused TCP port, the same number free on 127.0.0.1, .2 and .3 (tests put MX hosts
    there).  Picked below the kernel's ephemeral range (32768-60999), which the outgoing
    connections of tests running in parallel draw from: a port taken from that range could
    be in use as a connection's source port on 127.0.0.2 by the time a sink binds it."""
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(20000, 32000)
        try:
            for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
                with socket.socket() as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    with socket.socket() as s:   # crowded: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, step=0.02, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def make_cert(directory, cn="localhost"):
    """A self-signed certificate and key (PEM) in directory; returns (cert, key)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", f"/CN={cn}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(conf_value(x) for x in v) + "]"
    return json.dumps(str(v))


_blackhole = None


def blackhole_port():
    """A loopback port that accepts connections (in the kernel's backlog) and never says a
    word: a relayhost that keeps deliveries waiting, so mail stays queued."""
    global _blackhole
    if _blackhole is None:
        _blackhole = socket.socket()
        _blackhole.bind(("127.0.0.1", 0))
        _blackhole.listen(4096)
    return _blackhole.getsockname()[1]


class Daemon:
    """One sluiced with its own queue directory and config file.  Unless deliver=True, its
    mail is relayed to a black hole on loopback (and DNS points at a dead loopback port), so
    accepted mail stays in the queue and nothing ever leaves the machine."""

    def __init__(self, workdir=None, deliver=False, **params):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="sluice-e2e-")
        self.port = params.pop("port", None) or free_port()
        self.qdir = os.path.join(self.dir, "queue")
        self.params = {"queue_directory": self.qdir, "listen": [f"127.0.0.1:{self.port}"],
                       "myhostname": "mta.sluice.test", "dns_servers": ["127.0.0.1@1"]}
        if not deliver:
            self.params["relayhost"] = f"[127.0.0.1]:{blackhole_port()}"
        self.params.update(params)
        self.conf = os.path.join(self.dir, "sluice.conf")
        self.log = os.path.join(self.dir, "sluiced.log")
        self.proc = None
        self.write_conf()

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("# written by sluicetest\n")
            for k, v in self.params.items():
                f.write(f"{k} = {conf_value(v)};\n")

    def start(self, wait=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([SLUICED, "-c", self.conf], stdout=logf, stderr=logf)
        logf.close()
        if wait:
            sock = os.path.join(self.qdir, "control.sock")
            wait_for(lambda: self.proc.poll() is not None or (self.listening() and os.path.exists(sock)),
                     what="sluiced to listen")
            if self.proc.poll() is not None:
                raise AssertionError(f"sluiced exited with {self.proc.returncode}:\n{self.logtext()}")
        return self

    def listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.recv(512)
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluiced did not stop on " + str(sig))
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sluice(self, *args, input=None, check=True, prog=None):
        """Run the sluice CLI with this daemon's config; returns CompletedProcess."""
        argv = [prog or SLUICE, "-c", self.conf] + list(args)
        if prog:   # sendmail-style: config via -C
            argv = [prog, "-C", self.conf] + list(args)
        r = subprocess.run(argv, input=input, capture_output=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"{argv} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
        return r

    def queue(self):
        """The queue as a list of postqueue -j objects."""
        r = self.sluice("queue", "list", "--json")
        return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


class SMTPRaw:
    """A raw SMTP client for byte-exact conversations (pipelining, bad input)."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got " + repr(self.buf))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def closed(self, timeout=5):
        """True when the server closes the connection (after any pending bytes)."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def main():
    """Run the unittest cases of the calling module; print a summary line."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print(f"{r.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


class Sink:
    """`sluice sink` with the given arguments; waits for its listeners; stop() returns the
    summary (JSON) and records() the --record lines."""

    def __init__(self, *args, listen=None, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="sluice-sink-")
        self.record = os.path.join(self.dir, "record.jsonl")
        self.store = os.path.join(self.dir, "store")
        self.err = os.path.join(self.dir, "sink.err")
        listen = listen or [f"127.0.0.1:{free_port()}"]
        argv = [SLUICE, "sink", "--json", "--record", self.record, "--store", self.store] + list(args)
        for l in listen:
            argv += ["--listen", l]
        self.errf = open(self.err, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.errf)
        want = len(listen)
        wait_for(lambda: self.proc.poll() is not None or self.errtext().count("listening on") >= want,
                 what="the sink to listen")
        if self.proc.poll() is not None:
            raise AssertionError("sink exited: " + self.errtext())

    def errtext(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        self.errf.close()
        lines = [l for l in out.decode().splitlines() if l.strip().startswith("{")]
        return json.loads(lines[-1]) if lines else {}

    def records(self, event="accept"):
        try:
            with open(self.record) as f:
                rs = [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [r for r in rs if r.get("event") == event]

    def stored(self, queue_id):
        with open(os.path.join(self.store, queue_id + ".eml"), "rb") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.errf.close()
