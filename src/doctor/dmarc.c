/* dmarc.c - DMARC record parsing and the organizational-domain heuristic (dmarc.h).
 * Tag names and keyword values compare case-blind (RFC 7489's ABNF); "DMARC1" is exact.
 * The record is hostile DNS data: lists are bounded by the record's length, numbers by
 * their digit count. */
#include "doctor/dmarc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

static const char *const policy_names[] = {"none", "quarantine", "reject"};

const char *dmarc_policy_name(enum dmarc_policy p)
{
    return (unsigned)p <= DMARC_REJECT ? policy_names[p] : "?";
}

int dmarc_is_record(const char *txt)
{
    const char *p = txt;
    if (*p != 'v' && *p != 'V')
        return 0;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "DMARC1", 6) != 0)
        return 0;
    p += 6;
    return !*p || *p == ';' || *p == ' ' || *p == '\t';
}

/* parse_policy - none / quarantine / reject; -1 for anything else */
static int parse_policy(const char *v, enum dmarc_policy *out)
{
    for (int i = 0; i <= DMARC_REJECT; i++)
        if (!strcasecmp(v, policy_names[i])) {
            *out = (enum dmarc_policy)i;
            return 0;
        }
    return -1;
}

/* parse_number - 1..maxdigits decimal digits, nothing else */
static int parse_number(const char *v, int maxdigits, long long *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > (size_t)maxdigits || strspn(v, "0123456789") != n)
        return -1;
    *out = strtoll(v, NULL, 10);
    return 0;
}

/* uri_ok - "scheme:rest" with an RFC 3986 scheme and a non-empty rest */
static int uri_ok(const char *u)
{
    if (!isalpha((unsigned char)u[0]))
        return 0;
    const char *p = u + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':' && p[1] != 0;
}

/* size_ok - the optional "!" 1*DIGIT [k/m/g/t] suffix of a report URI */
static int size_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0)
        return 0;
    return !s[n] || (!s[n + 1] && strchr("kmgtKMGT", s[n]));
}

/* parse_uris - comma-separated report URIs into *out; -1 on a malformed one */
static int parse_uris(const char *v, char ***out, int *n)
{
    char *copy = xstrdup(v), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
            t[--len] = 0;
        char *bang = strchr(t, '!');
        if (bang)
            *bang = 0;
        if (!uri_ok(t) || (bang && !size_ok(bang + 1))) {
            rc = -1;
            break;
        }
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
        (*out)[(*n)++] = xstrdup(t);
    }
    free(copy);
    return rc;
}

/* fo_ok - "0", "1", "d", "s" separated by ":" (whitespace allowed around them) */
static int fo_ok(const char *v)
{
    int items = 0;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || !strchr("01dsDS", *p))
            return 0;
        p++;
        items++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ':' && p[1])
            p++;
        else if (*p)
            return 0;
    }
    return items > 0;
}

/* bad - fill err, return -1 */
static int bad(char *err, size_t errlen, const char *tag, const char *value, const char *want)
{
    snprintf(err, errlen, "%s=%.40s: %s", tag, value, want);
    return -1;
}

/* read_policies - p= (required) and sp= */
static int read_policies(dmarc_record *r, char *err, size_t errlen)
{
    const char *p = taglist_get(&r->tags, "p", 1), *sp = taglist_get(&r->tags, "sp", 1);
    if (!p) {
        snprintf(err, errlen, "no p= tag (the policy is required)");
        return -1;
    }
    if (parse_policy(p, &r->p) < 0)
        return bad(err, errlen, "p", p, "expected none, quarantine or reject");
    r->sp = r->p;
    r->has_sp = sp != NULL;
    if (sp && parse_policy(sp, &r->sp) < 0)
        return bad(err, errlen, "sp", sp, "expected none, quarantine or reject");
    return 0;
}

/* read_alignment - adkim= and aspf= */
static int read_alignment(dmarc_record *r, char *err, size_t errlen)
{
    static const char *const tags[] = {"adkim", "aspf"};
    char *dst[] = {&r->adkim, &r->aspf};
    for (int i = 0; i < 2; i++) {
        const char *v = taglist_get(&r->tags, tags[i], 1);
        *dst[i] = 'r';
        if (!v)
            continue;
        if (strlen(v) != 1 || !strchr("rsRS", v[0]))
            return bad(err, errlen, tags[i], v, "expected r or s");
        *dst[i] = (char)tolower((unsigned char)v[0]);
    }
    return 0;
}

/* read_reports - pct=, rua=, ruf=, fo=, ri= */
static int read_reports(dmarc_record *r, char *err, size_t errlen)
{
    const char *pct = taglist_get(&r->tags, "pct", 1), *ri = taglist_get(&r->tags, "ri", 1);
    const char *rua = taglist_get(&r->tags, "rua", 1), *ruf = taglist_get(&r->tags, "ruf", 1);
    const char *fo = taglist_get(&r->tags, "fo", 1);
    long long v = 100;
    if (pct && (parse_number(pct, 3, &v) < 0 || v > 100))
        return bad(err, errlen, "pct", pct, "expected a whole number 0-100");
    r->pct = (int)v;
    r->ri = 86400;
    if (ri && parse_number(ri, 10, &r->ri) < 0)
        return bad(err, errlen, "ri", ri, "expected a number of seconds");
    if (rua && parse_uris(rua, &r->rua, &r->nrua) < 0)
        return bad(err, errlen, "rua", rua, "expected comma-separated URIs (mailto:...)");
    if (ruf && parse_uris(ruf, &r->ruf, &r->nruf) < 0)
        return bad(err, errlen, "ruf", ruf, "expected comma-separated URIs (mailto:...)");
    r->fo = fo ? fo : "0";
    if (fo && !fo_ok(fo))
        return bad(err, errlen, "fo", fo, "expected 0, 1, d or s separated by ':'");
    return 0;
}

int dmarc_parse(const char *txt, dmarc_record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!dmarc_is_record(txt)) {
        snprintf(err, errlen, "the record does not start with v=DMARC1");
        return -1;
    }
    if (taglist_parse(txt, 1, &out->tags, err, errlen) < 0)
        return -1;
    if (read_policies(out, err, errlen) < 0 || read_alignment(out, err, errlen) < 0 ||
        read_reports(out, err, errlen) < 0) {
        dmarc_record_clear(out);
        return -1;
    }
    return 0;
}

void dmarc_record_clear(dmarc_record *r)
{
    taglist_clear(&r->tags);
    for (int i = 0; i < r->nrua; i++)
        free(r->rua[i]);
    for (int i = 0; i < r->nruf; i++)
        free(r->ruf[i]);
    free(r->rua);
    free(r->ruf);
    memset(r, 0, sizeof *r);
}

/* Second-level labels that registries use under country codes (example.co.uk). */
static const char *const registry_labels[] = {
    "ac",  "co",  "com", "edu", "gov", "net",  "org", "or",  "ne",   "go",  "gob", "mil",
    "nic", "ltd", "plc", "sch", "gv",  "govt", "nom", "int", "info", "biz", "nhs", "police",
};

/* is_registry_label - the n bytes at s are one of registry_labels */
static int is_registry_label(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof registry_labels / sizeof registry_labels[0]; i++)
        if (strlen(registry_labels[i]) == n && !strncasecmp(registry_labels[i], s, n))
            return 1;
    return 0;
}

/* label_start - where the label ending before index end begins */
static size_t label_start(const char *d, size_t end)
{
    while (end > 0 && d[end - 1] != '.')
        end--;
    return end;
}

const char *dmarc_org_domain(const char *domain)
{
    size_t len = strlen(domain);
    if (len && domain[len - 1] == '.')
        len--;
    size_t tld = label_start(domain, len);
    if (tld == 0)
        return domain;
    size_t sld = label_start(domain, tld - 1);
    if (sld == 0)
        return domain;
    int cc = len - tld == 2 && isalpha((unsigned char)domain[tld]) &&
             isalpha((unsigned char)domain[tld + 1]);
    if (cc && is_registry_label(domain + sld, tld - 1 - sld))
        return domain + label_start(domain, sld - 1);
    return domain + sld;
}

int dmarc_mailto_domain(const char *uri, char *buf, size_t len)
{
    if (strncasecmp(uri, "mailto:", 7) != 0)
        return -1;
    const char *at = strrchr(uri + 7, '@');
    if (!at || at == uri + 7)
        return -1;
    size_t n = strcspn(at + 1, "?>");
    if (n == 0 || n >= len)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)at[1 + i]);
    buf[n] = 0;
    return 0;
}
