/* dnsbl_query.c - the DNSBL lookups of `sluice doctor ip` (dnsbl_check in dnsbl.h): for
 * each zone the two test points (A), the address (A) and its listing text (TXT), every
 * query in flight at once on a private event loop over src/dns, so a slow zone costs one
 * timeout, not one per query.  Answers are copied out of the callbacks and judged by
 * dnsbl_judge once all are in.  Self-tests always use the IPv4 test points: they test the
 * zone and the path to it, whatever the family of the address checked. */
#include "doctor/dnsbl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/dnsq.h"

enum { Q_LISTED, Q_CLEAN, Q_SUBJECT, NADDR };

typedef struct slot {
    int *pending;
    dns_addr_result **addr; /* where an A answer goes */
    char **txt;             /* where a TXT answer goes */
} slot;

typedef struct zone_q {
    dns_addr_result *a[NADDR];
    char *txt;
    slot s[NADDR + 1];
} zone_q;

/* on_addr - copy an A answer out of the callback */
static void on_addr(void *arg, const dns_addr_result *r)
{
    slot *s = arg;
    dns_addr_result *c = xcalloc(1, sizeof *c);
    *c = *r;
    c->why = r->why ? xstrdup(r->why) : NULL;
    c->addrs = xcalloc((size_t)r->naddrs + 1, sizeof *c->addrs);
    memcpy(c->addrs, r->addrs, sizeof *c->addrs * (size_t)r->naddrs);
    *s->addr = c;
    (*s->pending)--;
}

/* on_txt - keep the first TXT string (a listing's reason or URL) */
static void on_txt(void *arg, const dns_txt_result *r)
{
    slot *s = arg;
    if (r->status == DNS_OK && r->n > 0)
        *s->txt = xstrdup(r->v[0]);
    (*s->pending)--;
}

/* test_point - the sockaddr of 127.0.0.<last> */
static struct sockaddr_in test_point(int last)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)last);
    return sin;
}

/* ask_a - one A query into *dst */
static void ask_a(dns_ctx *d, const struct sockaddr *sa, const char *zone, slot *s,
                  dns_addr_result **dst, int *pending, char *name, size_t len)
{
    s->pending = pending;
    s->addr = dst;
    (*pending)++;
    if (dnsbl_query_name(sa, zone, name, len) < 0)
        name[0] = 0; /* an empty name fails as BADNAME, through the callback */
    dns_query_addr(d, name, AF_INET, 1, on_addr, s);
}

/* ask_zone - start a zone's queries; 0 when it is skipped (IPv6 address, IPv4-only zone) */
static int ask_zone(dns_ctx *d, const dnsbl_zone *z, const struct sockaddr *ip, zone_q *q,
                    int *pending, dnsbl_result *out)
{
    char name[300];
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ip;
    int v6 = ip->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
    if (v6 && !z->ipv6)
        return 0;
    struct sockaddr_in t2 = test_point(2), t1 = test_point(1);
    ask_a(d, (struct sockaddr *)&t2, z->zone, &q->s[Q_LISTED], &q->a[Q_LISTED], pending, name,
          sizeof name);
    ask_a(d, (struct sockaddr *)&t1, z->zone, &q->s[Q_CLEAN], &q->a[Q_CLEAN], pending, name,
          sizeof name);
    ask_a(d, ip, z->zone, &q->s[Q_SUBJECT], &q->a[Q_SUBJECT], pending, out->query,
          sizeof out->query);
    slot *s = &q->s[NADDR];
    s->pending = pending;
    s->txt = &q->txt;
    (*pending)++;
    dns_query_txt(d, out->query, on_txt, s);
    return 1;
}

/* judge_all - verdicts from the collected answers, then free them */
static void judge_all(const dnsbl_zone *zones, int n, zone_q *q, dnsbl_result *out)
{
    for (int i = 0; i < n; i++) {
        dnsbl_judge(&zones[i], q[i].a[Q_LISTED], q[i].a[Q_CLEAN], q[i].a[Q_SUBJECT], q[i].txt,
                    &out[i]);
        for (int k = 0; k < NADDR; k++)
            dnsq_addr_free(q[i].a[k]);
        free(q[i].txt);
    }
}

int dnsbl_check(const char *server, int64_t timeout_ms, const struct sockaddr *ip,
                const dnsbl_zone *zones, int n, dnsbl_result *out, char *err, int errlen)
{
    struct event_base *base = event_base_new();
    dns_ctx *d = base ? dns_new(base, server ? server : "", timeout_ms, err, errlen) : NULL;
    if (!d) {
        if (base)
            event_base_free(base);
        return -1;
    }
    zone_q *q = xcalloc((size_t)n + 1, sizeof *q);
    int pending = 0;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        ask_zone(d, &zones[i], ip, &q[i], &pending, &out[i]);
    }
    while (pending > 0)
        event_base_loop(base, EVLOOP_ONCE);
    judge_all(zones, n, q, out);
    free(q);
    dns_free(d);
    event_base_free(base);
    return 0;
}
