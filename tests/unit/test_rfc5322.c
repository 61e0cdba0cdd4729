/* test_rfc5322.c - message header work: iteration over fields (folded lines, no body,
 * garbage), address lists, `sendmail -t` recipients and Bcc removal, missing-header
 * completion, Received and folding.  Table-driven; a mismatch prints got and want with
 * CR, LF and NUL made visible.  Dates are checked under fixed TZ strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/dbuf.h"
#include "smtp/rfc5322.h"

/* M - a byte-string literal and its length (it may hold NUL bytes) */
#define M(s) s, sizeof(s) - 1
#define NCASES(t) (sizeof(t) / sizeof((t)[0]))

/* visible - s[0, n) with CR, LF, TAB and NUL escaped, into a static buffer */
static const char *visible(const void *p, size_t n, dbuf *b)
{
    const unsigned char *s = p;
    dbuf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r')
            dbuf_puts(b, "\\r");
        else if (s[i] == '\n')
            dbuf_puts(b, "\\n");
        else if (s[i] == '\t')
            dbuf_puts(b, "\\t");
        else if (s[i] == 0)
            dbuf_puts(b, "\\0");
        else
            dbuf_putc(b, s[i]);
    }
    return dbuf_cstr(b);
}

/* Mismatches seen by the running test: each is reported, and the test fails at its end
 * (check_done) so one run shows every failing case of a table. */
static int mismatches;

/* check_done - fail the running test when any case mismatched */
static void check_done(void)
{
    int n = mismatches;
    mismatches = 0;
    assert_int_equal(n, 0);
}

/* reset - per-test setup: no mismatches carried over from a test that stopped early */
static int reset(void **state)
{
    (void)state;
    mismatches = 0;
    return 0;
}

/* expect_mem - report got/want when the two byte strings differ */
static void expect_mem(const char *name, const void *got, size_t gn, const void *want,
                       size_t wn)
{
    dbuf a = {0}, b = {0};
    if (gn == wn && (wn == 0 || memcmp(got, want, wn) == 0))
        return;
    print_error("%s:\n  got:  %s\n  want: %s\n", name, visible(got, gn, &a),
                visible(want, wn, &b));
    dbuf_free(&a);
    dbuf_free(&b);
    mismatches++;
}

/* expect_str - expect_mem for a string wanted */
static void expect_str(const char *name, const void *got, size_t gn, const char *want)
{
    expect_mem(name, got, gn, want, strlen(want));
}

/* ---- header iteration ---- */

/* fields_dump - "name=value;" per field then "hdr=N body=N"; checks raw is contiguous */
static void fields_dump(const char *msg, size_t len, dbuf *out)
{
    rfc5322_iter it;
    rfc5322_field f;
    size_t off = 0;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f)) {
        assert_ptr_equal(f.raw, msg + off);
        assert_true(f.value >= f.raw && f.value + f.value_len <= f.raw + f.raw_len);
        off += f.raw_len;
        dbuf_put(out, f.name, f.name_len);
        dbuf_putc(out, '=');
        dbuf_put(out, f.value, f.value_len);
        dbuf_putc(out, ';');
    }
    assert_int_equal(off, it.hdr_end);
    assert_false(rfc5322_next(&it, &f));
    dbuf_printf(out, "hdr=%zu body=%zu", it.hdr_end, it.body);
}

static void test_iter(void **state)
{
    static const struct {
        const char *name, *msg;
        size_t len;
        const char *want;
        size_t want_len;
    } cases[] = {
        {"simple", M("From: a\r\nTo: b\r\n\r\nbody\r\n"), M("From= a;To= b;hdr=16 body=18")},
        {"folded", M("Subject: one\r\n two\r\n\tthree\r\nX: y\r\n\r\nB"),
         M("Subject= one\r\n two\r\n\tthree;X= y;hdr=34 body=36")},
        {"no body, no empty line", M("Subject: x\r\n"), M("Subject= x;hdr=12 body=12")},
        {"no final line end", M("A: 1\r\nSubject: x"), M("A= 1;Subject= x;hdr=16 body=16")},
        {"empty value at end", M("A:"), M("A=;hdr=2 body=2")},
        {"only an empty line", M("\r\nbody"), M("hdr=0 body=2")},
        {"empty message", M(""), M("hdr=0 body=0")},
        {"garbage ends header", M("From: a\r\nthis is garbage\r\nTo: b\r\n"),
         M("From= a;hdr=9 body=9")},
        {"body without header", M("hello world\r\n"), M("hdr=0 body=0")},
        {"leading continuation", M(" x: y\r\n"), M("hdr=0 body=0")},
        {"empty name", M(":x\r\n"), M("hdr=0 body=0")},
        {"space in name", M("A B: x\r\n"), M("hdr=0 body=0")},
        {"space before colon", M("Subject : x\r\n"), M("Subject= x;hdr=13 body=13")},
        {"NUL in value", M("A: x\0y\r\n\r\nb"), M("A= x\0y;hdr=8 body=10")},
        {"NUL in name", M("A\0B: x\r\n"), M("hdr=0 body=0")},
        {"bare LF", M("A: 1\nB: 2\n folded\n\nbody"), M("A= 1;B= 2\n folded;hdr=18 body=19")},
        {"blank continuation", M("A: 1\r\n \r\nB: 2\r\n"), M("A= 1\r\n ;B= 2;hdr=15 body=15")},
        {"lone CR at end", M("A: 1\r\n\r"), M("A= 1;hdr=6 body=6")},
        {"CR in value", M("A: 1\rB: 2\r\n"), M("A= 1\rB: 2;hdr=11 body=11")},
        {"8-bit in name", M("\xc3\xa4: 1\r\n"), M("hdr=0 body=0")},
        {"colon in value", M("Date: 10:11:12\r\n\r\n"), M("Date= 10:11:12;hdr=16 body=18")},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        dbuf_reset(&got);
        fields_dump(cases[i].msg, cases[i].len, &got);
        expect_mem(cases[i].name, got.data, got.len, cases[i].want, cases[i].want_len);
    }
    dbuf_free(&got);
    check_done();
}

static void test_iter_overlong(void **state)
{
    size_t n = 300000;
    char *msg = malloc(n);
    dbuf got = {0};
    (void)state;
    memcpy(msg, "X-Long: ", 8);
    memset(msg + 8, 'a', n - 8);
    fields_dump(msg, n, &got);
    expect_str("overlong tail", got.data + got.len - 22, 22, "hdr=300000 body=300000");
    memset(msg, 'b', n); /* one huge line without colon or line end */
    dbuf_reset(&got);
    fields_dump(msg, n, &got);
    expect_str("overlong garbage", got.data, got.len, "hdr=0 body=0");
    free(msg);
    dbuf_free(&got);
    check_done();
}

static void test_split_and_name(void **state)
{
    size_t h, b;
    rfc5322_field f = {.name = "Resent-Bcc", .name_len = 10};
    (void)state;
    rfc5322_split(M("A: 1\r\n\r\nbody"), &h, &b);
    assert_int_equal(h, 6);
    assert_int_equal(b, 8);
    rfc5322_split(NULL, 0, &h, &b);
    assert_int_equal(h, 0);
    assert_int_equal(b, 0);
    assert_true(rfc5322_name_is(&f, "resent-bcc"));
    assert_false(rfc5322_name_is(&f, "Resent-Bc"));
    assert_false(rfc5322_name_is(&f, "Resent-Bcc2"));
}

/* ---- address lists ---- */

/* addrs_join - the list as "a | b | c" */
static void addrs_join(const rfc5322_addrs *a, dbuf *out)
{
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            dbuf_puts(out, " | ");
        dbuf_puts(out, a->v[i]);
    }
}

static void test_addrs(void **state)
{
    static const struct {
        const char *in, *want;
        size_t bad;
    } cases[] = {
        {"", "", 0},
        {"   ", "", 0},
        {"a@x", "a@x", 0},
        {"John Doe <john@example.com>", "john@example.com", 0},
        {"\"Doe, John\" <john@x>, jane@y", "john@x | jane@y", 0},
        {"john@x (John Doe)", "john@x", 0},
        {"john@x (a (nested, (deep) comment) here), b@y", "john@x | b@y", 0},
        {"(only a comment)", "", 0},
        {"a@x, (comment only), b@y", "a@x | b@y", 0},
        {"undisclosed-recipients:;", "", 0},
        {"Undisclosed recipients: ;", "", 0},
        {"team: a@x, Bee <b@y>;, c@z", "a@x | b@y | c@z", 0},
        {"team: a@x", "a@x", 0},
        {"a@x; b@y", "a@x | b@y", 0},
        {"\"john doe\"@x", "\"john doe\"@x", 0},
        {"\"john\"@x", "john@x", 0},
        {"\"john\".\"doe\"@x", "john.doe@x", 0},
        {"\"a\\\"b\"@x", "\"a\\\"b\"@x", 0},
        {"\"a\\\\b\"@x", "\"a\\\\b\"@x", 0},
        {"\"a\\b\"@x", "ab@x", 0},
        {"\"\"@x", "\"\"@x", 0},
        {"\"a@b\"@x", "\"a@b\"@x", 0},
        {"x..y@z", "\"x..y\"@z", 0},
        {".x@z", "\".x\"@z", 0},
        {"<@r1.example,@r2.example:joe@x>", "joe@x", 0},
        {"Joe <@r1:joe@x>, b@y", "joe@x | b@y", 0},
        {"a@x,,b@y,", "a@x | b@y", 0},
        {",,,", "", 0},
        {"john . doe @ example . com", "john.doe@example.com", 0},
        {"john(c).doe@(c)example.com", "john.doe@example.com", 0},
        {"joe", "joe", 0},
        {"Joe <joe>", "joe", 0},
        {"=?utf-8?q?Doe,_J=C3=B6hn?= <john@x>, b@y", "john@x | b@y", 0},
        {"=?utf-8?B?w7Zzdg==?= =?utf-8?q?a@b?= <c@d>", "c@d", 0},
        {"john@[192.0.2.1]", "john@[192.0.2.1]", 0},
        {"john@[ IPv6:2001:db8::1 ]", "john@[IPv6:2001:db8::1]", 0},
        {"Joe <joe@x", "joe@x", 0},
        {"Joe <joe@x, b@y", "joe@x | b@y", 0},
        {"\"unterminated@x", "\"unterminated@x\"", 0},
        {"\r\n folded@x,\r\n\tother@y", "folded@x | other@y", 0},
        {"j\xc3\xb6rg@x", "j\xc3\xb6rg@x", 0},
        {"A <a@x>, \"B\" <b@y>, c@z (C)", "a@x | b@y | c@z", 0},
        {"\"tab\there\"@x", "\"tab\there\"@x", 0},
        {"\"ctl\x01\"@x", "ctl@x", 0},
        {"John Smith", "", 1},
        {"a@x b@y, c@z", "c@z", 1},
        {"<>", "", 1},
        {"Joe <>", "", 1},
        {"a@", "", 1},
        {"@x", "", 1},
        {"a@\"x\"", "", 1},
        {"a@x@y", "", 1},
        {"joe@x>, b@y", "b@y", 1},
        {"<@r1 joe@x>", "", 1},
        {"a@[1.2.3.4].com", "", 1},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        rfc5322_addrs a = {0};
        size_t bad = rfc5322_parse_addrs(cases[i].in, strlen(cases[i].in), &a);
        dbuf_reset(&got);
        addrs_join(&a, &got);
        expect_str(cases[i].in, got.data, got.len, cases[i].want);
        if (bad != cases[i].bad) {
            print_error("%s: bad got %zu want %zu\n", cases[i].in, bad, cases[i].bad);
            mismatches++;
        }
        rfc5322_addrs_free(&a);
    }
    dbuf_free(&got);
    check_done();
}

static void test_addrs_misc(void **state)
{
    rfc5322_addrs a = {0};
    (void)state;
    assert_int_equal(rfc5322_parse_addrs(NULL, 0, &a), 0);
    assert_int_equal(a.n, 0);
    /* NUL bytes are skipped like whitespace; appending keeps what is there */
    assert_int_equal(rfc5322_parse_addrs(M("a@x,\0b@y"), &a), 0);
    rfc5322_addrs_add(&a, "c@z");
    assert_int_equal(a.n, 3);
    assert_string_equal(a.v[1], "b@y");
    assert_string_equal(a.v[2], "c@z");
    rfc5322_addrs_free(&a);
    assert_null(a.v);
    assert_int_equal(a.n, 0);
    rfc5322_addrs_free(&a);
}

/* ---- sendmail -t ---- */

static void test_sendmail_t(void **state)
{
    static const struct {
        const char *name, *msg, *rcpts, *stripped;
        size_t bad;
    } cases[] = {
        {"plain",
         "From: me\r\nTo: a@x, B <b@x>\r\nCc: c@x\r\nBcc: d@x,\r\n e@x\r\nSubject: s\r\n"
         "\r\nbody\r\n",
         "a@x | b@x | c@x | d@x | e@x",
         "From: me\r\nTo: a@x, B <b@x>\r\nCc: c@x\r\nSubject: s\r\n\r\nbody\r\n", 0},
        {"resent",
         "To: a@x\r\nResent-From: r@y\r\nResent-To: z@y\r\nResent-Bcc: hidden@y\r\n"
         "Bcc: old@x\r\nResent-Cc: w@y\r\n\r\nb",
         "z@y | hidden@y | w@y",
         "To: a@x\r\nResent-From: r@y\r\nResent-To: z@y\r\nResent-Cc: w@y\r\n\r\nb", 0},
        {"resent without resent-to", "To: a@x\r\nResent-Date: now\r\n\r\n", "",
         "To: a@x\r\nResent-Date: now\r\n\r\n", 0},
        {"case", "BCC: x@y\r\nto: y@z\r\ncC: w@z\r\n", "x@y | y@z | w@z", "to: y@z\r\ncC: w@z\r\n",
         0},
        {"bcc last, no body", "To: a\r\nBcc: b", "a | b", "To: a\r\n", 0},
        {"bcc only", "Bcc: b,\r\n\tc\r\n", "b | c", "", 0},
        {"several bcc", "Bcc: a@x\r\nX: 1\r\nbcc: b@x\r\n\r\n", "a@x | b@x", "X: 1\r\n\r\n", 0},
        {"bcc in body stays", "To: a\r\n\r\nBcc: b\r\n", "a", "To: a\r\n\r\nBcc: b\r\n", 0},
        {"bcc after garbage stays", "To: a\r\nnot a field\r\nBcc: b\r\n", "a",
         "To: a\r\nnot a field\r\nBcc: b\r\n", 0},
        {"x-bcc kept", "X-Bcc: a\r\nBccx: b\r\n", "", "X-Bcc: a\r\nBccx: b\r\n", 0},
        {"bad address counted", "To: John Smith, ok@x\r\n", "ok@x", "To: John Smith, ok@x\r\n",
         1},
        {"group and lf", "To: list: a@x,\n b@x;\nBcc: c@x\n\nbody", "a@x | b@x | c@x",
         "To: list: a@x,\n b@x;\n\nbody", 0},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        rfc5322_addrs a = {0};
        size_t len = strlen(cases[i].msg);
        size_t bad = rfc5322_collect_rcpts(cases[i].msg, len, &a);
        dbuf_reset(&got);
        addrs_join(&a, &got);
        expect_str(cases[i].name, got.data, got.len, cases[i].rcpts);
        if (bad != cases[i].bad) {
            print_error("%s: bad got %zu want %zu\n", cases[i].name, bad, cases[i].bad);
            mismatches++;
        }
        dbuf_reset(&got);
        rfc5322_remove_bcc(cases[i].msg, len, &got);
        expect_str(cases[i].name, got.data, got.len, cases[i].stripped);
        rfc5322_addrs_free(&a);
    }
    dbuf_free(&got);
    check_done();
}

/* ---- completion ---- */

static void test_have(void **state)
{
    static const struct {
        const char *msg;
        unsigned want;
    } cases[] = {
        {"", 0},
        {"Subject: x\r\n\r\nFrom: body\r\n", 0},
        {"from: a\r\nDATE: b\r\nmessage-id: <c>\r\n", RFC5322_HAVE_FROM | RFC5322_HAVE_DATE |
                                                          RFC5322_HAVE_MSGID},
        {"Resent-From: a\r\nCc: b\r\n",
         RFC5322_HAVE_RESENT | RFC5322_HAVE_RESENT_FROM | RFC5322_HAVE_RCPT_HDR},
        {"resent-date: a\r\nResent-Message-Id: b\r\nResent-Sender: c\r\n",
         RFC5322_HAVE_RESENT | RFC5322_HAVE_RESENT_DATE | RFC5322_HAVE_RESENT_MSGID},
        {"Message-Id: x\r\nBcc: y\r\n", RFC5322_HAVE_MSGID | RFC5322_HAVE_RCPT_HDR},
        {"Resent-: x\r\nFromage: y\r\nX-Date: z\r\n", 0},
        {"To: a\r\ngarbage\r\nFrom: b\r\n", RFC5322_HAVE_RCPT_HDR},
    };
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        unsigned got = rfc5322_have(cases[i].msg, strlen(cases[i].msg));
        if (got != cases[i].want) {
            print_error("%s: got %#x want %#x\n", cases[i].msg, got, cases[i].want);
            mismatches++;
        }
    }
    check_done();
}

/* set_tz - switch the local time zone for the date tests */
static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_date(void **state)
{
    static const struct {
        const char *tz;
        int64_t t;
        const char *want;
    } cases[] = {
        {"UTC0", 0, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"},
        {"UTC0", 1748959331, "Date: Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"<+0530>-5:30", 1748959331, "Date: Tue, 3 Jun 2025 19:32:11 +0530\r\n"},
        {"<-0330>3:30", 1748959331, "Date: Tue, 3 Jun 2025 10:32:11 -0330\r\n"},
        {"<-10>10", 1748959331, "Date: Tue, 3 Jun 2025 04:02:11 -1000\r\n"},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        set_tz(cases[i].tz);
        dbuf_reset(&got);
        rfc5322_put_date(&got, "Date", cases[i].t);
        expect_str(cases[i].tz, got.data, got.len, cases[i].want);
    }
    set_tz("UTC0");
    dbuf_reset(&got);
    rfc5322_put_date(&got, "Resent-Date", 1748959331);
    expect_str("resent", got.data, got.len, "Resent-Date: Tue, 3 Jun 2025 14:02:11 +0000\r\n");
    dbuf_free(&got);
    check_done();
}

static void test_message_id(void **state)
{
    static const struct {
        const char *name, *qid, *host, *want;
    } cases[] = {
        {"Message-ID", "0PKQ3M7ZC1A4", "mx.example.com",
         "Message-ID: <0PKQ3M7ZC1A4.20250603140211@mx.example.com>\r\n"},
        {"Resent-Message-ID", "0PKQ3M7ZC1A4", "h",
         "Resent-Message-ID: <0PKQ3M7ZC1A4.20250603140211@h>\r\n"},
        {"Message-ID", "", "", "Message-ID: <20250603140211@localhost>\r\n"},
        {"Message-ID", "a b", "bad host>\r\nX: y",
         "Message-ID: <a-b.20250603140211@bad-host---X--y>\r\n"},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        dbuf_reset(&got);
        rfc5322_put_message_id(&got, cases[i].name, cases[i].qid, 1748959331, cases[i].host);
        expect_str(cases[i].want, got.data, got.len, cases[i].want);
    }
    dbuf_free(&got);
    check_done();
}

static void test_from(void **state)
{
    static const struct {
        const char *sender, *fullname, *want;
    } cases[] = {
        {"joe@example.com", "Joe User", "From: \"Joe User\" <joe@example.com>\r\n"},
        {"joe@example.com", NULL, "From: joe@example.com\r\n"},
        {"joe@example.com", "", "From: joe@example.com\r\n"},
        {"joe@example.com", "  \t ", "From: joe@example.com\r\n"},
        {"joe@x", "Doe, John (Jr.)", "From: \"Doe, John (Jr.)\" <joe@x>\r\n"},
        {"joe@x", "Say \"hi\" \\o/", "From: \"Say \\\"hi\\\" \\\\o/\" <joe@x>\r\n"},
        {"joe@x", " padded ", "From: \"padded\" <joe@x>\r\n"},
        {"joe@x", "evil\r\nBcc: victim@y", "From: \"evil  Bcc: victim@y\" <joe@x>\r\n"},
        {"joe@x", "J\xc3\xb6rg", "From: \"J\xc3\xb6rg\" <joe@x>\r\n"},
        {"joe@example.com",
         "A Very Long Full Name That Goes On And On Because Some People Have Many Names",
         "From: \"A Very Long Full Name That Goes On And On Because Some People Have\r\n"
         " Many Names\" <joe@example.com>\r\n"},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        dbuf_reset(&got);
        rfc5322_put_from(&got, "From", cases[i].sender, cases[i].fullname);
        expect_str(cases[i].want, got.data, got.len, cases[i].want);
    }
    dbuf_free(&got);
    check_done();
}

static void test_prepend(void **state)
{
    static const struct {
        const char *name, *fields, *msg, *want;
    } cases[] = {
        {"normal", "A: 1\r\n", "B: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\nbody\r\n"},
        {"no header", "A: 1\r\n", "hello\r\n", "A: 1\r\n\r\nhello\r\n"},
        {"body starts with space", "A: 1\r\n", " indented\r\n", "A: 1\r\n\r\n indented\r\n"},
        {"body looks like a field", "A: 1\r\n", "\r\nNote: x\r\n", "A: 1\r\n\r\nNote: x\r\n"},
        {"garbage after header", "A: 1\r\n", "B: 2\r\njunk\r\n", "A: 1\r\nB: 2\r\n\r\njunk\r\n"},
        {"empty message", "A: 1\r\n", "", "A: 1\r\n"},
        {"header only", "A: 1\r\n", "B: 2\r\n", "A: 1\r\nB: 2\r\n"},
        {"no fields", "", "B: 2\r\n\r\nx", "B: 2\r\n\r\nx"},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        dbuf_reset(&got);
        rfc5322_prepend(&got, cases[i].fields, strlen(cases[i].fields), cases[i].msg,
                        strlen(cases[i].msg));
        expect_str(cases[i].name, got.data, got.len, cases[i].want);
    }
    dbuf_free(&got);
    check_done();
}

/* test_complete - the injector's sequence: find what is missing, build it, prepend */
static void test_complete(void **state)
{
    const char *msg = "Subject: hi\r\nTo: a@x\r\n\r\nbody\r\n";
    unsigned have = rfc5322_have(msg, strlen(msg));
    dbuf fields = {0}, got = {0};
    (void)state;
    set_tz("UTC0");
    assert_int_equal(have, RFC5322_HAVE_RCPT_HDR);
    rfc5322_put_received(&fields, &(rfc5322_received){.host = "h.example", .uid = "1000",
                                                       .qid = "0PKQ3M7ZC1A4",
                                                       .time = 1748959331});
    if (!(have & RFC5322_HAVE_FROM))
        rfc5322_put_from(&fields, "From", "joe@h.example", "Joe");
    if (!(have & RFC5322_HAVE_DATE))
        rfc5322_put_date(&fields, "Date", 1748959331);
    if (!(have & RFC5322_HAVE_MSGID))
        rfc5322_put_message_id(&fields, "Message-ID", "0PKQ3M7ZC1A4", 1748959331, "h.example");
    rfc5322_prepend(&got, fields.data, fields.len, msg, strlen(msg));
    expect_str("complete", got.data, got.len,
               "Received: by h.example (sluice, from userid 1000) id 0PKQ3M7ZC1A4;\r\n"
               "\tTue, 3 Jun 2025 14:02:11 +0000\r\n"
               "From: \"Joe\" <joe@h.example>\r\n"
               "Date: Tue, 3 Jun 2025 14:02:11 +0000\r\n"
               "Message-ID: <0PKQ3M7ZC1A4.20250603140211@h.example>\r\n"
               "Subject: hi\r\nTo: a@x\r\n\r\nbody\r\n");
    have = rfc5322_have(got.data, got.len);
    assert_int_equal(have, RFC5322_HAVE_FROM | RFC5322_HAVE_DATE | RFC5322_HAVE_MSGID |
                               RFC5322_HAVE_RCPT_HDR);
    dbuf_free(&fields);
    dbuf_free(&got);
    check_done();
}

/* ---- Received and folding ---- */

/* expect_short_lines - every line of a field under RFC5322_LINE_MAX */
static void expect_short_lines(const char *name, const dbuf *b)
{
    size_t start = 0;
    for (size_t i = 0; i + 1 < b->len; i++) {
        if (b->data[i] == '\r' && b->data[i + 1] == '\n') {
            if (i - start >= RFC5322_LINE_MAX) {
                print_error("%s: line of %zu characters\n", name, i - start);
                mismatches++;
            }
            start = i + 2;
        }
    }
}

static void test_received(void **state)
{
    static const struct {
        const char *name;
        rfc5322_received r;
        const char *want;
    } cases[] = {
        {"remote",
         {.helo = "client.example.org", .client_name = "mail.example.org",
          .client_ip = "192.0.2.1", .host = "mx.example.com", .proto = "ESMTPS",
          .qid = "0PKQ3M7ZC1A4", .rcpt = "rcpt@example.net", .time = 1748959331},
         "Received: from client.example.org (mail.example.org [192.0.2.1])\r\n"
         "\tby mx.example.com (sluice) with ESMTPS id 0PKQ3M7ZC1A4\r\n"
         "\tfor <rcpt@example.net>; Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"local",
         {.host = "h", .uid = "1000", .qid = "Q1", .time = 1748959331},
         "Received: by h (sluice, from userid 1000) id Q1;\r\n"
         "\tTue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"no helo, ipv6, no rdns",
         {.client_ip = "2001:db8::1", .host = "mx", .proto = "ESMTP", .qid = "Q",
          .time = 1748959331},
         "Received: from [IPv6:2001:db8::1] ([IPv6:2001:db8::1]) by mx (sluice)\r\n"
         "\twith ESMTP id Q; Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"helo only",
         {.helo = "[192.0.2.9]", .host = "mx", .time = 1748959331},
         "Received: from [192.0.2.9] by mx (sluice); Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"hostile helo",
         {.helo = "evil\r\nX-Injected: (1); <x>", .client_ip = "192.0.2.1", .host = "mx",
          .rcpt = "\"a b\"@x>\r\n", .time = 1748959331},
         "Received: from evil??X-Injected:??1????x? ([192.0.2.1]) by mx (sluice)\r\n"
         "\tfor <\"a b\"@x??\?>; Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"nothing known", {.time = 1748959331},
         "Received: (sluice); Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
        {"very long helo",
         {.helo = "a-very-long-helo-name-that-goes-on.and-on.and-on.example.org.example.net.xx",
          .host = "mx", .time = 1748959331},
         "Received: from a-very-long-helo-name-that-goes-on.and-on.and-on.example.org.example.net.xx\r\n"
         "\tby mx (sluice); Tue, 3 Jun 2025 14:02:11 +0000\r\n"},
    };
    dbuf got = {0};
    (void)state;
    set_tz("UTC0");
    for (size_t i = 0; i < NCASES(cases); i++) {
        dbuf_reset(&got);
        rfc5322_put_received(&got, &cases[i].r);
        expect_str(cases[i].name, got.data, got.len, cases[i].want);
        if (strcmp(cases[i].name, "very long helo") != 0)
            expect_short_lines(cases[i].name, &got);
    }
    dbuf_free(&got);
    check_done();
}

static void test_fold_unfold(void **state)
{
    static const struct {
        const char *in, *want;
    } put[] = {
        {"short", "S: short\r\n"},
        {"", "S:\r\n"},
        {"  lead and trail  ", "S: lead and trail\r\n"},
        {"was\r\n folded", "S: was folded\r\n"},
        {"inject\r\nBcc: x", "S: inject  Bcc: x\r\n"},
        {"aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp",
         "S: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo\r\n"
         " pppp\r\n"},
        {"x\t\tyy",  "S: x\t\tyy\r\n"},
    };
    static const struct {
        const char *in, *want;
    } unfold[] = {
        {"a\r\n b", "a b"},
        {"a\r\n\tb\n c", "a\tb c"},
        {"a\r\nb", "a\r\nb"},
        {"a\r\n", "a\r\n"},
        {"\r\n \r\n ", "  "},
    };
    dbuf got = {0};
    (void)state;
    for (size_t i = 0; i < NCASES(put); i++) {
        dbuf_reset(&got);
        rfc5322_put_field(&got, "S", put[i].in, strlen(put[i].in));
        expect_str(put[i].in, got.data, got.len, put[i].want);
        expect_short_lines(put[i].in, &got);
    }
    dbuf_reset(&got);
    rfc5322_put_field(&got, "S", M("nul\0x"));
    expect_str("nul", got.data, got.len, "S: nul x\r\n");
    for (size_t i = 0; i < NCASES(unfold); i++) {
        dbuf_reset(&got);
        rfc5322_unfold(&got, unfold[i].in, strlen(unfold[i].in));
        expect_str(unfold[i].in, got.data, got.len, unfold[i].want);
    }
    dbuf_free(&got);
    check_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_iter, reset),
        cmocka_unit_test_setup(test_iter_overlong, reset),
        cmocka_unit_test_setup(test_split_and_name, reset),
        cmocka_unit_test_setup(test_addrs, reset),
        cmocka_unit_test_setup(test_addrs_misc, reset),
        cmocka_unit_test_setup(test_sendmail_t, reset),
        cmocka_unit_test_setup(test_have, reset),
        cmocka_unit_test_setup(test_date, reset),
        cmocka_unit_test_setup(test_message_id, reset),
        cmocka_unit_test_setup(test_from, reset),
        cmocka_unit_test_setup(test_prepend, reset),
        cmocka_unit_test_setup(test_complete, reset),
        cmocka_unit_test_setup(test_received, reset),
        cmocka_unit_test_setup(test_fold_unfold, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
