/* test_doctor_advise.c - `doctor advise` computed from synthetic logs (Postfix and sluice
 * formats) with exact suggested values and their evidence: greylisting retried too early
 * (Postfix) and too late (sluice, shaping off), rate limiting (the accepted rate while
 * refused), too many connections (the most that delivered at once), Yahoo-style caps on
 * messages per connection (Postfix conn_use and lost connections; sluice lines with the cap
 * reply; a cap stated in the reply), recipients per transaction, reputation (warm-up with
 * the recipients a day), authentication, the global rule when most destinations need a
 * limit, a configuration-only case, lint fixes in the Postfix diff, and what sluiced's
 * status learned.  Every log is built here line by line (the builders below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/xmalloc.h"
#include "doctor/advise.h"
#include "test_util_doctor.h"

#define T0 1741082400L /* 2025-03-04 10:00:00 UTC */

/* ---- log builders ---------------------------------------------------------------------- */

typedef struct logbuf {
    char *text;
    size_t len;
    int qn;
} logbuf;

/* lb_add - one line */
static void lb_add(logbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_add(logbuf *b, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    b->text = xrealloc(b->text, b->len + (size_t)n + 2);
    memcpy(b->text + b->len, line, (size_t)n);
    b->len += (size_t)n;
    b->text[b->len++] = '\n';
    b->text[b->len] = 0;
}

/* qid - a new Postfix queue id */
static const char *pf_qid(logbuf *b, char *buf)
{
    snprintf(buf, 16, "%llX", 0x4F1A2B3C4DULL + (unsigned long long)(++b->qn) * 0x1B3);
    return buf;
}

/* syslog_stamp - "Mar  4 10:00:00" */
static const char *syslog_stamp(long t, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%b %e %H:%M:%S", &tm);
    return buf;
}

/* pf_qmgr - the queue manager's from= line */
static void pf_qmgr(logbuf *b, long t, const char *q, const char *sender)
{
    char ts[32];
    lb_add(b, "%s mail postfix/qmgr[1187]: %s: from=<%s>, size=4213, nrcpt=1 (queue active)", syslog_stamp(t, ts), q,
           sender);
}

enum outcome { SENT, SAID, TALK, LOST };

/* pf_out - one smtp delivery line */
static void pf_out(logbuf *b, long t, int pid, const char *q, const char *rcpt, const char *host, const char *ip,
                   int use, enum outcome o, const char *reply, const char *stage)
{
    char ts[32], cu[32] = "", dsn[16] = "2.0.0", st[1200];
    if (use > 1)
        snprintf(cu, sizeof cu, "conn_use=%d, ", use);
    if (reply)
        sscanf(reply, "%*d %15s", dsn);
    if (o == SENT)
        snprintf(st, sizeof st, "status=sent (250 2.0.0 Ok: queued as B%s)", q);
    else if (o == SAID)
        snprintf(st, sizeof st, "status=deferred (host %s[%s] said: %s (in reply to %s command))", host, ip, reply,
                 stage);
    else if (o == TALK)
        snprintf(st, sizeof st, "status=deferred (host %s[%s] refused to talk to me: %s)", host, ip, reply);
    else
        snprintf(st, sizeof st, "status=deferred (lost connection with %s[%s] while sending MAIL FROM)", host, ip);
    lb_add(b, "%s mail postfix/smtp[%d]: %s: to=<%s>, relay=%s[%s]:25, %sdelay=1, delays=0.1/0/0.3/0.6, dsn=%s, %s",
           syslog_stamp(t, ts), pid, q, rcpt, host, ip, cu, o == LOST ? "4.4.2" : dsn, st);
}

/* sl_out - one sluice text delivery line (reply NULL: delivered) */
static void sl_out(logbuf *b, long t, int n, const char *rcpt, const char *host, const char *ip, const char *reply)
{
    char ts[40], dsn[16] = "2.0.0";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    if (reply)
        sscanf(reply, "%*d %15s", dsn);
    if (reply)
        lb_add(b, "%s sluiced[812]: notice: 01HFG5AZM%03d: to=<%s>, relay=%s[%s]:25, delay=0.42, "
                  "delays=0.02/0.00/0.20/0.20, dsn=%s, status=deferred (host %s[%s] said: %s (in reply to MAIL FROM "
                  "command))",
               ts, n, rcpt, host, ip, dsn[0] == '4' || dsn[0] == '5' ? dsn : "4.0.0", host, ip, reply);
    else
        lb_add(b, "%s sluiced[812]: info: 01HFG5AZM%03d: to=<%s>, relay=%s[%s]:25, delay=0.42, "
                  "delays=0.02/0.00/0.20/0.20, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7D1E0%03d)",
               ts, n, rcpt, host, ip, n);
}

#define GREY                                                                                                    \
    "450 4.7.1 <%s>: Recipient address rejected: Greylisted, see "                                              \
    "http://postgrey.schweikert.ch/help/grey.example.html"
static const char *const RATE = "421 4.4.2 Message submission rate for this client has exceeded the configured limit";
static const char *const CONN =
    "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel";
static const char *const RCPT = "452 4.5.3 Too many recipients";
static const char *const REPUT = "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to "
                                 "unexpected volume or user complaints - 4.16.55.1; see "
                                 "https://postmaster.yahooinc.com/error-codes";
static const char *const AUTH = "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.25]";

/* healthy - n deliveries to example.com, one a minute from T0 */
static void healthy(logbuf *b, int n)
{
    char q[16];
    for (int i = 0; i < n; i++) {
        char r[64];
        snprintf(r, sizeof r, "h%d@example.com", i);
        pf_qid(b, q);
        pf_qmgr(b, T0 + i * 60, q, "news@sender.example");
        pf_out(b, T0 + i * 60, 800, q, r, "mx.example.com", "192.0.2.80", 0, SENT, NULL, NULL);
    }
}

/* grey_early - 6 recipients greylisted, refused again after 120s, delivered after 360s */
static void grey_early(logbuf *b)
{
    char q[16], r[64], reply[300];
    for (int i = 0; i < 6; i++) {
        long t = T0 + i * 30;
        snprintf(r, sizeof r, "user%d@grey.example", i);
        snprintf(reply, sizeof reply, GREY, r);
        pf_qid(b, q);
        pf_qmgr(b, t, q, "news@sender.example");
        pf_out(b, t, 300 + i, q, r, "mx.grey.example", "198.51.100.10", 0, SAID, reply, "RCPT TO");
        pf_out(b, t + 120, 310 + i, q, r, "mx.grey.example", "198.51.100.10", 0, SAID, reply, "RCPT TO");
        pf_out(b, t + 360, 320 + i, q, r, "mx.grey.example", "198.51.100.10", 0, SENT, NULL, NULL);
    }
}

/* grey_late_sluice - sluice lines: 5 recipients greylisted, delivered an hour later */
static void grey_late_sluice(logbuf *b)
{
    for (int i = 0; i < 5; i++) {
        char r[64], reply[300];
        snprintf(r, sizeof r, "user%d@grey.example", i);
        snprintf(reply, sizeof reply, GREY, r);
        sl_out(b, T0 + i * 10, i, r, "mx.grey.example", "198.51.100.10", reply);
        sl_out(b, T0 + i * 10 + 3600, i, r, "mx.grey.example", "198.51.100.10", NULL);
    }
    for (int i = 0; i < 5; i++) {
        char r[64];
        snprintf(r, sizeof r, "h%d@example.com", i);
        sl_out(b, T0 + i * 60, 100 + i, r, "mx.example.com", "192.0.2.80", NULL);
    }
}

/* rate_limited - 20 accepted in 30s, then 2 refused for each one accepted every 3 minutes */
static void rate_limited(logbuf *b)
{
    char q[16], r[64];
    for (int i = 0; i < 20; i++) {
        snprintf(r, sizeof r, "a%d@corp.example", i);
        pf_qid(b, q);
        pf_out(b, T0 + i * 3 / 2, 400 + i % 4, q, r, "mail.corp.example", "198.51.100.20", 0, SENT, NULL, NULL);
    }
    long t1 = T0 + 30;
    for (int k = 0; k < 60; k++) {
        long ts = t1 + k * 180;
        for (int j = 0; j < 2; j++) {
            snprintf(r, sizeof r, "b%d_%d@corp.example", k, j);
            pf_qid(b, q);
            pf_out(b, ts + j, 410 + j, q, r, "mail.corp.example", "198.51.100.20", 0, SAID, RATE, "MAIL FROM");
        }
        snprintf(r, sizeof r, "c%d@corp.example", k);
        pf_qid(b, q);
        pf_out(b, ts + 180, 412, q, r, "mail.corp.example", "198.51.100.20", 0, SENT, NULL, NULL);
    }
}

/* rate_limited_sluice - the same receiver in sluice's own lines */
static void rate_limited_sluice(logbuf *b)
{
    char r[64];
    int n = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(r, sizeof r, "a%d@corp.example", i);
        sl_out(b, T0 + i * 3 / 2, n++, r, "mail.corp.example", "198.51.100.20", NULL);
    }
    for (int k = 0; k < 60; k++) {
        long ts = T0 + 30 + k * 180;
        for (int j = 0; j < 2; j++) {
            snprintf(r, sizeof r, "b%d_%d@corp.example", k, j);
            sl_out(b, ts + j, n++, r, "mail.corp.example", "198.51.100.20", RATE);
        }
        snprintf(r, sizeof r, "c%d@corp.example", k);
        sl_out(b, ts + 180, n++, r, "mail.corp.example", "198.51.100.20", NULL);
    }
}

/* hammering - recipients refused every 20 s, four times, then delivered */
static void hammering(logbuf *b)
{
    char q[16], r[64];
    for (int i = 0; i < 4; i++) {
        snprintf(r, sizeof r, "x%d@busy.example", i);
        pf_qid(b, q);
        for (int k = 0; k < 5; k++)
            pf_out(b, T0 + i * 7 + k * 20, 950 + k, q, r, "mx.busy.example", "198.51.100.70", 0, k < 4 ? SAID : SENT,
                   "451 4.3.0 Temporary failure, please retry", "RCPT TO");
    }
}

/* connections - 10 rounds of 5 processes at once at domain: the first 3 get in */
static void connections(logbuf *b, const char *domain, int pid0)
{
    char q[16], r[64], host[80];
    snprintf(host, sizeof host, "smtp.%s", domain);
    for (int rnd = 0; rnd < 10; rnd++)
        for (int j = 0; j < 5; j++) {
            snprintf(r, sizeof r, "u%d_%d@%s", rnd, j, domain);
            pf_qid(b, q);
            pf_out(b, T0 + 600 + rnd * 60, pid0 + j, q, r, host, "198.51.100.30", 0, j < 3 ? SENT : TALK, CONN, NULL);
        }
}

/* yahoo_conn_use - 3 connections of 20 deliveries each, the 21st lost (conn_use=21) */
static void yahoo_conn_use(logbuf *b)
{
    char q[16], r[64];
    for (int c = 0; c < 3; c++)
        for (int k = 1; k <= 21; k++) {
            snprintf(r, sizeof r, "y%d_%d@yahoo.com", c, k);
            pf_qid(b, q);
            pf_out(b, T0 + 1200 + c * 100 + k, 600 + c, q, r, "mta5.am0.yahoodns.net", "67.195.204.74", k,
                   k <= 20 ? SENT : LOST, NULL, NULL);
        }
}

/* caps_sluice - sluice lines: Yahoo's cap reply, and a cap stated in the reply */
static void caps_sluice(logbuf *b)
{
    for (int i = 0; i < 30; i++) {
        char r[64];
        snprintf(r, sizeof r, "y%d@yahoo.com", i);
        sl_out(b, T0 + i * 5, i, r, "mta7.am0.yahoodns.net", "98.136.96.91",
               i % 10 == 9 ? "421 Max message per connection reached, closing transmission channel" : NULL);
        snprintf(r, sizeof r, "s%d@session.example", i);
        sl_out(b, T0 + i * 5 + 1, 100 + i, r, "mx.session.example", "198.51.100.60",
               i % 10 == 9 ? "421 4.7.0 Too many messages (15 messages per session), closing connection" : NULL);
    }
}

/* recipients - one message to 10 recipients: 5 accepted, 5 refused "too many recipients" */
static void recipients(logbuf *b)
{
    char q[16], r[64];
    pf_qid(b, q);
    pf_qmgr(b, T0 + 50, q, "news@sender.example");
    for (int k = 0; k < 10; k++) {
        snprintf(r, sizeof r, "m%d@bulk.example", k);
        pf_out(b, T0 + 51, 700, q, r, "mx.bulk.example", "198.51.100.50", 0, k < 5 ? SENT : SAID, RCPT, "RCPT TO");
    }
}

/* reputation_sluice - sluice lines: Yahoo TSS04 for 8 recipients, 5 healthy deliveries */
static void reputation_sluice(logbuf *b)
{
    for (int i = 0; i < 8; i++) {
        char r[64];
        snprintf(r, sizeof r, "r%d@yahoo.com", i);
        sl_out(b, T0 + i * 120, i, r, "mta5.am0.yahoodns.net", "67.195.204.74", REPUT);
    }
    for (int i = 0; i < 5; i++) {
        char r[64];
        snprintf(r, sizeof r, "h%d@example.com", i);
        sl_out(b, T0 + i * 60, 50 + i, r, "mx.example.com", "192.0.2.80", NULL);
    }
}

/* authentication - Postfix: PTR refusals at strict.example */
static void authentication(logbuf *b)
{
    char q[16], r[64];
    for (int i = 0; i < 6; i++) {
        snprintf(r, sizeof r, "p%d@strict.example", i);
        pf_qid(b, q);
        pf_qmgr(b, T0 + i * 300, q, "news@sender.example");
        pf_out(b, T0 + i * 300, 900, q, r, "mx.strict.example", "198.51.100.40", 0, SAID, AUTH, "RCPT TO");
    }
}

/* ---- running advise ------------------------------------------------------------------- */

/* One advise run and everything it needs. */
typedef struct run {
    loganalyzer *la;
    advise_scan *scan;
    sl_config *cfg, *defaults;
    maincf *pf;
    maincf_lint *lint;
    json_t *status;
    advise_in in;
    advise *a;
} run;

/* run_new - advise over log text, a sluice configuration (-o style) and a main.cf (or NULL) */
static run *run_new(const char *log, char *const *overrides, int nover, const char *main_cf, json_t *status)
{
    run *x = xcalloc(1, sizeof *x);
    char err[512];
    x->la = la_new(shipped_cls, &(la_opts){.year = 2025});
    x->scan = as_new(shipped_cls, 2025);
    for (const char *p = log; p && *p;) {
        size_t n = strcspn(p, "\n");
        la_feed_line(x->la, p, n);
        as_feed_line(x->scan, p, n);
        p += n + (p[n] == '\n');
    }
    la_finish(x->la);
    as_finish(x->scan);
    x->cfg = config_load(NULL, overrides, nover, err, sizeof err);
    assert_non_null(x->cfg);
    x->defaults = config_load(NULL, NULL, 0, err, sizeof err);
    if (main_cf) {
        x->pf = maincf_parse(main_cf, strlen(main_cf), "/etc/postfix/main.cf");
        x->lint = maincf_lint_run(x->pf, NULL);
    }
    x->status = status;
    x->in = (advise_in){log ? x->la : NULL, log ? x->scan : NULL, x->cfg,    x->defaults,
                        nover ? "test.conf" : "built-in defaults", x->pf,   NULL,   x->lint, x->status};
    x->a = advise_run(&x->in);
    return x;
}

/* run_free - everything */
static void run_free(run *x)
{
    advise_free(x->a);
    la_free(x->la);
    as_free(x->scan);
    config_free(x->cfg);
    config_free(x->defaults);
    maincf_lint_free(x->lint);
    maincf_free(x->pf);
    json_decref(x->status);
    free(x);
}

/* item - an item that must exist */
static const adv_item *item(const run *x, const char *id)
{
    const adv_item *it = advise_item(x->a, id);
    if (!it) {
        for (int i = 0; i < x->a->nitems; i++)
            printf("  have item %s\n", x->a->items[i].id);
        fail_msg("no advice %s", id);
    }
    return it;
}

/* change_is - the change of name for target has value (NULL: must not exist) */
static void change_is(const run *x, enum adv_target t, const char *name, const char *value)
{
    const adv_change *c = advise_change(x->a, t, name);
    if (!value) {
        if (c)
            fail_msg("unexpected change %s %s = %s", advise_target_name(t), name, c->value ? c->value : "(delete)");
        return;
    }
    if (!c || !c->value || !strstr(c->value, value)) {
        for (int i = 0; i < x->a->nch; i++)
            printf("  have %s %s = %s\n", advise_target_name(x->a->ch[i].target), x->a->ch[i].name,
                   x->a->ch[i].value ? x->a->ch[i].value : "(delete)");
        fail_msg("want %s %s = %s", advise_target_name(t), name, value);
    }
}

/* figure - an integer figure of an item */
static long long figure(const adv_item *it, const char *key)
{
    json_t *v = json_object_get(it->figures, key);
    assert_non_null(v);
    return json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_number_value(v);
}

/* has_evidence - some evidence line of the item contains s */
static int has_evidence(const adv_item *it, const char *s)
{
    for (int i = 0; i < it->nevidence; i++)
        if (strstr(it->evidence[i], s))
            return 1;
    return 0;
}

/* ---- the cases ------------------------------------------------------------------------ */

/* test_grey_early - Postfix retried before the window ended: minimal_backoff_time 3m */
static void test_grey_early(void **state)
{
    (void)state;
    logbuf b = {0};
    grey_early(&b);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, "minimal_backoff_time = 120s\nmaximal_backoff_time = 4000s\n", NULL);
    const adv_item *it = item(x, "retry");
    assert_int_equal(it->st, CK_WARN);
    assert_int_equal(figure(it, "window_lower_s"), 120);
    assert_int_equal(figure(it, "window_upper_s"), 360);
    assert_int_equal(figure(it, "early"), 6);
    assert_true(has_evidence(it, "grey.example: 6 recipient(s) delivered after greylisting, the first 6m"));
    assert_true(has_evidence(it, "status=deferred (host mx.grey.example"));
    change_is(x, AT_MAIN, "minimal_backoff_time", "3m");
    change_is(x, AT_MAIN, "queue_run_delay", "3m");
    change_is(x, AT_MAIN, "maximal_backoff_time", NULL);
    const adv_change *c = advise_change(x->a, AT_MAIN, "minimal_backoff_time");
    assert_string_equal(c->current, "120s");
    assert_string_equal(c->from, "line 1");
    /* sluice: shaping's ladder goes to 6m, above the window: nothing to change */
    change_is(x, AT_SLUICE, "minimal_backoff_time", NULL);
    change_is(x, AT_SLUICE, "greylist_max_retry_time", NULL);
    run_free(x);
    /* with a window beyond sluice's ladder (greylist_max_retry_time 1m) */
    char *ov[] = {"greylist_max_retry_time=1m", "greylist_min_retry_time=15s"};
    x = run_new(b.text, ov, 2, NULL, NULL);
    change_is(x, AT_SLUICE, "greylist_max_retry_time", "3m");
    run_free(x);
    free(b.text);
}

/* test_grey_late - sluice lines, shaping off, minimal_backoff_time 1h: back to 300s */
static void test_grey_late(void **state)
{
    (void)state;
    logbuf b = {0};
    grey_late_sluice(&b);
    char *ov[] = {"shaping=no", "minimal_backoff_time=1h", "maximal_backoff_time=4h"};
    run *x = run_new(b.text, ov, 3, NULL, NULL);
    const adv_item *it = item(x, "retry");
    assert_int_equal(it->st, CK_WARN);
    assert_int_equal(figure(it, "early"), 0);
    assert_int_equal(figure(it, "window_upper_s"), 3600);
    assert_non_null(strstr(it->explanation, "waited 1h or more"));
    change_is(x, AT_SLUICE, "minimal_backoff_time", "5m");
    const adv_change *c = advise_change(x->a, AT_SLUICE, "minimal_backoff_time");
    assert_string_equal(c->current, "1h");
    assert_string_equal(c->from, "test.conf");
    change_is(x, AT_MAIN, "minimal_backoff_time", NULL); /* Postfix's default 300s passes */
    run_free(x);
    free(b.text);
}

/* test_rate - 20 an hour accepted while refusing: one every 180s, on a transport of its own */
static void test_rate(void **state)
{
    (void)state;
    logbuf b = {0};
    rate_limited(&b);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, "smtp_destination_concurrency_limit = 20\n", NULL);
    const adv_item *it = item(x, "rate:corp.example");
    assert_int_equal(it->st, CK_WARN);
    assert_int_equal(figure(it, "suggested_delay_s"), 180);
    assert_int_equal(figure(it, "accepted_per_hour"), 20);
    assert_int_equal(figure(it, "during_sent"), 60);
    assert_int_equal(figure(it, "during_refused"), 120);
    assert_int_equal(figure(it, "before_sent"), 20);
    assert_true(has_evidence(it, "421 4.4.2 Message submission rate"));
    assert_true(has_evidence(it, "corp.example: 20 delivered in the 30s before the first refusal; 60 delivered and "
                                 "120 refused in the 3h after it"));
    change_is(x, AT_MAIN, "corp_destination_rate_delay", "3m");
    change_is(x, AT_MAIN, "corp_destination_concurrency_failed_cohort_limit", "10");
    change_is(x, AT_MAIN, "transport_maps", "hash:/etc/postfix/transport");
    change_is(x, AT_MASTER, "corp", "corp      unix  -       -       n       -       -       smtp");
    change_is(x, AT_TRANSPORT, "corp.example", "corp:");
    change_is(x, AT_MAIN, "smtp_destination_rate_delay", NULL);   /* one destination of two: not global */
    change_is(x, AT_SLUICE, "smtp_destination_rate_delay", NULL); /* shaping learns it */
    assert_non_null(strstr(it->explanation, "sluice learns the rate"));
    run_free(x);
    free(b.text);
}

/* test_rate_sluice - sluice's lines give the same delay (no connections visible there) */
static void test_rate_sluice(void **state)
{
    (void)state;
    logbuf b = {0};
    rate_limited_sluice(&b);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "rate:corp.example");
    assert_int_equal(figure(it, "suggested_delay_s"), 180);
    assert_true(has_evidence(it, "sluiced[812]: notice:"));
    change_is(x, AT_MAIN, "corp_destination_rate_delay", "3m");
    run_free(x);
    free(b.text);
}

/* test_hammering - retries every 20 s in the logs, whatever the settings say */
static void test_hammering(void **state)
{
    (void)state;
    logbuf b = {0};
    hammering(&b);
    healthy(&b, 5);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "retry");
    assert_int_equal(it->st, CK_WARN);
    assert_non_null(strstr(it->explanation, "busy.example was retried every 20s"));
    assert_int_equal(figure(it, "retry_interval_median_s"), 20);
    run_free(x);
    free(b.text);
}

/* test_connections - 5 at once, 3 delivered: a limit of 3 */
static void test_connections(void **state)
{
    (void)state;
    logbuf b = {0};
    connections(&b, "exch.example", 500);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "concurrency:exch.example");
    assert_int_equal(figure(it, "suggested"), 3);
    assert_int_equal(figure(it, "accepted_concurrency"), 3);
    assert_int_equal(figure(it, "peak_concurrency"), 5);
    assert_int_equal(figure(it, "refusals"), 20);
    assert_true(has_evidence(it, "refused to talk to me: 421 4.3.2 The maximum number of concurrent connections"));
    change_is(x, AT_MAIN, "exch_destination_concurrency_limit", "3");
    change_is(x, AT_MASTER, "exch", "smtp");
    change_is(x, AT_SLUICE, "smtp_destination_concurrency_limit", NULL);
    run_free(x);
    /* shaping off, one destination of two: sluice cannot set it per destination */
    char *ov[] = {"shaping=no"};
    x = run_new(b.text, ov, 1, NULL, NULL);
    change_is(x, AT_SLUICE, "shaping", "yes");
    run_free(x);
    free(b.text);
}

/* test_global - three destinations out of three need a concurrency limit: set it globally */
static void test_global(void **state)
{
    (void)state;
    logbuf b = {0};
    connections(&b, "a.example", 500);
    connections(&b, "b.example", 600);
    connections(&b, "c.example", 700);
    char *ov[] = {"shaping=no"};
    run *x = run_new(b.text, ov, 1, NULL, NULL);
    change_is(x, AT_MAIN, "smtp_destination_concurrency_limit", "3");
    change_is(x, AT_MASTER, "a", NULL);
    change_is(x, AT_MAIN, "a_destination_concurrency_limit", NULL);
    change_is(x, AT_SLUICE, "smtp_destination_concurrency_limit", "3");
    run_free(x);
    free(b.text);
}

/* test_yahoo_conn_use - Postfix: the 21st message on a connection is lost, every time */
static void test_yahoo_conn_use(void **state)
{
    (void)state;
    logbuf b = {0};
    yahoo_conn_use(&b);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "per-connection:yahoo.com");
    assert_int_equal(figure(it, "suggested"), 20);
    assert_int_equal(figure(it, "failed_conn_use"), 21);
    assert_int_equal(figure(it, "max_conn_use"), 20);
    assert_int_equal(figure(it, "lost"), 3);
    assert_true(has_evidence(it, "conn_use=21"));
    assert_non_null(strstr(it->explanation, "the connection failed at its next message"));
    change_is(x, AT_MASTER, "yahoo", "-o smtp_connection_reuse_count_limit=20");
    change_is(x, AT_TRANSPORT, "yahoo.com", "yahoo:");
    change_is(x, AT_SLUICE, "smtp_connection_reuse_count_limit", "20");
    assert_null(advise_item(x->a, "elsewhere:yahoo.com")); /* not "connections fail" */
    run_free(x);
    free(b.text);
}

/* test_caps_sluice - sluice lines: Yahoo's cap reply (20, published) and a stated cap (15) */
static void test_caps_sluice(void **state)
{
    (void)state;
    logbuf b = {0};
    caps_sluice(&b);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *y = item(x, "per-connection:yahoo.com");
    assert_int_equal(figure(y, "suggested"), 20);
    assert_int_equal(figure(y, "refusals"), 3);
    assert_non_null(strstr(y->explanation, "the provider's published cap"));
    assert_true(has_evidence(y, "Max message per connection reached"));
    const adv_item *s = item(x, "per-connection:session.example");
    assert_int_equal(figure(s, "suggested"), 15);
    assert_non_null(strstr(s->explanation, "the number the refusals state"));
    change_is(x, AT_SLUICE, "smtp_connection_reuse_count_limit", "15"); /* the strictest: global in sluice */
    change_is(x, AT_MASTER, "yahoo", "reuse_count_limit=20");
    change_is(x, AT_MASTER, "session", "reuse_count_limit=15");
    run_free(x);
    free(b.text);
}

/* test_recipients - 5 of 10 recipients got in */
static void test_recipients(void **state)
{
    (void)state;
    logbuf b = {0};
    recipients(&b);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "recipients:bulk.example");
    assert_int_equal(figure(it, "suggested"), 5);
    assert_int_equal(figure(it, "accepted"), 5);
    assert_true(has_evidence(it, "452 4.5.3 Too many recipients"));
    change_is(x, AT_MAIN, "bulk_destination_recipient_limit", "5");
    change_is(x, AT_SLUICE, "smtp_destination_recipient_limit", "5");
    assert_null(advise_item(x->a, "rate:bulk.example")); /* a recipient cap is no rate limit */
    run_free(x);
    free(b.text);
}

/* test_reputation - warm-up with the recipients a day (13 in one day) and the quoted address */
static void test_reputation(void **state)
{
    (void)state;
    logbuf b = {0};
    reputation_sluice(&b);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "warmup");
    assert_int_equal(it->st, CK_FAIL);
    assert_int_equal(figure(it, "recipients_per_day"), 13);
    assert_non_null(strstr(it->explanation, "sluice doctor warmup --target 13"));
    assert_non_null(strstr(it->explanation, "sluice doctor ip 192.0.2.25"));
    assert_non_null(strstr(it->actual, "yahoo.com (TSS04)"));
    assert_true(has_evidence(it, "[TSS04]"));
    change_is(x, AT_SLUICE, "ip_warmup_schedule", NULL);   /* not an address sluiced sends from */
    assert_non_null(strstr(it->explanation, "list it in ip_warmup_schedule"));
    run_free(x);
    /* sent from smtp_bind_address: sluiced is told to keep to the schedule itself */
    char *ov[] = {"smtp_bind_address=192.0.2.25"};
    x = run_new(b.text, ov, 1, NULL, NULL);
    change_is(x, AT_SLUICE, "ip_warmup_schedule", "192.0.2.25 ");
    const adv_change *c = advise_change(x->a, AT_SLUICE, "ip_warmup_schedule");
    assert_non_null(c);
    assert_int_equal(strlen(c->value), strlen("192.0.2.25 2026-11-28 13"));
    assert_string_equal(c->value + strlen(c->value) - 3, " 13");
    run_free(x);
    char *ov2[] = {"smtp_source_classes=bulk 192.0.2.25", "ip_warmup_schedule=192.0.2.25 2026-01-01 500"};
    x = run_new(b.text, ov2, 2, NULL, NULL);
    change_is(x, AT_SLUICE, "ip_warmup_schedule", NULL);   /* it has one already */
    run_free(x);
    free(b.text);
}

/* test_authentication - point to doctor domain for the sender's domain */
static void test_authentication(void **state)
{
    (void)state;
    logbuf b = {0};
    authentication(&b);
    healthy(&b, 3);
    run *x = run_new(b.text, NULL, 0, NULL, NULL);
    const adv_item *it = item(x, "authentication:strict.example");
    assert_int_equal(it->st, CK_FAIL);
    assert_non_null(strstr(it->explanation, "sluice doctor domain sender.example --ip 192.0.2.25"));
    change_is(x, AT_SLUICE, "dkim_signing_keys", "sender.example s");
    change_is(x, AT_SLUICE, "dkim_signing_keys", " /etc/sluice/dkim/sender.example.pem");
    run_free(x);
    char *ov[] = {"dkim_signing_keys=sender.example s1 /etc/sluice/dkim/s.pem"};
    x = run_new(b.text, ov, 1, NULL, NULL);
    change_is(x, AT_SLUICE, "dkim_signing_keys", NULL);   /* it signs already */
    run_free(x);
    free(b.text);
}

/* test_config_only - no logs: an aggressive sluice schedule and the lint's fixes */
static void test_config_only(void **state)
{
    (void)state;
    char *ov[] = {"minimal_backoff_time=30s", "maximal_backoff_time=120s"};
    run *x = run_new(NULL, ov, 2, "smtp_extra_recipient_limit = 10\nmaximal_queue_lifetime = 300\n", NULL);
    const adv_item *it = item(x, "retry");
    assert_int_equal(it->st, CK_WARN);
    change_is(x, AT_SLUICE, "minimal_backoff_time", "5m");
    change_is(x, AT_SLUICE, "maximal_backoff_time", "4000s");
    const adv_change *c = advise_change(x->a, AT_MAIN, "smtp_extra_recipient_limit");
    assert_non_null(c);
    assert_null(c->value); /* delete the line */
    change_is(x, AT_MAIN, "maximal_queue_lifetime", "5d");
    report *r = report_new("advise", "test");
    advise_report(x->a, r);
    assert_int_equal(report_exit_code(r), 2); /* a lifetime over 100 days: Postfix refuses it */
    report_free(r);
    run_free(x);
}

/* test_learned - sluiced's status: each destination, and matched to the advice */
static void test_learned(void **state)
{
    (void)state;
    logbuf b = {0};
    connections(&b, "exch.example", 500);
    json_t *st = json_loads("{\"destinations\":[{\"destination\":\"mx:smtp.exch.example:25\",\"state\":\"throttled\","
                            "\"concurrency_limit\":3,\"concurrency_max\":20,\"concurrency_learned\":3,"
                            "\"rate_limit\":null,\"greylist_window_s\":45.0,"
                            "\"decisions\":[{\"time\":1.0,"
                            "\"decision\":\"too_many_connections: concurrency 5 -> 3\"}]}]}",
                            0, NULL);
    assert_non_null(st);
    run *x = run_new(b.text, NULL, 0, NULL, st);
    const adv_item *l = item(x, "learned:mx:smtp.exch.example:25");
    assert_non_null(strstr(l->actual, "concurrency 3 of 20 (learned 3), rate not learned, greylist window 45s"));
    assert_true(has_evidence(l, "concurrency 5 -> 3"));
    const adv_item *c = item(x, "concurrency:exch.example");
    assert_true(has_evidence(c, "sluiced status for mx:smtp.exch.example:25: state throttled"));
    assert_non_null(json_object_get(c->figures, "sluice_learned"));
    run_free(x);
    free(b.text);
}

/* test_report_json - the report: checks, diff text and data */
static void test_report_json(void **state)
{
    (void)state;
    logbuf b = {0};
    rate_limited(&b);
    healthy(&b, 10);
    run *x = run_new(b.text, NULL, 0, "minimal_backoff_time = 300s\n", NULL);
    report *r = report_new("advise", "test");
    advise_report(x->a, r);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    report_print(r, f, 0);
    fclose(f);
    assert_non_null(strstr(buf, "+ corp_destination_rate_delay = 3m"));
    assert_non_null(strstr(buf, "+ corp      unix  -       -       n       -       -       smtp"));
    assert_non_null(strstr(buf, "+ corp.example             corp:"));
    assert_non_null(strstr(buf, "== Changes for sluice (built-in defaults)"));
    free(buf);
    json_t *j = report_json(r);
    json_t *ch = json_object_get(json_object_get(json_object_get(j, "data"), "advice"), "changes");
    assert_true(json_array_size(ch) >= 4);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "warn");
    json_decref(j);
    report_free(r);
    run_free(x);
    free(b.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grey_early),     cmocka_unit_test(test_grey_late),
        cmocka_unit_test(test_rate),           cmocka_unit_test(test_rate_sluice),
        cmocka_unit_test(test_hammering),      cmocka_unit_test(test_connections),
        cmocka_unit_test(test_global),         cmocka_unit_test(test_yahoo_conn_use),
        cmocka_unit_test(test_caps_sluice),    cmocka_unit_test(test_recipients),
        cmocka_unit_test(test_reputation),     cmocka_unit_test(test_authentication),
        cmocka_unit_test(test_config_only),    cmocka_unit_test(test_learned),
        cmocka_unit_test(test_report_json),
    };
    return cmocka_run_group_tests(tests, shipped_cls_setup, shipped_cls_teardown);
}
