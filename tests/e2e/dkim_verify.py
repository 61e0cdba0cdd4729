"""dkim_verify.py MESSAGE_FILE DNS_RECORD: verify the message's DKIM signatures with dkimpy
(Debian's python3-dkim, an implementation independent of sluice's), the key record given
as if it were published in DNS.  Prints "pass" or "fail" and exits 0 or 1; exits 2 when
dkimpy is not installed.  Run with /usr/bin/python3, the interpreter Debian's package is
for (the tests' own python3 may be another one)."""
import sys

try:
    import dkim
except ImportError:
    print("dkimpy is not installed (python3-dkim)")
    sys.exit(2)

msg = open(sys.argv[1], "rb").read()
record = sys.argv[2].encode()
ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: record)
print("pass" if ok else "fail")
sys.exit(0 if ok else 1)
