/* test_dns.c - the DNS answer parser on hand-built packets (compression, pointer loops and
 * chains, truncation at every length, oversized counts, bad names, CNAME chains and loops,
 * rcodes, negative TTLs), the MX/address/TXT/PTR results built from them (null MX, invalid
 * targets, shuffling among equal preference), and the name helpers.  No network: the
 * resolver against a real Knot is test_dns_resolve.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns_int.h"
#include "dns/dns_packet.h"

/* A packet under construction. */
typedef struct pb {
    uint8_t b[70000];
    size_t n;
} pb;

/* pb_u8, pb_u16, pb_u32, pb_raw - append bytes, big-endian numbers */
static void pb_u8(pb *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void pb_u16(pb *p, unsigned v) { pb_u8(p, v >> 8 & 255); pb_u8(p, v & 255); }
static void pb_u32(pb *p, uint32_t v) { pb_u16(p, v >> 16); pb_u16(p, v & 0xffff); }
static void pb_raw(pb *p, const void *s, size_t n) { memcpy(p->b + p->n, s, n); p->n += n; }

/* pb_name - a name as labels; "" is the root; a "@NN" suffix ends it with a pointer to NN */
static void pb_name(pb *p, const char *text)
{
    const char *at = strchr(text, '@');
    size_t len = at ? (size_t)(at - text) : strlen(text);
    const char *s = text, *end = text + len;
    while (s < end) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        size_t n = dot ? (size_t)(dot - s) : (size_t)(end - s);
        pb_u8(p, (unsigned)n);
        pb_raw(p, s, n);
        s += n + (dot ? 1 : 0);
    }
    if (at)
        pb_u16(p, 0xC000u | (unsigned)atoi(at + 1));
    else
        pb_u8(p, 0);
}

/* pb_head - header and the question (at offset 12) */
static void pb_head(pb *p, unsigned rcode, unsigned an, unsigned ns, const char *q, unsigned qt)
{
    p->n = 0;
    pb_u16(p, 0x1234);
    pb_u16(p, 0x8180 | rcode);
    pb_u16(p, 1);
    pb_u16(p, an);
    pb_u16(p, ns);
    pb_u16(p, 0);
    pb_name(p, q);
    pb_u16(p, qt);
    pb_u16(p, DNS_C_IN);
}

/* pb_rr - owner, type, class IN, ttl; returns the offset of RDLENGTH to patch */
static size_t pb_rr(pb *p, const char *owner, unsigned type, uint32_t ttl)
{
    pb_name(p, owner);
    pb_u16(p, type);
    pb_u16(p, DNS_C_IN);
    pb_u32(p, ttl);
    size_t at = p->n;
    pb_u16(p, 0);
    return at;
}

/* pb_end - patch RDLENGTH at `at` to what was written after it */
static void pb_end(pb *p, size_t at)
{
    size_t len = p->n - at - 2;
    p->b[at] = (uint8_t)(len >> 8);
    p->b[at + 1] = (uint8_t)len;
}

/* pb_mx, pb_a, pb_cname, pb_soa - one whole record of that type */
static void pb_mx(pb *p, const char *owner, unsigned pref, const char *target, uint32_t ttl)
{
    size_t at = pb_rr(p, owner, DNS_T_MX, ttl);
    pb_u16(p, pref);
    pb_name(p, target);
    pb_end(p, at);
}

static void pb_a(pb *p, const char *owner, const char *ip, uint32_t ttl)
{
    uint8_t a[16];
    int v6 = strchr(ip, ':') != NULL;
    size_t at = pb_rr(p, owner, v6 ? DNS_T_AAAA : DNS_T_A, ttl);
    inet_pton(v6 ? AF_INET6 : AF_INET, ip, a);
    pb_raw(p, a, v6 ? 16 : 4);
    pb_end(p, at);
}

static void pb_cname(pb *p, const char *owner, const char *target, uint32_t ttl)
{
    size_t at = pb_rr(p, owner, DNS_T_CNAME, ttl);
    pb_name(p, target);
    pb_end(p, at);
}

static void pb_soa(pb *p, const char *owner, uint32_t ttl, uint32_t minimum)
{
    size_t at = pb_rr(p, owner, DNS_T_SOA, ttl);
    pb_name(p, "ns.x.test");
    pb_name(p, "hostmaster.x.test");
    for (int i = 0; i < 4; i++)
        pb_u32(p, 3600);
    pb_u32(p, minimum);
    pb_end(p, at);
}

/* parse - run the parser on p */
static enum dns_status parse(const pb *p, const char *q, unsigned qt, dns_answer *a)
{
    return dns_packet_parse(p->b, p->n, q, (uint16_t)qt, a);
}

/* expect_fail - the packet is TEMPFAIL with a reason containing why */
static void expect_fail(const pb *p, const char *q, unsigned qt, const char *why)
{
    dns_answer a;
    assert_int_equal(parse(p, q, qt, &a), DNS_TEMPFAIL);
    if (!strstr(a.why, why))
        fail_msg("why: got '%s', want '%s'", a.why, why);
    assert_int_equal(a.n, 0);
    dns_answer_clear(&a);
}

static void test_mx_compressed(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 2, 0, "D1.Test", DNS_T_MX);
    pb_mx(&p, "@12", 20, "MX2@12", 300);
    pb_mx(&p, "@12", 10, "mx1@12", 120);
    dns_answer a;
    assert_int_equal(parse(&p, "d1.test", DNS_T_MX, &a), DNS_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.rr[0].text, "mx2.d1.test");
    assert_int_equal(a.rr[0].pref, 20);
    assert_string_equal(a.rr[1].text, "mx1.d1.test");
    assert_int_equal(a.ttl, 120);
    dns_mx_result r;
    dns_mx_build(&a, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nmx, 2);
    assert_string_equal(r.mx[0].host, "mx1.d1.test");
    assert_string_equal(r.mx[1].host, "mx2.d1.test");
    assert_int_equal(r.null_mx, 0);
    dns_mx_release(&r);
    dns_answer_clear(&a);
}

/* Truncating a good packet anywhere must fail cleanly (ASan checks the reads). */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 3, 1, "www.d1.test", DNS_T_A);
    pb_cname(&p, "@12", "mx1.d1.test", 60);
    pb_a(&p, "mx1.d1.test", "127.0.0.2", 60);
    pb_a(&p, "mx1.d1.test", "127.0.0.9", 60);
    pb_soa(&p, "d1.test", 60, 30);
    dns_answer a;
    assert_int_equal(parse(&p, "www.d1.test", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a.n, 2);
    dns_answer_clear(&a);
    for (size_t len = 0; len < p.n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, p.b, len);
        assert_int_equal(dns_packet_parse(copy, len, "www.d1.test", DNS_T_A, &a), DNS_TEMPFAIL);
        dns_answer_clear(&a);
        free(copy);
    }
}

static void test_pointer_loops(void **state)
{
    (void)state;
    pb p;
    /* the answer's owner is a pointer to itself */
    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);
    size_t self = p.n;
    pb_u16(&p, 0xC000u | (unsigned)self);
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4); pb_u32(&p, 0x7f000001);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    /* a forward pointer */
    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);
    pb_u16(&p, 0xC000u | (unsigned)(p.n + 2));
    pb_name(&p, "d1.test");
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4); pb_u32(&p, 0x7f000001);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    /* a label followed by a pointer back into the same label run: a → pointer → a ... */
    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);
    size_t lab = p.n;
    pb_u8(&p, 1); pb_u8(&p, 'x');
    pb_u16(&p, 0xC000u | (unsigned)lab);
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4); pb_u32(&p, 0x7f000001);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    /* the question name itself is a loop */
    p.n = 0;
    pb_u16(&p, 1); pb_u16(&p, 0x8180); pb_u16(&p, 1); pb_u16(&p, 0); pb_u16(&p, 0);
    pb_u16(&p, 0);
    pb_u16(&p, 0xC00C);
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed question");
}

static void test_pointer_chains(void **state)
{
    (void)state;
    /* the owner of the A record goes through `hops` pointers: pointer i points at pointer
     * i-1, pointer 0 at the question name; the block of pointers is the rdata of a record
     * of an unknown type before it, so the section stays well formed */
    for (int hops = 1; hops <= DNS_MAX_POINTERS + 8; hops++) {
        pb p;
        pb_head(&p, 0, 2, 0, "d1.test", DNS_T_A);
        size_t at = pb_rr(&p, "@12", 99, 60);   /* type 99: ignored, rdata = pointer block */
        size_t prev = 12;
        for (int i = 0; i < hops - 1; i++) {
            size_t here = p.n;
            pb_u16(&p, 0xC000u | (unsigned)prev);
            prev = here;
        }
        pb_end(&p, at);
        pb_u16(&p, 0xC000u | (unsigned)prev);
        pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4);
        pb_u32(&p, 0x7f000002);
        dns_answer a;
        enum dns_status st = parse(&p, "d1.test", DNS_T_A, &a);
        if (hops <= DNS_MAX_POINTERS) {
            assert_int_equal(st, DNS_OK);
            assert_int_equal(a.n, 1);
        } else {
            assert_int_equal(st, DNS_TEMPFAIL);
        }
        dns_answer_clear(&a);
    }
}

static void test_counts_and_lengths(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 0xFFFF, 0, "d1.test", DNS_T_A);
    expect_fail(&p, "d1.test", DNS_T_A, "oversized");
    pb_head(&p, 0, DNS_MAX_RR + 1, 0, "d1.test", DNS_T_A);
    for (int i = 0; i <= DNS_MAX_RR; i++)
        pb_a(&p, "@12", "127.0.0.1", 60);
    expect_fail(&p, "d1.test", DNS_T_A, "oversized");
    pb_head(&p, 0, DNS_MAX_RR, 0, "d1.test", DNS_T_A);
    for (int i = 0; i < DNS_MAX_RR; i++)
        pb_a(&p, "@12", "127.0.0.1", 60);
    dns_answer a;
    assert_int_equal(parse(&p, "d1.test", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a.n, DNS_MAX_RR);
    dns_answer_clear(&a);

    pb_head(&p, 0, 5, 0, "d1.test", DNS_T_A);   /* counts more than the packet holds */
    pb_a(&p, "@12", "127.0.0.1", 60);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);   /* rdlength past the end */
    size_t at = pb_rr(&p, "@12", DNS_T_A, 60);
    pb_u32(&p, 0x7f000001);
    pb_end(&p, at);
    p.b[at + 1] = 200;
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);   /* an A record of 5 bytes */
    at = pb_rr(&p, "@12", DNS_T_A, 60);
    pb_u32(&p, 0x7f000001);
    pb_u8(&p, 0);
    pb_end(&p, at);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed record");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_MX);  /* an MX whose name overruns its rdata */
    at = pb_rr(&p, "@12", DNS_T_MX, 60);
    pb_u16(&p, 10);
    pb_name(&p, "mx1@12");
    pb_end(&p, at);
    p.b[at + 1] -= 1;
    p.n -= 1;
    expect_fail(&p, "d1.test", DNS_T_MX, "malformed");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_MX);  /* an MX with a name shorter than rdata */
    at = pb_rr(&p, "@12", DNS_T_MX, 60);
    pb_u16(&p, 10);
    pb_name(&p, "mx1@12");
    pb_u8(&p, 0);
    pb_end(&p, at);
    expect_fail(&p, "d1.test", DNS_T_MX, "malformed record");
}

static void test_bad_labels(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);   /* 0x40 extended label type */
    pb_u8(&p, 0x41); pb_u8(&p, 'x'); pb_u8(&p, 0);
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4); pb_u32(&p, 0x7f000001);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);   /* a name of 300 bytes */
    for (int i = 0; i < 5; i++) {
        pb_u8(&p, 59);
        for (int k = 0; k < 59; k++)
            pb_u8(&p, 'a');
    }
    pb_u8(&p, 0);
    pb_u16(&p, DNS_T_A); pb_u16(&p, 1); pb_u32(&p, 60); pb_u16(&p, 4); pb_u32(&p, 0x7f000001);
    expect_fail(&p, "d1.test", DNS_T_A, "malformed answer");

    /* MX targets with bytes that could inject: dropped; none left is TEMPFAIL */
    const char *bad[] = {"mx 1", "mx1\r\nRCPT TO:<x>", "mx\001", "<mx>", "127.0.0.2", "-mx",
                         "mx_1", "a:b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pb_head(&p, 0, 1, 0, "d1.test", DNS_T_MX);
        size_t at = pb_rr(&p, "@12", DNS_T_MX, 60);
        pb_u16(&p, 10);
        pb_u8(&p, (unsigned)strlen(bad[i]));
        pb_raw(&p, bad[i], strlen(bad[i]));
        pb_u16(&p, 0xC00C);
        pb_end(&p, at);
        dns_answer a;
        assert_int_equal(parse(&p, "d1.test", DNS_T_MX, &a), DNS_OK);
        dns_mx_result r;
        dns_mx_build(&a, &r);
        assert_int_equal(r.status, DNS_TEMPFAIL);
        assert_string_equal(r.why, "no valid MX host");
        dns_mx_release(&r);
        dns_answer_clear(&a);
    }
    /* one bad target among good ones is dropped, the rest is used */
    pb_head(&p, 0, 2, 0, "d1.test", DNS_T_MX);
    pb_mx(&p, "@12", 5, "127.0.0.1", 60);
    pb_mx(&p, "@12", 10, "mx1@12", 60);
    dns_answer a;
    assert_int_equal(parse(&p, "d1.test", DNS_T_MX, &a), DNS_OK);
    dns_mx_result r;
    dns_mx_build(&a, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nmx, 1);
    assert_string_equal(r.mx[0].host, "mx1.d1.test");
    dns_mx_release(&r);
    dns_answer_clear(&a);
}

static void test_cname_chains(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 4, 0, "www.x.test", DNS_T_A);
    pb_a(&p, "other.x.test", "127.0.0.9", 10);     /* not on the chain: ignored */
    pb_cname(&p, "@12", "a.x.test", 100);
    pb_cname(&p, "A.X.TEST", "b.y.test", 50);
    pb_a(&p, "b.y.test", "127.0.0.7", 200);
    dns_answer a;
    assert_int_equal(parse(&p, "www.x.test", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a.n, 1);
    assert_memory_equal(a.rr[0].addr, "\x7f\x00\x00\x07", 4);
    assert_int_equal(a.ttl, 50);
    dns_answer_clear(&a);

    /* a chain that ends nowhere: NODATA */
    pb_head(&p, 0, 1, 0, "www.x.test", DNS_T_A);
    pb_cname(&p, "@12", "a.x.test", 100);
    assert_int_equal(parse(&p, "www.x.test", DNS_T_A, &a), DNS_NODATA);
    dns_answer_clear(&a);

    /* a loop */
    pb_head(&p, 0, 2, 0, "a.x.test", DNS_T_A);
    pb_cname(&p, "@12", "b.x.test", 100);
    pb_cname(&p, "b.x.test", "a.x.test", 100);
    expect_fail(&p, "a.x.test", DNS_T_A, "CNAME chain too long");

    /* a chain of DNS_MAX_CNAME links is followed, one more is not */
    for (int links = DNS_MAX_CNAME; links <= DNS_MAX_CNAME + 1; links++) {
        pb_head(&p, 0, (unsigned)links + 1, 0, "c0.x.test", DNS_T_A);
        for (int i = 0; i < links; i++) {
            char o[32], t[32];
            snprintf(o, sizeof o, "c%d.x.test", i);
            snprintf(t, sizeof t, "c%d.x.test", i + 1);
            pb_cname(&p, o, t, 60);
        }
        char last[32];
        snprintf(last, sizeof last, "c%d.x.test", links);
        pb_a(&p, last, "127.0.0.8", 60);
        enum dns_status st = parse(&p, "c0.x.test", DNS_T_A, &a);
        assert_int_equal(st, links == DNS_MAX_CNAME ? DNS_OK : DNS_TEMPFAIL);
        dns_answer_clear(&a);
    }
}

static void test_rcodes_and_negative(void **state)
{
    (void)state;
    pb p;
    dns_answer a;
    pb_head(&p, 3, 0, 1, "nx.d1.test", DNS_T_MX);
    pb_soa(&p, "d1.test", 600, 45);
    assert_int_equal(parse(&p, "nx.d1.test", DNS_T_MX, &a), DNS_NXDOMAIN);
    assert_int_equal(a.ttl, 45);
    dns_answer_clear(&a);

    pb_head(&p, 0, 0, 1, "d1.test", DNS_T_AAAA);
    pb_soa(&p, "d1.test", 30, 300);
    assert_int_equal(parse(&p, "d1.test", DNS_T_AAAA, &a), DNS_NODATA);
    assert_int_equal(a.ttl, 30);
    dns_answer_clear(&a);

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_MX);  /* records of another type only */
    pb_a(&p, "@12", "127.0.0.1", 60);
    assert_int_equal(parse(&p, "d1.test", DNS_T_MX, &a), DNS_NODATA);
    assert_int_equal(a.ttl, 0);
    dns_answer_clear(&a);

    pb_head(&p, 2, 0, 0, "d1.test", DNS_T_MX);
    expect_fail(&p, "d1.test", DNS_T_MX, "SERVFAIL");
    pb_head(&p, 5, 0, 0, "d1.test", DNS_T_MX);
    expect_fail(&p, "d1.test", DNS_T_MX, "REFUSED");
    pb_head(&p, 9, 0, 0, "d1.test", DNS_T_MX);
    expect_fail(&p, "d1.test", DNS_T_MX, "unexpected rcode");

    pb_head(&p, 0, 0, 0, "other.test", DNS_T_MX);
    expect_fail(&p, "d1.test", DNS_T_MX, "another question");
    pb_head(&p, 0, 0, 0, "d1.test", DNS_T_A);
    expect_fail(&p, "d1.test", DNS_T_MX, "another question");
    pb_head(&p, 0, 0, 0, "d1.test", DNS_T_MX);
    p.b[2] = 0x01;                                /* QR clear: a query, not an answer */
    expect_fail(&p, "d1.test", DNS_T_MX, "not a query response");
    pb_head(&p, 0, 0, 0, "d1.test", DNS_T_MX);
    p.b[5] = 2;
    expect_fail(&p, "d1.test", DNS_T_MX, "question count");

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_A);    /* TTL with the top bit set is zero */
    pb_a(&p, "@12", "127.0.0.1", 0x80000010u);
    assert_int_equal(parse(&p, "d1.test", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a.ttl, 0);
    dns_answer_clear(&a);
}

static void test_null_mx(void **state)
{
    (void)state;
    pb p;
    dns_answer a;
    dns_mx_result r;
    pb_head(&p, 0, 1, 0, "nullmx.test", DNS_T_MX);
    pb_mx(&p, "@12", 0, "", 3600);
    assert_int_equal(parse(&p, "nullmx.test", DNS_T_MX, &a), DNS_OK);
    dns_mx_build(&a, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.null_mx, 1);
    assert_int_equal(r.nmx, 0);
    assert_int_equal(r.ttl, 3600);
    dns_mx_release(&r);
    dns_answer_clear(&a);

    /* "." next to a real MX is not a null MX: the root is dropped */
    pb_head(&p, 0, 2, 0, "nullmx.test", DNS_T_MX);
    pb_mx(&p, "@12", 0, "", 3600);
    pb_mx(&p, "@12", 10, "mx1.d1.test", 3600);
    assert_int_equal(parse(&p, "nullmx.test", DNS_T_MX, &a), DNS_OK);
    dns_mx_build(&a, &r);
    assert_int_equal(r.null_mx, 0);
    assert_int_equal(r.nmx, 1);
    assert_string_equal(r.mx[0].host, "mx1.d1.test");
    dns_mx_release(&r);
    dns_answer_clear(&a);

    /* a lone "MX 10 ." is not RFC 7505's form: no valid host, TEMPFAIL */
    pb_head(&p, 0, 1, 0, "nullmx.test", DNS_T_MX);
    pb_mx(&p, "@12", 10, "", 3600);
    assert_int_equal(parse(&p, "nullmx.test", DNS_T_MX, &a), DNS_OK);
    dns_mx_build(&a, &r);
    assert_int_equal(r.null_mx, 0);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    dns_mx_release(&r);
    dns_answer_clear(&a);
}

static void test_mx_shuffle(void **state)
{
    (void)state;
    pb p;
    pb_head(&p, 0, 4, 0, "d1.test", DNS_T_MX);
    pb_mx(&p, "@12", 10, "a@12", 60);
    pb_mx(&p, "@12", 20, "z@12", 60);
    pb_mx(&p, "@12", 10, "b@12", 60);
    pb_mx(&p, "@12", 5, "first@12", 60);
    dns_answer a;
    assert_int_equal(parse(&p, "d1.test", DNS_T_MX, &a), DNS_OK);
    int ab = 0, ba = 0;
    for (int i = 0; i < 400; i++) {
        dns_mx_result r;
        dns_mx_build(&a, &r);
        assert_int_equal(r.nmx, 4);
        assert_string_equal(r.mx[0].host, "first.d1.test");
        assert_string_equal(r.mx[3].host, "z.d1.test");
        assert_int_equal(r.mx[1].pref, 10);
        assert_int_equal(r.mx[2].pref, 10);
        if (strcmp(r.mx[1].host, "a.d1.test") == 0)
            ab++;
        else
            ba++;
        dns_mx_release(&r);
    }
    dns_answer_clear(&a);
    if (ab < 100 || ba < 100)
        fail_msg("equal preference orders: a,b %d times, b,a %d times of 400", ab, ba);
}

static void test_txt_and_ptr(void **state)
{
    (void)state;
    pb p;
    dns_answer a;
    dns_txt_result r;
    pb_head(&p, 0, 3, 0, "_dmarc.d1.test", DNS_T_TXT);
    size_t at = pb_rr(&p, "@12", DNS_T_TXT, 60);
    pb_u8(&p, 7); pb_raw(&p, "v=spf1 ", 7);
    pb_u8(&p, 4); pb_raw(&p, "-all", 4);
    pb_u8(&p, 0);
    pb_end(&p, at);
    at = pb_rr(&p, "@12", DNS_T_TXT, 60);     /* a NUL inside: skipped */
    pb_u8(&p, 3); pb_raw(&p, "a\0b", 3);
    pb_end(&p, at);
    at = pb_rr(&p, "@12", DNS_T_TXT, 30);
    pb_u8(&p, 2); pb_raw(&p, "hi", 2);
    pb_end(&p, at);
    assert_int_equal(parse(&p, "_dmarc.d1.test", DNS_T_TXT, &a), DNS_OK);
    dns_txt_build(&a, 0, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0], "v=spf1 -all");
    assert_string_equal(r.v[1], "hi");
    assert_int_equal(r.ttl, 30);
    dns_txt_release(&r);
    dns_answer_clear(&a);

    pb_head(&p, 0, 1, 0, "d1.test", DNS_T_TXT);  /* a string overrunning its record */
    at = pb_rr(&p, "@12", DNS_T_TXT, 60);
    pb_u8(&p, 9); pb_raw(&p, "abc", 3);
    pb_end(&p, at);
    expect_fail(&p, "d1.test", DNS_T_TXT, "malformed record");

    pb_head(&p, 0, 2, 0, "2.0.0.127.in-addr.arpa", DNS_T_PTR);
    at = pb_rr(&p, "@12", DNS_T_PTR, 60);
    pb_name(&p, "Mx1.D1.test");
    pb_end(&p, at);
    at = pb_rr(&p, "@12", DNS_T_PTR, 60);
    pb_name(&p, "bad_name.test");
    pb_end(&p, at);
    assert_int_equal(parse(&p, "2.0.0.127.in-addr.arpa", DNS_T_PTR, &a), DNS_OK);
    dns_txt_build(&a, 1, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0], "mx1.d1.test");
    dns_txt_release(&r);
    dns_answer_clear(&a);

    pb_head(&p, 0, 1, 0, "2.0.0.127.in-addr.arpa", DNS_T_PTR);
    at = pb_rr(&p, "@12", DNS_T_PTR, 60);
    pb_name(&p, "x y.test");
    pb_end(&p, at);
    assert_int_equal(parse(&p, "2.0.0.127.in-addr.arpa", DNS_T_PTR, &a), DNS_OK);
    dns_txt_build(&a, 1, &r);
    assert_int_equal(r.status, DNS_NODATA);
    dns_txt_release(&r);
    dns_answer_clear(&a);
}

static void test_addr_results(void **state)
{
    (void)state;
    pb p;
    dns_answer a[2];
    uint16_t qt[2] = {DNS_T_AAAA, DNS_T_A};
    pb_head(&p, 0, 1, 0, "dual.test", DNS_T_AAAA);
    pb_a(&p, "@12", "fd00::5", 100);
    assert_int_equal(parse(&p, "dual.test", DNS_T_AAAA, &a[0]), DNS_OK);
    pb_head(&p, 0, 2, 0, "dual.test", DNS_T_A);
    pb_a(&p, "@12", "127.0.0.5", 50);
    pb_a(&p, "@12", "127.0.0.6", 50);
    assert_int_equal(parse(&p, "dual.test", DNS_T_A, &a[1]), DNS_OK);
    dns_addr_result r;
    dns_addr_build(a, qt, 2, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.naddrs, 3);
    assert_int_equal(r.addrs[0].ss.ss_family, AF_INET6);
    assert_int_equal(r.addrs[1].ss.ss_family, AF_INET);
    assert_int_equal(((struct sockaddr_in *)&r.addrs[1].ss)->sin_port, 0);
    assert_int_equal(r.ttl, 50);
    dns_addr_release(&r);

    /* one part failed, the other has addresses: OK with those */
    dns_answer_clear(&a[0]);
    dns_answer_fail(&a[0], DNS_TEMPFAIL, "timeout");
    dns_addr_build(a, qt, 2, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.naddrs, 2);
    dns_addr_release(&r);
    /* one failed, the other NODATA: TEMPFAIL */
    dns_answer_clear(&a[1]);
    dns_answer_fail(&a[1], DNS_NODATA, "no record of that type");
    dns_addr_build(a, qt, 2, &r);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    assert_int_equal(r.naddrs, 0);
    dns_addr_release(&r);
    /* NXDOMAIN and NODATA: NXDOMAIN */
    dns_answer_fail(&a[0], DNS_NXDOMAIN, "NXDOMAIN");
    dns_addr_build(a, qt, 2, &r);
    assert_int_equal(r.status, DNS_NXDOMAIN);
    dns_addr_release(&r);
    dns_answer_clear(&a[0]);
    dns_answer_clear(&a[1]);
}

static void test_valid_name(void **state)
{
    (void)state;
    char l63[64], l64[65], long254[300], long253[300];
    memset(l63, 'a', 63); l63[63] = 0;
    memset(l64, 'a', 64); l64[64] = 0;
    /* 4 labels of 63 = 255 characters with dots; build 253 and 254 by trimming */
    snprintf(long253, sizeof long253, "%s.%s.%s.%.61s", l63, l63, l63, l63);
    snprintf(long254, sizeof long254, "%s.%s.%s.%.62s", l63, l63, l63, l63);
    struct { const char *name; int host, query; } t[] = {
        {"d1.test", 1, 1}, {"D1.Test.", 1, 1}, {"localhost", 1, 1}, {"xn--bcher-kva.test", 1, 1},
        {"a-b.c", 1, 1}, {"3com.test", 1, 1}, {l63, 1, 1}, {long253, 1, 1},
        {"", 0, 0}, {".", 0, 0}, {"a..b", 0, 0}, {".a", 0, 0}, {"a..", 0, 0}, {"-a.test", 0, 0},
        {"a-.test", 0, 0}, {"a b.test", 0, 0}, {"a\r\n.test", 0, 0}, {"<a>.test", 0, 0},
        {"a:b", 0, 0}, {"127.0.0.1", 0, 0}, {"a.123", 0, 0}, {l64, 0, 0}, {long254, 0, 0},
        {"_dmarc.d1.test", 0, 1}, {"s1._domainkey.d1.test", 0, 1}, {"a\xc3\xa9.test", 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (dns_valid_name(t[i].name) != t[i].host)
            fail_msg("dns_valid_name(\"%s\"): got %d, want %d", t[i].name, !t[i].host, t[i].host);
        if (dns_valid_qname(t[i].name) != t[i].query)
            fail_msg("dns_valid_qname(\"%s\"): want %d", t[i].name, t[i].query);
    }
    assert_int_equal(dns_valid_name(NULL), 0);
    assert_string_equal(dns_status_name(DNS_NODATA), "NODATA");
    assert_string_equal(dns_status_name(DNS_BADNAME), "BADNAME");
}

static void test_ptr_name(void **state)
{
    (void)state;
    char buf[128];
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.10", &sin.sin_addr);
    assert_int_equal(dns_ptr_name((struct sockaddr *)&sin, buf, sizeof buf), 0);
    assert_string_equal(buf, "10.2.0.192.in-addr.arpa");
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::567:89ab", &sin6.sin6_addr);
    assert_int_equal(dns_ptr_name((struct sockaddr *)&sin6, buf, sizeof buf), 0);
    assert_string_equal(buf, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    inet_pton(AF_INET6, "::ffff:127.0.0.2", &sin6.sin6_addr);
    assert_int_equal(dns_ptr_name((struct sockaddr *)&sin6, buf, sizeof buf), 0);
    assert_string_equal(buf, "2.0.0.127.in-addr.arpa");
    assert_int_equal(dns_ptr_name((struct sockaddr *)&sin6, buf, 10), -1);
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(dns_ptr_name(&un, buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_compressed),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_pointer_loops),
        cmocka_unit_test(test_pointer_chains),
        cmocka_unit_test(test_counts_and_lengths),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_cname_chains),
        cmocka_unit_test(test_rcodes_and_negative),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_mx_shuffle),
        cmocka_unit_test(test_txt_and_ptr),
        cmocka_unit_test(test_addr_results),
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_ptr_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
