/* test_doctor_ip.c - the parts of `sluice doctor ip` that need no network: the argument and
 * address parsing, the generic-PTR heuristic (table: ISP names that must be flagged, mail
 * server names that must not), the DNSBL query names (IPv4, IPv6 nibbles, IPv4-mapped) and
 * the DNSBL verdict rules (table: self-test failures, Spamhaus error codes, non-127
 * answers, listings with code meanings), and the curated list's own promises.  Includes
 * doctor_ip.c to reach its static functions.  The DNS side is tests/e2e/test_doctor_dns.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doctor/doctor_ip.c"

static void test_args(void **state)
{
    (void)state;
    ip_args a;
    char *ok[] = {"192.0.2.1", "--helo", "mail.example.com", "--dnsbl", "a.example,b.example"};
    assert_int_equal(parse_args(5, ok, &a), 0);
    assert_string_equal(a.addr, "192.0.2.1");
    assert_string_equal(a.helo, "mail.example.com");
    assert_string_equal(a.dnsbl, "a.example,b.example");
    char *none[] = {"--helo", "x.example"};
    assert_int_equal(parse_args(2, none, &a), -1);
    char *two[] = {"192.0.2.1", "192.0.2.2"};
    assert_int_equal(parse_args(2, two, &a), -1);
    char *dangling[] = {"192.0.2.1", "--helo"};
    assert_int_equal(parse_args(2, dangling, &a), -1);
    char *unknown[] = {"192.0.2.1", "--bogus"};
    assert_int_equal(parse_args(2, unknown, &a), -1);
}

static void test_addr(void **state)
{
    (void)state;
    ip_ctx c;
    assert_int_equal(parse_addr("192.0.2.1", &c), 0);
    assert_int_equal(c.sa->sa_family, AF_INET);
    assert_string_equal(c.text, "192.0.2.1");
    assert_int_equal(parse_addr("2001:db8::1", &c), 0);
    assert_int_equal(c.sa->sa_family, AF_INET6);
    assert_int_equal(parse_addr("::ffff:192.0.2.7", &c), 0);
    assert_int_equal(c.sa->sa_family, AF_INET);
    assert_string_equal(c.text, "192.0.2.7");
    assert_int_equal(parse_addr("mail.example.com", &c), -1);
    assert_int_equal(parse_addr("192.0.2.256", &c), -1);
    assert_int_equal(parse_addr("", &c), -1);
}

static const struct generic_case {
    const char *ip, *name;
    int generic;
} generics[] = {
    {"203.0.113.45", "45.113.0.203.dynamic.isp.example", 1},
    {"203.0.113.45", "203-0-113-45.static.isp.example", 1},
    {"203.0.113.45", "host-203-0-113-45.isp.example", 1},
    {"203.0.113.45", "cpe-45-113-0-203.cable.example", 1},
    {"203.0.113.45", "ip203000113045.isp.example", 1},
    {"203.0.113.45", "cb00712d.isp.example", 1},
    {"203.0.113.45", "adsl-pool.isp.example", 1},
    {"203.0.113.45", "dsl123.isp.example", 1},
    {"203.0.113.45", "dhcp.example.net", 1},
    {"203.0.113.45", "ppp45.isp.example", 1},
    {"203.0.113.45", "mail.example.com", 0},
    {"203.0.113.45", "mx1.example.com", 0},
    {"203.0.113.45", "smtp-out3.mailer.example", 0},
    {"203.0.113.45", "ecstatic.example.com", 0},
    {"203.0.113.45", "o45.email.example", 0},
    {"203.0.113.45", "staticmail.example.com", 0},
    {"2001:db8:1:2::cb00:712d", "cb00712d.v6.isp.example", 1},
    {"2001:db8:1:2::cb00:712d",
     "d.2.1.7.0.0.b.c.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.isp.example", 1},
    {"2001:db8:1:2::cb00:712d", "mail6.example.com", 0},
    {"2001:db8::1", "mail.example.com", 0},
};

static void test_generic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof generics / sizeof generics[0]; i++) {
        ip_ctx c;
        char why[300] = "";
        assert_int_equal(parse_addr(generics[i].ip, &c), 0);
        int got = generic_reason(&c, generics[i].name, why, sizeof why);
        if (got != generics[i].generic)
            fail_msg("%s for %s: got %d (%s), want %d", generics[i].name, generics[i].ip, got, why,
                     generics[i].generic);
    }
}

static void test_query_names(void **state)
{
    (void)state;
    ip_ctx c;
    char buf[300];
    assert_int_equal(parse_addr("192.0.2.99", &c), 0);
    assert_int_equal(dnsbl_query_name(c.sa, "zen.spamhaus.org", buf, sizeof buf), 0);
    assert_string_equal(buf, "99.2.0.192.zen.spamhaus.org");
    assert_int_equal(parse_addr("2001:db8:1:2:3:4:567:89ab", &c), 0);
    assert_int_equal(dnsbl_query_name(c.sa, "zen.spamhaus.org", buf, sizeof buf), 0);
    assert_string_equal(buf, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen."
                             "spamhaus.org");
    struct sockaddr_in6 m = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:192.0.2.99", &m.sin6_addr);
    assert_int_equal(dnsbl_query_name((struct sockaddr *)&m, "bl.example", buf, sizeof buf), 0);
    assert_string_equal(buf, "99.2.0.192.bl.example");
    assert_int_equal(dnsbl_query_name(c.sa, "zen.spamhaus.org", buf, 20), -1);
}

/* answer - a fake A answer: status, then up to 3 addresses (NULL-terminated) */
static dns_addr_result answer(enum dns_status st, netaddr *space, const char *a1, const char *a2)
{
    dns_addr_result r = {.status = st, .addrs = space};
    const char *as[] = {a1, a2};
    for (int i = 0; i < 2 && as[i]; i++) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&space[i].ss;
        memset(&space[i], 0, sizeof space[i]);
        sin->sin_family = AF_INET;
        inet_pton(AF_INET, as[i], &sin->sin_addr);
        r.naddrs++;
    }
    if (st == DNS_TEMPFAIL)
        r.why = "timeout";
    return r;
}

static const dnsbl_code test_codes[] = {{2, "SBL"}, {10, "PBL"}, {0, NULL}};
static const dnsbl_zone test_zone = {"bl.example", "Test BL", 1, "a test", NULL, test_codes};

static const struct judge_case {
    enum dns_status t2s;
    const char *t2; /* the 127.0.0.2 test point */
    enum dns_status t1s;
    const char *t1; /* the 127.0.0.1 test point */
    enum dns_status ss;
    const char *s1, *s2; /* the address */
    enum dnsbl_verdict want;
    int bad;
    const char *why; /* substring */
} judges[] = {
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_NXDOMAIN, NULL, NULL, DNSBL_CLEAR, 0,
     "not listed"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.0.0.2", "127.0.0.10", DNSBL_LISTED, 0,
     "127.0.0.2 (SBL), 127.0.0.10 (PBL)"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.0.0.4", NULL, DNSBL_LISTED, 0,
     "127.0.0.4"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.255.255.254", NULL, DNSBL_UNKNOWN, 1,
     "public or open resolver"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.255.255.255", NULL, DNSBL_UNKNOWN, 1,
     "too many queries"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.255.255.252", NULL, DNSBL_UNKNOWN, 1,
     "mistyped"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.255.255.253", NULL, DNSBL_UNKNOWN, 1,
     "not a listing"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_OK, "127.0.0.2", "198.51.100.7", DNSBL_UNKNOWN, 1,
     "outside 127.0.0.0/8"},
    {DNS_OK, "127.0.0.2", DNS_NXDOMAIN, NULL, DNS_TEMPFAIL, NULL, NULL, DNSBL_UNKNOWN, 0,
     "no answer (timeout)"},
    {DNS_OK, "127.255.255.254", DNS_NXDOMAIN, NULL, DNS_OK, "127.0.0.2", NULL, DNSBL_UNKNOWN, 1,
     "self-test"},
    {DNS_OK, "127.255.255.254", DNS_OK, "127.255.255.254", DNS_OK, "127.255.255.254", NULL,
     DNSBL_UNKNOWN, 1, "public or open resolver"},
    {DNS_OK, "198.51.100.7", DNS_OK, "198.51.100.7", DNS_OK, "198.51.100.7", NULL, DNSBL_UNKNOWN, 1,
     "outside 127.0.0.0/8"},
    {DNS_OK, "127.0.0.2", DNS_OK, "127.0.0.2", DNS_OK, "127.0.0.2", NULL, DNSBL_UNKNOWN, 1,
     "answers everything"},
    {DNS_NXDOMAIN, NULL, DNS_NXDOMAIN, NULL, DNS_OK, "127.0.0.2", NULL, DNSBL_UNKNOWN, 0,
     "is not listed"},
    {DNS_TEMPFAIL, NULL, DNS_TEMPFAIL, NULL, DNS_TEMPFAIL, NULL, NULL, DNSBL_UNKNOWN, 0,
     "no answer for the test point"},
    {DNS_OK, "127.0.0.2", DNS_TEMPFAIL, NULL, DNS_OK, "127.0.0.2", NULL, DNSBL_UNKNOWN, 0,
     "no answer for 127.0.0.1"},
};

static void test_judge(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof judges / sizeof judges[0]; i++) {
        const struct judge_case *j = &judges[i];
        netaddr s2[2], s1[2], ss[2];
        dns_addr_result t2 = answer(j->t2s, s2, j->t2, NULL), t1 = answer(j->t1s, s1, j->t1, NULL),
                        sub = answer(j->ss, ss, j->s1, j->s2);
        dnsbl_result out;
        memset(&out, 0, sizeof out);
        dnsbl_judge(&test_zone, &t2, &t1, &sub, "listed: see http://bl.example/", &out);
        if (out.verdict != j->want || out.bad_answer != j->bad || !strstr(out.why, j->why))
            fail_msg("case %zu: got %s bad=%d \"%s\"; want %s bad=%d ~\"%s\"", i,
                     dnsbl_verdict_name(out.verdict), out.bad_answer, out.why,
                     dnsbl_verdict_name(j->want), j->bad, j->why);
        if ((out.verdict == DNSBL_LISTED) != (out.txt != NULL))
            fail_msg("case %zu: the TXT is kept for listings only", i);
        dnsbl_result_clear(&out);
    }
    dnsbl_result out;
    dnsbl_judge(&test_zone, NULL, NULL, NULL, NULL, &out);
    assert_int_equal(out.verdict, DNSBL_SKIPPED);
    /* a TXT text in another charset (Latin-1 here) is kept as valid UTF-8: the report and
     * sluice status put it in JSON, which refused it and lost the row (fuzz_dnsbl) */
    netaddr s2[2], s1[2], ss[2];
    dns_addr_result t2 = answer(DNS_OK, s2, "127.0.0.2", NULL), t1 = answer(DNS_NXDOMAIN, s1, NULL, NULL),
                    sub = answer(DNS_OK, ss, "127.0.0.2", NULL);
    memset(&out, 0, sizeof out);
    dnsbl_judge(&test_zone, &t2, &t1, &sub, "List\xe9: voir https://bl.example/", &out);
    assert_int_equal(out.verdict, DNSBL_LISTED);
    assert_string_equal(out.txt, "List?: voir https://bl.example/");
    json_t *row = json_pack("{s:s,s:s?}", "why", out.why, "txt", out.txt);
    assert_non_null(row);
    json_decref(row);
    dnsbl_result_clear(&out);
    memset(&out, 0, sizeof out);
    dnsbl_judge(&test_zone, &t2, &t1, &sub, "List\xc3\xa9" "e", &out);   /* UTF-8 stays as it is */
    assert_string_equal(out.txt, "List\xc3\xa9" "e");
    dnsbl_result_clear(&out);
}

static void test_curated(void **state)
{
    (void)state;
    assert_true(dnsbl_ncurated >= 5);
    assert_true(strlen(dnsbl_list_version) > 0);
    for (int i = 0; i < dnsbl_ncurated; i++) {
        const dnsbl_zone *z = &dnsbl_curated[i];
        assert_true(dns_valid_name(z->zone));
        assert_non_null(z->why);
        assert_null(strstr(z->zone, "sorbs"));
        assert_null(strstr(z->zone, "surbl"));
        assert_null(strstr(z->zone, "dnsbl-2.uceprotect"));
        assert_null(strstr(z->zone, "dnsbl-3.uceprotect"));
    }
    assert_string_equal(dnsbl_curated[0].zone, "zen.spamhaus.org");
    assert_true(dnsbl_curated[0].ipv6);
}

static void test_zone_list(void **state)
{
    (void)state;
    dnsbl_zone z[MAX_ZONES];
    char buf[512];
    int n;
    assert_int_equal(zone_list("dnsbl.test, err.test,,wild.test", z, &n, buf, sizeof buf), 0);
    assert_int_equal(n, 3);
    assert_string_equal(z[1].zone, "err.test");
    assert_int_equal(z[1].ipv6, 1);
    assert_int_equal(zone_list("bad_zone.test", z, &n, buf, sizeof buf), -1);
    assert_int_equal(zone_list(",", z, &n, buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),      cmocka_unit_test(test_addr),
        cmocka_unit_test(test_generic),   cmocka_unit_test(test_query_names),
        cmocka_unit_test(test_judge),     cmocka_unit_test(test_curated),
        cmocka_unit_test(test_zone_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
