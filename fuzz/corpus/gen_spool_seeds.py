#!/usr/bin/env python3
"""Writes seed segments for fuzz_spool_record (the record layout of spool_record.h)."""
import os
import struct

POLY = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("<I", len(x)) + x


def record(rtype, lsn, payload):
    head = struct.pack("<BBHIQ", rtype, 1, 0, len(payload), lsn)
    crc = crc32c(head + payload)
    return b"SLRC" + head + struct.pack("<I", crc) + payload + b"SLND"


def rcpt_state(state, attempts, nxt, reply):
    return struct.pack("<BHq", state, attempts, nxt) + s(reply)


def msg(qid, lsn, rcpts, body, flags=0):
    p = struct.pack("<QqI", qid, 1795864234000000, flags) + s("a@example.com") + s("127.0.0.1")
    p += s("client.test") + s("ESMTP") + s("") + struct.pack("<I", len(rcpts))
    for r in rcpts:
        p += s(r) + rcpt_state(0, 0, 0, "")
    p += struct.pack("<Q", len(body)) + body
    return record(2, lsn, p)


seg = record(1, 0, struct.pack("<Qq", 1, 1795864234000000))
m1 = msg(1001, 1, ["b@example.org", "c@example.net"], b"Subject: x\r\n\r\nhello\r\n")
m2 = msg(1002, 2, ["d@example.org"], b"body two\r\n")
r1 = record(3, 3, struct.pack("<QI", 1001, 0) + rcpt_state(2, 1, 0, "250 ok"))
r2 = record(3, 4, struct.pack("<QI", 1001, 1) + rcpt_state(1, 1, 99, "451 4.7.1 greylisted"))
op = record(4, 5, struct.pack("<QB", 1002, 1))
copy = msg(1001, 6, ["b@example.org", "c@example.net"], b"Subject: x\r\n\r\nhello\r\n")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_spool_record")
os.makedirs(out, exist_ok=True)
seeds = {
    "plain": seg + m1 + m2,
    "updates": seg + m1 + m2 + r1 + r2 + op,
    "compacted": seg + m1 + r1 + copy + r2,
    "torn": seg + m1 + m2[:-7],
    "damaged": seg + m1[:40] + b"\xff" + m1[41:] + m2,
    "delete": seg + m2 + record(4, 9, struct.pack("<QB", 1002, 3)),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x00" + data)   # first byte: where the fuzzer splits into two segments
