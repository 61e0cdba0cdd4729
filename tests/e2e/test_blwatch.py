"""End to end: sluiced watches its own sending addresses on DNS blocklists (dnsbl_watch_*)
against a real local Knot serving test zones.  One address listed (with a TXT reason), one
clear, a zone answering with error codes (unknown, never "listed"); the listing is logged
once however many rounds see it, `sluice status` shows it (JSON and text), and when the
zone drops the listing the daemon says it is no longer listed.  The watch can be turned
off, and a daemon stopped while its lookups hang on a dead resolver stops cleanly."""
import json
import re
import unittest

import sluicetest as st
from knot import DeadServer, Knot

LISTED = "127.0.1.11"
CLEAN = "127.0.1.10"


def zones(listed):
    bl = "2.0.0.127 A 127.0.0.2\n"
    if listed:   # a one-second TTL, so the next round asks again
        bl += ("11.1.0.127 1 A 127.0.0.2\n11.1.0.127 1 A 127.0.0.10\n"
               '11.1.0.127 1 TXT "listed for testing: http://dnsbl.test/11"\n')
    return {"dnsbl.test": bl, "err.test": "* 1 A 127.255.255.254\n"}


def status(d):
    return json.loads(d.sluice("status", "--json").stdout)


def entry(d, ip):
    for a in status(d).get("blocklists", {}).get("addresses", []):
        if a["address"] == ip:
            return a
    return None


def zone_of(a, zone):
    return next(z for z in a["zones"] if z["zone"] == zone)


@unittest.skipUnless(Knot.available(), "knotd is not installed")
class BlocklistWatch(unittest.TestCase):
    def test_listed_then_delisted(self):
        knot = Knot(zones(True))
        d = st.Daemon(dns_servers=[knot.server], dnsbl_watch_addresses=[LISTED, CLEAN],
                      dnsbl_watch_zones=["dnsbl.test", "err.test"], dnsbl_watch_interval="1s", dns_timeout="1s")
        try:
            d.start()
            st.wait_for(lambda: (entry(d, LISTED) or {}).get("listed") == 1, timeout=15,
                        what="the listing to show in status")
            a = entry(d, LISTED)
            self.assertEqual(a["source"], "dnsbl_watch_addresses")
            z = zone_of(a, "dnsbl.test")
            self.assertEqual(z["verdict"], "listed")
            self.assertEqual(z["txt"], "listed for testing: http://dnsbl.test/11")
            self.assertIn("127.0.0.2", z["why"])
            self.assertIn("127.0.0.10", z["why"])
            # error codes are "unknown", never a listing
            self.assertEqual(zone_of(a, "err.test")["verdict"], "unknown")
            st.wait_for(lambda: (entry(d, CLEAN) or {}).get("clear") == 1, what="the clean address")
            c = entry(d, CLEAN)
            self.assertEqual((c["listed"], c["unknown"]), (0, 1))
            # several rounds later the listing has been logged once
            first = status(d)["blocklists"]["last_check"]
            st.wait_for(lambda: status(d)["blocklists"]["last_check"] >= first + 2, timeout=15,
                        what="two more rounds")
            warn = f"our sending address {LISTED} is listed on dnsbl.test"
            self.assertEqual(d.logtext().count(warn), 1, d.logtext())
            self.assertNotIn(f"address {CLEAN} is listed", d.logtext())
            self.assertIn("the zone says: listed for testing", d.logtext())
            text = d.sluice("status").stdout.decode()
            self.assertRegex(text, r"blocklists: 2 lists, every 1s")
            self.assertRegex(text, re.escape(LISTED) + r".*1 listed, 0 clear, 1 unknown")
            self.assertIn("LISTED on dnsbl.test", text)
            # the zone cannot be asked: a listing stays a listing (unknown is never clear)
            port = knot.port
            knot.stop()
            st.wait_for(lambda: "cannot tell now whether 127.0.1.11 is still listed on dnsbl.test" in d.logtext(),
                        timeout=15, what="a round without answers")
            self.assertEqual(zone_of(entry(d, LISTED), "dnsbl.test")["verdict"], "listed")
            self.assertNotIn("no longer listed", d.logtext())
            # the zone drops the listing: the next rounds see it and say so once
            knot = Knot(zones(False), port=port)
            st.wait_for(lambda: zone_of(entry(d, LISTED), "dnsbl.test")["verdict"] == "clear",
                        timeout=15, what="the delisting to show")
            st.wait_for(lambda: "address 127.0.1.11 is no longer listed on dnsbl.test" in d.logtext(),
                        what="the delisting in the log")
            self.assertEqual(d.logtext().count(warn), 1)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()
            knot.stop()

    def test_off_and_stop_during_lookups(self):
        off = st.Daemon(dnsbl_watch_interval="0")
        try:
            off.start()
            self.assertEqual(status(off)["blocklists"]["off"], "dnsbl_watch_interval = 0")
            self.assertIn("blocklists: not watched", off.sluice("status").stdout.decode())
        finally:
            off.cleanup()
        with DeadServer() as dead:
            d = st.Daemon(dns_servers=[dead.server], dnsbl_watch_addresses=[LISTED, "::1"],
                          dnsbl_watch_interval="1h", dns_timeout="30s")
            try:
                d.start()
                b = status(d)["blocklists"]
                self.assertNotIn("last_check", b)   # the lookups hang on the dead resolver
                self.assertEqual([a["address"] for a in b["addresses"]], [LISTED, "::1"])
                self.assertEqual(d.stop(), 0)
            finally:
                d.cleanup()


if __name__ == "__main__":
    unittest.main()
