/* test_doctor_probe.c - the parts of `sluice doctor probe` that need no network: address
 * literals; the transcript into phases (pipelined replies, HELO fallback, STARTTLS, replies
 * nobody asked for); EHLO extension lines; text made safe for JSON; the certificate facts
 * (names and wildcards, self-signed, expired, not yet valid) from certificates made here;
 * and the verdicts of made-up sessions (table: connect refused / timed out / no route, 421
 * and 554 at the greeting with their classes, a banner hang, a silent close, EHLO refused,
 * HELO fallback, a TLS handshake failure, MAIL and RCPT refusals, greylisting, ok), read
 * back from the report's JSON.  The network side is tests/e2e/test_doctor_probe.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "doctor/probe.h"
#include "test_util_doctor.h"

/* ---- address literals ---- */

static const struct literal_case {
    const char *arg;
    int family;                /* 0: not a literal */
} literals[] = {
    {"[192.0.2.1]", AF_INET},     {"192.0.2.1", AF_INET},    {"[IPv6:2001:db8::1]", AF_INET6},
    {"[ipv6:::1]", AF_INET6},     {"[::1]", AF_INET6},       {"2001:db8::25", AF_INET6},
    {"mx.example.com", 0},        {"[mx.example.com]", 0},   {"[]", 0},
    {"[192.0.2.1", 0},            {"192.0.2.256", 0},        {"", 0},
};

static void test_literal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        netaddr n;
        int rc = probe_literal(literals[i].arg, &n);
        int got = rc == 0 ? n.ss.ss_family : 0;
        if (got != literals[i].family)
            fail_msg("%s: got family %d, want %d", literals[i].arg, got, literals[i].family);
    }
}

/* ---- made-up sessions ---- */

/* A transcript line: event, time, code, stage, text. */
typedef struct tl {
    enum probe_ev ev;
    double t;
    int code;
    enum smtpc_stage stage;
    const char *text;
} tl;

#define END_LINES {PE_CONNECTED, -1, 0, 0, NULL}

/* make_session - a session from lines (ended by t < 0); texts copied */
static void make_session(probe_session *s, const tl *lines)
{
    memset(s, 0, sizeof *s);
    for (; lines->t >= 0; lines++) {
        s->lines = realloc(s->lines, sizeof *s->lines * (size_t)(s->nlines + 1));
        probe_line *l = &s->lines[s->nlines++];
        l->ev = lines->ev;
        l->t_ms = lines->t;
        l->code = lines->code;
        l->stage = lines->stage;
        l->text = lines->text ? strdup(lines->text) : NULL;
        s->connected |= l->ev == PE_CONNECTED;
        s->tls_up |= l->ev == PE_TLS;
        s->end_ms = l->t_ms;
    }
}

/* set_reply - a reply with an owned text */
static void set_reply(smtpc_reply *r, int code, const char *enh, const char *text,
                      enum smtpc_stage stage, int closed)
{
    memset(r, 0, sizeof *r);
    r->code = code;
    snprintf(r->enh, sizeof r->enh, "%s", enh);
    r->text = strdup(text);
    r->stage = stage;
    r->closed = closed;
}

static const tl pipelined[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 3, 220, SMTPC_ST_GREETING, "220 mx.test ESMTP"},
    {PE_COMMAND, 3, 0, 0, "EHLO client.test"},
    {PE_REPLY, 4, 250, SMTPC_ST_EHLO, "250-mx.test\n250 PIPELINING"},
    {PE_COMMAND, 4, 0, 0, "MAIL FROM:<a@x.test>"},
    {PE_COMMAND, 4, 0, 0, "RCPT TO:<b@y.test>"},
    {PE_REPLY, 6, 250, SMTPC_ST_MAIL, "250 2.1.0 Ok"},
    {PE_REPLY, 6.5, 250, SMTPC_ST_RCPT, "250 2.1.5 Ok"},
    {PE_COMMAND, 6.5, 0, 0, "RSET"},
    {PE_REPLY, 8, 250, SMTPC_ST_MAIL, "250 2.0.0 Ok"},
    {PE_COMMAND, 8, 0, 0, "QUIT"},
    {PE_REPLY, 9, 221, SMTPC_ST_QUIT, "221 Bye"},
    END_LINES,
};

static const tl helo_tls[] = {
    {PE_CONNECTED, 2, 0, 0, NULL},
    {PE_REPLY, 2.5, 220, SMTPC_ST_GREETING, "220 mx.test"},
    {PE_REPLY, 2.6, 421, SMTPC_ST_GREETING, "421 unsolicited"},   /* nobody asked */
    {PE_COMMAND, 3, 0, 0, "EHLO client.test"},
    {PE_REPLY, 4, 502, SMTPC_ST_EHLO, "502 5.5.2 what?"},
    {PE_COMMAND, 4, 0, 0, "HELO client.test"},
    {PE_REPLY, 6, 250, SMTPC_ST_EHLO, "250 mx.test"},
    {PE_COMMAND, 6, 0, 0, "STARTTLS"},
    {PE_REPLY, 7, 220, SMTPC_ST_STARTTLS, "220 go ahead"},
    {PE_TLS, 10, 0, 0, NULL},
    {PE_COMMAND, 10, 0, 0, "EHLO client.test"},
    {PE_REPLY, 12, 250, SMTPC_ST_EHLO, "250 mx.test"},
    END_LINES,
};

/* expect_ms - phase ph was reached and took ms */
static void expect_ms(const probe_phases *p, enum probe_phase ph, double ms)
{
    if (!p->seen[ph] || p->ms[ph] < ms - 1e-9 || p->ms[ph] > ms + 1e-9)
        fail_msg("%s: seen %d, %.2f ms; want %.2f", probe_phase_name(ph), p->seen[ph],
                 p->ms[ph], ms);
}

static void test_phases(void **state)
{
    (void)state;
    probe_session s;
    probe_phases p;
    make_session(&s, pipelined);
    probe_phases_of(&s, &p);
    expect_ms(&p, PH_CONNECT, 1);
    expect_ms(&p, PH_GREETING, 2);
    expect_ms(&p, PH_EHLO, 1);
    expect_ms(&p, PH_MAIL, 2);
    expect_ms(&p, PH_RCPT, 0.5);   /* from MAIL's reply, not from when it was written */
    expect_ms(&p, PH_RSET, 1.5);
    expect_ms(&p, PH_QUIT, 1);
    assert_false(p.seen[PH_STARTTLS] || p.seen[PH_TLS] || p.helo_fallback);
    assert_int_equal(p.reply[PH_RCPT]->code, 250);
    assert_string_equal(p.reply[PH_MAIL]->text, "250 2.1.0 Ok");
    probe_session_clear(&s);

    make_session(&s, helo_tls);
    probe_phases_of(&s, &p);
    expect_ms(&p, PH_GREETING, 0.5);
    expect_ms(&p, PH_EHLO, 3);   /* EHLO refused + HELO */
    assert_true(p.helo_fallback);
    assert_int_equal(p.ehlo_refusal->code, 502);
    assert_int_equal(p.reply[PH_EHLO]->code, 250);
    expect_ms(&p, PH_STARTTLS, 1);
    expect_ms(&p, PH_TLS, 3);
    expect_ms(&p, PH_EHLO_TLS, 2);
    probe_session_clear(&s);
}

static void test_ehlo_lines(void **state)
{
    (void)state;
    const char *e = "250-mx.test greets you\n250-PIPELINING\n250-SIZE 1000\n250-starttls\n"
                    "250 STARTTLSX";
    json_t *kw = probe_ehlo_keywords(e);
    assert_int_equal(json_array_size(kw), 4);
    assert_string_equal(json_string_value(json_array_get(kw, 1)), "SIZE 1000");
    json_decref(kw);
    assert_true(probe_ehlo_offers(e, "STARTTLS"));
    assert_true(probe_ehlo_offers(e, "SIZE"));
    assert_false(probe_ehlo_offers(e, "8BITMIME"));
    assert_false(probe_ehlo_offers("250-STARTTLS is here but only on line one", "STARTTLS"));
    kw = probe_ehlo_keywords(NULL);
    assert_int_equal(json_array_size(kw), 0);
    json_decref(kw);
}

static void test_text(void **state)
{
    (void)state;
    char *t = probe_text("ok \xc3\xa9", 5);
    assert_string_equal(t, "ok \xc3\xa9");
    free(t);
    t = probe_text("bad \xff\xc3 end", 10);
    assert_string_equal(t, "bad ?? end");
    free(t);
}

/* ---- certificates ---- */

/* make_cert - a self-signed EC certificate valid from +from to +to days */
static X509 *make_cert(const char *cn, const char *san, long from, long to)
{
    X509 *x = X509_new();
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to * 86400 + 60);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (san) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, k, EVP_sha256());
    EVP_PKEY_free(k);
    return x;
}

static const struct name_case {
    const char *name;
    int match;
} names[] = {
    {"mx.test", 1}, {"MX.TEST", 1}, {"a.example.net", 1}, {"a.b.example.net", 0},
    {"example.net", 0}, {"other.test", 0},
};

static void test_cert(void **state)
{
    (void)state;
    X509 *x = make_cert("mx.test", "DNS:mx.test,DNS:*.example.net,IP:192.0.2.1", -1, 30);
    probe_cert c;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        probe_cert_read(x, X509_V_OK, names[i].name, &c);
        if (c.name_match != names[i].match)
            fail_msg("%s: match %d, want %d", names[i].name, c.name_match, names[i].match);
        probe_cert_clear(&c);
    }
    probe_cert_read(x, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, NULL, &c);
    assert_string_equal(c.cn, "mx.test");
    assert_string_equal(c.subject, "CN=mx.test");
    assert_string_equal(c.issuer, "CN=mx.test");
    assert_int_equal(c.nnames, 3);
    assert_string_equal(c.names[1], "*.example.net");
    assert_string_equal(c.names[2], "192.0.2.1");
    assert_true(c.self_signed);
    assert_false(c.expired || c.not_yet_valid || c.name_checked);
    assert_int_equal(c.days_left, 30);
    assert_string_equal(c.key, "EC 256");
    assert_string_equal(c.verify_text, "self-signed certificate");
    json_t *j = probe_cert_json(&c);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "name_match")));
    assert_false(json_is_true(json_object_get(j, "chain_verified")));
    assert_string_equal(json_string_value(json_object_get(j, "chain_error")),
                        "self-signed certificate");
    json_decref(j);
    probe_cert_clear(&c);
    X509_free(x);

    x = make_cert("old.test", NULL, -30, -3);
    probe_cert_read(x, X509_V_OK, "old.test", &c);
    assert_true(c.expired);
    assert_int_equal(c.days_left, -2);   /* notAfter is 3 days ago plus a minute */
    assert_int_equal(c.nnames, 0);
    assert_true(c.name_match);           /* the CN counts when there is no SAN */
    probe_cert_clear(&c);
    X509_free(x);

    x = make_cert("new.test", NULL, 2, 40);
    probe_cert_read(x, X509_V_OK, "new.test", &c);
    assert_true(c.not_yet_valid);
    assert_false(c.expired);
    probe_cert_clear(&c);
    X509_free(x);
}

/* ---- verdicts ---- */

typedef struct verdict_case {
    const char *name;
    const tl *lines;
    int failed;                /* the session ended with FAILED and this reply: */
    int code, err;             /* err: the text ends with strerror(err) */
    const char *enh, *text;
    enum smtpc_stage stage;
    int ready, txn;            /* READY reached; the envelope ran with these replies: */
    int mail_code, rcpt_code;
    const char *rcpt_enh, *rcpt_text;
    const char *verdict, *status, *cls;   /* want (cls NULL: not classified) */
    const char *phase, *phase_status;     /* and this check */
} verdict_case;

static const tl no_lines[] = {END_LINES};
static const tl just_connected[] = {{PE_CONNECTED, 1, 0, 0, NULL}, END_LINES};
static const tl greet_421[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 421, SMTPC_ST_GREETING, "421 4.7.0 Too many concurrent connections"},
    END_LINES,
};
static const tl greet_554[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 554, SMTPC_ST_GREETING,
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"},
    {PE_COMMAND, 2, 0, 0, "QUIT"},
    END_LINES,
};
static const tl ehlo_421[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 220, SMTPC_ST_GREETING, "220 mx.test"},
    {PE_COMMAND, 2, 0, 0, "EHLO client.test"},
    {PE_REPLY, 3, 421, SMTPC_ST_EHLO, "421 4.7.0 Too many concurrent SMTP connections"},
    END_LINES,
};
static const tl envelope[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 220, SMTPC_ST_GREETING, "220 mx.test"},
    {PE_COMMAND, 2, 0, 0, "EHLO client.test"},
    {PE_REPLY, 3, 250, SMTPC_ST_EHLO, "250-mx.test\n250 PIPELINING"},
    {PE_COMMAND, 3, 0, 0, "MAIL FROM:<a@x.test>"},
    {PE_COMMAND, 3, 0, 0, "RCPT TO:<b@y.test>"},
    {PE_REPLY, 4, 250, SMTPC_ST_MAIL, "250 2.1.0 Ok"},
    {PE_REPLY, 5, 250, SMTPC_ST_RCPT, "250 (or what the case says)"},
    {PE_COMMAND, 5, 0, 0, "RSET"},
    {PE_REPLY, 6, 250, SMTPC_ST_MAIL, "250 Ok"},
    END_LINES,
};
static const tl starttls_broken[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 220, SMTPC_ST_GREETING, "220 mx.test"},
    {PE_COMMAND, 2, 0, 0, "EHLO client.test"},
    {PE_REPLY, 3, 250, SMTPC_ST_EHLO, "250-mx.test\n250 STARTTLS"},
    {PE_COMMAND, 3, 0, 0, "STARTTLS"},
    {PE_REPLY, 4, 220, SMTPC_ST_STARTTLS, "220 go"},
    END_LINES,
};
static const tl helo_only[] = {
    {PE_CONNECTED, 1, 0, 0, NULL},
    {PE_REPLY, 2, 220, SMTPC_ST_GREETING, "220 mx.test"},
    {PE_COMMAND, 2, 0, 0, "EHLO client.test"},
    {PE_REPLY, 3, 500, SMTPC_ST_EHLO, "500 what"},
    {PE_COMMAND, 3, 0, 0, "HELO client.test"},
    {PE_REPLY, 4, 250, SMTPC_ST_EHLO, "250 mx.test"},
    END_LINES,
};

#define CONNECT_TEXT "connect to h[192.0.2.1]:25: "
#define NO_TXN 0, 0, 0, 0, NULL, NULL

static const verdict_case verdicts[] = {
    {"connection refused", no_lines, 1, 0, ECONNREFUSED, "4.4.1", CONNECT_TEXT,
     SMTPC_ST_CONNECT, NO_TXN, "connection_refused", "fail", NULL, "connect", "fail"},
    {"connect timeout", no_lines, 1, 0, ETIMEDOUT, "4.4.1", CONNECT_TEXT, SMTPC_ST_CONNECT,
     NO_TXN, "connect_timeout", "fail", NULL, "connect", "fail"},
    {"no route", no_lines, 1, 0, ENETUNREACH, "4.4.1", CONNECT_TEXT, SMTPC_ST_CONNECT, NO_TXN,
     "unreachable", "fail", NULL, "connect", "fail"},
    {"421 at the greeting", greet_421, 1, 421, 0, "4.7.0", "Too many concurrent connections",
     SMTPC_ST_GREETING, NO_TXN, "refused_at_greeting", "fail", "too_many_connections",
     "greeting", "fail"},
    {"554 at the greeting", greet_554, 1, 554, 0, "5.7.1",
     "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
     SMTPC_ST_GREETING, NO_TXN, "refused_at_greeting", "fail", "permanent", "greeting",
     "fail"},
    {"banner hang", just_connected, 1, 0, 0, "4.4.2",
     "conversation with h[192.0.2.1] timed out while receiving the initial server greeting",
     SMTPC_ST_GREETING, NO_TXN, "banner_timeout", "fail", NULL, "greeting", "fail"},
    {"silent close", just_connected, 1, 0, 0, "4.4.2",
     "lost connection with h[192.0.2.1] while receiving the initial server greeting",
     SMTPC_ST_GREETING, NO_TXN, "closed_at_greeting", "fail", NULL, "greeting", "fail"},
    {"421 to EHLO", ehlo_421, 1, 421, 0, "4.7.0", "Too many concurrent SMTP connections",
     SMTPC_ST_EHLO, NO_TXN, "helo_refused", "fail", "too_many_connections", "ehlo", "fail"},
    {"HELO only", helo_only, 0, 221, 0, "", "Bye", SMTPC_ST_QUIT, 1, 0, 0, 0, NULL, NULL,
     "ok", "warn", NULL, "ehlo", "warn"},
    {"TLS handshake failed", starttls_broken, 1, 0, 0, "4.7.5",
     "TLS handshake with h[192.0.2.1] failed: wrong version number", SMTPC_ST_STARTTLS,
     NO_TXN, "tls_problem", "fail", NULL, "starttls", "fail"},
    {"RCPT greylisted", envelope, 0, 221, 0, "", "Bye", SMTPC_ST_QUIT, 1, 1, 250, 450,
     "4.2.0", "<b@y.test>: Recipient address rejected: Greylisted, see "
     "http://postgrey.schweikert.ch/help/y.test.html", "rcpt_refused", "warn", "greylisting",
     "rcpt", "warn"},
    {"RCPT unknown", envelope, 0, 221, 0, "", "Bye", SMTPC_ST_QUIT, 1, 1, 250, 550, "5.1.1",
     "<b@y.test>: Recipient address rejected: User unknown", "rcpt_refused", "fail",
     "permanent", "rcpt", "fail"},
    {"MAIL refused", envelope, 0, 221, 0, "", "Bye", SMTPC_ST_QUIT, 1, 1, 553, 553, "5.7.1",
     "<a@x.test>: Sender address rejected", "mail_refused", "fail", "permanent", "mail",
     "fail"},
    {"all accepted", envelope, 0, 221, 0, "", "Bye", SMTPC_ST_QUIT, 1, 1, 250, 250, "2.1.5",
     "Ok", "ok", "info", NULL, "rcpt", "pass"},
};

/* case_session - the session a case describes */
static void case_session(probe_session *s, const verdict_case *vc)
{
    char text[300];
    make_session(s, vc->lines);
    snprintf(text, sizeof text, "%s%s", vc->text, vc->err ? strerror(vc->err) : "");
    set_reply(vc->failed ? &s->fail : &s->closed, vc->code, vc->enh, text, vc->stage, 1);
    s->failed = vc->failed;
    s->ready = vc->ready;
    s->txn_ran = vc->txn;
    if (!vc->txn)
        return;
    set_reply(&s->mail, vc->mail_code, vc->mail_code == 250 ? "2.1.0" : vc->rcpt_enh,
              vc->mail_code == 250 ? "Ok" : vc->rcpt_text, SMTPC_ST_MAIL, 0);
    set_reply(&s->rcpt, vc->rcpt_code, vc->rcpt_enh, vc->rcpt_text,
              vc->mail_code == 250 ? SMTPC_ST_RCPT : SMTPC_ST_MAIL, 0);
}

/* one_verdict - run a case through probe_conclude and compare */
static void one_verdict(const verdict_case *vc, const probe_env *env, const probe_addr *a)
{
    probe_session s;
    probe_result res;
    char id[400];
    case_session(&s, vc);
    report *r = report_new("probe", "test");
    probe_conclude(r, env, a, &s, &res);
    json_t *rep = report_json(r);
    snprintf(id, sizeof id, "%s:%s", vc->phase, a->label);
    const char *ph = report_check_status(rep, id);
    const char *cls = res.classified ? reply_class_name(res.cls.cls) : NULL;
    if (strcmp(probe_verdict_name(res.v), vc->verdict) || strcmp(check_status_name(res.st),
        vc->status) || (cls == NULL) != (vc->cls == NULL) || (cls && strcmp(cls, vc->cls)) ||
        !*ph || strcmp(ph, vc->phase_status))
        fail_msg("%s: got %s %s %s, %s %s; want %s %s %s, %s %s", vc->name,
                 probe_verdict_name(res.v), check_status_name(res.st), cls ? cls : "-", id,
                 *ph ? ph : "(none)", vc->verdict, vc->status, vc->cls ? vc->cls : "-",
                 vc->phase, vc->phase_status);
    json_t *h = res.json;
    assert_string_equal(json_string_value(json_object_get(h, "verdict")), vc->verdict);
    assert_true(json_is_object(json_object_get(h, "timings_ms")));
    json_decref(rep);
    json_decref(res.json);
    report_free(r);
    probe_session_clear(&s);
}

static void test_verdicts(void **state)
{
    (void)state;
    char err[256];
    classifier *cls = classifier_new(err, sizeof err);
    assert_non_null(cls);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    probe_env env = {0};
    env.helo = "client.test";
    env.helo_source = "--helo";
    env.timeout_ms = 1000;
    env.tls_ctx = ctx;
    env.cls = cls;
    probe_addr a = {0};
    a.host = "h";
    a.pref = 10;
    snprintf(a.label, sizeof a.label, "h[192.0.2.1]");
    assert_int_equal(probe_literal("192.0.2.1", &a.addr), 0);
    for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
        env.want_txn = verdicts[i].txn;
        env.from = verdicts[i].txn ? "a@x.test" : NULL;
        env.rcpt = verdicts[i].txn ? "b@y.test" : NULL;
        one_verdict(&verdicts[i], &env, &a);
    }
    SSL_CTX_free(ctx);
    classifier_free(cls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal),   cmocka_unit_test(test_phases),
        cmocka_unit_test(test_ehlo_lines), cmocka_unit_test(test_text),
        cmocka_unit_test(test_cert),      cmocka_unit_test(test_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
