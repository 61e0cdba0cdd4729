/* dnsbl.h - DNS blocklist checks of a sending address for `sluice doctor ip` and the
 * daemon's watch of its own addresses (daemon/blwatch.c): the curated,
 * versioned zone list (dnsbl_zones.c), query names and the verdict rules (dnsbl.c), and
 * the lookups themselves, all zones at once, on the daemon's loop or a private one
 * (dnsbl_query.c).
 *
 * A zone's answer counts only when the zone passes its self-test (RFC 5782 5): the test
 * point 127.0.0.2 must be listed with a 127.0.0.0/8 code and 127.0.0.1 must not be.  An
 * answer in 127.255.255.0/24 (Spamhaus's error codes: the query was refused, not judged)
 * or outside 127.0.0.0/8 (a resolver rewriting NXDOMAIN, a parked zone) is "unknown",
 * never "listed". */
#ifndef SLUICE_DNSBL_H
#define SLUICE_DNSBL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

typedef struct dnsbl_code {
    uint8_t last; /* 127.0.0.<last> */
    const char *meaning;
} dnsbl_code;

typedef struct dnsbl_zone {
    const char *zone;        /* "zen.spamhaus.org" */
    const char *name;        /* "Spamhaus ZEN" */
    int ipv6;                /* publishes IPv6 data, queried in RFC 5782 nibble form */
    const char *why;         /* why it is on the list */
    const char *delist;      /* where a listed sender looks and asks for removal */
    const dnsbl_code *codes; /* known return codes ending with {0, NULL}; NULL: none */
} dnsbl_zone;

extern const char dnsbl_list_version[];
extern const dnsbl_zone dnsbl_curated[];
extern const int dnsbl_ncurated;

enum dnsbl_verdict { DNSBL_CLEAR, DNSBL_LISTED, DNSBL_UNKNOWN, DNSBL_SKIPPED };

typedef struct dnsbl_result {
    const dnsbl_zone *zone;
    enum dnsbl_verdict verdict;
    int bad_answer;  /* UNKNOWN because the zone or resolver answered wrongly (an
                                * error code, a non-127 answer, a zone listing everything),
                                * not merely no answer */
    char why[400];   /* LISTED: the codes and their meaning; else the reason */
    char query[300]; /* the name looked up */
    char *txt;       /* the zone's TXT text for a listing, or NULL (owned) */
} dnsbl_result;

/* dnsbl_query_name - "d.c.b.a.ZONE", or 32 reversed nibbles for IPv6 (IPv4-mapped IPv6 as
 * IPv4); 0, or -1 when it does not fit */
int dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *buf, size_t len);
/* dnsbl_judge - the verdict for one zone from its answers: the two test points and the
 * address (subject NULL: the zone was not asked, the address is IPv6 and it has no IPv6
 * data).  txt (may be NULL) is the zone's TXT text for the address, copied when listed. */
void dnsbl_judge(const dnsbl_zone *z, const dns_addr_result *listed_point,
                 const dns_addr_result *clean_point, const dns_addr_result *subject,
                 const char *txt, dnsbl_result *out);
/* dnsbl_lookup_start - every zone's self-test and the address, all queries in flight together
 * on d's loop; out[i] is filled for zones[i] and cb(arg) runs once all are answered (never
 * from inside this call).  The lookup frees itself after cb.  NULL when nothing had to be
 * asked (every zone skipped: out is final already, cb is not called).  zones, ip's bytes
 * and out must outlive the lookup (ip is used only during this call). */
typedef struct dnsbl_lookup dnsbl_lookup;
typedef void (*dnsbl_done_cb)(void *arg);
dnsbl_lookup *dnsbl_lookup_start(dns_ctx *d, const struct sockaddr *ip, const dnsbl_zone *zones,
                                 int n, dnsbl_result *out, dnsbl_done_cb cb, void *arg);
/* dnsbl_lookup_cancel - stop a lookup before its cb (cb never runs; out is left as it is) */
void dnsbl_lookup_cancel(dnsbl_lookup *l);
/* dnsbl_check - every zone's self-test and the address, all queries in flight together on
 * a private event loop over src/dns (server as in dns_new); out[i] for zones[i].  0, or -1
 * with err when no resolver could be made. */
int dnsbl_check(const char *server, int64_t timeout_ms, const struct sockaddr *ip,
                const dnsbl_zone *zones, int n, dnsbl_result *out, char *err, int errlen);
void dnsbl_result_clear(dnsbl_result *r);
const char *dnsbl_verdict_name(enum dnsbl_verdict v);

#endif
