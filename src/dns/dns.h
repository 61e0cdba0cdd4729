/* dns.h - the asynchronous resolver behind one small API, on the daemon's libevent loop
 * (libunbound, ub_ctx_create_event: no threads, no blocking).
 *
 * Every answer arrives through a callback, never from inside the call that asked (so callers
 * need not guard against re-entry).  Answers are cached for their TTL (libunbound's cache).
 * Status is what a mail program needs to decide: OK; NXDOMAIN (the name does not exist:
 * permanent); NODATA (the name exists but has no record of that type); TEMPFAIL (SERVFAIL,
 * timeout, network: try later); BADNAME (not a valid domain name: permanent).  A hostile or
 * malformed answer never crashes anything: it is TEMPFAIL with a reason. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H
#include <event2/event.h>
#include <stdint.h>

#include "common/netaddr.h"

typedef struct dns_ctx dns_ctx;
typedef struct dns_query dns_query;

enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL, DNS_BADNAME };

typedef struct dns_mx {
    char *host;                /* lower case, no trailing dot */
    uint16_t pref;
} dns_mx;

/* MX answer: sorted by preference, random order among equal preference (RFC 5321 5.1).
 * null_mx: the domain publishes "MX 0 ." (RFC 7505): it accepts no mail (status OK, nmx 0).
 * Targets that are not valid host names (dns_valid_name) are dropped; when none remain the
 * status is TEMPFAIL "no valid MX host" (never an A fallback, never a bounce). */
typedef struct dns_mx_result {
    enum dns_status status;
    dns_mx *mx;
    int nmx;
    int null_mx;
    uint32_t ttl;
    const char *why;           /* human reason when not OK ("SERVFAIL", "timeout", ...) */
} dns_mx_result;

/* A/AAAA answer: the addresses (port 0), IPv6 first or IPv4 first as asked. */
typedef struct dns_addr_result {
    enum dns_status status;
    netaddr *addrs;
    int naddrs;
    uint32_t ttl;
    const char *why;
} dns_addr_result;

/* TXT and PTR answers: strings (TXT: the character-strings of one record concatenated).
 * TXT bytes are passed through as published (a record holding a NUL is skipped): escape
 * them before logging.  PTR names are valid host names only; when the records hold none
 * the status is NODATA. */
typedef struct dns_txt_result {
    enum dns_status status;
    char **v;
    int n;
    uint32_t ttl;
    const char *why;
} dns_txt_result;

typedef void (*dns_mx_cb)(void *arg, const dns_mx_result *r);
typedef void (*dns_addr_cb)(void *arg, const dns_addr_result *r);
typedef void (*dns_txt_cb)(void *arg, const dns_txt_result *r);

/* dns_new - a resolver.  servers: "" for the system's (/etc/resolv.conf), or a list like
 * "127.0.0.1@5353, ::1" of servers to forward every query to (a local authoritative server
 * in tests).  timeout_ms bounds each query (0: libunbound's own).  NULL with err filled. */
dns_ctx *dns_new(struct event_base *base, const char *servers, int64_t timeout_ms, char *err,
                 int errlen);
/* dns_free - cancel everything (no callbacks run afterwards) and free */
void dns_free(dns_ctx *d);

/* Queries.  The result (and everything it points to) is valid only during the callback.
 * The returned handle may be passed to dns_cancel before the callback has run. */
dns_query *dns_query_mx(dns_ctx *d, const char *domain, dns_mx_cb cb, void *arg);
/* family: AF_INET, AF_INET6, or AF_UNSPEC for both (IPv4 first when prefer_v4) */
dns_query *dns_query_addr(dns_ctx *d, const char *host, int family, int prefer_v4,
                          dns_addr_cb cb, void *arg);
dns_query *dns_query_txt(dns_ctx *d, const char *name, dns_txt_cb cb, void *arg);
/* dns_query_ptr - the names of an address (in-addr.arpa / ip6.arpa built here) */
dns_query *dns_query_ptr(dns_ctx *d, const struct sockaddr *addr, dns_txt_cb cb, void *arg);
void dns_cancel(dns_query *q);

/* dns_valid_name - a syntactically valid host/domain name (LDH labels, lengths) */
int dns_valid_name(const char *name);
const char *dns_status_name(enum dns_status s);

#endif
