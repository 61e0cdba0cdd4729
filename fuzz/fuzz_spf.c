/* fuzz_spf.c - libFuzzer target for SPF (src/doctor/spf.h): the record parser, the macro
 * checker and expander, and check_host() in both modes over a resolver made of the input
 * itself (every TXT query answers the input as the one record, so include and redirect
 * recurse into it; a name starting with a digit has an A record 127.0.0.2, MX hosts are
 * "mx.<name>", PTR names "ptr.example").  Beyond "no crash" it checks: a parsed record's
 * indexes and CIDR lengths are in range; a string the checker accepts always expands in
 * exp= text, and one that expands as a domain-spec passes the checker; a domain never
 * grows past 253 bytes when it has a dot to cut at; evaluation stays within the limits
 * (at most 11 lookups and 3 void lookups, walk mode 51) and returns a known result. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/dnsq.h"
#include "doctor/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *record;

/* f_txt - the input as the only TXT record of every name */
static dns_txt_result *f_txt(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    dns_txt_result *r = xcalloc(1, sizeof *r);
    r->v = xcalloc(2, sizeof *r->v);
    r->v[0] = xstrdup(record);
    r->n = 1;
    return r;
}

/* f_addr - 127.0.0.2 for names starting with a digit, NXDOMAIN for the rest */
static dns_addr_result *f_addr(void *arg, const char *name, int family)
{
    (void)arg;
    dns_addr_result *r = xcalloc(1, sizeof *r);
    r->addrs = xcalloc(2, sizeof *r->addrs);
    r->status = DNS_NXDOMAIN;
    if (name[0] >= '0' && name[0] <= '9' && family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&r->addrs[0].ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(0x7f000002);
        r->naddrs = 1;
        r->status = DNS_OK;
    }
    return r;
}

/* f_mx - one MX host, mx.<name> (when that fits) */
static dns_mx_result *f_mx(void *arg, const char *name)
{
    (void)arg;
    dns_mx_result *r = xcalloc(1, sizeof *r);
    r->mx = xcalloc(2, sizeof *r->mx);
    r->mx[0].host = xasprintf("mx.%.200s", name);
    r->nmx = 1;
    return r;
}

/* f_ptr - one PTR name */
static dns_txt_result *f_ptr(void *arg, const struct sockaddr *sa)
{
    (void)arg;
    (void)sa;
    dns_txt_result *r = xcalloc(1, sizeof *r);
    r->v = xcalloc(2, sizeof *r->v);
    r->v[0] = xstrdup("ptr.example");
    r->n = 1;
    return r;
}

static const spf_resolver fake = {NULL, f_txt, f_addr, f_mx, f_ptr};

/* check_record - the promises of a parsed record */
static void check_record(const spf_record *r)
{
    if (r->redirect >= r->n || r->exp >= r->n || (r->redirect >= 0 && !r->t[r->redirect].modifier))
        abort();
    for (int i = 0; i < r->n; i++) {
        const spf_term *t = &r->t[i];
        if (!t->text || (t->modifier && (!t->name || !t->spec)) || t->cidr4 > 32 ||
            t->cidr6 > 128 || (!t->modifier && !strchr("+-~?", t->qual)))
            abort();
    }
}

/* check_macros - checker and expander agree on s */
static void check_macros(const char *s, const struct sockaddr *ip)
{
    char err[200];
    spf_macro_env env = {
        ip, "strong-bad@email.example.com", "email.example.com", "helo.example", NULL, 1};
    int ok = spf_macro_check(s, 0, err, sizeof err) == 0 && !strchr(s, ' ');
    char *x = spf_expand(s, &env, err, sizeof err);
    if (ok && !x)
        abort();
    free(x);
    env.exp = 0;
    x = spf_expand(s, &env, err, sizeof err);
    if (x && spf_macro_check(s, 0, err, sizeof err) != 0)
        abort();
    if (x && strlen(x) > 253 && memchr(x, '.', strlen(x) - 253))
        abort();
    free(x);
}

/* check_eval - check_host() on the input as every domain's record */
static void check_eval(const struct sockaddr *ip, int walk)
{
    spf_query q = {ip, NULL, "helo.example", &fake, walk};
    spf_outcome o;
    spf_check_host(&q, "fuzz.example", &o);
    if ((unsigned)o.result > SPF_PERMERROR || o.lookups > (walk ? 51 : 11) ||
        (!walk && o.voids > 3))
        abort();
    if (o.result == SPF_PASS && !walk && !o.matched)
        abort();
    spf_outcome_clear(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    record = s;
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "192.0.2.3", &v4.sin_addr);
    inet_pton(AF_INET6, "2001:db8::cb01", &v6.sin6_addr);
    spf_record r;
    char err[300];
    if (spf_parse(s, &r, err, sizeof err) == 0) {
        check_record(&r);
        for (int i = 0; i < r.n; i++)
            if (r.t[i].spec)
                check_macros(r.t[i].spec, (struct sockaddr *)(i % 2 ? (void *)&v6 : (void *)&v4));
        spf_record_clear(&r);
    }
    check_macros(s, (struct sockaddr *)&v4);
    if (spf_is_record(s)) {
        check_eval((struct sockaddr *)&v4, 0);
        check_eval((struct sockaddr *)&v6, 1);
    }
    free(s);
    return 0;
}
