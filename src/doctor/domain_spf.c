/* domain_spf.c - the SPF checks of `sluice doctor domain` (domain.h): one v=spf1 record,
 * its syntax, its lookup and void-lookup counts on the longest path (spf.h's walk mode),
 * ptr, the final "all", and check_host() for --ip with the term that decided.  The
 * resolver under the evaluator is dnsq. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/domain.h"

/* r_txt - dnsq_txt (r_txt, r_addr, r_mx and r_ptr are the spf_resolver over dnsq) */
static dns_txt_result *r_txt(void *arg, const char *name)
{
    return dnsq_txt(arg, name);
}

/* r_addr - dnsq_addr, except for names src/dns will not look up */
static dns_addr_result *r_addr(void *arg, const char *name, int family)
{
    if (strchr(name, '_')) { /* src/dns asks A/AAAA for host names only */
        dns_addr_result *r = xcalloc(1, sizeof *r);
        r->status = DNS_TEMPFAIL;
        r->why = xstrdup("sluice's resolver does not look up addresses of names with '_'");
        r->addrs = xcalloc(1, sizeof *r->addrs);
        return r;
    }
    return dnsq_addr(arg, name, family);
}

/* r_mx - dnsq_mx */
static dns_mx_result *r_mx(void *arg, const char *name)
{
    return dnsq_mx(arg, name);
}

/* r_ptr - dnsq_ptr */
static dns_txt_result *r_ptr(void *arg, const struct sockaddr *sa)
{
    return dnsq_ptr(arg, sa);
}

/* add_trace - the evaluation's trace as evidence of check i */
static void add_trace(domain_ctx *c, int i, const spf_outcome *o)
{
    for (int k = 0; k < o->ntrace; k++)
        report_evidence(c->r, i, o->trace[k]);
}

/* the_record - exactly one v=spf1 record at the domain; its text (owned) or NULL */
static char *the_record(domain_ctx *c)
{
    dns_txt_result *t = domain_txt(c, c->domain, "v=spf1");
    char *rec = NULL, n[16];
    snprintf(n, sizeof n, "%d records", t->n);
    if (t->status == DNS_TEMPFAIL)
        report_check(c->r, CK_WARN, "spf-record", "SPF record", "one v=spf1 TXT record",
                     t->why ? t->why : "TEMPFAIL",
                     "the TXT lookup failed: receivers would answer temperror and defer or accept "
                     "unauthenticated");
    else if (t->n == 0)
        report_check(c->r, CK_FAIL, "spf-record", "SPF record", "one v=spf1 TXT record", "none",
                     "without SPF receivers cannot tell your servers from forgers; Gmail and Yahoo "
                     "require SPF or DKIM for all senders and both for bulk senders");
    else if (t->n > 1)
        report_check(c->r, CK_FAIL, "spf-record", "SPF record", "one v=spf1 TXT record", n,
                     "several SPF records make every evaluation a permerror (RFC 7208 4.5): merge "
                     "them into one");
    else
        rec = xstrdup(t->v[0]);
    if (rec)
        report_check(c->r, CK_PASS, "spf-record", "SPF record", "one v=spf1 TXT record", rec, NULL);
    report_data(c->r, "spf_record", rec ? json_string(rec) : json_null());
    dnsq_txt_free(t);
    return rec;
}

/* check_all - the record's final "all" (or redirect) */
static void check_all(domain_ctx *c, const spf_record *rec)
{
    const spf_term *all = NULL;
    for (int i = 0; i < rec->n; i++)
        if (!rec->t[i].modifier && rec->t[i].mech == SPF_ALL)
            all = &rec->t[i];
    const char *id = "spf-all", *title = "SPF default for other senders", *want = "-all or ~all";
    if (!all && rec->redirect >= 0)
        report_checkf(c->r, CK_INFO, id, title, want, rec->t[rec->redirect].text,
                      "the policy of %s applies", rec->t[rec->redirect].spec);
    else if (!all)
        report_check(c->r, CK_WARN, id, title, want, "no all",
                     "without \"all\" unlisted senders get neutral: end the record with -all or "
                     "~all");
    else if (all->qual == '+')
        report_check(c->r, CK_FAIL, id, title, want, all->text,
                     "+all authorizes every address on the Internet to send as this domain");
    else if (all->qual == '?')
        report_check(c->r, CK_WARN, id, title, want, all->text,
                     "?all says nothing about other senders (neutral); use ~all or -all");
    else
        report_check(c->r, CK_PASS, id, title, want, all->text, NULL);
}

/* check_walk - the longest evaluation path: lookups, void lookups, includes, ptr */
static void check_walk(domain_ctx *c)
{
    spf_resolver res = {c->q, r_txt, r_addr, r_mx, r_ptr};
    struct sockaddr_in none = {.sin_family = AF_INET};
    spf_query q = {c->ip_text ? (struct sockaddr *)&c->ip : (struct sockaddr *)&none, c->sender,
                   c->helo, &res, 1};
    spf_outcome o;
    spf_check_host(&q, c->domain, &o);
    char got[64];
    snprintf(got, sizeof got, "%d", o.lookups);
    int over = o.lookups > SPF_MAX_LOOKUPS, i;
    if (o.result == SPF_PERMERROR && !over && o.voids <= SPF_MAX_VOIDS)
        i = report_check(c->r, CK_FAIL, "spf-includes", "SPF includes and redirects",
                         "records that evaluate", "permerror", o.reason);
    else if (o.result == SPF_TEMPERROR)
        i = report_check(c->r, CK_WARN, "spf-includes", "SPF includes and redirects",
                         "records that evaluate", "temperror", o.reason);
    else
        i = report_check(c->r, over ? CK_FAIL : CK_PASS, "spf-lookups",
                         "SPF DNS lookups (longest path)", "at most 10", got,
                         over ? "past 10 DNS-querying terms receivers stop with permerror (RFC "
                                "7208 4.6.4): flatten includes or drop unused ones"
                              : NULL);
    add_trace(c, i, &o);
    snprintf(got, sizeof got, "%d", o.voids);
    report_check(c->r, o.voids > SPF_MAX_VOIDS ? CK_FAIL : CK_PASS, "spf-voids", "SPF void lookups",
                 "at most 2", got,
                 o.voids > SPF_MAX_VOIDS ? "names that do not exist cost void lookups; past 2 "
                                           "receivers return permerror (RFC 7208 4.6.4): remove "
                                           "stale a:/mx:/include: names"
                                         : NULL);
    if (o.ptr_used)
        report_check(c->r, CK_WARN, "spf-ptr", "SPF ptr mechanism", "no ptr", "ptr used",
                     "ptr is slow, unreliable and discouraged (RFC 7208 5.5); some receivers skip "
                     "it: list the addresses with ip4:/ip6:");
    report_data(c->r, "spf_walk",
                json_pack("{s:i,s:i,s:s}", "lookups", o.lookups, "voids", o.voids, "result",
                          spf_result_name(o.result)));
    spf_outcome_clear(&o);
}

/* result_status - how an SPF result for our own address reads */
static enum check_status result_status(enum spf_result r)
{
    switch (r) {
    case SPF_PASS: return CK_PASS;
    case SPF_SOFTFAIL:
    case SPF_NEUTRAL:
    case SPF_TEMPERROR: return CK_WARN;
    default: return CK_FAIL;
    }
}

/* result_advice - one line on what the result means for the sender */
static const char *result_advice(enum spf_result r)
{
    switch (r) {
    case SPF_PASS: return NULL;
    case SPF_FAIL:
        return "receivers may reject this address's mail outright: add it with ip4:/ip6: or an "
               "include";
    case SPF_SOFTFAIL:
        return "receivers accept but mark it suspicious: add the address to the record";
    case SPF_NEUTRAL: return "the record says nothing about this address: add it to the record";
    case SPF_TEMPERROR:
        return "a DNS failure during evaluation: receivers defer or treat the mail as "
               "unauthenticated";
    case SPF_NONE: return "no SPF policy: publish one";
    default: return "the policy cannot be evaluated: receivers treat it as a failure of the domain";
    }
}

/* check_eval - check_host() for --ip */
static void check_eval(domain_ctx *c)
{
    if (!c->ip_text) {
        report_check(c->r, CK_INFO, "spf-result", "SPF result for the sending address", "pass",
                     "not evaluated",
                     "give --ip ADDR (your server's public address) to evaluate the policy for it");
        return;
    }
    spf_resolver res = {c->q, r_txt, r_addr, r_mx, r_ptr};
    spf_query q = {(struct sockaddr *)&c->ip, c->sender, c->helo, &res, 0};
    spf_outcome o;
    spf_check_host(&q, c->domain, &o);
    char got[600];
    if (o.matched)
        snprintf(got, sizeof got, "%s (matched %s in %s)", spf_result_name(o.result), o.matched,
                 o.matched_domain);
    else
        snprintf(got, sizeof got, "%s (%s)", spf_result_name(o.result), o.reason ? o.reason : "");
    int i = report_checkf(c->r, result_status(o.result), "spf-result",
                          "SPF result for the sending address", "pass", got, "%s%s%s", c->ip_text,
                          result_advice(o.result) ? ": " : " is authorized",
                          result_advice(o.result) ? result_advice(o.result) : "");
    if (o.explanation)
        report_evidence(c->r, i, o.explanation);
    add_trace(c, i, &o);
    report_data(c->r, "spf",
                json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:i,s:i}", "ip", c->ip_text, "result",
                          spf_result_name(o.result), "matched", o.matched, "matched_domain",
                          o.matched_domain, "reason", o.reason, "lookups", o.lookups, "voids",
                          o.voids));
    c->spf_evaluated = 1;
    c->spf_result = o.result;
    spf_outcome_clear(&o);
}

void domain_check_spf(domain_ctx *c)
{
    char err[300];
    report_section(c->r, "SPF");
    char *txt = the_record(c);
    if (!txt)
        return;
    spf_record rec;
    if (spf_parse(txt, &rec, err, sizeof err) < 0) {
        report_check(c->r, CK_FAIL, "spf-syntax", "SPF syntax", "a valid record", err,
                     "one syntax error anywhere makes every evaluation a permerror (RFC 7208 4.6)");
        free(txt);
        return;
    }
    report_check(c->r, CK_PASS, "spf-syntax", "SPF syntax", "a valid record", "valid", NULL);
    check_all(c, &rec);
    spf_record_clear(&rec);
    free(txt);
    check_walk(c);
    check_eval(c);
}
