"""knot - a real local authoritative DNS server (Knot) for tests, and a dead one.

    from knot import Knot, DeadServer

    zones = {"d1.test": "@ MX 10 mx1\\n@ MX 10 mx2\\nmx1 A 127.0.0.2\\nmx2 A 127.0.0.3\\n",
             "nullmx.test": "@ MX 0 .\\n"}
    with Knot(zones) as k:                 # knotd runs, every zone answers
        k.server                           # "127.0.0.1@PORT": dns_new(), dns_servers = ...
        k.query("d1.test", "MX")           # the raw answer packet (bytes)
    with DeadServer() as dead:             # UDP and TCP on a port that never answer
        dead.server                        # "127.0.0.1@PORT", for timeout tests

Zone text is written relative to the zone: "$ORIGIN <zone>." and "$TTL 300" come first, and
when the text has no SOA record an SOA and an NS (ns.<zone> at 127.0.0.1) are added.  Knot
runs as the current user (ports above 1024 need no root) with its config, zone files, run
directory and databases in a temp dir that stop() removes.  Stdlib only.
Knot.available() says whether knotd is installed (scripts/deps.sh test installs it)."""
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

RTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
KNOTD_PATHS = ("/usr/sbin/knotd", "/usr/local/sbin/knotd", "/usr/bin/knotd")


def knotd_path():
    """The knotd binary, or None."""
    for p in KNOTD_PATHS:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("knotd")


def bind_pair(addr="127.0.0.1"):
    """(udp, tcp): two sockets bound to the same free port on addr."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((addr, 0))
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.bind((addr, udp.getsockname()[1]))
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
    raise RuntimeError("no free port pair on " + addr)


def server_name(addr, port):
    return f"{addr}@{port}"


def build_query(name, rtype, qid=None):
    """A DNS query packet (RD set) for name and type ("MX" or a number)."""
    qid = random.randrange(65536) if qid is None else qid
    t = RTYPES[rtype.upper()] if isinstance(rtype, str) else int(rtype)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        if label:
            q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", t, 1)


def udp_query(addr, port, name, rtype, timeout=1.0):
    """Send one query over UDP; the raw answer, or None on timeout."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    q = build_query(name, rtype)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (addr, port))
        try:
            while True:
                r, _ = s.recvfrom(65535)
                if r[:2] == q[:2]:
                    return r
        except socket.timeout:
            return None


class Knot:
    """One knotd serving the given zones on a free loopback port."""

    def __init__(self, zones, port=None, addr="127.0.0.1", start=True, timeout=10.0):
        self.zones = dict(zones)
        self.addr = addr
        self.port = port
        self.timeout = timeout
        self.dir = None
        self.proc = None
        if start:
            self.start()

    @staticmethod
    def available():
        return knotd_path() is not None

    @property
    def server(self):
        """"ADDR@PORT" for dns_new() and the dns_servers parameter."""
        return server_name(self.addr, self.port)

    def zone_text(self, zone, text):
        head = f"$ORIGIN {zone.rstrip('.')}.\n$TTL 300\n"
        if not any(len(l.split()) > 1 and "SOA" in l.split()[:4] for l in text.splitlines()):
            head += "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n"
        return head + text + ("" if text.endswith("\n") else "\n")

    def config(self):
        d = self.dir
        zones = "".join(f"  - domain: {z.rstrip('.')}\n" for z in self.zones)
        return (f'server:\n    rundir: "{d}"\n    listen: {self.addr}@{self.port}\n'
                "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
                f'database:\n    storage: "{d}"\n'
                "log:\n  - target: stderr\n    any: warning\n"
                f'template:\n  - id: default\n    storage: "{d}"\n    file: "%s.zone"\n'
                "    zonefile-sync: -1\n    journal-content: none\n"
                f"zone:\n{zones}")

    def start(self):
        knotd = knotd_path()
        if not knotd:
            raise RuntimeError("knotd is not installed (scripts/deps.sh test)")
        self.dir = tempfile.mkdtemp(prefix="sluice-knot-")
        if self.port is None:
            udp, tcp = bind_pair(self.addr)
            self.port = udp.getsockname()[1]
            udp.close()
            tcp.close()
        for zone, text in self.zones.items():
            with open(os.path.join(self.dir, zone.rstrip(".") + ".zone"), "w") as f:
                f.write(self.zone_text(zone, text))
        conf = os.path.join(self.dir, "knot.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        self.log = os.path.join(self.dir, "knotd.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([knotd, "-c", conf], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        self.wait_ready()
        return self

    def answers(self, zone):
        """True when Knot answers the zone's SOA with NOERROR and an answer."""
        r = udp_query(self.addr, self.port, zone, "SOA", timeout=0.05)
        return r is not None and len(r) >= 12 and r[3] & 15 == 0 and r[6:8] != b"\0\0"

    def wait_ready(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if all(self.answers(z) for z in self.zones):
                return
            time.sleep(0.02)
        tail = open(self.log, errors="replace").read()[-2000:]
        self.stop()
        raise RuntimeError(f"knotd did not come up on port {self.port}:\n{tail}")

    def query(self, name, rtype, timeout=1.0):
        """The raw answer of this server to one UDP query (None on timeout)."""
        return udp_query(self.addr, self.port, name, rtype, timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        self.stop()


class DeadServer:
    """A DNS server that never answers: a UDP socket nobody reads and a TCP listener nobody
    accepts, on one free port.  Queries sent there time out (no ICMP port unreachable, no
    connection refused), which is what a black-holed resolver looks like."""

    def __init__(self, addr="127.0.0.1"):
        self.addr = addr
        self.udp, self.tcp = bind_pair(addr)
        self.tcp.listen(1)
        self.port = self.udp.getsockname()[1]

    @property
    def server(self):
        return server_name(self.addr, self.port)

    def close(self):
        for s in (self.udp, self.tcp):
            if s:
                s.close()
        self.udp = self.tcp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    # A quick self-check: python3 knot.py
    with Knot({"d1.test": "@ MX 10 mx1\nmx1 A 127.0.0.2\n"}) as k:
        r = k.query("d1.test", "MX")
        print(k.server, "answered", len(r), "bytes, rcode", r[3] & 15)
    with DeadServer() as dead:
        print(dead.server, "answered", udp_query(dead.addr, dead.port, "d1.test", "MX", 0.2))
