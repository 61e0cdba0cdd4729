/* domain_dmarc.c - the DMARC checks of `sluice doctor domain` (domain.h): the record at
 * _dmarc.DOMAIN or, failing that, at the organizational domain (RFC 7489 6.6.3, with
 * dmarc.h's heuristic), its syntax, the policy in force (p=none: monitoring only), pct,
 * report addresses (with the external-destination authorization of RFC 7489 7.1), the
 * alignment modes, and whether mail from --ip would pass given the SPF and DKIM findings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "doctor/dmarc.h"
#include "doctor/domain.h"

/* What policy discovery found. */
typedef struct found {
    char *where;   /* the _dmarc name that answered (owned) */
    char *txt;     /* the record (owned) */
    int inherited; /* from the organizational domain */
} found;

/* malformed_lookalike - a TXT at name that starts with "v=" and mentions DMARC but is not
 * a DMARC1 record (v=dmarc1, v=DMARC2, a leading space...); owned copy or NULL */
static char *malformed_lookalike(domain_ctx *c, const char *name)
{
    dns_txt_result *t = dnsq_txt(c->q, name);
    char *bad = NULL;
    for (int i = 0; i < t->n && !bad; i++) {
        const char *s = t->v[i] + strspn(t->v[i], " \t");
        if (!dmarc_is_record(t->v[i]) && !strncasecmp(s, "v", 1) && strcasestr(s, "dmarc"))
            bad = xstrdup(t->v[i]);
    }
    dnsq_txt_free(t);
    return bad;
}

/* lookup - the DMARC records at _dmarc.name: 1 with f filled, 0 none, -1 after reporting
 * a failed lookup or several records */
static int lookup(domain_ctx *c, const char *name, found *f)
{
    char *where = xasprintf("_dmarc.%s", name);
    dns_txt_result *t = domain_txt(c, where, "v");
    int rc = 0, k = 0;
    for (int i = 0; i < t->n; i++) { /* exactly "v=DMARC1" (RFC 7489 6.6.3) */
        if (dmarc_is_record(t->v[i]))
            t->v[k++] = t->v[i];
        else
            free(t->v[i]);
    }
    t->n = k;
    if (t->status == DNS_TEMPFAIL) {
        report_check(c->r, CK_WARN, "dmarc-record", "DMARC record", where,
                     t->why ? t->why : "TEMPFAIL", "the lookup failed; try again");
        rc = -1;
    } else if (t->n > 1) {
        report_checkf(c->r, CK_FAIL, "dmarc-record", "DMARC record", "one v=DMARC1 record",
                      "several",
                      "%d DMARC records at %s: receivers then apply no DMARC at all (RFC 7489 "
                      "6.6.3); keep one",
                      t->n, where);
        rc = -1;
    } else if (t->n == 1) {
        f->where = xstrdup(where);
        f->txt = xstrdup(t->v[0]);
        rc = 1;
    }
    dnsq_txt_free(t);
    free(where);
    return rc;
}

/* discover - the domain's record, else the organizational domain's; 1 found, 0 none or
 * reported */
static int discover(domain_ctx *c, found *f)
{
    const char *org = dmarc_org_domain(c->domain);
    int rc = lookup(c, c->domain, f);
    if (rc == 0 && strcasecmp(org, c->domain) != 0) {
        rc = lookup(c, org, f);
        f->inherited = rc == 1;
    }
    if (rc != 0)
        return rc == 1;
    char *name = xasprintf("_dmarc.%s", c->domain), *bad = malformed_lookalike(c, name);
    if (bad)
        report_check(c->r, CK_FAIL, "dmarc-record", "DMARC record",
                     "a record starting with v=DMARC1", bad,
                     "receivers ignore a record that does not start exactly with v=DMARC1 (RFC "
                     "7489 6.6.3): the domain has no DMARC policy");
    else
        report_checkf(c->r, CK_FAIL, "dmarc-record", "DMARC record", name, "none",
                      "no DMARC record%s%s: Gmail and Yahoo require one from bulk senders; start "
                      "with \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\"",
                      strcasecmp(org, c->domain) ? " here or at " : "",
                      strcasecmp(org, c->domain) ? org : "", org);
    free(bad);
    free(name);
    return 0;
}

/* check_policy - the policy in force for this domain, and pct */
static void check_policy(domain_ctx *c, const dmarc_record *d, int inherited)
{
    enum dmarc_policy p = inherited ? d->sp : d->p;
    const char *name = dmarc_policy_name(p);
    const char *want = "p=quarantine or p=reject";
    if (p == DMARC_NONE)
        report_check(c->r, CK_WARN, "dmarc-policy", "DMARC policy", want, "none",
                     "monitoring only: receivers report but do not act on failures, so forgers are "
                     "not stopped; move to quarantine once the reports show your own mail aligned");
    else
        report_check(c->r, CK_PASS, "dmarc-policy", "DMARC policy", want, name,
                     inherited ? "the organizational domain's sp= policy applies here" : NULL);
    if (!inherited && d->has_sp && d->sp < d->p)
        report_checkf(c->r, CK_INFO, "dmarc-sp", "DMARC subdomain policy", dmarc_policy_name(d->p),
                      dmarc_policy_name(d->sp),
                      "subdomains get a weaker policy (sp=%s) than the domain",
                      dmarc_policy_name(d->sp));
    if (d->pct < 100) {
        char got[16];
        snprintf(got, sizeof got, "%d", d->pct);
        report_checkf(c->r, CK_INFO, "dmarc-pct", "DMARC pct", "100", got,
                      "the policy applies to %d%% of failing mail; the rest gets the next weaker "
                      "treatment",
                      d->pct);
    }
}

/* check_external - a report address in another organization must authorize us (7.1) */
static void check_external(domain_ctx *c, const char *uri)
{
    char rdom[256];
    if (dmarc_mailto_domain(uri, rdom, sizeof rdom) < 0 ||
        !strcasecmp(dmarc_org_domain(rdom), dmarc_org_domain(c->domain)))
        return;
    char *name = xasprintf("%s._report._dmarc.%s", dmarc_org_domain(c->domain), rdom);
    dns_txt_result *t = domain_txt(c, name, "v=DMARC1");
    if (t->status != DNS_TEMPFAIL && t->n == 0)
        report_checkf(c->r, CK_WARN, "dmarc-rua-auth", "DMARC external report address", name,
                      "no v=DMARC1 record",
                      "%s is in another domain, which must publish %s (RFC 7489 7.1) or receivers "
                      "send it no reports",
                      uri, name);
    dnsq_txt_free(t);
    free(name);
}

/* check_reports - rua (aggregate) and ruf (failure) */
static void check_reports(domain_ctx *c, const dmarc_record *d)
{
    if (d->nrua == 0) {
        report_check(c->r, CK_INFO, "dmarc-rua", "DMARC aggregate reports", "rua=mailto:...",
                     "none",
                     "without rua= you get no reports, so you cannot see who sends as your domain "
                     "or whether your own mail aligns");
    } else {
        report_check(c->r, CK_PASS, "dmarc-rua", "DMARC aggregate reports", "rua=mailto:...",
                     d->rua[0], NULL);
        for (int i = 0; i < d->nrua; i++)
            check_external(c, d->rua[i]);
    }
    if (d->nruf > 0)
        report_check(c->r, CK_INFO, "dmarc-ruf", "DMARC failure reports", NULL, d->ruf[0],
                     "few receivers send failure reports (privacy); do not rely on them");
}

/* check_alignment - will mail From: DOMAIN sent from --ip pass DMARC? */
static void check_alignment(domain_ctx *c, const dmarc_record *d, int inherited)
{
    char mode[120];
    snprintf(mode, sizeof mode, "aspf=%c adkim=%c", d->aspf, d->adkim);
    const char *modes = d->aspf == 's' || d->adkim == 's' ? "strict mode: only the exact domain "
                                                            "aligns (a MAIL FROM or d= in a "
                                                            "subdomain does not)"
                                                          : "relaxed mode: MAIL FROM and DKIM d= "
                                                            "may be any name under the "
                                                            "organizational domain";
    int spf_ok = c->spf_evaluated && c->spf_result == SPF_PASS;
    int dkim_ok = c->dkim_ok == 1;
    if (spf_ok || dkim_ok) {
        report_checkf(c->r, CK_PASS, "dmarc-alignment", "DMARC alignment", "aligned SPF or DKIM",
                      spf_ok && dkim_ok ? "SPF and DKIM"
                      : spf_ok          ? "SPF"
                                        : "DKIM",
                      "%s (%s; SPF counts only when MAIL FROM is in this domain)", modes, mode);
        return;
    }
    if (!c->spf_evaluated && c->dkim_ok < 0) {
        report_checkf(c->r, CK_INFO, "dmarc-alignment", "DMARC alignment", "aligned SPF or DKIM",
                      "not evaluated",
                      "give --ip and --selector to check that your mail would pass; %s", modes);
        return;
    }
    enum dmarc_policy p = inherited ? d->sp : d->p;
    report_checkf(c->r, p == DMARC_NONE ? CK_WARN : CK_FAIL, "dmarc-alignment", "DMARC alignment",
                  "aligned SPF or DKIM", "neither",
                  "neither SPF for --ip nor the DKIM key checked out, so mail From: this domain "
                  "fails DMARC%s; %s",
                  p == DMARC_REJECT       ? " and is rejected"
                  : p == DMARC_QUARANTINE ? " and goes to spam"
                                          : " (only reported under p=none)",
                  modes);
}

void domain_check_dmarc(domain_ctx *c)
{
    report_section(c->r, "DMARC");
    found f = {0};
    if (!discover(c, &f))
        return;
    dmarc_record d;
    char err[300];
    if (dmarc_parse(f.txt, &d, err, sizeof err) < 0) {
        int i = report_check(c->r, CK_FAIL, "dmarc-syntax", "DMARC record syntax",
                             "a valid record (RFC 7489 6.4)", err,
                             "receivers ignore a malformed record: the domain has no DMARC policy");
        report_evidence(c->r, i, f.txt);
    } else {
        report_check(c->r, CK_PASS, "dmarc-record", "DMARC record", f.where, f.txt,
                     f.inherited ? "found at the organizational domain: it covers this subdomain "
                                   "(organizational domain by a suffix heuristic, not the Public "
                                   "Suffix List)"
                                 : NULL);
        report_data(c->r, "dmarc",
                    json_pack("{s:s,s:s,s:s,s:s,s:i,s:b}", "where", f.where, "record", f.txt, "p",
                              dmarc_policy_name(d.p), "sp", dmarc_policy_name(d.sp), "pct", d.pct,
                              "inherited", f.inherited));
        check_policy(c, &d, f.inherited);
        check_reports(c, &d);
        check_alignment(c, &d, f.inherited);
        dmarc_record_clear(&d);
    }
    free(f.where);
    free(f.txt);
}
