/* dnsbl_zones.c - the curated DNSBL list of `sluice doctor ip`: data only, one entry per
 * zone with why it is here.  docs/doctor.md repeats the list with its version.
 *
 * Version 2026-11 (reviewed 2026-11-28).  Rules for an entry: an IP blocklist (domain lists
 * such as SURBL or Spamhaus DBL answer other questions), run today and used by real
 * receivers, free to query at a doctor's volume, answering the RFC 5782 test points, and
 * listing single addresses for something the sender can fix.  Left out on purpose: SORBS
 * (shut down in 2024; dead zones may start answering everything), UCEPROTECT levels 2 and 3
 * (they list whole networks and ASNs for the neighbours' behaviour), keyed services
 * (Spamhaus DQS, Abusix Mail Intelligence), and lists folded into ZEN (CBL, XBL, PBL).
 * ipv6 is set only where the operator documents IPv6 data; asking an IPv4-only zone about
 * an IPv6 address would answer NXDOMAIN and read as "not listed".  Change the version when
 * an entry changes. */
#include "doctor/dnsbl.h"

const char dnsbl_list_version[] = "2026-11";

/* Spamhaus's documented return codes for ZEN (the 127.255.255.x errors are in dnsbl.c). */
static const dnsbl_code zen_codes[] = {
    {2, "SBL: a spam source or spam operation Spamhaus has verified"},
    {3, "SBL CSS: snowshoe or low-reputation bulk sending, listed automatically"},
    {4, "XBL: the address has shown infected or exploited behaviour (bots, proxies)"},
    {9, "SBL DROP: a hijacked or criminal network"},
    {10, "PBL (ISP): the network's owner says this address should not send mail directly"},
    {11, "PBL (Spamhaus): a range that does not look like it holds mail servers"},
    {30, "BCL: a botnet controller"},
    {0, 0},
};

const dnsbl_zone dnsbl_curated[] = {
    {"zen.spamhaus.org", "Spamhaus ZEN", 1,
     "the most widely used IP blocklist (SBL, CSS, XBL and PBL in one zone); a listing here "
     "means rejection at a large share of receivers",
     "https://check.spamhaus.org/", zen_codes},
    {"b.barracudacentral.org", "Barracuda BRBL", 0,
     "used by Barracuda's appliances and cloud filters in front of many corporate mailboxes "
     "(queries need the resolver's address registered, free; else no answer)",
     "https://www.barracudacentral.org/lookups", NULL},
    {"bl.spamcop.net", "SpamCop", 0,
     "driven by recipients' spam reports with short-lived listings; consulted by many "
     "receivers and SpamAssassin",
     "https://www.spamcop.net/bl.shtml", NULL},
    {"dnsbl-1.uceprotect.net", "UCEPROTECT level 1", 0,
     "single addresses seen at spamtraps, expiring after 7 days without new hits; used by a "
     "number of European receivers",
     "https://www.uceprotect.net/", NULL},
    {"psbl.surriel.com", "PSBL", 0,
     "passive spamtrap hits with self-service removal; used by SpamAssassin rules",
     "https://psbl.org/", NULL},
    {"bl.mailspike.net", "Mailspike BL", 0,
     "real-time spam waves and poor-reputation addresses; used by SpamAssassin rules and "
     "several providers",
     "https://mailspike.io/", NULL},
};

const int dnsbl_ncurated = (int)(sizeof dnsbl_curated / sizeof dnsbl_curated[0]);
