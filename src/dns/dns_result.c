/* dns_result.c - parsed answers (dns_answer) into the results the callbacks receive.
 *
 * Owns the mail semantics on top of plain DNS data:
 *  - MX: a lone "MX 0 ." is a null MX (RFC 7505): OK, null_mx = 1, no hosts.  A target
 *    that is not a valid host name (dns_valid_name: the root among other MX records, an
 *    address, odd bytes) is dropped; when none remain the answer is TEMPFAIL "no valid MX
 *    host": the domain has MX records, so falling back to its A record would be wrong
 *    (RFC 5321 5.1), and a bounce on data that looks broken is worse than a retry (Postfix
 *    defers here too).  Hosts are sorted by preference and shuffled among equals.
 *  - addresses: one part per family in the caller's order; the result is OK when any part
 *    has addresses, else TEMPFAIL if any part failed, else NXDOMAIN if any said so, else
 *    NODATA.  Ports are 0.
 *  - TXT: one string per record, in the answer's order.  PTR: the names that are valid
 *    host names; when records exist but none is valid the result is NODATA.
 * Every result owns its arrays and strings until the matching *_release. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "dns/dns_int.h"

/* by_pref - qsort order of MX records */
static int by_pref(const void *a, const void *b)
{
    const dns_mx *x = a, *y = b;
    return (int)x->pref - (int)y->pref;
}

/* shuffle_equal - random order inside each run of equal preference (Fisher-Yates) */
static void shuffle_equal(dns_mx *mx, int n)
{
    for (int start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && mx[end].pref == mx[start].pref; end++)
            ;
        for (int i = end - 1; i > start; i--) {
            int j = start + (int)arc4random_uniform((uint32_t)(i - start + 1));
            dns_mx t = mx[i];
            mx[i] = mx[j];
            mx[j] = t;
        }
    }
}

void dns_mx_build(const dns_answer *a, dns_mx_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = a->status;
    r->why = a->why;
    r->ttl = a->ttl;
    if (a->status != DNS_OK)
        return;
    if (a->n == 1 && a->rr[0].pref == 0 && a->rr[0].text && !a->rr[0].text[0]) {
        r->null_mx = 1;
        return;
    }
    r->mx = xcalloc((size_t)a->n, sizeof *r->mx);
    for (int i = 0; i < a->n; i++) {
        if (!a->rr[i].text || !dns_valid_name(a->rr[i].text))
            continue;
        r->mx[r->nmx].host = xstrdup(a->rr[i].text);
        r->mx[r->nmx++].pref = a->rr[i].pref;
    }
    if (r->nmx == 0) {
        r->status = DNS_TEMPFAIL;
        r->why = "no valid MX host";
        return;
    }
    qsort(r->mx, (size_t)r->nmx, sizeof *r->mx, by_pref);
    shuffle_equal(r->mx, r->nmx);
}

void dns_mx_release(dns_mx_result *r)
{
    for (int i = 0; i < r->nmx; i++)
        free(r->mx[i].host);
    free(r->mx);
    memset(r, 0, sizeof *r);
}

/* addr_put - append one A or AAAA record as a netaddr with port 0 */
static void addr_put(dns_addr_result *r, uint16_t qtype, const uint8_t *addr)
{
    netaddr *na = &r->addrs[r->naddrs++];
    memset(na, 0, sizeof *na);
    if (qtype == DNS_T_A) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&na->ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        na->len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&na->ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        na->len = sizeof *sin6;
    }
}

/* addr_status - the combined status of the parts (see the header comment) */
static const dns_answer *addr_status(const dns_answer *a, int nparts)
{
    static const enum dns_status order[] = {DNS_OK, DNS_TEMPFAIL, DNS_BADNAME, DNS_NXDOMAIN};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (int i = 0; i < nparts; i++)
            if (a[i].status == order[k])
                return &a[i];
    return &a[0];
}

void dns_addr_build(const dns_answer *a, const uint16_t *qtype, int nparts,
                    dns_addr_result *r)
{
    const dns_answer *which = addr_status(a, nparts);
    int total = 0;
    memset(r, 0, sizeof *r);
    r->status = which->status;
    r->why = which->why;
    r->ttl = UINT32_MAX;
    for (int i = 0; i < nparts; i++)
        total += a[i].status == DNS_OK ? a[i].n : 0;
    r->addrs = xcalloc((size_t)total + 1, sizeof *r->addrs);
    for (int i = 0; i < nparts; i++) {
        if (a[i].status != which->status)
            continue;
        for (int k = 0; k < a[i].n && a[i].status == DNS_OK; k++)
            addr_put(r, qtype[i], a[i].rr[k].addr);
        r->ttl = a[i].ttl < r->ttl ? a[i].ttl : r->ttl;
    }
}

void dns_addr_release(dns_addr_result *r)
{
    free(r->addrs);
    memset(r, 0, sizeof *r);
}

void dns_txt_build(const dns_answer *a, int ptr, dns_txt_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = a->status;
    r->why = a->why;
    r->ttl = a->ttl;
    if (a->status != DNS_OK)
        return;
    r->v = xcalloc((size_t)a->n + 1, sizeof *r->v);
    for (int i = 0; i < a->n; i++)
        if (!ptr || (a->rr[i].text && dns_valid_name(a->rr[i].text)))
            r->v[r->n++] = xstrdup(a->rr[i].text);
    if (r->n == 0) {
        r->status = DNS_NODATA;
        r->why = "no valid PTR name";
    }
}

void dns_txt_release(dns_txt_result *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}
