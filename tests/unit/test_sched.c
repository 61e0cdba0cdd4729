/* test_sched.c - the scheduler with a fake clock, a fake delivery agent and a fake resolver,
 * over a real spool: delivery, bounces with a parsed-back DSN, the retry schedule over five
 * days of fake time, lifetime expiry, concurrency and connection reuse, rate delay,
 * recipient limit, routing (transport_maps, relayhost, MX, no MX, null MX, NXDOMAIN, failed
 * lookups), destination sites shared by domains, fairness, double bounces, hold. */
#include <event2/event.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/smtpc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sched/sched.h"
#include "sched/sched_int.h"
#include "test_util_sched.h"

#define T0 1800000000000000LL   /* fake epoch, microseconds */
#define SEC 1000000LL

static struct event_base *base;
static spool *sp;
static sched *sc;
static sl_config *cfg;
static char dir[128];

/* ---- fake agent: outcome by the recipient's local part ---- */
typedef struct fsess {
    sched_dest *d;
    char target[300];
    char source[64];           /* the target's sending address, or "" */
    int jobs;
} fsess;

static struct {
    int pending;               /* completions scheduled, not yet delivered */
    int hold;                  /* keep jobs running until released */
    sched_job *held[64];
    fsess *held_sess[64];
    int nheld;
    int busy_now, busy_max, opened, closed;
    int64_t starts[256];
    int nstarts;
    char last_target[300];
    int close_after_job;       /* report sessions dead after each job */
    int attempts_grey;
    char src_ip[8][64];        /* jobs run per sending address ("" for none) */
    int src_jobs[8], nsrc;
    int rcpt_cap;              /* recipients per transaction the receiver takes (0: any) */
    int max_job_n;             /* the largest transaction seen */
} fa;

/* jobs_from - how many jobs ran from the sending address ip ("" for the default) */
static int jobs_from(const char *ip)
{
    for (int i = 0; i < fa.nsrc; i++)
        if (!strcmp(fa.src_ip[i], ip))
            return fa.src_jobs[i];
    return 0;
}

/* count_source - one more job from ip */
static void count_source(const char *ip)
{
    int i = 0;
    while (i < fa.nsrc && strcmp(fa.src_ip[i], ip))
        i++;
    if (i == fa.nsrc) {
        assert_true(fa.nsrc < 8);
        snprintf(fa.src_ip[fa.nsrc++], sizeof fa.src_ip[0], "%s", ip);
    }
    fa.src_jobs[i]++;
}

static void fill_result(sched_job *j, int i)
{
    const char *r = j->rcpts[i];
    sched_result *x = &j->res[i];
    x->stage = SMTPC_ST_RCPT;
    if (!strncmp(r, "bad", 3)) {
        x->code = 550;
        strcpy(x->enh, "5.1.1");
        x->text = xstrdup("<bad>: Recipient address rejected: User unknown");
    } else if (!strncmp(r, "later", 5)) {
        x->code = 451;
        strcpy(x->enh, "4.7.1");
        x->text = xstrdup("Try again later");
    } else if (!strncmp(r, "grey", 4) && fa.attempts_grey++ < 2) {
        x->code = 450;
        strcpy(x->enh, "4.2.0");
        x->text = xstrdup("Greylisted");
    } else if (!strncmp(r, "drop", 4)) {
        x->code = 421;
        strcpy(x->enh, "4.4.2");
        x->text = xstrdup("closing");
        x->closed = 1;
    } else {
        x->code = 250;
        strcpy(x->enh, "2.0.0");
        x->text = xstrdup("Ok: queued");
        x->stage = SMTPC_ST_BODY;
    }
}

static void complete(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    void **pair = arg;
    fsess *fs = pair[0];
    sched_job *j = pair[1];
    free(pair);
    fa.pending--;
    fa.busy_now--;
    int alive = !fa.close_after_job;
    for (int i = 0; i < j->n; i++)
        if (j->res[i].closed)
            alive = 0;
    if (!alive) {
        fa.closed++;
        sched_job_done(sc, fs, j, 0);
        free(fs);
        return;
    }
    sched_job_done(sc, fs, j, 1);
}

static void finish_later(fsess *fs, sched_job *j)
{
    void **pair = xcalloc(2, sizeof *pair);
    pair[0] = fs;
    pair[1] = j;
    fa.pending++;
    event_base_once(base, -1, EV_TIMEOUT, complete, pair, &(struct timeval){0, 0});
}

static void *fa_open(void *ctx, sched_dest *d, const sched_target *t)
{
    (void)ctx;
    fsess *fs = xcalloc(1, sizeof *fs);
    fs->d = d;
    snprintf(fs->target, sizeof fs->target, "%s%s:%d", t->literal ? "[" : "", t->hosts[0], t->port);
    if (t->source)
        netaddr_ip((const struct sockaddr *)&t->source->ss, fs->source, sizeof fs->source);
    snprintf(fa.last_target, sizeof fa.last_target, "%s", fs->target);
    fa.opened++;
    return fs;
}

static void fa_run(void *ctx, void *sess, sched_job *j)
{
    (void)ctx;
    fsess *fs = sess;
    fs->jobs++;
    count_source(fs->source);
    assert_string_equal(j->dest->src ? j->dest->src->ip : "", fs->source);
    fa.busy_now++;
    if (fa.busy_now > fa.busy_max)
        fa.busy_max = fa.busy_now;
    if (fa.nstarts < 256)
        fa.starts[fa.nstarts++] = clock_now_us();
    j->res = xcalloc((size_t)j->n, sizeof *j->res);
    if (j->n > fa.max_job_n)
        fa.max_job_n = j->n;
    j->rcpt_ok = 0;
    for (int i = 0; i < j->n; i++) {
        if (fa.rcpt_cap && j->rcpt_ok == fa.rcpt_cap) {   /* as Postfix's smtpd_recipient_limit */
            j->res[i] = (sched_result){.code = 452, .enh = "4.5.3", .stage = SMTPC_ST_RCPT,
                                       .text = xstrdup("Error: too many recipients")};
            continue;
        }
        fill_result(j, i);
        j->rcpt_ok += j->res[i].stage == SMTPC_ST_BODY;
    }
    snprintf(j->relay, sizeof j->relay, "%s", fs->target);
    if (fa.hold) {
        fa.held[fa.nheld] = j;
        fa.held_sess[fa.nheld++] = fs;
        return;
    }
    finish_later(fs, j);
}

static void fa_close(void *ctx, void *sess)
{
    (void)ctx;
    fa.closed++;
    free(sess);
}

/* release_held - let every held job finish (jobs started later may be held again) */
static void release_held(void)
{
    int n = fa.nheld;
    fa.nheld = 0;
    for (int i = 0; i < n; i++)
        finish_later(fa.held_sess[i], fa.held[i]);
}

/* ---- fake resolver ---- */
typedef struct fq {
    dns_mx_cb cb;
    void *arg;
    char name[256];
} fq;

static void fr_answer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fq *q = arg;
    dns_mx mx[2] = {{"mx1.shared.test", 10}, {"mx2.shared.test", 20}};
    dns_mx one[1] = {{"mx.d1.test", 10}};
    dns_mx_result r = {.status = DNS_OK, .ttl = 300};
    if (!strcmp(q->name, "d1.test")) {
        r.mx = one;
        r.nmx = 1;
    } else if (!strcmp(q->name, "shared-a.test") || !strcmp(q->name, "shared-b.test")) {
        r.mx = mx;
        r.nmx = 2;
    } else if (!strcmp(q->name, "null.test")) {
        r.null_mx = 1;
    } else if (!strcmp(q->name, "nx.test")) {
        r.status = DNS_NXDOMAIN;
    } else if (!strcmp(q->name, "fail.test")) {
        r.status = DNS_TEMPFAIL;
        r.why = "SERVFAIL";
    } else {
        r.status = DNS_NODATA;   /* no MX: the domain itself */
    }
    fa.pending--;
    q->cb(q->arg, &r);
    free(q);
}

static void fr_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg)
{
    (void)ctx;
    fq *q = xcalloc(1, sizeof *q);
    q->cb = cb;
    q->arg = arg;
    snprintf(q->name, sizeof q->name, "%s", domain);
    fa.pending++;
    event_base_once(base, -1, EV_TIMEOUT, fr_answer, q, &(struct timeval){0, 0});
}

/* ---- harness ---- */

/* settle - run the loop until the spool, the fakes and the scheduler have nothing to do */
static void settle(void)
{
    for (int idle = 0, i = 0; idle < 3 && i < 100000; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        spool_stats st;
        spool_get_stats(sp, &st);
        if (st.pending || fa.pending) {
            idle = 0;
            if (st.pending)
                usleep(50);
        } else {
            idle++;
        }
    }
}

static void start(const char *extra)
{
    memset(&fa, 0, sizeof fa);
    snprintf(dir, sizeof dir, "/tmp/sluice-test-sched-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char text[2048];
    snprintf(text, sizeof text,
             "queue_directory = \"%s\";\nmyhostname = \"mta.test\";\n"
             "minimal_backoff_time = \"300s\";\nmaximal_backoff_time = \"4000s\";\n"
             "maximal_queue_lifetime = \"5d\";\nbounce_queue_lifetime = \"5d\";\n%s",
             dir, extra ? extra : "");
    clock_set_fake(T0);
    sched_agent ag = {NULL, fa_open, fa_run, fa_close};
    sched_resolver rs = {NULL, fr_mx};
    rig_open(text, dir, 1 << 20, &ag, &rs, &cfg, &base, &sp, &sc);
}

static void stop(void)
{
    settle();
    rig_close(cfg, base, sp, sc);
    rig_rmdir(dir);
}

static void on_added(void *arg, qmsg *m, int err)
{
    assert_int_equal(err, 0);
    if (arg)
        *(qid_t *)arg = m->qid;
}

/* submit - queue a message (the scheduler picks it up from the spool) */
static qid_t submit(const char *sender, const char *const *rcpts, int n, uint32_t flags)
{
    static const char body[] = "From: a@b\r\nSubject: test\r\nMessage-ID: <t@test>\r\n\r\nhello\r\n";
    spool_new nw = {.sender = sender, .rcpts = rcpts, .nrcpt = n, .flags = flags,
                    .body = (uint8_t *)xstrdup(body), .body_len = sizeof body - 1};
    qid_t q = 0;
    spool_add(sp, &nw, on_added, &q);
    settle();
    return q;
}

/* find_dsn - the queued notification (sender <>), or NULL */
static qmsg *find_dsn(void)
{
    for (qmsg *m = spool_first(sp); m; m = spool_next(sp, m))
        if (m->flags & MSGF_BOUNCE)
            return m;
    return NULL;
}

static void test_delivered(void **state)
{
    (void)state;
    start(NULL);
    const char *r[] = {"ok@d1.test"};
    qid_t q = submit("s@src.test", r, 1, 0);
    settle();
    assert_null(spool_find(sp, q));
    sched_counts c;
    sched_get_counts(sc, &c);
    assert_int_equal(c.delivered, 1);
    assert_string_equal(fa.last_target, "mx.d1.test:25");
    stop();
}

static void test_bounce_dsn(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 1;\n");
    fa.hold = 1;   /* keep the DSN itself from being delivered, to read it */
    const char *r[] = {"bad@d1.test", "ok@d1.test"};
    qid_t q = submit("sender@src.test", r, 2, 0);
    settle();
    assert_int_equal(fa.nheld, 1);
    release_held();   /* the first delivery finishes; the DSN's own delivery stays held */
    settle();
    assert_null(spool_find(sp, q));
    qmsg *dsn = find_dsn();
    assert_non_null(dsn);
    assert_string_equal(dsn->sender, "");
    assert_int_equal(dsn->nrcpt, 1);
    assert_string_equal(dsn->rcpts[0].address, "sender@src.test");
    dbuf b = {0};
    assert_int_equal(spool_read_body(sp, dsn, &b), 0);
    char *t = dbuf_cstr(&b);
    assert_non_null(strstr(t, "Content-Type: multipart/report; report-type=delivery-status"));
    assert_non_null(strstr(t, "Content-Type: message/delivery-status"));
    assert_non_null(strstr(t, "Final-Recipient: rfc822; bad@d1.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
    assert_non_null(strstr(t, "Remote-MTA: dns; mx.d1.test"));
    assert_non_null(strstr(t, "Diagnostic-Code: smtp; host mx.d1.test:25 said: 550 5.1.1"));
    assert_null(strstr(t, "Final-Recipient: rfc822; ok@d1.test"));
    assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@b\r\n"));
    assert_null(strstr(t, "hello"));   /* headers only */
    dbuf_free(&b);
    fa.hold = 0;
    release_held();
    stop();
}

static void test_retry_schedule_and_expiry(void **state)
{
    (void)state;
    start(NULL);
    const char *r[] = {"later@d1.test"};
    qid_t q = submit("later-sender@src.test", r, 1, 0);   /* its DSN will wait too */
    settle();
    int64_t prev = T0;
    int attempts = 1;
    while (spool_find(sp, q) && attempts < 500) {
        qmsg *m = spool_find(sp, q);
        assert_int_equal(m->rcpts[0].state, RCPT_DEFERRED);
        assert_int_equal(m->rcpts[0].attempts, attempts);
        int64_t gap = m->rcpts[0].next_attempt_us - clock_now_us();
        int64_t want = 300 * SEC;
        for (int k = 1; k < attempts; k++)
            want = want * 2 > 4000 * SEC ? 4000 * SEC : want * 2;
        int64_t lo = want * 9 / 10 < 300 * SEC ? 300 * SEC : want * 9 / 10;
        int64_t hi = want * 11 / 10 > 4000 * SEC ? 4000 * SEC : want * 11 / 10;
        if (gap < lo || gap > hi)
            fail_msg("attempt %d: backoff %llds, want %lld..%llds", attempts, (long long)(gap / SEC),
                     (long long)(lo / SEC), (long long)(hi / SEC));
        clock_advance(m->rcpts[0].next_attempt_us - clock_now_us() - SEC);
        sched_run_due(sc);
        settle();
        assert_int_equal(spool_find(sp, q)->rcpts[0].attempts, attempts);   /* not early */
        clock_advance(SEC);
        sched_run_due(sc);
        settle();
        attempts++;
        prev = clock_now_us();
    }
    (void)prev;
    assert_null(spool_find(sp, q));   /* returned after five days */
    int64_t age = clock_now_us() - T0;
    assert_true(age >= 5 * 86400 * SEC && age < 5 * 86400 * SEC + 4400 * SEC);
    assert_true(attempts > 100 && attempts < 125);
    qmsg *dsn = find_dsn();
    assert_non_null(dsn);
    dbuf b = {0};
    spool_read_body(sp, dsn, &b);
    assert_non_null(strstr(dbuf_cstr(&b), "Status: 4.7.1"));
    assert_non_null(strstr(dbuf_cstr(&b), "Action: failed"));
    dbuf_free(&b);
    stop();
}

static void test_concurrency_and_reuse(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 2;\n");
    fa.hold = 1;
    const char *r[] = {"ok@d1.test"};
    for (int i = 0; i < 10; i++)
        submit("s@src.test", r, 1, 0);
    settle();
    assert_int_equal(fa.busy_now, 2);   /* never more than the limit */
    for (int round = 0; round < 10 && spool_count(sp); round++) {
        int n = fa.nheld;
        fa.nheld = 0;
        for (int i = 0; i < n; i++)
            finish_later(fa.held_sess[i], fa.held[i]);
        settle();
    }
    assert_int_equal(spool_count(sp), 0);
    assert_int_equal(fa.busy_max, 2);
    assert_int_equal(fa.opened, 2);   /* the two connections were reused */
    stop();
}

static void test_rate_delay(void **state)
{
    (void)state;
    start("smtp_destination_rate_delay = \"1s\";\nsmtp_destination_concurrency_limit = 5;\n");
    const char *r[] = {"ok@d1.test"};
    for (int i = 0; i < 3; i++)
        submit("s@src.test", r, 1, 0);
    settle();
    assert_int_equal(fa.nstarts, 1);
    clock_advance(SEC / 2);
    sched_run_due(sc);
    settle();
    assert_int_equal(fa.nstarts, 1);
    clock_advance(SEC / 2);
    sched_run_due(sc);
    settle();
    assert_int_equal(fa.nstarts, 2);
    clock_advance(SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(fa.nstarts, 3);
    assert_int_equal(fa.starts[1] - fa.starts[0], SEC);
    assert_int_equal(fa.starts[2] - fa.starts[1], SEC);
    stop();
}

static void test_recipient_limit_and_mixed(void **state)
{
    (void)state;
    start("smtp_destination_recipient_limit = 2;\n");
    const char *r[] = {"ok1@d1.test", "bad@d1.test", "later@d1.test", "ok2@d1.test", "ok3@d1.test"};
    qid_t q = submit("s@src.test", r, 5, 0);
    settle();
    sched_counts c;
    sched_get_counts(sc, &c);
    assert_int_equal(c.jobs_started >= 3, 1);
    qmsg *m = spool_find(sp, q);
    assert_non_null(m);   /* later@ keeps it queued */
    assert_int_equal(m->rcpts[0].state, RCPT_DELIVERED);
    assert_int_equal(m->rcpts[1].state, RCPT_BOUNCED);
    assert_int_equal(m->rcpts[2].state, RCPT_DEFERRED);
    assert_int_equal(m->rcpts[3].state, RCPT_DELIVERED);
    assert_int_equal(m->rcpts[4].state, RCPT_DELIVERED);
    assert_non_null(strstr(m->rcpts[2].last_reply, "451 4.7.1 Try again later"));
    stop();
}

/* test_learned_recipient_limit - a receiver that takes 3 recipients per transaction and
 * answers the 4th with 452 4.5.3: the rest go again at once, later transactions are cut to
 * 3, nothing waits for a backoff and the destination is not taken for rate limited */
static void test_learned_recipient_limit(void **state)
{
    (void)state;
    start("smtp_destination_recipient_limit = 50;\n");
    fa.rcpt_cap = 3;
    const char *r[8] = {"a1@d1.test", "a2@d1.test", "a3@d1.test", "a4@d1.test",
                        "a5@d1.test", "a6@d1.test", "a7@d1.test", "a8@d1.test"};
    qid_t q1 = submit("s@src.test", r, 8, 0);
    settle();
    assert_null(spool_find(sp, q1));   /* all 8 delivered, now: 3 + 3 + 2 */
    assert_int_equal(fa.max_job_n, 8);  /* the first transaction did not know */
    sched_counts c;
    sched_get_counts(sc, &c);
    assert_int_equal(c.delivered, 8);
    fa.max_job_n = 0;
    const char *r2[7] = {"b1@d1.test", "b2@d1.test", "b3@d1.test", "b4@d1.test",
                         "b5@d1.test", "b6@d1.test", "b7@d1.test"};
    qid_t q2 = submit("s@src.test", r2, 7, 0);
    settle();
    assert_null(spool_find(sp, q2));
    assert_int_equal(fa.max_job_n, 3);  /* learned: cut to 3 before sending */
    sched_get_counts(sc, &c);
    assert_int_equal(c.delivered, 15);
    assert_int_equal(c.deferred, 5);    /* only the first message's overflow */
    json_t *st = sched_status(sc);
    char *text = json_dumps(st, JSON_COMPACT);
    assert_non_null(strstr(text, "\"recipient_limit_learned\":3"));
    assert_null(strstr(text, "rate_limited"));
    free(text);
    json_decref(st);
    clock_advance(25 * 3600 * SEC);   /* a day later the limit is learned anew */
    fa.max_job_n = 0;
    const char *r3[4] = {"c1@d1.test", "c2@d1.test", "c3@d1.test", "c4@d1.test"};
    qid_t q3 = submit("s@src.test", r3, 4, 0);
    settle();
    assert_null(spool_find(sp, q3));
    assert_int_equal(fa.max_job_n, 4);
    stop();
}

static void test_routing(void **state)
{
    (void)state;
    start("transport_maps = [\"special.test smtp:[10.0.0.1]:2525\", \".sub.test smtp:relay.sub.test:2600\", "
          "\"refused.test error:5.7.1 we do not send there\"];\n");
    const char *a[] = {"ok@special.test"};
    submit("s@src.test", a, 1, 0);
    settle();
    assert_string_equal(fa.last_target, "[10.0.0.1:2525");
    const char *b[] = {"ok@x.sub.test"};
    submit("s@src.test", b, 1, 0);
    settle();
    assert_string_equal(fa.last_target, "relay.sub.test:2600");   /* no MX: the name itself */
    const char *c[] = {"ok@nomx.test"};
    submit("s@src.test", c, 1, 0);
    settle();
    assert_string_equal(fa.last_target, "nomx.test:25");
    fa.hold = 1;
    const char *d[] = {"u@null.test"};
    qid_t qn = submit("s1@src.test", d, 1, 0);
    const char *e[] = {"u@nx.test"};
    qid_t qx = submit("s2@src.test", e, 1, 0);
    const char *f[] = {"u@fail.test"};
    qid_t qf = submit("s3@src.test", f, 1, 0);
    const char *g[] = {"u@refused.test"};
    qid_t qr = submit("s4@src.test", g, 1, 0);
    settle();
    assert_null(spool_find(sp, qn));
    assert_null(spool_find(sp, qx));
    assert_null(spool_find(sp, qr));
    qmsg *m = spool_find(sp, qf);
    assert_non_null(m);
    assert_int_equal(m->rcpts[0].state, RCPT_DEFERRED);
    assert_non_null(strstr(m->rcpts[0].last_reply, "lookup failed"));
    int dsns = 0, seen_null = 0, seen_nx = 0, seen_refused = 0;
    for (qmsg *x = spool_first(sp); x; x = spool_next(sp, x)) {
        if (!(x->flags & MSGF_BOUNCE))
            continue;
        dsns++;
        dbuf body = {0};
        spool_read_body(sp, x, &body);
        char *t = dbuf_cstr(&body);
        seen_null |= strstr(t, "Status: 5.1.10") != NULL;
        seen_nx |= strstr(t, "Status: 5.1.2") != NULL;
        seen_refused |= strstr(t, "Status: 5.7.1") && strstr(t, "we do not send there");
        dbuf_free(&body);
    }
    assert_int_equal(dsns, 3);
    assert_true(seen_null && seen_nx && seen_refused);
    fa.hold = 0;
    release_held();
    stop();
}

static void test_relayhost_and_shared_site(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 1;\n");
    fa.hold = 1;
    const char *a[] = {"ok@shared-a.test"}, *b[] = {"ok@shared-b.test"};
    submit("s@src.test", a, 1, 0);
    submit("s@src.test", b, 1, 0);
    settle();
    assert_int_equal(fa.busy_now, 1);   /* one site: one limit for both domains */
    fa.hold = 0;
    release_held();
    settle();
    assert_int_equal(spool_count(sp), 0);
    assert_string_equal(fa.last_target, "mx1.shared.test:25");
    stop();
    start("relayhost = \"[127.0.0.9]:2525\";\n");
    const char *c[] = {"ok@anything.test"};
    submit("s@src.test", c, 1, 0);
    settle();
    assert_string_equal(fa.last_target, "[127.0.0.9:2525");
    stop();
}

static void test_fairness(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 1;\nsmtp_connection_limit = 2;\n");
    fa.hold = 1;
    const char *slow[] = {"ok@d1.test"};
    for (int i = 0; i < 20; i++)
        submit("s@src.test", slow, 1, 0);
    const char *other[] = {"ok@other.test"};
    qid_t q = submit("s@src.test", other, 1, 0);
    settle();
    assert_int_equal(fa.busy_now, 2);   /* d1.test holds one slot, other.test got the other */
    int found = 0;
    for (int i = 0; i < fa.nheld; i++)
        found |= fa.held[i]->qid == q;
    assert_true(found);
    fa.hold = 0;
    for (int round = 0; round < 30 && spool_count(sp); round++) {
        release_held();
        settle();
    }
    assert_int_equal(spool_count(sp), 0);
    stop();
}

static void test_double_bounce(void **state)
{
    (void)state;
    start(NULL);
    const char *r[] = {"bad@d1.test"};
    qid_t q = submit("", r, 1, 0);
    settle();
    assert_null(spool_find(sp, q));
    assert_null(find_dsn());   /* a bounce is never bounced */
    stop();
    start("double_bounce_recipient = \"postmaster@admin.test\";\n");
    fa.hold = 1;
    q = submit("", r, 1, 0);
    settle();
    release_held();
    settle();
    qmsg *dsn = find_dsn();
    assert_non_null(dsn);
    assert_string_equal(dsn->rcpts[0].address, "postmaster@admin.test");
    fa.hold = 0;
    release_held();
    stop();
}

static void test_hold_release_and_421(void **state)
{
    (void)state;
    start(NULL);
    fa.hold = 1;
    const char *r[] = {"ok@d1.test"};
    qid_t q = submit("s@src.test", r, 1, 0);
    settle();
    assert_int_equal(fa.nheld, 1);
    fa.hold = 0;
    release_held();
    settle();
    assert_null(spool_find(sp, q));
    /* a message held before its turn is not delivered until released */
    fa.hold = 0;
    const char *d[] = {"drop@d1.test"};
    qid_t q2 = submit("s@src.test", d, 1, 0);
    settle();
    qmsg *m = spool_find(sp, q2);
    assert_non_null(m);
    assert_int_equal(m->rcpts[0].state, RCPT_DEFERRED);   /* 421: deferred, never bounced */
    assert_true(fa.closed >= 1);                            /* and the session was dropped */
    sched_hold(sc, m);
    spool_hold(sp, m, NULL, NULL);
    clock_advance(3600 * SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(spool_find(sp, q2)->rcpts[0].attempts, 1);
    spool_release(sp, spool_find(sp, q2), NULL, NULL);
    sched_add(sc, spool_find(sp, q2));
    sched_run_due(sc);
    settle();
    assert_int_equal(spool_find(sp, q2)->rcpts[0].attempts, 2);
    stop();
}

static void test_delay_warning(void **state)
{
    (void)state;
    start("delay_warning_time = \"1h\";\n");
    fa.hold = 0;
    const char *r[] = {"later@d1.test"};
    qid_t q = submit("later-s@src.test", r, 1, 0);
    settle();
    assert_null(find_dsn());   /* not yet */
    for (int i = 0; i < 40 && !find_dsn(); i++) {
        clock_advance(300 * SEC);
        sched_run_due(sc);
        settle();
    }
    qmsg *dsn = find_dsn();
    assert_non_null(dsn);
    assert_true(clock_now_us() - T0 >= 3600 * SEC);
    dbuf b = {0};
    spool_read_body(sp, dsn, &b);
    assert_non_null(strstr(dbuf_cstr(&b), "Action: delayed"));
    assert_non_null(strstr(dbuf_cstr(&b), "Subject: Delayed Mail (still being retried)"));
    dbuf_free(&b);
    assert_true(spool_find(sp, q)->flags & MSGF_WARNED);   /* once only */
    int dsns = 0;
    for (int i = 0; i < 10; i++) {
        clock_advance(4000 * SEC);
        sched_run_due(sc);
        settle();
    }
    for (qmsg *m = spool_first(sp); m; m = spool_next(sp, m))
        dsns += (m->flags & MSGF_BOUNCE) != 0;
    assert_int_equal(dsns, 1);
    stop();
}

/* test_close_excuse - a connection refused for "too many connections" right after one of
 * ours closed may be the receiver still counting it: one close excuses one refusal, within
 * a second, and never while we hold as many sessions as the receiver ever took at once */
static void test_close_excuse(void **state)
{
    (void)state;
    const int64_t now = 5000000000LL;
    sched_dest d = {0};
    d.est_peak = 2;
    d.nest = 1;
    d.last_close_us = now - 200000;
    d.close_credit = 1;
    assert_int_equal(sched_dest_excuse(&d, now), 1);   /* one close, one excuse */
    assert_int_equal(sched_dest_excuse(&d, now), 0);   /* and no more */
    d.close_credit = 5;
    d.nest = 2;
    assert_int_equal(sched_dest_excuse(&d, now), 0);   /* at the most it ever took: counts */
    d.nest = 1;
    d.last_close_us = now - 1500000;
    assert_int_equal(sched_dest_excuse(&d, now), 0);   /* too long ago */
    d.last_close_us = now - 10000;
    assert_int_equal(sched_dest_excuse(&d, now), 1);
    assert_int_equal(d.close_credit, 4);
}

static void test_source_classes(void **state)
{
    (void)state;
    start("smtp_source_classes = [\"tx 127.0.0.10\", \"bulk 127.0.0.20 127.0.0.21\"];\n"
          "smtp_source_class_maps = [\"@news.test bulk\", \"alerts@app.test bulk\", \"@.example.org bulk\"];\n");
    const char *r[] = {"ok@d1.test"};
    submit("user@app.test", r, 1, 0);          /* no entry: the first class */
    assert_int_equal(jobs_from("127.0.0.10"), 1);
    for (int i = 0; i < 4; i++)
        submit("n@news.test", r, 1, 0);
    submit("alerts@app.test", r, 1, 0);        /* by address */
    submit("x@a.b.example.org", r, 1, 0);      /* "@.parent" */
    submit("x@news.test.example.net", r, 1, 0); /* not news.test: tx */
    settle();
    assert_int_equal(jobs_from("127.0.0.10"), 2);
    assert_int_equal(jobs_from("127.0.0.20") + jobs_from("127.0.0.21"), 6);
    assert_true(jobs_from("127.0.0.20") >= 2 && jobs_from("127.0.0.21") >= 2);   /* shared out */
    assert_int_equal(jobs_from(""), 0);
    /* one destination per (site, address), each with its own sessions */
    assert_non_null(hmap_get(sc->dests, "mx:mx.d1.test:25 via 127.0.0.10"));
    assert_non_null(hmap_get(sc->dests, "mx:mx.d1.test:25 via 127.0.0.20"));
    json_t *st = sched_status(sc);
    json_t *src = json_object_get(st, "sources");
    assert_int_equal(json_array_size(src), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(src, 0), "class")), "tx");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(src, 0), "used_today")), 2);
    json_decref(st);
    stop();
}

static void test_source_listed(void **state)
{
    (void)state;
    start("smtp_source_classes = [\"bulk 127.0.0.20 127.0.0.21\", \"tx 127.0.0.10\"];\n"
          "smtp_source_default_class = \"bulk\";\nsmtp_source_class_maps = [\"@app.test tx\"];\n");
    struct sockaddr_in a20 = {.sin_family = AF_INET}, a10 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.20", &a20.sin_addr);
    inet_pton(AF_INET, "127.0.0.10", &a10.sin_addr);
    const char *r[] = {"ok@d1.test"};
    fa.hold = 1;   /* jobs wait, so some are queued for .20 when it is found listed */
    for (int i = 0; i < 14; i++)
        submit("n@news.test", r, 1, 0);
    sched_dest *d20 = hmap_get(sc->dests, "mx:mx.d1.test:25 via 127.0.0.20");
    assert_non_null(d20);
    assert_true(d20->nready > 0);
    sched_source_listed(sc, (struct sockaddr *)&a20, 1);
    assert_int_equal(d20->nready, 0);   /* its waiting mail moved to .21 */
    for (int i = 0; i < 4; i++)
        submit("n@news.test", r, 1, 0);
    assert_int_equal(d20->nready, 0);   /* and new mail does not go there */
    fa.hold = 0;
    while (fa.nheld)
        release_held(), settle();
    settle();
    int from20 = jobs_from("127.0.0.20"), from21 = jobs_from("127.0.0.21");
    assert_int_equal(from20 + from21, 18);
    assert_true(from20 <= 5);           /* only what had started on it before (concurrency 5) */
    json_t *st = sched_status(sc);
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(st, "sources"), 0), "listed")));
    json_decref(st);
    /* the only address of its class keeps sending; delisted, .20 takes its share again */
    sched_source_listed(sc, (struct sockaddr *)&a10, 1);
    submit("x@app.test", r, 1, 0);
    settle();
    assert_int_equal(jobs_from("127.0.0.10"), 1);
    sched_source_listed(sc, (struct sockaddr *)&a20, 0);
    for (int i = 0; i < 4; i++)
        submit("n@news.test", r, 1, 0);
    settle();
    assert_true(jobs_from("127.0.0.20") >= from20 + 2);
    stop();
}

static const char *day_text(int days, char *buf);

static void test_source_tls_policy_and_job_size(void **state)
{
    (void)state;
    /* a "via" destination keeps its site's TLS policy */
    start("relayhost = \"[127.0.0.7]:2525\";\nsmtp_tls_policy_maps = [\"[127.0.0.7]:2525 encrypt\"];\n"
          "smtp_source_classes = [\"tx 127.0.0.10\"];\n");
    const char *r[] = {"ok@d1.test"};
    submit("a@app.test", r, 1, 0);
    sched_dest *v = hmap_get(sc->dests, "[127.0.0.7]:2525 via 127.0.0.10");
    assert_non_null(v);
    assert_string_equal(v->t.tls_level, "encrypt");
    stop();
    /* a job bigger than a warming address's room today goes to the warm one at once */
    char conf[512], day[11];
    clock_set_fake(T0);
    snprintf(conf, sizeof conf, "smtp_source_classes = [\"bulk 127.0.0.20 127.0.0.21\"];\n"
             "ip_warmup_schedule = [\"127.0.0.21 %s 1000 3\"];\n", day_text(0, day));
    start(conf);
    submit("n@news.test", r, 1, 0);
    submit("n@news.test", r, 1, 0);
    const char *two[] = {"a@d1.test", "b@d1.test"};
    submit("n@news.test", two, 2, 0);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 2);
    assert_int_equal(jobs_from("127.0.0.20"), 1);
    assert_int_equal(spool_count(sp), 0);
    stop();
}

/* day_text - the UTC day of the fake clock's now plus days, as YYYY-MM-DD */
static const char *day_text(int days, char *buf)
{
    time_t t = (time_t)(clock_now_us() / SEC) + days * 86400;
    strftime(buf, 11, "%Y-%m-%d", gmtime(&t));
    return buf;
}

/* test_learned_limit_of_one - a receiver that takes one recipient per transaction: a single
 * overflow teaches nothing (it could be a per-message cap), the second teaches 1 */
static void test_learned_limit_of_one(void **state)
{
    (void)state;
    start("smtp_destination_recipient_limit = 50;\n");
    fa.rcpt_cap = 1;
    const char *r[2] = {"a1@d1.test", "a2@d1.test"};
    submit("s@src.test", r, 2, 0);
    settle();
    json_t *st = sched_status(sc);
    char *text = json_dumps(st, JSON_COMPACT);
    assert_null(strstr(text, "recipient_limit_learned"));   /* once: not yet */
    free(text);
    json_decref(st);
    const char *r2[2] = {"b1@d1.test", "b2@d1.test"};
    submit("s@src.test", r2, 2, 0);
    settle();
    st = sched_status(sc);
    text = json_dumps(st, JSON_COMPACT);
    assert_non_null(strstr(text, "\"recipient_limit_learned\":1"));   /* twice: learned */
    free(text);
    json_decref(st);
    fa.max_job_n = 0;
    const char *r3[3] = {"c1@d1.test", "c2@d1.test", "c3@d1.test"};
    qid_t q3 = submit("s@src.test", r3, 3, 0);
    settle();
    assert_null(spool_find(sp, q3));   /* one by one, at once */
    assert_int_equal(fa.max_job_n, 1);
    stop();
}

/* test_warmup_address_spelling - a schedule names the bind address by value, not by text */
static void test_warmup_address_spelling(void **state)
{
    (void)state;
    char err[512];
    const char *ok = "smtp_bind_address6 = \"2001:db8::1\";\n"
                     "ip_warmup_schedule = [\"2001:DB8:0:0::1 2026-12-01 1000\"];\n";
    const char *other = "smtp_bind_address6 = \"2001:db8::1\";\n"
                        "ip_warmup_schedule = [\"2001:db8::2 2026-12-01 1000\"];\n";
    sl_config *c = config_load_text(ok, "t.conf", NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sched_sources_check(c, err, sizeof err), 0);
    config_free(c);
    c = config_load_text(other, "t.conf", NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sched_sources_check(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "must be smtp_bind_address"));
    config_free(c);
}

static void test_warmup(void **state)
{
    (void)state;
    char conf[512], day[11];
    clock_set_fake(T0);
    /* a warming address (2 a day, doubling daily, warm at 8) beside a warm one */
    snprintf(conf, sizeof conf, "smtp_source_classes = [\"bulk 127.0.0.20 127.0.0.21\"];\n"
             "ip_warmup_schedule = [\"127.0.0.21 %s 8 2 2 1d\"];\n", day_text(0, day));
    start(conf);
    const char *r[] = {"ok@d1.test"};
    for (int i = 0; i < 6; i++)
        submit("n@news.test", r, 1, 0);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 2);   /* its volume for the day, first */
    assert_int_equal(jobs_from("127.0.0.20"), 4);   /* the rest through the warm one */
    stop();

    /* alone in its class: what is over the cap waits for the next UTC day, deferred by
     * nothing and bounced never */
    snprintf(conf, sizeof conf, "smtp_source_classes = [\"bulk 127.0.0.21\"];\n"
             "ip_warmup_schedule = [\"127.0.0.21 %s 4 2 2 1d\"];\n", day_text(0, day));
    start(conf);
    for (int i = 0; i < 9; i++)
        submit("n@news.test", r, 1, 0);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 2);
    json_t *st = sched_status(sc);
    json_t *w = json_object_get(json_array_get(json_object_get(st, "sources"), 0), "warmup");
    assert_int_equal(json_integer_value(json_object_get(w, "cap_today")), 2);
    json_decref(st);
    int64_t midnight = (clock_now_us() / (86400 * SEC) + 1) * 86400 * SEC;
    clock_advance(midnight - clock_now_us() - SEC);   /* not a second early */
    sched_run_due(sc);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 2);
    clock_advance(SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 6);   /* day 2: 4 */
    clock_advance(86400 * SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(jobs_from("127.0.0.21"), 9);   /* day 3: warm (the target was met on day 2) */
    sched_counts c;
    sched_get_counts(sc, &c);
    assert_int_equal(c.delivered, 9);
    assert_int_equal(c.deferred, 0);
    assert_int_equal(c.bounced, 0);
    stop();
}

int main(void)
{
    log_set_level(SL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_excuse),
        cmocka_unit_test(test_delivered),
        cmocka_unit_test(test_bounce_dsn),
        cmocka_unit_test(test_retry_schedule_and_expiry),
        cmocka_unit_test(test_concurrency_and_reuse),
        cmocka_unit_test(test_rate_delay),
        cmocka_unit_test(test_recipient_limit_and_mixed),
        cmocka_unit_test(test_learned_recipient_limit),
        cmocka_unit_test(test_warmup_address_spelling),
        cmocka_unit_test(test_learned_limit_of_one),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_relayhost_and_shared_site),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_double_bounce),
        cmocka_unit_test(test_hold_release_and_421),
        cmocka_unit_test(test_delay_warning),
        cmocka_unit_test(test_source_classes),
        cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_source_listed),
        cmocka_unit_test(test_source_tls_policy_and_job_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
