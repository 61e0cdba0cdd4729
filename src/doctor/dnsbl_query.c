/* dnsbl_query.c - the DNSBL lookups (dnsbl_lookup_start and dnsbl_check in dnsbl.h): for
 * each zone the two test points (A), the address (A) and its listing text (TXT), every
 * query in flight at once over src/dns, so a slow zone costs one timeout, not one per
 * query.  Answers are copied out of the callbacks and judged by dnsbl_judge once all are
 * in.  The daemon's watch (daemon/blwatch.c) runs lookups on its own loop; the doctor's
 * dnsbl_check runs one on a private loop until it is done.  Self-tests always use the IPv4 test points: they test the
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
    dnsbl_lookup *l;
    dns_query *h;           /* in flight, or NULL */
    dns_addr_result **addr; /* where an A answer goes */
    char **txt;             /* where a TXT answer goes */
} slot;

typedef struct zone_q {
    dns_addr_result *a[NADDR];
    char *txt;
    slot s[NADDR + 1];
} zone_q;

/* One lookup: owns q and the copied answers; out belongs to the caller. */
struct dnsbl_lookup {
    const dnsbl_zone *zones;
    int n;
    dnsbl_result *out;
    zone_q *q;
    int pending;
    dnsbl_done_cb cb;
    void *arg;
};

/* judge_all - verdicts from the collected answers into out, then free the answers */
static void judge_all(dnsbl_lookup *l)
{
    for (int i = 0; i < l->n; i++) {
        zone_q *q = &l->q[i];
        if (l->out)
            dnsbl_judge(&l->zones[i], q->a[Q_LISTED], q->a[Q_CLEAN], q->a[Q_SUBJECT], q->txt,
                        &l->out[i]);
        for (int k = 0; k < NADDR; k++)
            dnsq_addr_free(q->a[k]);
        free(q->txt);
    }
}

/* lookup_free - the lookup and its answers (out is the caller's) */
static void lookup_free(dnsbl_lookup *l)
{
    free(l->q);
    free(l);
}

/* answered - one query less; the last one judges, tells the caller and frees the lookup */
static void answered(slot *s)
{
    dnsbl_lookup *l = s->l;
    s->h = NULL;
    if (--l->pending > 0)
        return;
    judge_all(l);
    dnsbl_done_cb cb = l->cb;
    void *arg = l->arg;
    lookup_free(l);
    cb(arg);
}

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
    answered(s);
}

/* on_txt - keep the first TXT string (a listing's reason or URL) */
static void on_txt(void *arg, const dns_txt_result *r)
{
    slot *s = arg;
    if (r->status == DNS_OK && r->n > 0)
        *s->txt = xstrdup(r->v[0]);
    answered(s);
}

/* test_point - the sockaddr of 127.0.0.<last> */
static struct sockaddr_in test_point(int last)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)last);
    return sin;
}

/* ask_a - one A query into *dst */
static void ask_a(dns_ctx *d, dnsbl_lookup *l, const struct sockaddr *sa, const char *zone,
                  slot *s, dns_addr_result **dst, char *name, size_t len)
{
    s->l = l;
    s->addr = dst;
    l->pending++;
    if (dnsbl_query_name(sa, zone, name, len) < 0)
        name[0] = 0; /* an empty name fails as BADNAME, through the callback */
    s->h = dns_query_addr(d, name, AF_INET, 1, on_addr, s);
}

/* ask_zone - start a zone's queries; 0 when it is skipped (IPv6 address, IPv4-only zone) */
static int ask_zone(dns_ctx *d, dnsbl_lookup *l, const dnsbl_zone *z, const struct sockaddr *ip,
                    zone_q *q, dnsbl_result *out)
{
    char name[300];
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ip;
    int v6 = ip->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
    if (v6 && !z->ipv6)
        return 0;
    struct sockaddr_in t2 = test_point(2), t1 = test_point(1);
    ask_a(d, l, (struct sockaddr *)&t2, z->zone, &q->s[Q_LISTED], &q->a[Q_LISTED], name,
          sizeof name);
    ask_a(d, l, (struct sockaddr *)&t1, z->zone, &q->s[Q_CLEAN], &q->a[Q_CLEAN], name,
          sizeof name);
    ask_a(d, l, ip, z->zone, &q->s[Q_SUBJECT], &q->a[Q_SUBJECT], out->query, sizeof out->query);
    slot *s = &q->s[NADDR];
    s->l = l;
    s->txt = &q->txt;
    l->pending++;
    s->h = dns_query_txt(d, out->query, on_txt, s);
    return 1;
}

dnsbl_lookup *dnsbl_lookup_start(dns_ctx *d, const struct sockaddr *ip, const dnsbl_zone *zones,
                                 int n, dnsbl_result *out, dnsbl_done_cb cb, void *arg)
{
    dnsbl_lookup *l = xcalloc(1, sizeof *l);
    *l = (dnsbl_lookup){.zones = zones, .n = n, .out = out, .cb = cb, .arg = arg};
    l->q = xcalloc((size_t)n + 1, sizeof *l->q);
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        ask_zone(d, l, &zones[i], ip, &l->q[i], &out[i]);
    }
    if (l->pending > 0)
        return l;
    judge_all(l);   /* nothing to ask: every zone is skipped, and final now */
    lookup_free(l);
    return NULL;
}

void dnsbl_lookup_cancel(dnsbl_lookup *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        for (int k = 0; k <= NADDR; k++)
            if (l->q[i].s[k].h)
                dns_cancel(l->q[i].s[k].h);
    l->out = NULL;   /* the caller's results are not touched any more */
    judge_all(l);
    lookup_free(l);
}

/* on_check_done - dnsbl_check's lookup has finished */
static void on_check_done(void *arg)
{
    *(int *)arg = 1;
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
    int done = 0;
    if (dnsbl_lookup_start(d, ip, zones, n, out, on_check_done, &done))
        while (!done)
            event_base_loop(base, EVLOOP_ONCE);
    dns_free(d);
    event_base_free(base);
    return 0;
}
