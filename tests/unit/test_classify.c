/* test_classify.c - the reply classifier, table-driven: input normalisation, every step of
 * the fallback, retry hints, the rules-file format and its errors (with line numbers),
 * administrators' rules before the shipped ones, the literal prefilter's extraction.
 * (The accuracy over the corpus and the held-out set is test_classify_corpus.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shaping/classify.h"
#include "shaping/classify_int.h"

static classifier *shipped(void)
{
    char err[512];
    classifier *c = classifier_new(err, sizeof err);
    if (!c)
        fail_msg("classifier_new: %s", err);
    return c;
}

/* ---- normalisation ---- */

typedef struct norm_case {
    int code;
    const char *enh, *text;
    int want_code;
    const char *want_enh, *want_text;
    int want_stage, want_closed;
} norm_case;

static const norm_case norm_cases[] = {
    {0, NULL, "421 4.7.0 Try again later", 421, "4.7.0", "Try again later", CS_ANY, 1},
    {0, NULL, "smtp; 421 4.7.0 [1.2.3.4] blocked", 421, "4.7.0", "[1.2.3.4] blocked", CS_ANY, 1},
    {0, NULL, "smtp;550 5.1.1 <a@b> User unknown", 550, "5.1.1", "<a@b> User unknown", CS_ANY, -1},
    {0, NULL, "Diagnostic-Code: smtp; 452 4.2.2 Over quota", 452, "4.2.2", "Over quota", CS_ANY, -1},
    {0, NULL, "X-Postfix; 451 4.3.0 queue file write error", 451, "4.3.0", "queue file write error",
     CS_ANY, -1},
    {421, NULL,
     "421-4.7.28 Gmail has detected 421-4.7.28 an unusual rate 421 4.7.28 of mail. - gsmtp", 421,
     "4.7.28", "Gmail has detected an unusual rate of mail. - gsmtp", CS_ANY, 1},
    {0, NULL, "554-Transaction failed 554-Reject due to policy restrictions. 554 For explanation",
     554, "", "Transaction failed Reject due to policy restrictions. For explanation", CS_ANY, -1},
    {0, NULL,
     "host mx.example.org[192.0.2.1] said: 450 4.2.0 <u@x>: Recipient address rejected: "
     "Greylisted (in reply to RCPT TO command)",
     450, "4.2.0", "<u@x>: Recipient address rejected: Greylisted", CS_RCPT, -1},
    {0, NULL, "host mx[192.0.2.1] refused to talk to me: 421 Service not available", 421, "",
     "Service not available", CS_GREETING, 1},
    {0, NULL,
     "to=<a@b>, relay=x[1.2.3.4]:25, dsn=4.7.0, status=deferred (host x[1.2.3.4] said: 421 "
     "4.7.0 [TSS04] deferred (in reply to MAIL FROM command))",
     421, "4.7.0", "[TSS04] deferred", CS_MAIL, 1},
    {0, NULL,
     "relay=none, delay=5, dsn=4.4.1, status=deferred (connect to x[1.2.3.4]:25: Connection "
     "timed out)",
     0, "4.4.1", "connect to x[1.2.3.4]:25: Connection timed out", CS_ANY, -1},
    {0, NULL,
     "NOQUEUE: reject: RCPT from x[1.2.3.4]: 450 4.2.0 <u@x>: Recipient address rejected: "
     "Greylisted; from=<a@b> to=<u@x> proto=ESMTP helo=<x>",
     450, "4.2.0", "<u@x>: Recipient address rejected: Greylisted", CS_RCPT, -1},
    {0, NULL, "SMTP error from remote mail server after RCPT TO:<a@b.c>: 451 4.7.1 Greylisted",
     451, "4.7.1", "Greylisted", CS_RCPT, -1},
    {0, NULL, "SMTP error from remote mail server after end of data: 452 Space shortage", 452, "",
     "Space shortage", CS_BODY, -1},
    {0, NULL, "stat=Deferred: 421 4.3.2 Too many open connections.", 421, "4.3.2",
     "Too many open connections.", CS_ANY, 1},
    {0, NULL, "relay=x, stat=451 Temporary failure, please try again later.", 451, "",
     "Temporary failure, please try again later.", CS_ANY, -1},
    {0, "4.2.0", "Sender address rejected: Greylisted", 0, "4.2.0",
     "Sender address rejected: Greylisted", CS_ANY, -1},
    {0, NULL, "4.7.1 Try again later", 0, "4.7.1", "Try again later", CS_ANY, -1},
    {451, "5.7.3", "STARTTLS is required", 451, "", "STARTTLS is required", CS_ANY, -1},
    {451, NULL, "451 5.7.3 STARTTLS is required", 451, "", "STARTTLS is required", CS_ANY, -1},
    {550, "4.7.1", "550 4.7.1 odd", 550, "", "odd", CS_ANY, -1},
    {451, NULL, "qq temporary problem (#4.3.0)", 451, "4.3.0", "qq temporary problem (#4.3.0)",
     CS_ANY, -1},
    {451, NULL, "Please try again later. (#id-5.9.4)", 451, "", "Please try again later. (#id-5.9.4)",
     CS_ANY, -1},
    {450, NULL, "  lots   of\tspace \r\n", 450, "", "lots of space", CS_ANY, -1},
    {421, "4.7.0", "421 4.7.0", 421, "4.7.0", "", CS_ANY, 1},
    {0, NULL, "", 0, "", "", CS_ANY, -1},
    {0, NULL, NULL, 0, "", "", CS_ANY, -1},
    {999, "9.9.9", "x", 0, "", "x", CS_ANY, -1},
    {450, "4.1.1", "450 4.1.1 <a@b>: unverified address: host mx[1.2.3.4] said: 452 4.2.2 Mailbox "
     "full (in reply to RCPT TO command)", 450, "4.1.1", "452 4.2.2 Mailbox full", CS_RCPT, -1},
    {421, "4.7.0", "Try again later. IP 192.0.2.25 in 4.7.0", 421, "4.7.0",
     "Try again later. IP 192.0.2.25 in 4.7.0", CS_ANY, 1},
};

static void test_normalize(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const norm_case *k = &norm_cases[i];
        classify_input in = {k->code, k->enh, k->text, CS_ANY, -1};
        cl_norm n;
        cl_normalize(&in, &n);
        if (n.code != k->want_code || strcmp(n.enh, k->want_enh) || strcmp(n.text, k->want_text) ||
            n.stage != k->want_stage || n.closed != k->want_closed)
            fail_msg("case %zu %s:\n got  code=%d enh='%s' text='%s' stage=%d closed=%d\n want "
                     "code=%d enh='%s' text='%s' stage=%d closed=%d",
                     i, k->text ? k->text : "(null)", n.code, n.enh, n.text, n.stage, n.closed,
                     k->want_code, k->want_enh, k->want_text, k->want_stage, k->want_closed);
    }
}

/* The caller's stage and closing win over what the text says. */
static void test_normalize_caller_wins(void **state)
{
    (void)state;
    classify_input in = {421, NULL, "host x[1.2.3.4] said: 421 busy (in reply to RCPT TO command)",
                         CS_DATA, 0};
    cl_norm n;
    cl_normalize(&in, &n);
    assert_int_equal(n.stage, CS_DATA);
    assert_int_equal(n.closed, 0);
    assert_string_equal(n.text, "busy");
}

/* ---- the fallback, step by step ---- */

typedef struct fb_case {
    int code;
    const char *enh, *text;
    enum reply_class want;
    const char *want_rule;
} fb_case;

static const fb_case fb_cases[] = {
    {550, NULL, "nothing known", RC_PERMANENT, "fallback:5xx"},
    {550, NULL, "greylisted, try again in 5 minutes", RC_PERMANENT, "fallback:5xx"},
    {0, "5.7.1", "nothing known", RC_PERMANENT, "fallback:enh:5.x.x"},
    {250, NULL, "ok", RC_OTHER, "fallback:not-a-failure"},
    {450, NULL, "you are greylisted, come back soon", RC_GREYLISTING, "fallback:wording:greylisting"},
    {451, NULL, "SPF check failed for your domain", RC_AUTHENTICATION,
     "fallback:wording:authentication"},
    {451, NULL, "your email has been rate limited because SPF did not pass", RC_AUTHENTICATION,
     "fallback:wording:authentication"},
    {451, NULL, "no PTR for your address", RC_AUTHENTICATION, "fallback:wording:authentication"},
    {421, NULL, "TLS is required here", RC_OTHER, "fallback:wording:tls"},
    {421, NULL, "too many simultaneous connections from your host", RC_TOO_MANY_CONNECTIONS,
     "fallback:wording:too-many-connections"},
    {421, NULL, "unusual rate of unsolicited mail from you", RC_REPUTATION,
     "fallback:wording:reputation"},
    {450, NULL, "your host is listed at some dnsbl", RC_REPUTATION, "fallback:wording:reputation"},
    {451, NULL, "slow down: message rate limit exceeded", RC_RATE_LIMITED,
     "fallback:wording:rate-limit"},
    {421, NULL, "too many messages in this session", RC_RATE_LIMITED, "fallback:wording:rate-limit"},
    {452, NULL, "the mailbox is full", RC_MAILBOX, "fallback:wording:mailbox"},
    {451, NULL, "the system is overloaded", RC_OVERLOADED, "fallback:wording:overloaded"},
    {451, NULL, "could not open the widget", RC_OVERLOADED, "fallback:wording:local-failure"},
    {421, NULL, "the service is temporarily unavailable", RC_OVERLOADED,
     "fallback:wording:unavailable-service"},
    {451, NULL, "command timeout", RC_OTHER, "fallback:wording:other-cause"},
    {452, "4.2.2", "nothing known", RC_MAILBOX, "fallback:enh:X.2.2 mailbox full"},
    {452, "4.5.3", "nothing known", RC_RATE_LIMITED, "fallback:enh:X.5.3 too many recipients"},
    {451, "4.7.24", "nothing known", RC_AUTHENTICATION,
     "fallback:enh:X.7.20-27 authentication failed"},
    {421, "4.7.28", "nothing known", RC_REPUTATION, "fallback:enh:X.7.28 mail flood"},
    {421, "4.7.32", "nothing known", RC_AUTHENTICATION, "fallback:enh:X.7.29-32 ARC or alignment"},
    {421, "4.4.5", "nothing known", RC_OVERLOADED, "fallback:enh:X.4.5 mail system congestion"},
    {451, "4.3.2", "nothing known", RC_OVERLOADED,
     "fallback:enh:X.3.1-2 mail system full or not accepting"},
    {451, NULL, "your quota is used up", RC_RATE_LIMITED, "fallback:wording:quota"},
    {452, "4.2.2", "quota reached", RC_MAILBOX, "fallback:enh:X.2.2 mailbox full"},
    {451, NULL, "widget unavailable", RC_OVERLOADED, "fallback:wording:unavailable"},
    {450, "4.2.1", "the recipient cannot take it now", RC_MAILBOX,
     "fallback:enh:X.2.x mailbox status"},
    {450, "4.2.1", "please try again later", RC_OTHER,
     "fallback:enh:X.2.x without the recipient named"},
    {451, "4.3.0", "nothing known", RC_OVERLOADED, "fallback:enh:X.3.x mail system status"},
    {451, "4.4.1", "nothing known", RC_OTHER, "fallback:enh:X.4.x network and routing"},
    {451, "4.7.1", "nothing known", RC_OTHER, "fallback:enh:X.7.x security or policy"},
    {451, "4.1.8", "nothing known", RC_OTHER, "fallback:enh:X.1.x addressing"},
    {451, NULL, "nothing known", RC_OTHER, "fallback:none"},
    {0, NULL, "nothing known", RC_OTHER, "fallback:none"},
};

static void test_fallback(void **state)
{
    (void)state;
    classifier *c = shipped();
    for (size_t i = 0; i < sizeof fb_cases / sizeof fb_cases[0]; i++) {
        const fb_case *k = &fb_cases[i];
        classify_input in = {k->code, k->enh, k->text, CS_ANY, -1};
        classify_result r;
        classify(c, &in, &r);
        if (r.cls != k->want || strcmp(r.rule, k->want_rule))
            fail_msg("case %zu %d %s '%s': got %s by %s, want %s by %s", i, k->code,
                     k->enh ? k->enh : "-", k->text, reply_class_name(r.cls), r.rule,
                     reply_class_name(k->want), k->want_rule);
    }
    classify_result r;
    classify(c, NULL, &r);
    assert_int_equal(r.cls, RC_OTHER);
    classify_input in = {550, NULL, "x", CS_ANY, -1};
    classify(NULL, &in, &r);
    assert_int_equal(r.cls, RC_PERMANENT);
    classifier_free(c);
}

/* ---- retry hints ---- */

typedef struct hint_case {
    const char *text;
    int64_t want;
} hint_case;

static const hint_case hint_cases[] = {
    {"try again in 5 minutes", 300},
    {"Please retry after 300 seconds", 300},
    {"please try again in 1 hour", 3600},
    {"Greylisting in action, please come back in 60s", 60},
    {"Greylisted for 60 seconds", 60},
    {"Recipient address rejected: Greylisted for 300 seconds (see http://x/help)", 300},
    {"Please try again in a few hours and reduce the sending rate", 3 * 3600},
    {"in a few hours", 3 * 3600},
    {"try again in a few minutes", 300},
    {"in a few seconds", 30},
    {"after 10 min", 600},
    {"wait 30 sec", 30},
    {"please wait 2 mins before retrying", 120},
    {"resend the message on your own 4 hours after you receive the error", 4 * 3600},
    {"Greylisting in action, please come back in 00:04:35", 275},
    {"come back in 1:00:00", 3600},
    {"This IP has been temporarily blocked for an hour", 3600},
    {"try again in half an hour", 1800},
    {"retry in about 15 minutes", 900},
    {"try again in 5-10 minutes", 600},
    {"try again in 5 to 10 minutes", 600},
    {"try again in ten minutes", 600},
    {"try again 5 minutes later", 300},
    {"blocked for 24h", 86400},
    {"retry in 2d", 2 * 86400},
    {"retry in 3 days", 3 * 86400},
    {"retry in 30 days", 7 * 86400},
    {"retry in 999999999 hours", 7 * 86400},
    {"bitte versuchen Sie es in 10 Minuten erneut", 600},
    {"veuillez reessayer dans 2 heures", -1},
    {"wait 2 heures", 7200},
    {"try again in a couple of minutes", 120},
    {"Too many messages, try again in 1 hour", 3600},
    {"Try again later", -1},
    {"Please try again later (10)", -1},
    {"421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred - 4.16.55.1", -1},
    {"You sent to many mails from different domains in the last 10 minutes", -1},
    {"You have exceeded 500 messages in 1 hour", -1},
    {"limit of 100 recipients per hour", -1},
    {"Greylisted for XX sec.", -1},
    {"come back in %R", -1},
    {"retry in 4.7.0 minutes", -1},
    {"from 192.0.2.25 minutes", -1},
    {"retry in 1.5 hours", -1},
    {"wait 5 m", -1},
    {"", -1},
};

static void test_retry_hint(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hint_cases / sizeof hint_cases[0]; i++) {
        int64_t got = retry_hint_parse(hint_cases[i].text);
        if (got != hint_cases[i].want)
            fail_msg("'%s': got %lld, want %lld", hint_cases[i].text, (long long)got,
                     (long long)hint_cases[i].want);
    }
    assert_int_equal(retry_hint_parse(NULL), -1);
    classifier *c = shipped();
    classify_input in = {450, "4.2.0", "<a@b>: Recipient address rejected: Greylisted for 300 "
                                       "seconds", CS_RCPT, 0};
    classify_result r;
    classify(c, &in, &r);
    assert_int_equal(r.cls, RC_GREYLISTING);
    assert_int_equal(r.retry_hint_s, 300);
    classifier_free(c);
}

/* ---- the rules-file format and its errors ---- */

typedef struct err_case {
    const char *text;
    const char *want;          /* substring of the error */
} err_case;

static const err_case err_cases[] = {
    {"bogus - text=/x/", "t:1: unknown class 'bogus'"},
    {"other", "t:1: missing provider"},
    {"other -", "t:1: a rule needs at least one condition"},
    {"other - # only a comment", "t:1: a rule needs at least one condition"},
    {"other - foo=bar", "t:1: unknown key 'foo'"},
    {"other - text=/a(/", "t:1: bad regex at offset 2: missing closing parenthesis"},
    {"other - text=/[a/", "t:1: unterminated regex"},
    {"other - text=/abc", "t:1: unterminated regex"},
    {"other - text=abc", "t:1: text needs a /regex/ value"},
    {"other - text=/a/x", "t:1: unknown regex flag 'x'"},
    {"other - text=//", "t:1: empty regex"},
    {"other - text=/a/b", "t:1: unknown regex flag 'b'"},
    {"other - code=6xx", "t:1: bad code value '6xx'"},
    {"other - code=4x1", "t:1: bad code value '4x1'"},
    {"other - code=459-450", "t:1: bad code value"},
    {"other - code=421,", "t:1: bad code value"},
    {"other - code=", "t:1: bad code value ''"},
    {"other - enh=4.7", "t:1: bad enh value '4.7'"},
    {"other - enh=3.1.1", "t:1: bad enh value"},
    {"other - enh=4.1000.1", "t:1: bad enh value"},
    {"other - stage=lunch", "t:1: bad stage value 'lunch'"},
    {"other - closed=maybe", "t:1: bad closed value 'maybe'"},
    {"other Gmail text=/x/", "t:1: bad provider 'Gmail'"},
    {"tag - text=/x/", "t:1: a tag rule needs a provider"},
    {"other - code", "t:1: expected KEY=VALUE or KEY!=VALUE, got 'code'"},
    {"other - text=/a/c,", "t:1: unknown regex flag ','"},
    {"other - code=421text=/x/", "t:1: bad code value"},
    {"# comment\n\n   \nother - text=/ok/\nnope - text=/x/", "t:5: unknown class 'nope'"},
    {"other - text=/ok/\r\nother - enh=x\r\n", "t:2: bad enh value 'x'"},
};

static void test_rule_errors(void **state)
{
    (void)state;
    classifier *c = shipped();
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        char err[512] = "";
        if (classifier_load_text(c, err_cases[i].text, "t", err, sizeof err) != -1 ||
            !strstr(err, err_cases[i].want))
            fail_msg("'%s': got '%s', want '%s'", err_cases[i].text, err, err_cases[i].want);
        assert_int_equal(c->user.n, 0);           /* nothing of a bad file is kept */
    }
    char err[512];
    static const char nul[] = "other - text=/a/\nother - te\0xt=/b/\n";
    assert_int_equal(cl_rules_parse(c, &c->user, nul, sizeof nul - 1, "n", err, sizeof err), -1);
    assert_non_null(strstr(err, "n:2: NUL byte"));
    assert_int_equal(c->user.n, 0);
    classifier_free(c);
}

static void test_rule_file(void **state)
{
    (void)state;
    classifier *c = shipped();
    char err[512], path[] = "/tmp/test_classify_XXXXXX";
    assert_int_equal(classifier_load(c, "/nonexistent/rules", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/rules: No such file"));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *rules = "# mine\nrate_limited mine code=4xx text=/widget storm/\n";
    assert_int_equal(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
    close(fd);
    assert_int_equal(classifier_load(c, path, err, sizeof err), 0);
    classify_input in = {451, NULL, "a widget storm", CS_ANY, -1};
    classify_result r;
    classify(c, &in, &r);
    char want[64];
    snprintf(want, sizeof want, "%s:2", path);
    assert_string_equal(r.rule, want);
    assert_string_equal(r.provider, "mine");
    assert_int_equal(r.cls, RC_RATE_LIMITED);
    unlink(path);
    classifier_free(c);
}

/* Administrators' rules come first; a 5xx only by an explicit code=; tags; all keys. */
typedef struct rule_case {
    int code;
    const char *enh, *text;
    int stage, closed;
    enum reply_class want;
    const char *want_rule, *want_provider;
} rule_case;

static const char user_rules[] =
    "reputation mytag code=421 text=/\\[TSS04\\]/\n"                         /* 1 */
    "rate_limited - code=550 text=/receiving mail too quickly/\n"            /* 2 */
    "greylisting - text=/greyed widget/\n"                                   /* 3 */
    "mailbox - stage=rcpt text=/stage test/\n"                               /* 4 */
    "other - closed=yes text=/closed test/\n"                                /* 5 */
    "overloaded - enh!=4.7.1 text=/negation test/\n"                         /* 6 */
    "authentication - enh=none text=/none test/\n"                           /* 7 */
    "rate_limited - code=450-452,421 enh=4.7.500-699,*.2.* text=/range test/\n" /* 8 */
    "permanent - code=4xx text!=/^keep/ text=/not-keep test/\n"               /* 9 */
    "tag widgets text=/widget co/\n"                                         /* 10 */
    "other - text=/TaggedDecision/c\n";                                      /* 11 */

static const rule_case rule_cases[] = {
    {421, "4.7.0", "[TSS04] Messages from 1.2.3.4 deferred", CS_ANY, -1, RC_REPUTATION, "u:1", "mytag"},
    {550, "5.2.1", "The user is receiving mail too quickly", CS_ANY, -1, RC_RATE_LIMITED, "u:2", NULL},
    {550, NULL, "greyed widget", CS_ANY, -1, RC_PERMANENT, "fallback:5xx", NULL},
    {451, NULL, "greyed widget", CS_ANY, -1, RC_GREYLISTING, "u:3", NULL},
    {0, NULL, "greyed widget", CS_ANY, -1, RC_GREYLISTING, "u:3", NULL},
    {450, NULL, "stage test", CS_RCPT, -1, RC_MAILBOX, "u:4", NULL},
    {450, NULL, "stage test", CS_MAIL, -1, RC_OTHER, "fallback:none", NULL},
    {450, NULL, "stage test", CS_ANY, -1, RC_OTHER, "fallback:none", NULL},
    {451, NULL, "closed test", CS_ANY, 1, RC_OTHER, "u:5", NULL},
    {421, NULL, "closed test", CS_ANY, -1, RC_OTHER, "u:5", NULL},
    {451, NULL, "closed test", CS_ANY, 0, RC_OTHER, "fallback:none", NULL},
    {451, "4.7.2", "negation test", CS_ANY, -1, RC_OVERLOADED, "u:6", NULL},
    {451, NULL, "negation test", CS_ANY, -1, RC_OVERLOADED, "u:6", NULL},
    {451, "4.7.1", "negation test", CS_ANY, -1, RC_OTHER, "fallback:enh:X.7.x security or policy",
     NULL},
    {451, NULL, "none test", CS_ANY, -1, RC_AUTHENTICATION, "u:7", NULL},
    {451, "4.3.0", "none test", CS_ANY, -1, RC_OVERLOADED, "fallback:enh:X.3.x mail system status",
     NULL},
    {451, "4.7.612", "range test", CS_ANY, -1, RC_RATE_LIMITED, "u:8", NULL},
    {421, "4.2.9", "range test", CS_ANY, -1, RC_RATE_LIMITED, "u:8", NULL},
    {453, "4.2.9", "range test", CS_ANY, -1, RC_OTHER, "fallback:enh:X.2.x without the recipient named",
     NULL},
    {451, "4.7.1", "range test", CS_ANY, -1, RC_OTHER, "fallback:enh:X.7.x security or policy", NULL},
    {451, NULL, "not-keep test", CS_ANY, -1, RC_PERMANENT, "u:9", NULL},
    {451, NULL, "keep not-keep test", CS_ANY, -1, RC_OTHER, "fallback:none", NULL},
    {451, NULL, "Widget Co: TaggedDecision", CS_ANY, -1, RC_OTHER, "u:11", "widgets"},
    {451, NULL, "widget co: taggeddecision", CS_ANY, -1, RC_OTHER, "fallback:none", "widgets"},
    {451, NULL, "widget co: mailbox full", CS_ANY, -1, RC_MAILBOX, "fallback:wording:mailbox",
     "widgets"},
    /* the shipped rules still answer behind the administrator's */
    {421, "4.7.0", "[TSS09] All messages from 1.2.3.4 will be permanently deferred", CS_ANY, -1,
     RC_REPUTATION, "classify.rules:", "yahoo"},
};

static void test_user_rules(void **state)
{
    (void)state;
    classifier *c = shipped();
    char err[512];
    if (classifier_load_text(c, user_rules, "u", err, sizeof err) < 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const rule_case *k = &rule_cases[i];
        classify_input in = {k->code, k->enh, k->text, k->stage, k->closed};
        classify_result r;
        classify(c, &in, &r);
        int prov_ok = k->want_provider ? r.provider && !strcmp(r.provider, k->want_provider)
                                       : r.provider == NULL;
        if (r.cls != k->want || strncmp(r.rule, k->want_rule, strlen(k->want_rule)) || !prov_ok)
            fail_msg("case %zu '%s': got %s by %s (%s), want %s by %s (%s)", i, k->text,
                     reply_class_name(r.cls), r.rule, r.provider ? r.provider : "-",
                     reply_class_name(k->want), k->want_rule,
                     k->want_provider ? k->want_provider : "-");
    }
    classifier_free(c);
}

/* Two files: the one loaded first is consulted first. */
static void test_load_order(void **state)
{
    (void)state;
    classifier *c = shipped();
    char err[256];
    assert_int_equal(classifier_load_text(c, "mailbox a text=/order test/\n", "a", err, sizeof err), 0);
    assert_int_equal(classifier_load_text(c, "reputation b text=/order test/\n", "b", err, sizeof err), 0);
    classify_input in = {450, NULL, "order test", CS_ANY, -1};
    classify_result r;
    classify(c, &in, &r);
    assert_string_equal(r.rule, "a:1");
    assert_int_equal(r.cls, RC_MAILBOX);
    classifier_free(c);
}

/* ---- names ---- */

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < RC_NCLASSES; i++)
        assert_int_equal(reply_class_parse(reply_class_name((enum reply_class)i)), i);
    assert_int_equal(reply_class_parse("overloaded"), RC_OVERLOADED);
    assert_int_equal(reply_class_parse("nope"), -1);
    assert_string_equal(reply_class_name(RC_NCLASSES), "other");
    for (int s = CS_CONNECT; s <= CS_QUIT; s++)
        assert_int_equal(classify_stage_parse(classify_stage_name(s)), s);
    assert_int_equal(classify_stage_parse("helo"), CS_EHLO);
    assert_int_equal(classify_stage_parse("dot"), CS_BODY);
    assert_int_equal(classify_stage_parse("any"), CS_ANY);
    assert_true(classify_stage_parse("lunch") < CS_ANY);
    assert_string_equal(classify_stage_name(CS_ANY), "any");
}

/* ---- the literal prefilter ---- */

typedef struct lit_case {
    const char *re;
    const char *want;          /* the literals, '|'-joined in extraction order; "" none */
} lit_case;

static const lit_case lit_cases[] = {
    {"abc", "abc"},
    {"ABC", "abc"},
    {"foo|bar", "foo|bar"},
    {"too many (concurrent )?connections", "connections"},
    {"too many (concurrent|parallel) connections", " connections"},
    {"(?:greylist|graylist)ed", "greylist|graylist"},
    {"a(b|c)d", ""},
    {"\\[TSS?\\d\\d\\]", "[ts"},
    {"abcd+efgh", "abcd"},
    {"colou?r", "colo"},
    {"(?i)abc", "abc"},
    {"(?x)abc", ""},
    {"ab\\d{3}cde", "cde"},
    {"[abc]def", "def"},
    {"[]x]def", "def"},
    {"(?=abc)xyz", "xyz"},
    {"(?!foobar)xyz", "xyz"},
    {"(?<=foobar)xyz", "xyz"},
    {"abc|", ""},
    {"\\Qabc\\E", ""},
    {"abc\\1", ""},
    {"a{2}bcd", "bcd"},
    {"x{,3}abc", "x{,3}abc"},
    {"x{3,}abc", "abc"},
    {"(abc)*def", "def"},
    {"(abc)+de", "abc"},
    {"(?<name>abcd)", "abcd"},
    {"a.b.c", ""},
    {"^abc$", "abc"},
    {"\\bspf\\b", "spf"},
    {"a\\/b\\.c", "a/b.c"},
    {"(*UTF)abc", ""},
    {"caf\xc3\xa9", "caf\xc3\xa9"},
};

static void test_literals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof lit_cases / sizeof lit_cases[0]; i++) {
        char *out[48], got[256] = "";
        int n = cl_lit_extract(lit_cases[i].re, strlen(lit_cases[i].re), out, 48);
        for (int k = 0; k < n; k++) {
            if (k)
                strcat(got, "|");
            strcat(got, out[k]);
            free(out[k]);
        }
        if (strcmp(got, lit_cases[i].want))
            fail_msg("/%s/: got '%s', want '%s'", lit_cases[i].re, got, lit_cases[i].want);
    }
}

/* A regex split at its top-level '|' gives the same answers as the whole. */
static void test_pieces(void **state)
{
    (void)state;
    classifier *c = shipped();
    char err[256];
    assert_int_equal(classifier_load_text(c,
        "other a text=/^abc|[|x]yz|(?:q|r)st$|\\|pipe/\n"
        "other b text=/(?i)case|WORD/\n", "p", err, sizeof err), 0);
    assert_int_equal(c->user.v[0].conds[0].npieces, 4);
    assert_int_equal(c->user.v[1].conds[0].npieces, 1);     /* inline option: kept whole */
    static const char *const yes_a[] = {"abc d", "|yz", "xyz", "rst", "a |pipe"};
    static const char *const no_a[] = {"d abc", "yz", "qst x", "pipe"};
    for (int nopf = 0; nopf < 2; nopf++) {
        c->no_prefilter = nopf;
        for (size_t i = 0; i < 5; i++) {
            classify_input in = {451, NULL, yes_a[i], CS_ANY, -1};
            classify_result r;
            classify(c, &in, &r);
            if (strcmp(r.rule, "p:1"))
                fail_msg("'%s' should match p:1, got %s", yes_a[i], r.rule);
        }
        for (size_t i = 0; i < 4; i++) {
            classify_input in = {451, NULL, no_a[i], CS_ANY, -1};
            classify_result r;
            classify(c, &in, &r);
            if (!strcmp(r.rule, "p:1"))
                fail_msg("'%s' should not match p:1", no_a[i]);
        }
    }
    classifier_free(c);
}

/* Every shipped rule loads, and the seen-as view agrees with the normaliser. */
static void test_seen_as(void **state)
{
    (void)state;
    classifier *c = shipped();
    assert_true(c->shipped.n > 100);
    classify_input in = {0, NULL, "smtp; 421-4.7.0 [TSS04] Messages deferred", CS_ANY, -1};
    classify_result r;
    classify_seen s;
    classify_seen_as(c, &in, &r, &s);
    assert_int_equal(s.code, 421);
    assert_string_equal(s.enh, "4.7.0");
    assert_int_equal(s.closed, 1);
    assert_int_equal(s.stage, CS_ANY);
    assert_int_equal(r.cls, RC_REPUTATION);
    assert_string_equal(r.provider, "yahoo");
    classifier_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),    cmocka_unit_test(test_normalize_caller_wins),
        cmocka_unit_test(test_fallback),     cmocka_unit_test(test_retry_hint),
        cmocka_unit_test(test_rule_errors),  cmocka_unit_test(test_rule_file),
        cmocka_unit_test(test_user_rules),   cmocka_unit_test(test_load_order),
        cmocka_unit_test(test_names),        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_pieces),       cmocka_unit_test(test_seen_as),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
