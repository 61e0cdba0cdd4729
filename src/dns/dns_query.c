/* dns_query.c - the life of one query: ask libunbound, bound it by a timer, deliver once.
 *
 * A query has one or two parts (AF_UNSPEC address queries ask A and AAAA), each one
 * libunbound request (dns_req).  Order of events:
 *   1. dns_query_* validates the name (BADNAME), then starts every part with
 *      ub_resolve_event; libunbound may answer a part from its cache or local data before
 *      that call returns, so answers are only stored here;
 *   2. when the last part is in (or at once, for BADNAME or a failed start) the query's
 *      event is made active; otherwise it waits as a timer of timeout_ms;
 *   3. the event runs on the loop: parts still out become TEMPFAIL "timeout" and their
 *      requests tombstones; the query leaves the context's list; the callback runs; then
 *      the query is freed.
 * So a callback never runs inside a dns_* call nor inside libunbound, runs at most once,
 * and may call dns_cancel on other queries or dns_free on the context.  dns_cancel
 * tombstones the requests and frees the query at once: nothing of it runs afterwards. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "dns/dns_int.h"

/* list_add_query - put q at the head of d->queries */
static void list_add_query(dns_ctx *d, dns_query *q)
{
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
}

/* list_del_query - take q off d->queries */
static void list_del_query(dns_query *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

void dns_req_unlink_free(dns_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->d->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r);
}

/* query_free - free q and what it owns; its requests must already be tombstones */
static void query_free(dns_query *q)
{
    for (int i = 0; i < q->nparts; i++)
        dns_answer_clear(&q->ans[i]);
    if (q->ev)
        event_free(q->ev);
    free(q->name);
    free(q);
}

/* query_tombstone - detach the parts still out: their late answers are thrown away */
static void query_tombstone(dns_query *q, const char *why)
{
    for (int i = 0; i < q->nparts; i++) {
        if (!q->req[i])
            continue;
        q->req[i]->q = NULL;
        q->req[i] = NULL;
        dns_answer_fail(&q->ans[i], DNS_TEMPFAIL, why);
    }
    q->pending = 0;
}

void dns_query_release(dns_query *q)
{
    query_tombstone(q, "cancelled");
    list_del_query(q);
    query_free(q);
}

void dns_cancel(dns_query *q)
{
    if (q)
        dns_query_release(q);
}

/* query_deliver - run the caller's callback with the result built from the parts */
static void query_deliver(dns_query *q)
{
    if (q->kind == DNS_KIND_MX) {
        dns_mx_result r;
        dns_mx_build(&q->ans[0], &r);
        q->cb.mx(q->arg, &r);
        dns_mx_release(&r);
    } else if (q->kind == DNS_KIND_ADDR) {
        dns_addr_result r;
        dns_addr_build(q->ans, q->qtype, q->nparts, &r);
        q->cb.addr(q->arg, &r);
        dns_addr_release(&r);
    } else {
        dns_txt_result r;
        dns_txt_build(&q->ans[0], q->kind == DNS_KIND_PTR, &r);
        q->cb.txt(q->arg, &r);
        dns_txt_release(&r);
    }
}

/* on_query_event - the timeout or the deferred delivery: finish the query */
static void on_query_event(evutil_socket_t fd, short what, void *arg)
{
    dns_query *q = arg;
    (void)fd;
    (void)what;
    query_tombstone(q, "timeout");
    list_del_query(q);
    query_deliver(q);   /* may free the context: q is off its list */
    query_free(q);
}

/* query_part_done - one part is in: deliver soon when it was the last */
static void query_part_done(dns_query *q)
{
    if (--q->pending > 0 || !q->armed)
        return;
    event_del(q->ev);
    event_active(q->ev, EV_TIMEOUT, 0);
}

/* on_ub_answer - libunbound's callback: store the part's answer (never call out here) */
static void on_ub_answer(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
                         int was_ratelimited)
{
    dns_req *r = arg;
    dns_query *q = r->q;
    int part = r->part;
    (void)why_bogus;
    (void)was_ratelimited;
    dns_req_unlink_free(r);
    if (!q)
        return;      /* tombstone: the query ended already */
    q->req[part] = NULL;
    if (sec == 1)
        dns_answer_fail(&q->ans[part], DNS_TEMPFAIL, "DNSSEC bogus");
    else if (pkt && len > 0)
        dns_packet_parse(pkt, (size_t)len, q->name, q->qtype[part], &q->ans[part]);
    else if (rcode == 3)
        dns_answer_fail(&q->ans[part], DNS_NXDOMAIN, "NXDOMAIN");
    else
        dns_answer_fail(&q->ans[part], DNS_TEMPFAIL, rcode == 5 ? "REFUSED" : "SERVFAIL");
    query_part_done(q);
}

/* query_start_part - hand one part to libunbound */
static void query_start_part(dns_query *q, int part)
{
    dns_ctx *d = q->d;
    dns_req *r = xcalloc(1, sizeof *r);
    r->d = d;
    r->q = q;
    r->part = part;
    r->next = d->reqs;
    if (d->reqs)
        d->reqs->prev = r;
    d->reqs = r;
    q->req[part] = r;
    int err = ub_resolve_event(d->ub, q->name, q->qtype[part], DNS_C_IN, r, on_ub_answer, NULL);
    if (err != 0 && r == q->req[part]) {
        /* no callback will come for a request that failed to start */
        q->req[part] = NULL;
        dns_req_unlink_free(r);
        dns_answer_fail(&q->ans[part], DNS_TEMPFAIL, "resolver error");
        q->pending--;
    }
}

/* query_new - a query on d's list, not started */
static dns_query *query_new(dns_ctx *d, enum dns_kind kind, const char *name, void *arg)
{
    dns_query *q = xcalloc(1, sizeof *q);
    q->d = d;
    q->kind = kind;
    q->arg = arg;
    q->name = xstrdup(name);
    q->ev = evtimer_new(d->base, on_query_event, q);
    if (!q->ev)
        fatal("dns: cannot create a timer event");
    list_add_query(d, q);
    return q;
}

/* query_start - check the name, start the parts, arm the timer or the delivery */
static dns_query *query_start(dns_query *q, int valid)
{
    if (!valid) {
        for (int i = 0; i < q->nparts; i++)
            dns_answer_fail(&q->ans[i], DNS_BADNAME, "invalid domain name");
    } else {
        q->pending = q->nparts;
        for (int i = 0; i < q->nparts; i++)
            query_start_part(q, i);
    }
    q->armed = 1;
    if (q->pending == 0) {
        event_active(q->ev, EV_TIMEOUT, 0);
    } else if (q->d->timeout_ms > 0) {
        struct timeval tv = {q->d->timeout_ms / 1000, (q->d->timeout_ms % 1000) * 1000};
        evtimer_add(q->ev, &tv);
    }
    return q;
}

dns_query *dns_query_mx(dns_ctx *d, const char *domain, dns_mx_cb cb, void *arg)
{
    dns_query *q = query_new(d, DNS_KIND_MX, domain ? domain : "", arg);
    q->cb.mx = cb;
    q->nparts = 1;
    q->qtype[0] = DNS_T_MX;
    return query_start(q, dns_valid_name(domain));
}

dns_query *dns_query_addr(dns_ctx *d, const char *host, int family, int prefer_v4,
                          dns_addr_cb cb, void *arg)
{
    dns_query *q = query_new(d, DNS_KIND_ADDR, host ? host : "", arg);
    q->cb.addr = cb;
    if (family == AF_INET || family == AF_INET6) {
        q->nparts = 1;
        q->qtype[0] = family == AF_INET ? DNS_T_A : DNS_T_AAAA;
    } else {
        q->nparts = 2;
        q->qtype[0] = prefer_v4 ? DNS_T_A : DNS_T_AAAA;
        q->qtype[1] = prefer_v4 ? DNS_T_AAAA : DNS_T_A;
    }
    return query_start(q, dns_valid_qname(host));
}

dns_query *dns_query_txt(dns_ctx *d, const char *name, dns_txt_cb cb, void *arg)
{
    dns_query *q = query_new(d, DNS_KIND_TXT, name ? name : "", arg);
    q->cb.txt = cb;
    q->nparts = 1;
    q->qtype[0] = DNS_T_TXT;
    return query_start(q, dns_valid_qname(name));
}

dns_query *dns_query_ptr(dns_ctx *d, const struct sockaddr *addr, dns_txt_cb cb, void *arg)
{
    char name[128] = "";
    int valid = addr && dns_ptr_name(addr, name, sizeof name) == 0;
    dns_query *q = query_new(d, DNS_KIND_PTR, name, arg);
    q->cb.txt = cb;
    q->nparts = 1;
    q->qtype[0] = DNS_T_PTR;
    return query_start(q, valid);
}
