/* spf_parse.c - SPF record syntax (RFC 7208 4.5, 4.6, 12): version, then terms separated
 * by spaces, each a [qualifier] mechanism or a name=value modifier.  The whole record is
 * checked before anything is evaluated, so one bad term anywhere makes it a permerror.
 * Records are hostile DNS data: every term is bounded by the record's length. */
#include "doctor/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

static const char *const mech_names[] = {"all", "include", "a",   "mx",
                                         "ptr", "ip4",     "ip6", "exists"};
static const char *const result_names[] = {"none",     "neutral",   "pass",     "fail",
                                           "softfail", "temperror", "permerror"};

const char *spf_result_name(enum spf_result r)
{
    return (unsigned)r <= SPF_PERMERROR ? result_names[r] : "?";
}

const char *spf_mech_name(enum spf_mech m)
{
    return (unsigned)m <= SPF_EXISTS ? mech_names[m] : "?";
}

int spf_is_record(const char *txt)
{
    return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == 0 || txt[6] == ' ');
}

/* parse_len - a CIDR length of up to three digits without a leading zero, at most max */
static int parse_len(const char *s, size_t n, int max)
{
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* digits_before - how many digits end the n bytes at s */
static size_t digits_before(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && isdigit((unsigned char)s[n - 1 - k]))
        k++;
    return k;
}

/* split_cidr - take "[/len4][//len6]" off the end of s (n bytes); the length left, or -1 */
static long split_cidr(const char *s, size_t n, int *c4, int *c6, int dual)
{
    *c4 = *c6 = -1;
    size_t k = digits_before(s, n);
    if (dual && k && n >= k + 2 && s[n - k - 1] == '/' && s[n - k - 2] == '/') {
        if ((*c6 = parse_len(s + n - k, k, 128)) < 0)
            return -1;
        n -= k + 2;
        k = digits_before(s, n);
    }
    if (k && n > k && s[n - k - 1] == '/') {
        if ((*c4 = parse_len(s + n - k, k, dual ? 32 : 128)) < 0)
            return -1;
        n -= k + 1;
    }
    return (long)n;
}

/* parse_ipnet - ip4:/ip6: network and optional length */
static int parse_ipnet(spf_term *t, const char *arg, char *err, size_t errlen)
{
    int v6 = t->mech == SPF_IP6, c6;
    long n = split_cidr(arg, strlen(arg), &t->cidr4, &c6, 0);
    char host[INET6_ADDRSTRLEN + 1];
    if (n <= 0 || (size_t)n >= sizeof host || (!v6 && t->cidr4 > 32))
        goto bad;
    memcpy(host, arg, (size_t)n);
    host[n] = 0;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, t->addr) != 1)
        goto bad;
    if (v6) {
        t->cidr6 = t->cidr4;
        t->cidr4 = -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "\"%.60s\": not an %s network", t->text, v6 ? "IPv6" : "IPv4");
    return -1;
}

/* parse_target - the optional ":domain-spec" and dual CIDR of a, mx, ptr; required
 * domain-spec of include and exists */
static int parse_target(spf_term *t, const char *rest, char *err, size_t errlen)
{
    int dual = t->mech == SPF_A || t->mech == SPF_MX;
    long n = (long)strlen(rest);
    if (dual && (n = split_cidr(rest, (size_t)n, &t->cidr4, &t->cidr6, 1)) < 0) {
        snprintf(err, errlen, "\"%.60s\": bad CIDR length", t->text);
        return -1;
    }
    int need = t->mech == SPF_INCLUDE || t->mech == SPF_EXISTS;
    if (n == 0 && !need)
        return 0;
    if (rest[0] != ':' || n < 2) {
        snprintf(err, errlen, "\"%.60s\": %s", t->text,
                 need ? "a domain is required after ':'" : "unexpected text");
        return -1;
    }
    t->spec = xstrndup(rest + 1, (size_t)n - 1);
    if (spf_macro_check(t->spec, 1, err, errlen) < 0)
        return -1;
    return 0;
}

/* parse_mechanism - [qualifier] name [args] */
static int parse_mechanism(spf_term *t, const char *s, char *err, size_t errlen)
{
    t->qual = strchr("+-~?", *s) ? *s++ : '+';
    size_t n = strcspn(s, ":/");
    int m = -1;
    for (int i = 0; i <= SPF_EXISTS; i++)
        if (strlen(mech_names[i]) == n && !strncasecmp(s, mech_names[i], n))
            m = i;
    if (m < 0) {
        snprintf(err, errlen, "unknown mechanism \"%.40s\"", t->text);
        return -1;
    }
    t->mech = (enum spf_mech)m;
    const char *rest = s + n;
    if (t->mech == SPF_IP4 || t->mech == SPF_IP6) {
        if (*rest != ':') {
            snprintf(err, errlen, "\"%.60s\": an address is required after ':'", t->text);
            return -1;
        }
        return parse_ipnet(t, rest + 1, err, errlen);
    }
    if (t->mech == SPF_ALL && *rest) {
        snprintf(err, errlen, "\"%.60s\": all takes no argument", t->text);
        return -1;
    }
    return t->mech == SPF_ALL ? 0 : parse_target(t, rest, err, errlen);
}

/* name_ok - a modifier name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static int name_ok(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return 0;
    return 1;
}

/* parse_modifier - name=value */
static int parse_modifier(spf_term *t, const char *s, const char *eq, char *err, size_t errlen)
{
    t->modifier = 1;
    if (!name_ok(s, (size_t)(eq - s))) {
        snprintf(err, errlen, "\"%.60s\": bad modifier name", t->text);
        return -1;
    }
    t->name = xstrndup(s, (size_t)(eq - s));
    for (char *p = t->name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    t->spec = xstrdup(eq + 1);
    int domain = !strcmp(t->name, "redirect") || !strcmp(t->name, "exp");
    return spf_macro_check(t->spec, domain, err, errlen);
}

/* parse_term - one space-free term */
static int parse_term(spf_term *t, const char *s, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->cidr4 = t->cidr6 = -1;
    t->text = xstrdup(s);
    const char *eq = strchr(s, '=');
    size_t head = strcspn(s, ":/=");
    if (eq && s + head == eq)
        return parse_modifier(t, s, eq, err, errlen);
    return parse_mechanism(t, s, err, errlen);
}

/* note_term - remember where redirect, exp and all are; -1 on a repeated modifier */
static int note_term(spf_record *r, int i, char *err, size_t errlen)
{
    const spf_term *t = &r->t[i];
    if (!t->modifier) {
        r->has_all |= t->mech == SPF_ALL;
        return 0;
    }
    int *slot = !strcmp(t->name, "redirect") ? &r->redirect
                : !strcmp(t->name, "exp")    ? &r->exp
                                             : NULL;
    if (!slot)
        return 0;
    if (*slot >= 0) {
        snprintf(err, errlen, "the %s= modifier appears more than once", t->name);
        return -1;
    }
    *slot = i;
    return 0;
}

int spf_parse(const char *txt, spf_record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->redirect = out->exp = -1;
    if (!spf_is_record(txt)) {
        snprintf(err, errlen, "not an SPF record (v=spf1)");
        return -1;
    }
    char *copy = xstrdup(txt + 6), *save = NULL;
    int rc = 0;
    for (char *s = strtok_r(copy, " ", &save); s && rc == 0; s = strtok_r(NULL, " ", &save)) {
        out->t = xrealloc(out->t, sizeof *out->t * (size_t)(out->n + 1));
        rc = parse_term(&out->t[out->n], s, err, errlen);
        out->n++;
        if (rc == 0)
            rc = note_term(out, out->n - 1, err, errlen);
    }
    free(copy);
    if (rc < 0)
        spf_record_clear(out);
    return rc;
}

void spf_record_clear(spf_record *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->t[i].name);
        free(r->t[i].spec);
        free(r->t[i].text);
    }
    free(r->t);
    memset(r, 0, sizeof *r);
    r->redirect = r->exp = -1;
}
