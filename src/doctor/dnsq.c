/* dnsq.c - blocking lookups over src/dns for the doctor (see dnsq.h). */
#include "doctor/dnsq.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

struct dnsq {
    struct event_base *base;
    dns_ctx *dns;
};

dnsq *dnsq_new(const char *server, int64_t timeout_ms, char *err, int errlen)
{
    dnsq *q = xcalloc(1, sizeof *q);
    q->base = event_base_new();
    q->dns = dns_new(q->base, server ? server : "", timeout_ms, err, errlen);
    if (!q->dns) {
        event_base_free(q->base);
        free(q);
        return NULL;
    }
    return q;
}

void dnsq_free(dnsq *q)
{
    if (!q)
        return;
    dns_free(q->dns);
    event_base_free(q->base);
    free(q);
}

/* wait - run the loop until *done */
static void wait(dnsq *q, const int *done)
{
    while (!*done)
        event_base_loop(q->base, EVLOOP_ONCE);
}

/* copy_why - the reason text survives the callback */
static const char *copy_why(const char *why)
{
    return why ? xstrdup(why) : NULL;
}

struct mx_wait {
    int done;
    dns_mx_result *r;
};

static void on_mx(void *arg, const dns_mx_result *r)
{
    struct mx_wait *w = arg;
    dns_mx_result *c = xcalloc(1, sizeof *c);
    *c = *r;
    c->why = copy_why(r->why);
    c->mx = xcalloc((size_t)r->nmx + 1, sizeof *c->mx);
    for (int i = 0; i < r->nmx; i++) {
        c->mx[i].host = xstrdup(r->mx[i].host);
        c->mx[i].pref = r->mx[i].pref;
    }
    w->r = c;
    w->done = 1;
}

dns_mx_result *dnsq_mx(dnsq *q, const char *name)
{
    struct mx_wait w = {0};
    dns_query_mx(q->dns, name, on_mx, &w);
    wait(q, &w.done);
    return w.r;
}

void dnsq_mx_free(dns_mx_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nmx; i++)
        free(r->mx[i].host);
    free(r->mx);
    free((char *)r->why);
    free(r);
}

struct addr_wait {
    int done;
    dns_addr_result *r;
};

static void on_addr(void *arg, const dns_addr_result *r)
{
    struct addr_wait *w = arg;
    dns_addr_result *c = xcalloc(1, sizeof *c);
    *c = *r;
    c->why = copy_why(r->why);
    c->addrs = xcalloc((size_t)r->naddrs + 1, sizeof *c->addrs);
    memcpy(c->addrs, r->addrs, sizeof *c->addrs * (size_t)r->naddrs);
    w->r = c;
    w->done = 1;
}

dns_addr_result *dnsq_addr(dnsq *q, const char *name, int family)
{
    struct addr_wait w = {0};
    dns_query_addr(q->dns, name, family, 1, on_addr, &w);
    wait(q, &w.done);
    return w.r;
}

void dnsq_addr_free(dns_addr_result *r)
{
    if (!r)
        return;
    free(r->addrs);
    free((char *)r->why);
    free(r);
}

struct txt_wait {
    int done;
    dns_txt_result *r;
};

static void on_txt(void *arg, const dns_txt_result *r)
{
    struct txt_wait *w = arg;
    dns_txt_result *c = xcalloc(1, sizeof *c);
    *c = *r;
    c->why = copy_why(r->why);
    c->v = xcalloc((size_t)r->n + 1, sizeof *c->v);
    for (int i = 0; i < r->n; i++)
        c->v[i] = xstrdup(r->v[i]);
    w->r = c;
    w->done = 1;
}

dns_txt_result *dnsq_txt(dnsq *q, const char *name)
{
    struct txt_wait w = {0};
    dns_query_txt(q->dns, name, on_txt, &w);
    wait(q, &w.done);
    return w.r;
}

dns_txt_result *dnsq_ptr(dnsq *q, const struct sockaddr *addr)
{
    struct txt_wait w = {0};
    dns_query_ptr(q->dns, addr, on_txt, &w);
    wait(q, &w.done);
    return w.r;
}

void dnsq_txt_free(dns_txt_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    free((char *)r->why);
    free(r);
}
