/* test_doctor_spf.c - SPF for `sluice doctor domain` (src/doctor/spf.h), no network:
 * the record parser on valid and broken records (table), macro expansion on RFC 7208 7.4's
 * examples plus escapes and errors (table), and check_host() over a fake resolver serving a
 * small table of records: every result, the term that decided through include chains and
 * redirects, the 10-lookup and 2-void limits, MX and PTR limits, exists with macros, exp=
 * text, and the walk (audit) mode's counts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "common/xmalloc.h"
#include "doctor/dnsq.h"
#include "doctor/spf.h"

/* ---- the parser ---- */

static const struct parse_case {
    const char *rec;
    int ok;
    int nterms;      /* when ok */
    const char *err; /* a substring of the error when not ok */
} parse_cases[] = {
    {"v=spf1", 1, 0, NULL},
    {"v=spf1 -all", 1, 1, NULL},
    {"V=SPF1 +All", 1, 1, NULL},
    {"v=spf1  ip4:192.0.2.0/24   ip6:2001:db8::/32 ~all ", 1, 3, NULL},
    {"v=spf1 a mx ptr -all", 1, 4, NULL},
    {"v=spf1 a:mail.example.com/24//64 mx:example.com//48 -all", 1, 3, NULL},
    {"v=spf1 a/24 mx//64 ?all", 1, 3, NULL},
    {"v=spf1 include:_spf.example.com exists:%{i}._spf.%{d} -all", 1, 3, NULL},
    {"v=spf1 redirect=_spf.example.com", 1, 1, NULL},
    {"v=spf1 -all exp=explain._spf.%{d}", 1, 2, NULL},
    {"v=spf1 foo=bar -all", 1, 2, NULL},
    {"v=spf1 ip4:0.0.0.0/0 -all", 1, 2, NULL},
    {"v=spf1 ip6:::1 -all", 1, 2, NULL},
    {"v=spf1 include:%{d}", 1, 1, NULL},
    {"v=spf10 -all", 0, 0, "not an SPF"},
    {"spf1 -all", 0, 0, "not an SPF"},
    {"v=spf1 ip4:192.0.2.0/33 -all", 0, 0, "IPv4"},
    {"v=spf1 ip4:192.0.2.300 -all", 0, 0, "IPv4"},
    {"v=spf1 ip4:192.0.2.0/024 -all", 0, 0, "IPv4"},
    {"v=spf1 ip6:2001:db8::/129 -all", 0, 0, "IPv6"},
    {"v=spf1 ip4 -all", 0, 0, "address is required"},
    {"v=spf1 include -all", 0, 0, "domain is required"},
    {"v=spf1 include: -all", 0, 0, "domain is required"},
    {"v=spf1 a:192.0.2.1 -all", 0, 0, "does not end in a domain"},
    {"v=spf1 include:localhost -all", 0, 0, "does not end in a domain"},
    {"v=spf1 a/33 -all", 0, 0, "CIDR"},
    {"v=spf1 all:x", 0, 0, "no argument"},
    {"v=spf1 foo -all", 0, 0, "unknown mechanism"},
    {"v=spf1 -redirect=x.example", 0, 0, "modifier name"},
    {"v=spf1 redirect=a.example redirect=b.example", 0, 0, "more than once"},
    {"v=spf1 exp=a.example exp=b.example -all", 0, 0, "more than once"},
    {"v=spf1 exists:%{x}.example.com -all", 0, 0, "macro letter"},
    {"v=spf1 exists:%{d0}.example.com -all", 0, 0, "must not be 0"},
    {"v=spf1 exists:%{d.example.com -all", 0, 0, "malformed macro"},
    {"v=spf1 exists:100%.example.com -all", 0, 0, "%"},
    {"v=spf1 a:ex\x01mple.com -all", 0, 0, "byte"},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        spf_record r;
        char err[300] = "";
        int rc = spf_parse(c->rec, &r, err, sizeof err);
        if ((rc == 0) != c->ok || (c->ok && r.n != c->nterms) || (!c->ok && !strstr(err, c->err)))
            fail_msg("%s: got rc %d, %d terms, error \"%s\"; want ok=%d, %d terms, error ~\"%s\"",
                     c->rec, rc, rc == 0 ? r.n : -1, err, c->ok, c->nterms, c->err ? c->err : "");
        spf_record_clear(&r);
    }
}

static void test_parse_fields(void **state)
{
    (void)state;
    spf_record r;
    char err[200];
    assert_int_equal(spf_parse("v=spf1 ~a:mail.example.com/24//64 ip6:2001:db8::/48 "
                               "redirect=x.example",
                               &r, err, sizeof err),
                     0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.t[0].mech, SPF_A);
    assert_int_equal(r.t[0].qual, '~');
    assert_string_equal(r.t[0].spec, "mail.example.com");
    assert_int_equal(r.t[0].cidr4, 24);
    assert_int_equal(r.t[0].cidr6, 64);
    assert_int_equal(r.t[1].mech, SPF_IP6);
    assert_int_equal(r.t[1].cidr6, 48);
    assert_int_equal(r.redirect, 2);
    assert_string_equal(r.t[2].spec, "x.example");
    assert_false(r.has_all);
    spf_record_clear(&r);
}

/* ---- macros ---- */

static const struct macro_case {
    const char *in;
    int v6, exp;
    const char *out; /* NULL: an error */
} macro_cases[] = {
    {"%{s}", 0, 0, "strong-bad@email.example.com"},
    {"%{o}", 0, 0, "email.example.com"},
    {"%{d}", 0, 0, "email.example.com"},
    {"%{d4}", 0, 0, "email.example.com"},
    {"%{d3}", 0, 0, "email.example.com"},
    {"%{d2}", 0, 0, "example.com"},
    {"%{d1}", 0, 0, "com"},
    {"%{dr}", 0, 0, "com.example.email"},
    {"%{d2r}", 0, 0, "example.email"},
    {"%{l}", 0, 0, "strong-bad"},
    {"%{l-}", 0, 0, "strong.bad"},
    {"%{lr}", 0, 0, "strong-bad"},
    {"%{lr-}", 0, 0, "bad.strong"},
    {"%{l1r-}", 0, 0, "strong"},
    {"%{ir}.%{v}._spf.%{d2}", 0, 0, "3.2.0.192.in-addr._spf.example.com"},
    {"%{lr-}.lp._spf.%{d2}", 0, 0, "bad.strong.lp._spf.example.com"},
    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", 0, 0, "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", 0, 0, "3.2.0.192.in-addr.strong.lp._spf.example.com"},
    {"%{d2}.trusted-domains.example.net", 0, 0, "example.com.trusted-domains.example.net"},
    {"%{ir}.%{v}._spf.%{d2}", 1, 0,
     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"},
    {"%{i}", 0, 0, "192.0.2.3"},
    {"%{h}", 0, 0, "mx.example.org"},
    {"%{p}", 0, 0, "unknown"},
    {"%{S}", 0, 0, "strong-bad%40email.example.com"},
    {"%{d200}", 0, 0, "email.example.com"},
    {"a%%b%_c%-d", 0, 1, "a%b c%20d"},
    {"%{c} %{r}", 0, 1, "192.0.2.3 unknown"},
    {"%{c}", 1, 1, "2001:db8::cb01"},
    {"%{c}.example.com", 0, 0, NULL},
    {"%{t}.example.com", 0, 0, NULL},
    {"%{q}", 0, 0, NULL},
    {"%{d0}", 0, 0, NULL},
    {"%x", 0, 0, NULL},
};

/* sa4, sa6 - the RFC's example client addresses */
static struct sockaddr_storage sa_of(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        fail_msg("bad address %s", text);
    return ss;
}

static void test_macros(void **state)
{
    (void)state;
    struct sockaddr_storage v4 = sa_of("192.0.2.3"), v6 = sa_of("2001:db8::cb01");
    for (size_t i = 0; i < sizeof macro_cases / sizeof macro_cases[0]; i++) {
        const struct macro_case *c = &macro_cases[i];
        spf_macro_env env = {(struct sockaddr *)(c->v6 ? &v6 : &v4),
                             "strong-bad@email.example.com",
                             "email.example.com",
                             "mx.example.org",
                             NULL,
                             c->exp};
        char err[200] = "";
        char *got = spf_expand(c->in, &env, err, sizeof err);
        if (c->out ? !got || strcmp(got, c->out) : got != NULL)
            fail_msg("%s: got \"%s\" (%s), want \"%s\"", c->in, got ? got : "(error)", err,
                     c->out ? c->out : "(error)");
        free(got);
    }
}

static void test_macro_long_domain(void **state)
{
    (void)state;
    struct sockaddr_storage v4 = sa_of("192.0.2.3");
    char local[200];
    memset(local, 'x', 60);
    local[60] = 0;
    char *sender = xasprintf("%s.%s.%s.%s.%s@e.example", local, local, local, local, local);
    spf_macro_env env = {(struct sockaddr *)&v4, sender, "example.com", NULL, NULL, 0};
    char err[100];
    char *got = spf_expand("%{l}.example.com", &env, err, sizeof err);
    assert_non_null(got);
    assert_true(strlen(got) <= 253);
    assert_true(strlen(got) > 150);
    assert_true(strstr(got, ".example.com") != NULL);
    free(got);
    free(sender);
}

/* ---- check_host over a fake resolver ---- */

/* One fake record: type "TXT", "A", "AAAA", "MX" (value "10 host"), "PTR" (name is the
 * address), or "TEMPFAIL" (every query for name fails). */
typedef struct rr {
    const char *type, *name, *value;
} rr;

static const rr zone[] = {
    {"TXT", "ex.test",
     "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.ex.test include:inc.test -all"},
    {"TXT", "ex.test", "some other text"},
    {"A", "ex.test", "198.51.100.1"},
    {"MX", "mx.ex.test", "10 mail.ex.test"},
    {"A", "mail.ex.test", "198.51.100.2"},
    {"TXT", "inc.test", "v=spf1 ip4:203.0.113.0/24 ~all"},
    {"TXT", "soft.test", "v=spf1 ~all"},
    {"TXT", "neutral.test", "v=spf1 ?all"},
    {"TXT", "default.test", "v=spf1 ip4:192.0.2.1"},
    {"A", "none.test", "192.0.2.1"},
    {"TXT", "two.test", "v=spf1 -all"},
    {"TXT", "two.test", "v=spf1 +all"},
    {"TXT", "syntax.test", "v=spf1 ip4:1.2.3.4/33 -all"},
    {"TXT", "many.test",
     "v=spf1 include:i1.many.test include:i2.many.test include:i3.many.test "
     "include:i4.many.test include:i5.many.test include:i6.many.test include:i7.many.test "
     "include:i8.many.test include:i9.many.test include:i10.many.test include:i11.many.test -all"},
    {"TXT", "i1.many.test", "v=spf1 -all"},
    {"TXT", "i2.many.test", "v=spf1 -all"},
    {"TXT", "i3.many.test", "v=spf1 -all"},
    {"TXT", "i4.many.test", "v=spf1 -all"},
    {"TXT", "i5.many.test", "v=spf1 -all"},
    {"TXT", "i6.many.test", "v=spf1 -all"},
    {"TXT", "i7.many.test", "v=spf1 -all"},
    {"TXT", "i8.many.test", "v=spf1 -all"},
    {"TXT", "i9.many.test", "v=spf1 -all"},
    {"TXT", "i10.many.test", "v=spf1 -all"},
    {"TXT", "i11.many.test", "v=spf1 -all"},
    {"TXT", "void.test", "v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"},
    {"TXT", "void2.test", "v=spf1 a:n1.void.test a:n2.void.test -all"},
    {"TXT", "redir.test", "v=spf1 redirect=ex.test"},
    {"TXT", "redirall.test", "v=spf1 ?all redirect=ex.test"},
    {"TXT", "redirnone.test", "v=spf1 redirect=none.test"},
    {"TXT", "inclnone.test", "v=spf1 include:none.test -all"},
    {"TEMPFAIL", "temp.test", NULL},
    {"TXT", "incltemp.test", "v=spf1 include:temp.test -all"},
    {"TXT", "exists.test", "v=spf1 exists:%{i}.ok.exists.test -all"},
    {"A", "192.0.2.9.ok.exists.test", "127.0.0.2"},
    {"TXT", "ptr.test", "v=spf1 ptr:ptr.test -all"},
    {"PTR", "192.0.2.50", "host.ptr.test"},
    {"A", "host.ptr.test", "192.0.2.50"},
    {"PTR", "192.0.2.51", "host2.ptr.test"},
    {"A", "host2.ptr.test", "192.0.2.99"},
    {"TXT", "loop.test", "v=spf1 include:loop.test -all"},
    {"TXT", "exp.test", "v=spf1 -all exp=explain.exp.test"},
    {"TXT", "explain.exp.test", "%{i} is not one of %{d}'s servers"},
    {"TXT", "cidr.test", "v=spf1 a:host.cidr.test/24 -all"},
    {"A", "host.cidr.test", "192.0.2.200"},
    {"TXT", "mxmany.test", "v=spf1 mx -all"},
    {"MX", "mxmany.test", "1 m1.test"},
    {"MX", "mxmany.test", "2 m2.test"},
    {"MX", "mxmany.test", "3 m3.test"},
    {"MX", "mxmany.test", "4 m4.test"},
    {"MX", "mxmany.test", "5 m5.test"},
    {"MX", "mxmany.test", "6 m6.test"},
    {"MX", "mxmany.test", "7 m7.test"},
    {"MX", "mxmany.test", "8 m8.test"},
    {"MX", "mxmany.test", "9 m9.test"},
    {"MX", "mxmany.test", "10 m10.test"},
    {"MX", "mxmany.test", "11 m11.test"},
    {"TXT", "chain.test", "v=spf1 include:a.chain.test -all"},
    {"TXT", "a.chain.test", "v=spf1 include:b.chain.test -all"},
    {"TXT", "b.chain.test", "v=spf1 ip4:192.0.2.128/25 -all"},
    {"TXT", "walk.test", "v=spf1 a mx include:inc.test -all include:after.test"},
};
#define NZONE (sizeof zone / sizeof zone[0])

/* find - does name have a record of type (or any record, or a TEMPFAIL) */
static enum dns_status status_of(const char *name, const char *type, int *tempfail)
{
    int any = 0, typed = 0;
    *tempfail = 0;
    for (size_t i = 0; i < NZONE; i++) {
        if (strcasecmp(zone[i].name, name))
            continue;
        any = 1;
        typed |= !strcmp(zone[i].type, type);
        *tempfail |= !strcmp(zone[i].type, "TEMPFAIL");
    }
    return *tempfail ? DNS_TEMPFAIL : typed ? DNS_OK : any ? DNS_NODATA : DNS_NXDOMAIN;
}

static int lookups_seen;

static dns_txt_result *fake_txt_type(const char *name, const char *type)
{
    int tf;
    dns_txt_result *r = xcalloc(1, sizeof *r);
    r->status = status_of(name, type, &tf);
    r->v = xcalloc(NZONE + 1, sizeof *r->v);
    if (tf)
        r->why = xstrdup("fake SERVFAIL");
    for (size_t i = 0; i < NZONE && r->status == DNS_OK; i++)
        if (!strcasecmp(zone[i].name, name) && !strcmp(zone[i].type, type))
            r->v[r->n++] = xstrdup(zone[i].value);
    return r;
}

static dns_txt_result *fake_txt(void *arg, const char *name)
{
    (void)arg;
    lookups_seen++;
    return fake_txt_type(name, "TXT");
}

static dns_addr_result *fake_addr(void *arg, const char *name, int family)
{
    (void)arg;
    int tf;
    const char *type = family == AF_INET ? "A" : "AAAA";
    dns_addr_result *r = xcalloc(1, sizeof *r);
    r->status = status_of(name, type, &tf);
    r->addrs = xcalloc(NZONE + 1, sizeof *r->addrs);
    for (size_t i = 0; i < NZONE && r->status == DNS_OK; i++)
        if (!strcasecmp(zone[i].name, name) && !strcmp(zone[i].type, type)) {
            struct sockaddr_storage ss = sa_of(zone[i].value);
            memcpy(&r->addrs[r->naddrs].ss, &ss, sizeof ss);
            r->addrs[r->naddrs++].len =
                family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        }
    return r;
}

static dns_mx_result *fake_mx(void *arg, const char *name)
{
    (void)arg;
    int tf;
    dns_mx_result *r = xcalloc(1, sizeof *r);
    r->status = status_of(name, "MX", &tf);
    r->mx = xcalloc(NZONE + 1, sizeof *r->mx);
    for (size_t i = 0; i < NZONE && r->status == DNS_OK; i++)
        if (!strcasecmp(zone[i].name, name) && !strcmp(zone[i].type, "MX")) {
            char host[100];
            unsigned pref;
            sscanf(zone[i].value, "%u %99s", &pref, host);
            r->mx[r->nmx].pref = (uint16_t)pref;
            r->mx[r->nmx++].host = xstrdup(host);
        }
    return r;
}

static dns_txt_result *fake_ptr(void *arg, const struct sockaddr *sa)
{
    (void)arg;
    char ip[64];
    netaddr_ip(sa, ip, sizeof ip);
    return fake_txt_type(ip, "PTR");
}

static const spf_resolver fake = {NULL, fake_txt, fake_addr, fake_mx, fake_ptr};

static const struct eval_case {
    const char *domain, *ip;
    int walk;
    enum spf_result want;
    const char *matched; /* exact deciding term, or NULL: not checked */
    const char *reason;  /* a substring of the reason, or NULL */
    int lookups, voids;  /* -1: not checked */
} eval_cases[] = {
    {"ex.test", "192.0.2.3", 0, SPF_PASS, "ip4:192.0.2.0/24", NULL, 0, 0},
    {"ex.test", "2001:db8::5", 0, SPF_PASS, "ip6:2001:db8::/32", NULL, 0, 0},
    {"ex.test", "::ffff:192.0.2.3", 0, SPF_PASS, "ip4:192.0.2.0/24", NULL, 0, 0},
    {"ex.test", "198.51.100.1", 0, SPF_PASS, "a", NULL, 1, 0},
    {"ex.test", "198.51.100.2", 0, SPF_PASS, "mx:mx.ex.test", NULL, 2, 0},
    {"ex.test", "203.0.113.9", 0, SPF_PASS, "include:inc.test > ip4:203.0.113.0/24", NULL, 3, 0},
    {"ex.test", "198.18.0.1", 0, SPF_FAIL, "-all", NULL, 3, 0},
    {"ex.test", "2001:db9::1", 0, SPF_FAIL, "-all", NULL, 3, -1},
    {"soft.test", "192.0.2.3", 0, SPF_SOFTFAIL, "~all", NULL, 0, 0},
    {"neutral.test", "192.0.2.3", 0, SPF_NEUTRAL, "?all", NULL, 0, 0},
    {"default.test", "192.0.2.3", 0, SPF_NEUTRAL, NULL, "default", 0, 0},
    {"none.test", "192.0.2.3", 0, SPF_NONE, NULL, "no SPF record", 0, 0},
    {"nowhere.test", "192.0.2.3", 0, SPF_NONE, NULL, NULL, 0, 0},
    {"localhost", "192.0.2.3", 0, SPF_NONE, NULL, NULL, 0, 0},
    {"two.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "2 SPF records", 0, 0},
    {"syntax.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "IPv4", 0, 0},
    {"many.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "the 11th is include:i11.many.test", 11, -1},
    {"void.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "void", 3, 3},
    {"void2.test", "192.0.2.3", 0, SPF_FAIL, "-all", NULL, 2, 2},
    {"redir.test", "203.0.113.9", 0, SPF_PASS, "include:inc.test > ip4:203.0.113.0/24", NULL, 4, 0},
    {"redir.test", "198.18.0.1", 0, SPF_FAIL, "-all", NULL, 4, 0},
    {"redirall.test", "198.18.0.1", 0, SPF_NEUTRAL, "?all", NULL, 0, 0},
    {"redirnone.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "redirect=none.test", 1, 0},
    {"inclnone.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "include:none.test", 1, 0},
    {"temp.test", "192.0.2.3", 0, SPF_TEMPERROR, NULL, "SERVFAIL", 0, 0},
    {"incltemp.test", "192.0.2.3", 0, SPF_TEMPERROR, NULL, "temp.test", 1, 0},
    {"exists.test", "192.0.2.9", 0, SPF_PASS, "exists:%{i}.ok.exists.test", NULL, 1, 0},
    {"exists.test", "192.0.2.10", 0, SPF_FAIL, "-all", NULL, 1, 1},
    {"ptr.test", "192.0.2.50", 0, SPF_PASS, "ptr:ptr.test", NULL, 1, 0},
    {"ptr.test", "192.0.2.51", 0, SPF_FAIL, "-all", NULL, 1, 0},
    {"loop.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "more than 10", 11, 0},
    {"cidr.test", "192.0.2.3", 0, SPF_PASS, "a:host.cidr.test/24", NULL, 1, 0},
    {"cidr.test", "192.0.3.3", 0, SPF_FAIL, "-all", NULL, 1, 0},
    {"mxmany.test", "192.0.2.3", 0, SPF_PERMERROR, NULL, "11 MX hosts", 1, 0},
    {"chain.test", "192.0.2.200", 0, SPF_PASS,
     "include:a.chain.test > include:b.chain.test > ip4:192.0.2.128/25", NULL, 2, 0},
    {"chain.test", "192.0.2.3", 0, SPF_FAIL, "-all", NULL, 2, 0},
    /* walk mode: the longest path */
    {"ex.test", "192.0.2.3", 1, SPF_NEUTRAL, NULL, NULL, 3, 0},
    {"walk.test", "192.0.2.3", 1, SPF_NEUTRAL, NULL, NULL, 3, 2},
    {"many.test", "192.0.2.3", 1, SPF_PERMERROR, NULL, "11 DNS-querying terms", 11, 0},
    {"void.test", "192.0.2.3", 1, SPF_PERMERROR, NULL, "3 void lookups", 3, 3},
    {"loop.test", "192.0.2.3", 1, SPF_PERMERROR, NULL, "loop", 51, 0},
    {"inclnone.test", "192.0.2.3", 1, SPF_PERMERROR, NULL, "include:none.test", 1, 0},
    {"redir.test", "192.0.2.3", 1, SPF_NEUTRAL, NULL, NULL, 4, 0},
};

static void test_eval(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
        const struct eval_case *c = &eval_cases[i];
        struct sockaddr_storage ip = sa_of(c->ip);
        spf_query q = {(struct sockaddr *)&ip, "user@sender.test", "mx.sender.test", &fake,
                       c->walk};
        spf_outcome o;
        spf_check_host(&q, c->domain, &o);
        int bad =
            o.result != c->want || (c->matched && (!o.matched || strcmp(o.matched, c->matched))) ||
            (c->reason && (!o.reason || !strstr(o.reason, c->reason))) ||
            (c->lookups >= 0 && o.lookups != c->lookups) || (c->voids >= 0 && o.voids != c->voids);
        if (bad) {
            for (int k = 0; k < o.ntrace; k++)
                fprintf(stderr, "  trace: %s\n", o.trace[k]);
            fail_msg("%s for %s (walk %d): got %s matched \"%s\" reason \"%s\" lookups %d voids "
                     "%d; want %s \"%s\" \"%s\" %d %d",
                     c->domain, c->ip, c->walk, spf_result_name(o.result),
                     o.matched ? o.matched : "", o.reason ? o.reason : "", o.lookups, o.voids,
                     spf_result_name(c->want), c->matched ? c->matched : "",
                     c->reason ? c->reason : "", c->lookups, c->voids);
        }
        spf_outcome_clear(&o);
    }
}

static void test_exp_and_ptr_flag(void **state)
{
    (void)state;
    struct sockaddr_storage ip = sa_of("192.0.2.3");
    spf_query q = {(struct sockaddr *)&ip, NULL, NULL, &fake, 0};
    spf_outcome o;
    spf_check_host(&q, "exp.test", &o);
    assert_int_equal(o.result, SPF_FAIL);
    assert_non_null(o.explanation);
    assert_string_equal(o.explanation, "192.0.2.3 is not one of exp.test's servers");
    assert_false(o.ptr_used);
    spf_outcome_clear(&o);
    ip = sa_of("192.0.2.50");
    spf_check_host(&q, "ptr.test", &o);
    assert_true(o.ptr_used);
    assert_int_equal(o.matched_domain != NULL, 1);
    assert_string_equal(o.matched_domain, "ptr.test");
    spf_outcome_clear(&o);
}

static void test_is_record(void **state)
{
    (void)state;
    assert_true(spf_is_record("v=spf1"));
    assert_true(spf_is_record("v=spf1 -all"));
    assert_true(spf_is_record("V=SPF1 -all"));
    assert_false(spf_is_record("v=spf10"));
    assert_false(spf_is_record(" v=spf1"));
    assert_false(spf_is_record("v=spf1\t-all"));
    assert_string_equal(spf_result_name(SPF_SOFTFAIL), "softfail");
    assert_string_equal(spf_mech_name(SPF_EXISTS), "exists");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_macros),    cmocka_unit_test(test_macro_long_domain),
        cmocka_unit_test(test_eval),      cmocka_unit_test(test_exp_and_ptr_flag),
        cmocka_unit_test(test_is_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
