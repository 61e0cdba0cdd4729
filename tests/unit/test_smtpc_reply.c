/* test_smtpc_reply.c - the client's pure parts, table-driven: the reply parser
 * (smtp_reply_parse), the EHLO capability parser, and the dot-stuffer checked against a
 * line-by-line reference over many chunkings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/smtpc.h"
#include "client/smtpc_int.h"
#include "common/dbuf.h"
#include "test_util_smtp.h"

/* ---- smtp_reply_parse ---- */

typedef struct parse_case {
    const char *in;
    size_t max_text;
    int want_ret;          /* -2: the whole input */
    int code;
    const char *enh, *text;
} parse_case;

static const parse_case parse_cases[] = {
    {"250 OK\r\n", 0, -2, 250, "", "OK"},
    {"250 ok\n", 0, -2, 250, "", "ok"},
    {"250\r\n", 0, -2, 250, "", ""},
    {"250 2.0.0\r\n", 0, -2, 250, "2.0.0", ""},
    {"250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10000\r\n", 0, -2, 250, "",
     "mx.test PIPELINING SIZE 10000"},
    {"550 5.1.1 <bad@x>: Recipient address rejected\r\n", 0, -2, 550, "5.1.1",
     "<bad@x>: Recipient address rejected"},
    {"550 4.7.1 class differs\r\n", 0, -2, 550, "", "4.7.1 class differs"},
    {"452 4.5.3 Too many recipients\r\n", 0, -2, 452, "4.5.3", "Too many recipients"},
    {"421-4.7.0 [192.0.2.1] Our system has detected an unusual rate\r\n"
     "421-4.7.0 of unsolicited mail originating from your IP address.\r\n"
     "421 4.7.0 https://support.google.com/mail/?p=UnsolicitedRateLimitError x1-gsmtp\r\n",
     0, -2, 421, "4.7.0",
     "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating "
     "from your IP address. https://support.google.com/mail/?p=UnsolicitedRateLimitError "
     "x1-gsmtp"},
    {"250-hello\r\n250 2.0.0 ok\r\n", 0, -2, 250, "", "hello 2.0.0 ok"},
    {"250   lots   of  space   \r\n", 0, -2, 250, "", "lots   of  space"},
    {"250-\r\n250-\r\n250 last\r\n", 0, -2, 250, "", "last"},
    {"250 a\tb\x01" "c\x7f\r\n", 0, -2, 250, "", "a b c"},
    {"250 a\r\n354 b\r\n", 0, 7, 250, "", "a"},
    {"250 abcdefghij\r\n", 5, -2, 250, "", "abcde"},
    {"250-abc\r\n250 def\r\n", 4, -2, 250, "", "abc"},
    {"250 a\xc3\xa9\r\n", 2, -2, 250, "", "a"},
    {"250 a\xc3\xa9\r\n", 3, -2, 250, "", "a\xc3\xa9"},
    {"250 \xe2\x82\xac\xe2\x82\xac\r\n", 5, -2, 250, "", "\xe2\x82\xac"},
    {"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "zen.spamhaus.org\r\n", 0, -2, 554, "5.7.1",
     "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"},
    /* incomplete */
    {"", 0, 0, 0, NULL, NULL},
    {"2", 0, 0, 0, NULL, NULL},
    {"25", 0, 0, 0, NULL, NULL},
    {"250", 0, 0, 0, NULL, NULL},
    {"250\r", 0, 0, 0, NULL, NULL},
    {"250 partial", 0, 0, 0, NULL, NULL},
    {"250-first\r\n250 sec", 0, 0, 0, NULL, NULL},
    {"250-first\r\n", 0, 0, 0, NULL, NULL},
    {"250-first\r\n25", 0, 0, 0, NULL, NULL},
    /* malformed */
    {"hello\r\n", 0, -1, 0, NULL, NULL},
    {"x", 0, -1, 0, NULL, NULL},
    {"25a", 0, -1, 0, NULL, NULL},
    {"250x", 0, -1, 0, NULL, NULL},
    {"250x\r\n", 0, -1, 0, NULL, NULL},
    {"\r\n", 0, -1, 0, NULL, NULL},
    {"25\r\n", 0, -1, 0, NULL, NULL},
    {"199 too low\r\n", 0, -1, 0, NULL, NULL},
    {"600 too high\r\n", 0, -1, 0, NULL, NULL},
    {"250-a\r\n251 b\r\n", 0, -1, 0, NULL, NULL},
    {"250-a\r\n\r\n", 0, -1, 0, NULL, NULL},
    {"250-a\r\nxyz", 0, -1, 0, NULL, NULL},
    {"250\r\r\n", 0, -1, 0, NULL, NULL},
};

/* test_parse_table - every case: return value, code, enhanced code, text */
static void test_parse_table(void **state)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const parse_case *pc = &parse_cases[i];
        smtpc_reply r;
        size_t len = strlen(pc->in);
        int want = pc->want_ret == -2 ? (int)len : pc->want_ret;
        int got = smtp_reply_parse(pc->in, len, &r, pc->max_text);
        if (got != want)
            fail_msg("case %zu \"%s\": got %d, want %d", i, pc->in, got, want);
        if (got > 0) {
            if (r.code != pc->code || strcmp(r.enh, pc->enh) != 0 ||
                strcmp(r.text, pc->text) != 0)
                fail_msg("case %zu: got %d \"%s\" \"%s\", want %d \"%s\" \"%s\"", i, r.code,
                         r.enh, r.text, pc->code, pc->enh, pc->text);
        } else {
            assert_null(r.text);
        }
        smtpc_reply_clear(&r);
    }
}

/* test_parse_lines_cap - 1000 lines parse, 1001 are malformed */
static void test_parse_lines_cap(void **state)
{
    dbuf b = {0};
    smtpc_reply r;
    for (int i = 0; i < 999; i++)
        dbuf_puts(&b, "250-x\r\n");
    dbuf_puts(&b, "250 y\r\n");
    assert_int_equal(smtp_reply_parse((char *)b.data, b.len, &r, 0), (int)b.len);
    assert_int_equal(strlen(r.text), 999 * 2 + 1);
    smtpc_reply_clear(&r);
    dbuf_reset(&b);
    for (int i = 0; i < 1000; i++)
        dbuf_puts(&b, "250-x\r\n");
    assert_int_equal(smtp_reply_parse((char *)b.data, b.len, &r, 0), -1);
    dbuf_puts(&b, "250 y\r\n");
    assert_int_equal(smtp_reply_parse((char *)b.data, b.len, &r, 0), -1);
    dbuf_free(&b);
}

/* test_parse_prefixes - every proper prefix of a complete reply is incomplete (0) */
static void test_parse_prefixes(void **state)
{
    const char *in = "421-4.7.0 first\r\n421-4.7.0 second\r\n421 4.7.0 third\r\n";
    smtpc_reply r;
    for (size_t n = 0; n < strlen(in); n++) {
        if (smtp_reply_parse(in, n, &r, 0) != 0)
            fail_msg("prefix of %zu bytes did not give 0", n);
    }
    assert_int_equal(smtp_reply_parse(in, strlen(in), &r, 0), (int)strlen(in));
    assert_string_equal(r.text, "first second third");
    smtpc_reply_clear(&r);
}

/* ---- EHLO capabilities ---- */

typedef struct caps_case {
    const char *in;
    int pipelining, eightbitmime, smtputf8, starttls, enhanced, size_offered;
    int64_t size;
} caps_case;

static const caps_case caps_cases[] = {
    {"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n",
     1, 1, 1, 1, 1, 1, 10000},
    {"250-mx.test\r\n250-pipelining\r\n250-size 5000\r\n250 8bitmime\r\n", 1, 1, 0, 0, 0, 1,
     5000},
    {"250-mx.test\r\n250-SIZE\r\n250 StartTLS\r\n", 0, 0, 0, 1, 0, 1, 0},
    {"250-mx.test\r\n250-SIZE 0\r\n250 PIPELININGX\r\n", 0, 0, 0, 0, 0, 1, 0},
    {"250-mx.test\r\n250-SIZE 99999999999999999999999\r\n250 X-PIPELINING\r\n", 0, 0, 0, 0,
     0, 1, 0},
    {"250-PIPELINING is the greeting line\r\n250 8BITMIME\r\n", 0, 1, 0, 0, 0, 0, 0},
    {"250 mx.test\r\n", 0, 0, 0, 0, 0, 0, 0},
    {"250-mx.test\r\n250-SIZE abc\r\n250 AUTH=LOGIN PLAIN\r\n", 0, 0, 0, 0, 0, 1, 0},
};

/* test_caps_table - capability lines into features */
static void test_caps_table(void **state)
{
    for (size_t i = 0; i < sizeof caps_cases / sizeof caps_cases[0]; i++) {
        const caps_case *cc = &caps_cases[i];
        smtpc c;
        memset(&c, 0, sizeof c);
        c.f.tls_active = 1;   /* survives the reset */
        smtpc_parse_features(&c, cc->in, strlen(cc->in));
        const smtpc_features *f = &c.f;
        if (f->pipelining != cc->pipelining || f->eightbitmime != cc->eightbitmime ||
            f->smtputf8 != cc->smtputf8 || f->starttls != cc->starttls ||
            f->enhancedstatuscodes != cc->enhanced || c.size_offered != cc->size_offered ||
            f->size_limit != cc->size || !f->esmtp || !f->tls_active)
            fail_msg("case %zu: got pipe=%d 8bit=%d utf8=%d tls=%d enh=%d size=%d/%lld", i,
                     f->pipelining, f->eightbitmime, f->smtputf8, f->starttls,
                     f->enhancedstatuscodes, c.size_offered, (long long)f->size_limit);
    }
}

/* ---- dot-stuffing ---- */

/* stuff_chunked - smtpc_body_stuff over chunks of the given sizes (cycled) */
static void stuff_chunked(dbuf *out, const uint8_t *p, size_t n, const size_t *sizes,
                          size_t nsizes)
{
    struct evbuffer *eb = evbuffer_new();
    int bol = 1;
    size_t off = 0, k = 0;
    while (off < n) {
        size_t len = sizes[k++ % nsizes];
        if (len > n - off)
            len = n - off;
        smtpc_body_stuff(eb, p + off, len, &bol);
        off += len;
    }
    size_t len = evbuffer_get_length(eb);
    dbuf_reserve(out, len);
    evbuffer_remove(eb, out->data + out->len, len);
    out->len += len;
    evbuffer_free(eb);
}

/* test_stuff_cases - small bodies, every chunking into 1..7-byte pieces */
static void test_stuff_cases(void **state)
{
    static const char *const bodies[] = {
        "", ".", "..", ".\r\n", "a\r\n.\r\nb\r\n", "\r\n.\r\n", ".a\r\n.b\r\n..c\r\n",
        "no dots\r\n", "x\n.y\n", "a.b\r\n.\r\n.", "...\r\n\r\n.",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const uint8_t *p = (const uint8_t *)bodies[i];
        size_t n = strlen(bodies[i]);
        dbuf want = {0};
        ref_stuff(&want, p, n);
        for (size_t chunk = 1; chunk <= 7; chunk++) {
            dbuf got = {0};
            stuff_chunked(&got, p, n, &chunk, 1);
            if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len) != 0))
                fail_msg("body %zu chunk %zu: stuffing differs", i, chunk);
            dbuf_free(&got);
        }
        dbuf_free(&want);
    }
}

/* test_stuff_random - a random body full of dots, random chunk sizes, against the reference */
static void test_stuff_random(void **state)
{
    size_t n = 300000;
    uint8_t *p = malloc(n);
    uint32_t seed = 12345;
    static const char alphabet[] = ".\r\n.a.\n";
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = (uint8_t)alphabet[(seed >> 16) % (sizeof alphabet - 1)];
    }
    dbuf want = {0};
    ref_stuff(&want, p, n);
    size_t sizes[] = {1, 65536, 3, 777, 2, 4096, 1, 1, 9999};
    dbuf got = {0};
    stuff_chunked(&got, p, n, sizes, sizeof sizes / sizeof sizes[0]);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, got.len);
    dbuf_free(&got);
    dbuf_free(&want);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),   cmocka_unit_test(test_parse_lines_cap),
        cmocka_unit_test(test_parse_prefixes), cmocka_unit_test(test_caps_table),
        cmocka_unit_test(test_stuff_cases),   cmocka_unit_test(test_stuff_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
