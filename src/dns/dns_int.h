/* dns_int.h - internal to src/dns: the resolver's state shared by dns_ctx.c (set-up and
 * tear-down), dns_query.c (query life cycle) and dns_result.c (answers into API results).
 *
 * Ownership: a dns_ctx owns its live queries (list `queries`) and every request libunbound
 * still holds (list `reqs`).  A request outlives its query when the query ends first
 * (timeout, cancel, free): it is then a tombstone (q == NULL) that the late libunbound
 * callback frees, or dns_free after ub_ctx_delete.  libunbound's ub_cancel is not used:
 * a tombstone is safe whatever libunbound does with a query it still holds. */
#ifndef SLUICE_DNS_INT_H
#define SLUICE_DNS_INT_H
#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

#include "dns/dns.h"
#include "dns/dns_packet.h"

#define DNS_MAX_PARTS 2        /* AF_UNSPEC address queries ask A and AAAA */

typedef struct dns_req dns_req;

struct dns_ctx {
    struct event_base *base;
    struct ub_ctx *ub;
    int64_t timeout_ms;
    dns_query *queries;        /* asked and not yet answered to the caller */
    dns_req *reqs;             /* held by libunbound: live or tombstone */
};

/* One libunbound request: the mydata of ub_resolve_event. */
struct dns_req {
    dns_ctx *d;
    dns_query *q;              /* NULL: tombstone, the answer is thrown away */
    int part;
    dns_req *prev, *next;
};

enum dns_kind { DNS_KIND_MX, DNS_KIND_ADDR, DNS_KIND_TXT, DNS_KIND_PTR };

struct dns_query {
    dns_ctx *d;
    enum dns_kind kind;
    union { dns_mx_cb mx; dns_addr_cb addr; dns_txt_cb txt; } cb;
    void *arg;
    char *name;                /* the name asked, owned */
    int nparts, pending, armed;
    uint16_t qtype[DNS_MAX_PARTS];
    dns_req *req[DNS_MAX_PARTS];
    dns_answer ans[DNS_MAX_PARTS];
    struct event *ev;          /* the timeout, and the deferred delivery (event_active) */
    dns_query *prev, *next;
};

/* dns_query_release - tombstone q's requests, take q off the list, free it (no callback) */
void dns_query_release(dns_query *q);
/* dns_req_unlink_free - take a request off its context's list and free it */
void dns_req_unlink_free(dns_req *r);

/* Results for the callbacks.  Each *_build fills r from parsed answers; the matching
 * *_release frees what r owns. */
void dns_mx_build(const dns_answer *a, dns_mx_result *r);
void dns_mx_release(dns_mx_result *r);
void dns_addr_build(const dns_answer *a, const uint16_t *qtype, int nparts,
                    dns_addr_result *r);
void dns_addr_release(dns_addr_result *r);
/* dns_txt_build - TXT strings, or (ptr) the PTR names that are valid host names */
void dns_txt_build(const dns_answer *a, int ptr, dns_txt_result *r);
void dns_txt_release(dns_txt_result *r);

#endif
