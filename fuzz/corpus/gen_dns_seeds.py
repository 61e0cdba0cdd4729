#!/usr/bin/env python3
"""Writes seeds for fuzz_dns_packet: real answers captured from a local Knot (through
tests/e2e/knot.py) and hand-built hostile packets.  Seed layout: one byte choosing the
query type (index into fuzz_dns_packet.c's qtypes[]), the query name, a NUL, the packet.
Run from anywhere: python3 fuzz/corpus/gen_dns_seeds.py"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from knot import Knot  # noqa: E402

OUT = os.path.join(HERE, "fuzz_dns_packet")
QTYPES = ["MX", "A", "AAAA", "TXT", "PTR", "CNAME"]
TYPE_NUM = {"A": 1, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}

ZONES = {
    "d1.test": "@ MX 10 mx1\n@ MX 10 mx2\n@ MX 20 backup.d1.test.\nmx1 A 127.0.0.2\n"
               "mx2 A 127.0.0.3\nmx2 AAAA fd00::3\nwww CNAME mx1\nw2 CNAME www\n"
               "txt TXT \"v=spf1 \" \"ip4:127.0.0.0/8 -all\"\ntxt TXT \"second\"\n"
               "_dmarc TXT \"v=DMARC1; p=reject\"\n",
    "nullmx.test": "@ MX 0 .\n",
    "aonly.test": "@ A 127.0.0.4\n",
    "127.in-addr.arpa": "2.0.0 PTR mx1.d1.test.\n",
}

CAPTURES = [
    ("mx", "d1.test", "MX"), ("mx_null", "nullmx.test", "MX"), ("mx_nodata", "aonly.test", "MX"),
    ("mx_nxdomain", "nosuch.d1.test", "MX"), ("a", "mx1.d1.test", "A"),
    ("a_cname", "w2.d1.test", "A"), ("aaaa", "mx2.d1.test", "AAAA"),
    ("txt", "txt.d1.test", "TXT"), ("txt_dmarc", "_dmarc.d1.test", "TXT"),
    ("ptr", "2.0.0.127.in-addr.arpa", "PTR"), ("refused", "other.example", "MX"),
]


def seed(name, qname, qtype, packet):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([QTYPES.index(qtype)]) + qname.encode() + b"\0" + packet)


def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def head(qname, qtype, an, ns=0, rcode=0):
    return struct.pack(">HHHHHH", 7, 0x8180 | rcode, 1, an, ns, 0) + wire(qname) + \
        struct.pack(">HH", TYPE_NUM[qtype], 1)


def rr(owner, rtype, rdata, ttl=60):
    return owner + struct.pack(">HHIH", TYPE_NUM[rtype], 1, ttl, len(rdata)) + rdata


def hostile():
    ptr12 = b"\xc0\x0c"
    p = head("d1.test", "MX", 1)
    yield "loop_self", "d1.test", "MX", p + struct.pack(">H", 0xC000 | len(p)) + \
        struct.pack(">HHIH", 15, 1, 60, 4) + b"\0\x0a\xc0\x0c"
    p = head("d1.test", "MX", 1)
    yield "loop_forward", "d1.test", "MX", p + struct.pack(">H", 0xC000 | (len(p) + 2)) + \
        wire("d1.test") + struct.pack(">HHIH", 15, 1, 60, 3) + b"\0\x0a\0"
    yield "cname_loop", "a.x.test", "A", head("a.x.test", "A", 2) + \
        rr(ptr12, "CNAME", wire("b.x.test")) + rr(wire("b.x.test"), "CNAME", ptr12)
    yield "mx_inject", "d1.test", "MX", head("d1.test", "MX", 2) + \
        rr(ptr12, "MX", b"\0\x0a" + b"\x10mx1\r\nRCPT TO:<x>" + ptr12) + \
        rr(ptr12, "MX", b"\0\x14" + wire("127.0.0.1"))
    yield "oversized", "d1.test", "A", head("d1.test", "A", 0xFFFF)
    yield "txt_nul", "d1.test", "TXT", head("d1.test", "TXT", 1) + \
        rr(ptr12, "TXT", b"\x03a\0b\x02ok")
    yield "servfail", "d1.test", "MX", head("d1.test", "MX", 0, rcode=2)
    yield "nx_soa", "nx.d1.test", "MX", head("nx.d1.test", "MX", 0, ns=1, rcode=3) + \
        rr(wire("d1.test"), "SOA", wire("ns.d1.test") + wire("h.d1.test") +
           struct.pack(">IIIII", 1, 2, 3, 4, 30), ttl=600)
    long = b"".join(bytes([63]) + b"a" * 63 for _ in range(5)) + b"\0"
    yield "long_name", "d1.test", "A", head("d1.test", "A", 1) + \
        rr(long, "A", b"\x7f\0\0\1")


def main():
    os.makedirs(OUT, exist_ok=True)
    if Knot.available():
        with Knot(ZONES) as k:
            for name, qname, qtype in CAPTURES:
                r = k.query(qname, qtype)
                if r:
                    seed(name, qname, qtype, r)
    else:
        print("gen_dns_seeds: knotd not installed; only hand-built seeds", file=sys.stderr)
    for name, qname, qtype, packet in hostile():
        seed(name, qname, qtype, packet)


if __name__ == "__main__":
    main()
