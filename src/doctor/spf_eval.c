/* spf_eval.c - check_host() of RFC 7208 over a spf_resolver (spf.h).
 *
 * One evaluation walks records depth first: a record's terms left to right, an include
 * evaluated as its own check_host, redirect only when no mechanism matched and the record
 * has no "all".  Limits (4.6.4): every include, a, mx, ptr, exists and redirect counts one
 * lookup and the 11th is a permerror; a lookup answering NXDOMAIN or no records is void and
 * the 3rd is a permerror; mx looks at no more than 10 hosts (more: permerror), ptr at the
 * first 10 names.  In walk mode (the doctor's audit) nothing matches but "all" still ends
 * its record and the limits are counted without stopping, capped at WALK_CAP lookups so an
 * include loop ends.  Every DNS answer is freed before the next term. */
#include "doctor/spf.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "doctor/dnsq.h"

#define WALK_CAP 50 /* walk mode stops here (an include loop) */

typedef struct ev {
    const spf_query *q;
    spf_outcome *out;
    char *sender;        /* MAIL FROM, defaulted */
    int depth;           /* include and redirect nesting */
    int incl;            /* include nesting only (exp= applies at 0) */
    enum spf_result err; /* the error when a step returns -1 */
} ev;

static enum spf_result check_host(ev *e, const char *domain);

/* trace - one line of the trace, indented by depth */
__attribute__((format(printf, 2, 3))) static void trace(ev *e, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    spf_outcome *o = e->out;
    o->trace = xrealloc(o->trace, sizeof *o->trace * (size_t)(o->ntrace + 1));
    o->trace[o->ntrace++] = xasprintf("%*s%s", e->depth * 2, "", buf);
}

/* fail - end the evaluation with an error result and its reason; returns -1 */
__attribute__((format(printf, 3, 4))) static int fail(ev *e, enum spf_result r, const char *fmt,
                                                      ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->err = r;
    free(e->out->reason);
    e->out->reason = xstrdup(buf);
    trace(e, "-> %s: %s", spf_result_name(r), buf);
    return -1;
}

/* ip_bytes - the client address as 4 (IPv4, mapped included) or 16 bytes */
static int ip_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        memcpy(out, a->s6_addr + 12, 4);
        return 4;
    }
    memcpy(out, a->s6_addr, 16);
    return 16;
}

/* prefix_eq - the first bits of a and b agree */
static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    return !rest || ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* in_net - the client is inside addr/bits of length alen (4 or 16) */
static int in_net(const ev *e, const uint8_t *addr, int alen, int bits)
{
    uint8_t me[16];
    int mlen = ip_bytes(e->q->ip, me);
    return mlen == alen && prefix_eq(me, addr, bits < 0 ? alen * 8 : bits);
}

/* client_family - the address family a and mx look up */
static int client_family(const ev *e)
{
    uint8_t me[16];
    return ip_bytes(e->q->ip, me) == 4 ? AF_INET : AF_INET6;
}

/* addrs_match - any address of r is in the client's network of the given length */
static int addrs_match(const ev *e, const dns_addr_result *r, int c4, int c6)
{
    for (int i = 0; i < r->naddrs; i++) {
        uint8_t a[16];
        int alen = ip_bytes((const struct sockaddr *)&r->addrs[i].ss, a);
        if (in_net(e, a, alen, alen == 4 ? c4 : c6))
            return 1;
    }
    return 0;
}

/* count_lookup - one more DNS-querying term; -1 past the limit */
static int count_lookup(ev *e, const spf_term *t, const char *domain)
{
    int n = ++e->out->lookups;
    if (e->q->walk && n > WALK_CAP)
        return fail(e, SPF_PERMERROR, "more than %d DNS-querying terms (an include loop?)",
                    WALK_CAP);
    if (!e->q->walk && n > SPF_MAX_LOOKUPS)
        return fail(e, SPF_PERMERROR, "more than %d DNS-querying terms: the 11th is %s in %s",
                    SPF_MAX_LOOKUPS, t->text, domain);
    return 0;
}

/* count_void - a lookup that found nothing; -1 past the limit */
static int count_void(ev *e, enum dns_status st, const char *name)
{
    if (st != DNS_NXDOMAIN && st != DNS_NODATA)
        return 0;
    int n = ++e->out->voids;
    trace(e, "void lookup %d: %s (%s)", n, name, dns_status_name(st));
    if (!e->q->walk && n > SPF_MAX_VOIDS)
        return fail(e, SPF_PERMERROR, "more than %d void lookups (the last: %s)", SPF_MAX_VOIDS,
                    name);
    return 0;
}

/* validated_name - a PTR name of the client that resolves back to it, preferring one in
 * (or equal to) target; NULL when none (the caller frees) */
static char *validated_name(ev *e, const char *target, enum dns_status *st)
{
    dns_txt_result *ptr = e->q->dns->ptr(e->q->dns->arg, e->q->ip);
    char *best = NULL;
    *st = ptr->status;
    for (int i = 0; i < ptr->n && i < SPF_MAX_NAMES; i++) {
        dns_addr_result *a = e->q->dns->addr(e->q->dns->arg, ptr->v[i], client_family(e));
        int ok = addrs_match(e, a, -1, -1);
        dnsq_addr_free(a);
        if (!ok)
            continue;
        size_t n = strlen(ptr->v[i]), tn = target ? strlen(target) : 0;
        int in = target && n >= tn && !strcasecmp(ptr->v[i] + n - tn, target) &&
                 (n == tn || ptr->v[i][n - tn - 1] == '.');
        if (in || !best) {
            free(best);
            best = xstrdup(ptr->v[i]);
        }
        if (in)
            break;
    }
    dnsq_txt_free(ptr);
    return best;
}

/* expand - a macro-string for this evaluation; NULL after fail() */
static char *expand(ev *e, const char *spec, const char *domain, int exp)
{
    char err[200], *p = NULL;
    enum dns_status st;
    spf_macro_env env = {e->q->ip, e->sender, domain, e->q->helo, NULL, exp};
    if (spf_macro_uses(spec, 'p')) {
        e->out->ptr_used = 1;
        env.validated = p = validated_name(e, domain, &st);
    }
    char *r = spf_expand(spec, &env, err, sizeof err);
    free(p);
    if (!r)
        fail(e, SPF_PERMERROR, "%s", err);
    return r;
}

/* target_of - the domain a term looks at: its expanded domain-spec or the current domain */
static char *target_of(ev *e, const spf_term *t, const char *domain)
{
    return t->spec ? expand(e, t->spec, domain, 0) : xstrdup(domain);
}

/* mech_a - a[:domain][/c4][//c6] */
static int mech_a(ev *e, const spf_term *t, const char *target)
{
    dns_addr_result *r = e->q->dns->addr(e->q->dns->arg, target, client_family(e));
    int rc = r->status == DNS_TEMPFAIL              ? fail(e, SPF_TEMPERROR, "%s: %s", target,
                                              r->why ? r->why : "temporary DNS failure")
             : count_void(e, r->status, target) < 0 ? -1
                                                    : addrs_match(e, r, t->cidr4, t->cidr6);
    dnsq_addr_free(r);
    return rc;
}

/* mx_hosts_match - the address lookups of an MX set */
static int mx_hosts_match(ev *e, const spf_term *t, const dns_mx_result *mx)
{
    if (mx->nmx > SPF_MAX_NAMES)
        return fail(e, SPF_PERMERROR, "%s: %d MX hosts, more than %d", t->text, mx->nmx,
                    SPF_MAX_NAMES);
    for (int i = 0; i < mx->nmx; i++) {
        dns_addr_result *r = e->q->dns->addr(e->q->dns->arg, mx->mx[i].host, client_family(e));
        int m = r->status == DNS_TEMPFAIL ? fail(e, SPF_TEMPERROR, "%s: %s", mx->mx[i].host,
                                                 r->why ? r->why : "temporary DNS failure")
                                          : addrs_match(e, r, t->cidr4, t->cidr6);
        dnsq_addr_free(r);
        if (m)
            return m;
    }
    return 0;
}

/* mech_mx - mx[:domain][/c4][//c6] */
static int mech_mx(ev *e, const spf_term *t, const char *target)
{
    dns_mx_result *mx = e->q->dns->mx(e->q->dns->arg, target);
    int rc;
    if (mx->status == DNS_TEMPFAIL)
        rc = fail(e, SPF_TEMPERROR, "MX of %s: %s", target,
                  mx->why ? mx->why : "temporary DNS failure");
    else if (count_void(e, mx->status, target) < 0)
        rc = -1;
    else
        rc = mx->status == DNS_OK ? mx_hosts_match(e, t, mx) : 0;
    dnsq_mx_free(mx);
    return rc;
}

/* mech_ptr - ptr[:domain]: a validated PTR name in target (discouraged, RFC 7208 5.5) */
static int mech_ptr(ev *e, const char *target)
{
    enum dns_status st;
    e->out->ptr_used = 1;
    char *name = validated_name(e, target, &st);
    int rc = count_void(e, st, "the PTR of the client") < 0 ? -1 : 0;
    if (rc == 0 && name) {
        size_t n = strlen(name), tn = strlen(target);
        rc = n >= tn && !strcasecmp(name + n - tn, target) && (n == tn || name[n - tn - 1] == '.');
    }
    free(name);
    return rc;
}

/* mech_exists - exists:domain: any A record (always A, whatever the client's family) */
static int mech_exists(ev *e, const char *target)
{
    dns_addr_result *r = e->q->dns->addr(e->q->dns->arg, target, AF_INET);
    int rc = r->status == DNS_TEMPFAIL              ? fail(e, SPF_TEMPERROR, "%s: %s", target,
                                              r->why ? r->why : "temporary DNS failure")
             : count_void(e, r->status, target) < 0 ? -1
                                                    : r->naddrs > 0;
    dnsq_addr_free(r);
    return rc;
}

/* mech_include - include:domain: a match when the included policy passes */
static int mech_include(ev *e, const char *target)
{
    e->depth++;
    e->incl++;
    enum spf_result r = check_host(e, target);
    e->depth--;
    e->incl--;
    if (r == SPF_TEMPERROR || r == SPF_PERMERROR)
        return -1;
    if (r == SPF_NONE)
        return fail(e, SPF_PERMERROR, "include:%s: that domain has no SPF record", target);
    if (r != SPF_PASS || e->q->walk) {
        free(e->out->matched);
        e->out->matched = NULL;
        return 0;
    }
    return 1;
}

/* mech_match - evaluate one mechanism: 1 match, 0 no match, -1 error */
static int mech_match(ev *e, const spf_term *t, const char *domain)
{
    if (t->mech == SPF_ALL)
        return 1;
    if (t->mech == SPF_IP4 || t->mech == SPF_IP6)
        return !e->q->walk && in_net(e, t->addr, t->mech == SPF_IP4 ? 4 : 16,
                                     t->mech == SPF_IP4 ? t->cidr4 : t->cidr6);
    if (count_lookup(e, t, domain) < 0)
        return -1;
    char *target = target_of(e, t, domain);
    if (!target)
        return -1;
    int m;
    switch (t->mech) {
    case SPF_INCLUDE: m = mech_include(e, target); break;
    case SPF_A: m = mech_a(e, t, target); break;
    case SPF_MX: m = mech_mx(e, t, target); break;
    case SPF_PTR: m = mech_ptr(e, target); break;
    default: m = mech_exists(e, target); break;
    }
    free(target);
    return m < 0 ? -1 : e->q->walk ? 0 : m;
}

/* qual_result - the result a matching mechanism's qualifier gives */
static enum spf_result qual_result(char q)
{
    return q == '-' ? SPF_FAIL : q == '~' ? SPF_SOFTFAIL : q == '?' ? SPF_NEUTRAL : SPF_PASS;
}

/* fetch_record - the one SPF record of domain into *txt (caller frees); SPF_PASS when
 * found, else the result that ends check_host */
static enum spf_result fetch_record(ev *e, const char *domain, char **txt)
{
    dns_txt_result *r = e->q->dns->txt(e->q->dns->arg, domain);
    int found = 0;
    *txt = NULL;
    for (int i = 0; i < r->n; i++)
        if (spf_is_record(r->v[i]) && found++ == 0)
            *txt = xstrdup(r->v[i]);
    enum spf_result res = SPF_PASS;
    if (r->status == DNS_TEMPFAIL) {
        fail(e, SPF_TEMPERROR, "TXT of %s: %s", domain, r->why ? r->why : "temporary DNS failure");
        res = SPF_TEMPERROR;
    } else if (found > 1) {
        fail(e, SPF_PERMERROR, "%s publishes %d SPF records (one is allowed)", domain, found);
        res = SPF_PERMERROR;
    } else if (!found) {
        trace(e, "%s: no SPF record (%s)", domain,
              r->status == DNS_OK ? "no v=spf1 TXT" : dns_status_name(r->status));
        res = SPF_NONE;
    }
    dnsq_txt_free(r);
    if (res != SPF_PASS) {
        free(*txt);
        *txt = NULL;
    }
    return res;
}

/* set_match - remember the deciding term (prefixing the path through includes) */
static void set_match(ev *e, const spf_term *t, const char *domain)
{
    spf_outcome *o = e->out;
    if (t->mech == SPF_INCLUDE && o->matched) {
        char *s = xasprintf("%s > %s", t->text, o->matched);
        free(o->matched);
        o->matched = s;
        return;
    }
    free(o->matched);
    free(o->matched_domain);
    o->matched = xstrdup(t->text);
    o->matched_domain = xstrdup(domain);
}

/* explain - the exp= text of a fail at the top level (errors just mean no text) */
static void explain(ev *e, const spf_record *rec, const char *domain)
{
    if (rec->exp < 0 || e->incl > 0 || e->out->explanation)
        return;
    char err[200];
    spf_macro_env env = {e->q->ip, e->sender, domain, e->q->helo, NULL, 0};
    char *name = spf_expand(rec->t[rec->exp].spec, &env, err, sizeof err);
    if (!name)
        return;
    dns_txt_result *r = e->q->dns->txt(e->q->dns->arg, name);
    if (r->status == DNS_OK && r->n == 1) {
        env.exp = 1;
        e->out->explanation = spf_expand(r->v[0], &env, err, sizeof err);
    }
    dnsq_txt_free(r);
    free(name);
}

/* run_terms - the mechanisms in order: the result of the first match, SPF_NONE when none
 * matched (the caller goes on to redirect), or the error */
static enum spf_result run_terms(ev *e, const spf_record *rec, const char *domain, int *stop)
{
    for (int i = 0; i < rec->n; i++) {
        const spf_term *t = &rec->t[i];
        if (t->modifier)
            continue;
        int m = mech_match(e, t, domain);
        if (m < 0)
            return e->err;
        if (m == 0)
            continue;
        *stop = 1;
        if (e->q->walk)
            return SPF_NEUTRAL;
        set_match(e, t, domain);
        trace(e, "-> %s (matched %s)", spf_result_name(qual_result(t->qual)), t->text);
        return qual_result(t->qual);
    }
    return SPF_NONE;
}

/* follow_redirect - redirect=domain when no mechanism matched */
static enum spf_result follow_redirect(ev *e, const spf_record *rec, const char *domain)
{
    const spf_term *t = &rec->t[rec->redirect];
    if (count_lookup(e, t, domain) < 0)
        return e->err;
    char *target = expand(e, t->spec, domain, 0);
    if (!target)
        return e->err;
    e->depth++;
    enum spf_result r = check_host(e, target);
    e->depth--;
    if (r == SPF_NONE) {
        fail(e, SPF_PERMERROR, "redirect=%s: that domain has no SPF record", target);
        r = SPF_PERMERROR;
    }
    free(target);
    return r;
}

/* evaluate - a parsed record of domain */
static enum spf_result evaluate(ev *e, const spf_record *rec, const char *domain)
{
    int stop = 0;
    enum spf_result r = run_terms(e, rec, domain, &stop);
    if (stop || r == SPF_TEMPERROR || r == SPF_PERMERROR) {
        if (r == SPF_FAIL)
            explain(e, rec, domain);
        return r;
    }
    if (rec->redirect >= 0 && !rec->has_all)
        return follow_redirect(e, rec, domain);
    if (!e->q->walk)
        trace(e, "-> neutral (no mechanism matched, no redirect: the default)");
    return SPF_NEUTRAL;
}

/* domain_ok - a multi-label name that could be looked up (RFC 7208 4.3) */
static int domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > 253 || !strchr(d, '.') || d[0] == '.' || strstr(d, ".."))
        return 0;
    for (const char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

/* check_host - RFC 7208 4: domain's record fetched, parsed and evaluated */
static enum spf_result check_host(ev *e, const char *domain)
{
    if (!domain_ok(domain)) {
        trace(e, "%s: not a valid domain name", domain);
        return SPF_NONE;
    }
    char *txt, err[300];
    enum spf_result r = fetch_record(e, domain, &txt);
    if (r != SPF_PASS)
        return r;
    trace(e, "%s: %s", domain, txt);
    spf_record rec;
    if (spf_parse(txt, &rec, err, sizeof err) < 0) {
        fail(e, SPF_PERMERROR, "%s: %s", domain, err);
        r = SPF_PERMERROR;
    } else {
        r = evaluate(e, &rec, domain);
    }
    spf_record_clear(&rec);
    free(txt);
    return r;
}

/* walk_verdict - in walk mode, the limits decide */
static void walk_verdict(ev *e)
{
    spf_outcome *o = e->out;
    if (o->result == SPF_PERMERROR || o->result == SPF_TEMPERROR || o->result == SPF_NONE)
        return;
    o->result = SPF_NEUTRAL;
    if (o->lookups > SPF_MAX_LOOKUPS || o->voids > SPF_MAX_VOIDS) {
        o->result = SPF_PERMERROR;
        free(o->reason);
        o->reason = o->lookups > SPF_MAX_LOOKUPS
                        ? xasprintf("%d DNS-querying terms on the longest path, more than %d",
                                    o->lookups, SPF_MAX_LOOKUPS)
                        : xasprintf("%d void lookups, more than %d", o->voids, SPF_MAX_VOIDS);
    }
}

void spf_check_host(const spf_query *q, const char *domain, spf_outcome *out)
{
    memset(out, 0, sizeof *out);
    ev e = {.q = q, .out = out};
    e.sender = q->sender && q->sender[0] ? xstrdup(q->sender) : xasprintf("postmaster@%s", domain);
    out->result = check_host(&e, domain);
    if (out->result == SPF_NONE && !out->reason)
        out->reason = xstrdup("no SPF record");
    if (out->result == SPF_NEUTRAL && !out->matched && !out->reason && !q->walk)
        out->reason = xstrdup("no mechanism matched: the default result");
    if (q->walk)
        walk_verdict(&e);
    free(e.sender);
}

void spf_outcome_clear(spf_outcome *o)
{
    free(o->matched);
    free(o->matched_domain);
    free(o->reason);
    free(o->explanation);
    for (int i = 0; i < o->ntrace; i++)
        free(o->trace[i]);
    free(o->trace);
    memset(o, 0, sizeof *o);
}
