/* test_smtp_cmd.c - the SMTP command parser and the reply formatter, table-driven: verbs,
 * MAIL/RCPT paths (null sender, source routes, quoted local parts, address literals,
 * postmaster, Postfix-style tolerance), ESMTP parameters, 8-bit addresses, path and line
 * lengths, xtext and UTF-8 checks, and multi-line replies with enhanced codes.  Every case
 * of a table is checked; mismatches print got and want, and the test fails at its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/dbuf.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"

#define NCASES(t) (sizeof(t) / sizeof((t)[0]))

static int mismatches;

/* check_done - fail the running test when any case mismatched */
static void check_done(void)
{
    int n = mismatches;
    mismatches = 0;
    assert_int_equal(n, 0);
}

/* params_text - the parsed parameters as "KEY=VALUE KEY ..." */
static void params_text(const smtp_cmd *c, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < c->nparam && off < len; i++) {
        const smtp_param *p = &c->param[i];
        off += (size_t)snprintf(buf + off, len - off, "%s%.*s", i ? " " : "", (int)p->key.n,
                                p->key.p);
        if (p->value.p && off < len)
            off += (size_t)snprintf(buf + off, len - off, "=%.*s", (int)p->value.n,
                                    p->value.p);
    }
}

static const struct parse_case {
    const char *line;
    enum smtp_cmd_err err;
    enum smtp_verb verb;
    const char *addr;     /* NULL: not checked */
    int addr_8bit;
    const char *params;   /* NULL: not checked */
} parse_cases[] = {
    /* verbs */
    {"HELO mx.example.com", SMTP_CMD_OK, SMTP_HELO, NULL, 0, NULL},
    {"ehlo client.example", SMTP_CMD_OK, SMTP_EHLO, NULL, 0, NULL},
    {"EhLo [192.0.2.1]", SMTP_CMD_OK, SMTP_EHLO, NULL, 0, NULL},
    {"EHLO", SMTP_CMD_SYNTAX, SMTP_EHLO, NULL, 0, NULL},
    {"HELO   ", SMTP_CMD_SYNTAX, SMTP_HELO, NULL, 0, NULL},
    {"DATA", SMTP_CMD_OK, SMTP_DATA, NULL, 0, NULL},
    {"data  ", SMTP_CMD_OK, SMTP_DATA, NULL, 0, NULL},
    {"DATA now", SMTP_CMD_SYNTAX, SMTP_DATA, NULL, 0, NULL},
    {"RSET", SMTP_CMD_OK, SMTP_RSET, NULL, 0, NULL},
    {"RSET x", SMTP_CMD_SYNTAX, SMTP_RSET, NULL, 0, NULL},
    {"NOOP", SMTP_CMD_OK, SMTP_NOOP, NULL, 0, NULL},
    {"NOOP anything at all", SMTP_CMD_OK, SMTP_NOOP, NULL, 0, NULL},
    {"QUIT", SMTP_CMD_OK, SMTP_QUIT, NULL, 0, NULL},
    {"VRFY postmaster", SMTP_CMD_OK, SMTP_VRFY, NULL, 0, NULL},
    {"VRFY", SMTP_CMD_SYNTAX, SMTP_VRFY, NULL, 0, NULL},
    {"EXPN staff", SMTP_CMD_OK, SMTP_EXPN, NULL, 0, NULL},
    {"HELP", SMTP_CMD_OK, SMTP_HELP, NULL, 0, NULL},
    {"HELP MAIL", SMTP_CMD_OK, SMTP_HELP, NULL, 0, NULL},
    {"STARTTLS", SMTP_CMD_OK, SMTP_STARTTLS, NULL, 0, NULL},
    {"starttls x", SMTP_CMD_SYNTAX, SMTP_STARTTLS, NULL, 0, NULL},
    {"AUTH PLAIN AGZvbwBiYXI=", SMTP_CMD_OK, SMTP_AUTH, NULL, 0, NULL},
    {"AUTH", SMTP_CMD_SYNTAX, SMTP_AUTH, NULL, 0, NULL},
    {"BDAT 1000", SMTP_CMD_OK, SMTP_BDAT, NULL, 0, NULL},
    {"BDAT 0 LAST", SMTP_CMD_OK, SMTP_BDAT, NULL, 0, NULL},
    {"BDAT LAST", SMTP_CMD_SYNTAX, SMTP_BDAT, NULL, 0, NULL},
    {"BDAT 99999999999999999999999", SMTP_CMD_SYNTAX, SMTP_BDAT, NULL, 0, NULL},
    {"", SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, NULL, 0, NULL},
    {"   ", SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, NULL, 0, NULL},
    {"FOO bar", SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, NULL, 0, NULL},
    {"MAILFROM:<a@b.c>", SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, NULL, 0, NULL},
    {"GET / HTTP/1.1", SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, NULL, 0, NULL},
    {"HELO a\x01" "b", SMTP_CMD_SYNTAX, SMTP_HELO, NULL, 0, NULL},

    /* MAIL FROM paths */
    {"MAIL FROM:<user@example.com>", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0, ""},
    {"mail from:<user@example.com>", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0, ""},
    {"MAIL FROM:<>", SMTP_CMD_OK, SMTP_MAIL, "", 0, ""},
    {"MAIL FROM: <user@example.com>", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0, ""},
    {"MAIL FROM:user@example.com", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0, ""},
    {"MAIL FROM:user@example.com SIZE=10", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0,
     "SIZE=10"},
    {"MAIL FROM:<user@example.com>   ", SMTP_CMD_OK, SMTP_MAIL, "user@example.com", 0, ""},
    {"MAIL FROM:<@a.example,@b.example:user@c.example>", SMTP_CMD_OK, SMTP_MAIL,
     "user@c.example", 0, ""},
    {"MAIL FROM:<@a.example:user@c.example>", SMTP_CMD_OK, SMTP_MAIL, "user@c.example", 0, ""},
    {"MAIL FROM:<@a.example user@c.example>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<@:user@c.example>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<\"john doe\"@example.com>", SMTP_CMD_OK, SMTP_MAIL, "\"john doe\"@example.com",
     0, ""},
    {"MAIL FROM:<\"a\\\"b>c\"@example.com>", SMTP_CMD_OK, SMTP_MAIL, "\"a\\\"b>c\"@example.com",
     0, ""},
    {"MAIL FROM:<\"\"@example.com>", SMTP_CMD_OK, SMTP_MAIL, "\"\"@example.com", 0, ""},
    {"MAIL FROM:<\"unterminated@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<first.last+tag@sub.example.co.uk>", SMTP_CMD_OK, SMTP_MAIL,
     "first.last+tag@sub.example.co.uk", 0, ""},
    {"MAIL FROM:<!#$%&'*+-/=?^_`{|}~@example.com>", SMTP_CMD_OK, SMTP_MAIL,
     "!#$%&'*+-/=?^_`{|}~@example.com", 0, ""},
    {"MAIL FROM:<user@[192.0.2.1]>", SMTP_CMD_OK, SMTP_MAIL, "user@[192.0.2.1]", 0, ""},
    {"MAIL FROM:<user@[IPv6:2001:db8::1]>", SMTP_CMD_OK, SMTP_MAIL, "user@[IPv6:2001:db8::1]",
     0, ""},
    {"MAIL FROM:<user@[ipv6:::1]>", SMTP_CMD_OK, SMTP_MAIL, "user@[ipv6:::1]", 0, ""},
    {"MAIL FROM:<user@[x-tag:some-thing]>", SMTP_CMD_OK, SMTP_MAIL, "user@[x-tag:some-thing]",
     0, ""},
    {"MAIL FROM:<user@[300.1.1.1]>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@[IPv6:2001:db8::g]>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@[]>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@[1.2.3.4 ]>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@[x:a\\b]>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@[1.2.3.4>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<postmaster>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@example..com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@example.com.>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@-example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@example-.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@ex-ample.com>", SMTP_CMD_OK, SMTP_MAIL, "user@ex-ample.com", 0, ""},
    {"MAIL FROM:<user@ex_ample.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<.user@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user.@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<us..er@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<us er@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@example.com", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@example.com>x", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<<user@example.com>>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<user@exa\x01mple.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:   ", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL TO:<a@b.c>", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM :<a@b.c>", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},

    /* RCPT TO paths */
    {"RCPT TO:<rcpt@example.org>", SMTP_CMD_OK, SMTP_RCPT, "rcpt@example.org", 0, ""},
    {"RCPT TO:<postmaster>", SMTP_CMD_OK, SMTP_RCPT, "postmaster", 0, ""},
    {"RCPT TO:<PostMaster>", SMTP_CMD_OK, SMTP_RCPT, "PostMaster", 0, ""},
    {"rcpt to: postmaster", SMTP_CMD_OK, SMTP_RCPT, "postmaster", 0, ""},
    {"RCPT TO:<postmistress>", SMTP_CMD_BAD_RCPT, SMTP_RCPT, NULL, 0, NULL},
    {"RCPT TO:<>", SMTP_CMD_BAD_RCPT, SMTP_RCPT, NULL, 0, NULL},
    {"RCPT TO:<a@b.c> NOTIFY=NEVER ORCPT=rfc822;a+40b.c", SMTP_CMD_OK, SMTP_RCPT, "a@b.c", 0,
     "NOTIFY=NEVER ORCPT=rfc822;a+40b.c"},
    {"RCPT TO:", SMTP_CMD_SYNTAX, SMTP_RCPT, NULL, 0, NULL},
    {"RCPT FROM:<a@b.c>", SMTP_CMD_SYNTAX, SMTP_RCPT, NULL, 0, NULL},

    /* ESMTP parameters */
    {"MAIL FROM:<a@b.c> SIZE=12345 BODY=8BITMIME", SMTP_CMD_OK, SMTP_MAIL, "a@b.c", 0,
     "SIZE=12345 BODY=8BITMIME"},
    {"MAIL FROM:<a@b.c>  SMTPUTF8   RET=HDRS", SMTP_CMD_OK, SMTP_MAIL, "a@b.c", 0,
     "SMTPUTF8 RET=HDRS"},
    {"MAIL FROM:<a@b.c> ENVID=QQ314159+2B AUTH=<>", SMTP_CMD_OK, SMTP_MAIL, "a@b.c", 0,
     "ENVID=QQ314159+2B AUTH=<>"},
    {"MAIL FROM:<a@b.c> SIZE=", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> =1", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> -X=1", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> X_Y=1", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> A=b=c", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> A=\xc3\xa9", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0, NULL},
    {"MAIL FROM:<a@b.c> A B C D E F G H I J K L M N O P", SMTP_CMD_OK, SMTP_MAIL, "a@b.c", 0,
     "A B C D E F G H I J K L M N O P"},
    {"MAIL FROM:<a@b.c> A B C D E F G H I J K L M N O P Q", SMTP_CMD_SYNTAX, SMTP_MAIL, NULL, 0,
     NULL},

    /* 8-bit addresses (RFC 6531): reported, checked for UTF-8 */
    {"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8", SMTP_CMD_OK, SMTP_MAIL,
     "j\xc3\xb6rg@b\xc3\xbc" "cher.example", 1, "SMTPUTF8"},
    {"RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8>",
     SMTP_CMD_OK, SMTP_RCPT,
     "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", 1, ""},
    {"MAIL FROM:<\"\xc3\xa9 x\"@example.com>", SMTP_CMD_OK, SMTP_MAIL,
     "\"\xc3\xa9 x\"@example.com", 1, ""},
    {"MAIL FROM:<j\xf6rg@example.com>", SMTP_CMD_BAD_SENDER, SMTP_MAIL, NULL, 0, NULL},
    {"RCPT TO:<a\xc0\xafz@example.com>", SMTP_CMD_BAD_RCPT, SMTP_RCPT, NULL, 0, NULL},
    {"RCPT TO:<a\xed\xa0\x80@example.com>", SMTP_CMD_BAD_RCPT, SMTP_RCPT, NULL, 0, NULL},
    {"RCPT TO:<a\xe2\x82@example.com>", SMTP_CMD_BAD_RCPT, SMTP_RCPT, NULL, 0, NULL},
};

/* test_parse - every line of parse_cases */
static void test_parse(void **state)
{
    for (size_t i = 0; i < NCASES(parse_cases); i++) {
        const struct parse_case *t = &parse_cases[i];
        smtp_cmd c;
        char params[512];
        enum smtp_cmd_err err = smtp_cmd_parse(t->line, strlen(t->line), &c);
        params_text(&c, params, sizeof params);
        int bad = err != t->err || c.verb != t->verb ||
                  (t->addr && strcmp(c.addr, t->addr) != 0) ||
                  (t->addr && c.addr_8bit != t->addr_8bit) ||
                  (t->params && strcmp(params, t->params) != 0);
        if (bad) {
            mismatches++;
            print_error("case %zu \"%s\":\n  got  err=%d verb=%s addr=\"%s\" 8bit=%d params=\"%s\""
                        "\n  want err=%d verb=%s addr=\"%s\" 8bit=%d params=\"%s\"\n", i, t->line,
                        err, smtp_verb_name(c.verb), c.addr, c.addr_8bit, params, t->err,
                        smtp_verb_name(t->verb), t->addr ? t->addr : "(any)", t->addr_8bit,
                        t->params ? t->params : "(any)");
        }
    }
    check_done();
}

/* make_path_line - "MAIL FROM:<" + local part of n bytes + "@example.com>" */
static size_t make_path_line(char *buf, const char *verb, size_t local, const char *after)
{
    size_t off = (size_t)sprintf(buf, "%s<", verb);
    memset(buf + off, 'a', local);
    off += local;
    off += (size_t)sprintf(buf + off, "@example.com>%s", after);
    return off;
}

/* test_lengths - the 256-octet path limit, long lines, NUL bytes, no reads past len */
static void test_lengths(void **state)
{
    char buf[4096];
    smtp_cmd c;
    /* "<" + local + "@example.com" (12) + ">" = local + 14 octets */
    size_t n = make_path_line(buf, "MAIL FROM:", 242, "");
    assert_int_equal(smtp_cmd_parse(buf, n, &c), SMTP_CMD_OK);
    assert_int_equal(c.addrlen, 254);
    n = make_path_line(buf, "MAIL FROM:", 243, "");
    assert_int_equal(smtp_cmd_parse(buf, n, &c), SMTP_CMD_PATH_TOO_LONG);
    n = make_path_line(buf, "RCPT TO:", 243, " NOTIFY=NEVER");
    assert_int_equal(smtp_cmd_parse(buf, n, &c), SMTP_CMD_PATH_TOO_LONG);
    assert_int_equal(c.verb, SMTP_RCPT);
    n = make_path_line(buf, "RCPT TO:", 3000, "");
    assert_int_equal(smtp_cmd_parse(buf, n, &c), SMTP_CMD_PATH_TOO_LONG);
    /* unbracketed: counted as if the brackets were there */
    n = (size_t)sprintf(buf, "MAIL FROM:");
    memset(buf + n, 'b', 243);
    n += 243;
    n += (size_t)sprintf(buf + n, "@example.com");
    assert_int_equal(smtp_cmd_parse(buf, n, &c), SMTP_CMD_PATH_TOO_LONG);
    assert_int_equal(smtp_cmd_parse(buf, n - 1, &c), SMTP_CMD_OK);   /* "...example.co" */

    /* the parser stops at len: what follows is not part of the line */
    const char *s = "MAIL FROM:<a@b.c>GARBAGE";
    assert_int_equal(smtp_cmd_parse(s, 17, &c), SMTP_CMD_OK);
    assert_string_equal(c.addr, "a@b.c");
    /* NUL bytes inside a line */
    const char nul[] = "MAIL FROM:<a@b.c>\0 SIZE=1";
    assert_int_equal(smtp_cmd_parse(nul, sizeof nul - 1, &c), SMTP_CMD_BAD_SENDER);
    const char nulverb[] = "NO\0OP";
    assert_int_equal(smtp_cmd_parse(nulverb, sizeof nulverb - 1, &c), SMTP_CMD_UNKNOWN);
    const char nullit[] = "RCPT TO:<u@[192.0.2.1\0]>";   /* found by fuzz_smtp_cmd */
    assert_int_equal(smtp_cmd_parse(nullit, sizeof nullit - 1, &c), SMTP_CMD_BAD_RCPT);
    const char nularg[] = "HELO a\0b";
    assert_int_equal(smtp_cmd_parse(nularg, sizeof nularg - 1, &c), SMTP_CMD_SYNTAX);

    /* a very long line of junk is just unknown */
    memset(buf, 'X', sizeof buf);
    assert_int_equal(smtp_cmd_parse(buf, sizeof buf, &c), SMTP_CMD_UNKNOWN);
    /* BDAT keeps its numbers */
    assert_int_equal(smtp_cmd_parse("BDAT 1234 last", 14, &c), SMTP_CMD_OK);
    assert_true(c.chunk_size == 1234 && c.chunk_last == 1);
}

/* test_error_replies - each parse error maps to its reply */
static void test_error_replies(void **state)
{
    static const struct {
        enum smtp_cmd_err e;
        enum smtp_verb v;
        int code;
        const char *text;
    } t[] = {
        {SMTP_CMD_UNKNOWN, SMTP_UNKNOWN, 500, "5.5.2 Error: command not recognized"},
        {SMTP_CMD_SYNTAX, SMTP_MAIL, 501, "5.5.4 Syntax: MAIL FROM:<address> [parameters]"},
        {SMTP_CMD_SYNTAX, SMTP_EHLO, 501, "5.5.4 Syntax: EHLO hostname"},
        {SMTP_CMD_SYNTAX, SMTP_NOOP, 501, "5.5.4 Syntax error in arguments"},
        {SMTP_CMD_BAD_SENDER, SMTP_MAIL, 501, "5.1.7 Bad sender address syntax"},
        {SMTP_CMD_BAD_RCPT, SMTP_RCPT, 501, "5.1.3 Bad recipient address syntax"},
        {SMTP_CMD_PATH_TOO_LONG, SMTP_MAIL, 501, "5.1.7 Error: path too long"},
        {SMTP_CMD_PATH_TOO_LONG, SMTP_RCPT, 501, "5.1.3 Error: path too long"},
    };
    for (size_t i = 0; i < NCASES(t); i++) {
        const char *text;
        int code = smtp_cmd_error_reply(t[i].e, t[i].v, &text);
        if (code != t[i].code || strcmp(text, t[i].text) != 0) {
            mismatches++;
            print_error("case %zu: got %d \"%s\", want %d \"%s\"\n", i, code, text, t[i].code,
                        t[i].text);
        }
    }
    check_done();
}

/* test_xtext_utf8 - xtext decoding and the UTF-8 checker */
static void test_xtext_utf8(void **state)
{
    static const struct {
        const char *in;
        int want;
        const char *out;
    } x[] = {
        {"rfc822;a+40b.example", 20 - 2, "rfc822;a@b.example"},
        {"plain", 5, "plain"},
        {"+2B+3D", 2, "+="},
        {"bad+4", -1, NULL},
        {"bad+", -1, NULL},
        {"bad+zz", -1, NULL},
        {"bad+4a", -1, NULL},   /* lower-case hex is not xtext */
        {"a=b", -1, NULL},
        {"", 0, ""},
    };
    for (size_t i = 0; i < NCASES(x); i++) {
        char out[64];
        smtp_span in = {x[i].in, strlen(x[i].in)};
        int got = smtp_xtext_decode(in, out, sizeof out);
        if (got != x[i].want || (got >= 0 && strcmp(out, x[i].out) != 0)) {
            mismatches++;
            print_error("xtext %zu \"%s\": got %d\n", i, x[i].in, got);
        }
    }
    char small[4];
    smtp_span big = {"abcdef", 6};
    assert_int_equal(smtp_xtext_decode(big, small, sizeof small), -1);

    static const struct {
        const char *s;
        int valid;
    } u[] = {
        {"ascii", 1}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\xc3", 0}, {"\xc0\x80", 0}, {"\xe0\x80\x80", 0}, {"\xed\xa0\x80", 0},
        {"\xf4\x90\x80\x80", 0}, {"\xff", 0}, {"\x80", 0}, {"\xf0\x9f\x98", 0},
    };
    for (size_t i = 0; i < NCASES(u); i++)
        if (smtp_utf8_valid((const unsigned char *)u[i].s, strlen(u[i].s)) != u[i].valid) {
            mismatches++;
            print_error("utf8 case %zu: want %d\n", i, u[i].valid);
        }
    check_done();
}

/* test_replies - smtp_reply_put: single and multi-line, enhanced codes, sanitising */
static void test_replies(void **state)
{
    static const struct {
        int code;
        const char *text;
        int add_default;
        const char *want;
    } t[] = {
        {250, "2.1.0 Ok", 1, "250 2.1.0 Ok\r\n"},
        {250, "Ok", 1, "250 2.0.0 Ok\r\n"},
        {250, "Ok", 0, "250 Ok\r\n"},
        {354, "End data with <CR><LF>.<CR><LF>", 1, "354 End data with <CR><LF>.<CR><LF>\r\n"},
        {550, "5.7.1 first\nsecond\nthird", 1,
         "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n"},
        {550, "5.7.1 first\n5.7.2 second", 1, "550-5.7.1 first\r\n550 5.7.2 second\r\n"},
        {451, "first\nsecond", 1, "451-4.0.0 first\r\n451 4.0.0 second\r\n"},
        {451, "first\nsecond", 0, "451-first\r\n451 second\r\n"},
        {550, "4.7.1 wrong class", 1, "550 5.7.1 wrong class\r\n"},
        {250, "mx.example\nPIPELINING\nSIZE 1000", 0,
         "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"},
        {250, "line\n", 1, "250 2.0.0 line\r\n"},
        {550, "5.7.1 a\r\n550 5.7.1 forged", 1, "550-5.7.1 a \r\n550 5.7.1 550 5.7.1 forged\r\n"},
        {550, "5.7.1 tab\there\x01", 1, "550 5.7.1 tab here \r\n"},
        {221, NULL, 1, "221 2.0.0\r\n"},
        {220, "", 0, "220\r\n"},
        {550, "5.7.1 a\n\nb", 1, "550-5.7.1 a\r\n550-5.7.1\r\n550 5.7.1 b\r\n"},
        {421, "4.4.2 host Error: timeout exceeded", 1, "421 4.4.2 host Error: timeout exceeded\r\n"},
        {250, "2.0.0", 1, "250 2.0.0\r\n"},
        {250, "2.0.0x", 1, "250 2.0.0 2.0.0x\r\n"},
        {550, "5.1234.1 too many digits", 1, "550 5.0.0 5.1234.1 too many digits\r\n"},
    };
    dbuf b = {0};
    for (size_t i = 0; i < NCASES(t); i++) {
        dbuf_reset(&b);
        smtp_reply_put(&b, t[i].code, t[i].text, t[i].add_default);
        if (strcmp(dbuf_cstr(&b), t[i].want) != 0) {
            mismatches++;
            print_error("reply case %zu:\n  got  \"%s\"\n  want \"%s\"\n", i, dbuf_cstr(&b),
                        t[i].want);
        }
    }
    dbuf_free(&b);
    assert_int_equal(smtp_enhanced_len("2.1.0 Ok", 8), 5);
    assert_int_equal(smtp_enhanced_len("5.7.123", 7), 7);
    assert_int_equal(smtp_enhanced_len("3.1.0 x", 7), 0);
    assert_int_equal(smtp_enhanced_len("2.1.", 4), 0);
    check_done();
}

/* test_path_safe - envelope addresses that can go into MAIL FROM:<...> / RCPT TO:<...> as
 * they are (the daemon's local submissions and sluice send take only those) */
static void test_path_safe(void **state)
{
    (void)state;
    static const struct {
        const char *a;
        int want;
    } p[] = {
        {"alice@example.com", 1}, {"", 1}, {"\"alice smith\"@example.com", 1}, {"j\xc3\xb6rg@example.de", 1},
        {"bob@example.net>\r\nRCPT TO:<eve@example.org", 0}, {"a\nb@example.com", 0}, {"a\tb@example.com", 0},
        {"<a@example.com>", 0}, {"a@example.com> SIZE=1", 0}, {"alice @example.com", 0}, {"a\x7f@example.com", 0},
        {"\"open quote @example.com", 1}, {"\"a\" b@example.com", 0},
    };
    for (size_t i = 0; i < NCASES(p); i++)
        if (smtp_path_safe(p[i].a) != p[i].want) {
            mismatches++;
            print_error("path_safe %zu \"%s\": got %d\n", i, p[i].a, !p[i].want);
        }
    check_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_error_replies),
        cmocka_unit_test(test_xtext_utf8),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_path_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
