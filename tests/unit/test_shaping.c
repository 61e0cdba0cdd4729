/* test_shaping.c - the scheduler reading a receiver's replies, with a fake clock and a fake
 * agent that behaves like a throttling receiver (greylisting, a per-IP connection limit, a
 * sliding-window message rate limit, overload, reputation blocks), and a keyword classifier
 * standing in for the real one.  Checks that each class drives its action: greylist windows
 * learned, concurrency cut to what the receiver takes, the rate limit learned and then never
 * exceeded, backoffs and pauses, and learned limits surviving a restart. */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/smtpc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sched/sched.h"
#include "shaping/shape.h"
#include "test_util_sched.h"

#define T0 1800000000000000LL
#define SEC 1000000LL

static struct event_base *base;
static spool *sp;
static sched *sc;
static sl_config *cfg;
static char dir[128];

/* ---- the fake receiver ---- */
static struct {
    int64_t grey_delay;            /* 0: no greylisting */
    char grey_rcpt[64][64];
    int64_t grey_first[64];
    int ngrey;
    int max_conn;                  /* 0: unlimited */
    int open;                      /* sessions it holds */
    int rate_n;
    int64_t rate_w;
    int64_t acc[8192];
    int nacc;
    int overload_next;             /* refuse the next N greetings with 421 4.3.2 */
    int reputation;                /* refuse every MAIL with a reputation text */
    int relay_grudge;              /* the fallback relay refuses it as well */
    int refusals_421, greylisted, accepted, conns, max_open_seen;
    int64_t last_accept;
    int quit_after_grey;           /* a session whose recipients were all greylisted says QUIT
                                      (as sluice's agent does after refused transactions) */
} rx;

typedef struct fsess {
    int greeted, refused;
    int relay;   /* a session to the fallback relay (127.0.0.9), which has no grudge */
    sched_dest *d;
} fsess;

static void classify_fake(const classifier *c, const classify_input *in, classify_result *out)
{
    (void)c;
    const char *t = in->text ? in->text : "";
    out->provider = NULL;
    out->retry_hint_s = -1;
    out->rule = "test";
    if (strstr(t, "Greylisted"))
        out->cls = RC_GREYLISTING;
    else if (strstr(t, "Too many concurrent"))
        out->cls = RC_TOO_MANY_CONNECTIONS;
    else if (strstr(t, "rate limit"))
        out->cls = RC_RATE_LIMITED;
    else if (strstr(t, "reputation"))
        out->cls = RC_REPUTATION;
    else if (strstr(t, "not available"))
        out->cls = RC_OVERLOADED;
    else
        out->cls = in->code >= 500 ? RC_PERMANENT : RC_OTHER;
}

/* in_window - accepted messages in (now - w, now] */
static int in_window(int64_t now)
{
    int c = 0;
    for (int i = rx.nacc - 1; i >= 0 && rx.acc[i] > now - rx.rate_w; i--)
        c++;
    return c;
}

/* greylisted - the triplet's first attempt is recorded; passes after grey_delay */
static int greylisted(const char *rcpt, int64_t now)
{
    if (!rx.grey_delay)
        return 0;
    for (int i = 0; i < rx.ngrey; i++)
        if (!strcmp(rx.grey_rcpt[i], rcpt))
            return now < rx.grey_first[i] + rx.grey_delay;
    snprintf(rx.grey_rcpt[rx.ngrey], 64, "%s", rcpt);
    rx.grey_first[rx.ngrey++] = now;
    return 1;
}

static void set(sched_result *r, int code, const char *enh, const char *text, int stage, int closed)
{
    r->code = code;
    snprintf(r->enh, sizeof r->enh, "%s", enh);
    r->text = xstrdup(text);
    r->stage = stage;
    r->closed = closed;
}

/* deliver - one transaction against the fake receiver; returns whether the session lives */
static int deliver(fsess *fs, sched_job *j, int64_t now)
{
    j->res = xcalloc((size_t)j->n, sizeof *j->res);
    snprintf(j->relay, sizeof j->relay, "mx.test[127.0.0.2]:25");
    if (!fs->greeted) {
        fs->greeted = 1;
        rx.conns++;
        const char *why = NULL;
        if (rx.overload_next > 0) {
            rx.overload_next--;
            why = "Service not available";
        } else if (rx.max_conn && rx.open >= rx.max_conn) {
            why = "Too many concurrent connections";
        }
        if (why) {
            rx.refusals_421++;
            for (int i = 0; i < j->n; i++)
                set(&j->res[i], 421, "4.7.0", why, SMTPC_ST_GREETING, 1);
            fs->refused = 1;
            return 0;
        }
        rx.open++;
        if (rx.open > rx.max_open_seen)
            rx.max_open_seen = rx.open;
    }
    if (rx.reputation && (!fs->relay || rx.relay_grudge)) {
        for (int i = 0; i < j->n; i++)
            set(&j->res[i], 421, "4.7.0", "blocked for poor reputation", SMTPC_ST_MAIL, 1);
        rx.refusals_421++;
        rx.open--;
        return 0;
    }
    if (rx.rate_n && in_window(now) >= rx.rate_n) {
        for (int i = 0; i < j->n; i++)
            set(&j->res[i], 421, "4.7.0", "Try again later, rate limit exceeded", SMTPC_ST_MAIL, 1);
        rx.refusals_421++;
        rx.open--;
        return 0;
    }
    int ok = 0;
    for (int i = 0; i < j->n; i++) {
        if (greylisted(j->rcpts[i], now)) {
            rx.greylisted++;
            set(&j->res[i], 451, "4.7.1", "Greylisted, please try again later", SMTPC_ST_RCPT, 0);
        } else {
            ok++;
        }
    }
    if (!ok && rx.quit_after_grey)
        return 2;   /* quitting: counted until its close (gone_later) */
    if (ok) {
        rx.acc[rx.nacc++ % 8192] = now;
        rx.accepted++;
        rx.last_accept = now;
        for (int i = 0; i < j->n; i++)
            if (!j->res[i].code)
                set(&j->res[i], 250, "2.0.0", "Ok", SMTPC_ST_BODY, 0);
    }
    return 1;
}

static int pending;

/* gone_later - a quitting session's connection has closed: the receiver lets it go */
static void gone_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fsess *fs = arg;
    rx.open--;
    sched_sess_gone(sc, fs->d, fs);
    free(fs);
}

static void complete(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    void **p = arg;
    fsess *fs = p[0];
    sched_job *j = p[1];
    free(p);
    pending--;
    int alive = deliver(fs, j, clock_now_us());
    sched_job_done(sc, fs, j, alive);
    if (!alive)
        free(fs);
    else if (alive == 2)
        event_base_once(base, -1, EV_TIMEOUT, gone_later, fs, &(struct timeval){0, 0});
}

static void *fa_open(void *ctx, sched_dest *d, const sched_target *t)
{
    (void)ctx;
    fsess *fs = xcalloc(1, sizeof(fsess));
    fs->relay = !strcmp(t->hosts[0], "127.0.0.9");
    fs->d = d;
    return fs;
}

static void fa_run(void *ctx, void *sess, sched_job *j)
{
    (void)ctx;
    void **p = xcalloc(2, sizeof *p);
    p[0] = sess;
    p[1] = j;
    pending++;
    event_base_once(base, -1, EV_TIMEOUT, complete, p, &(struct timeval){0, 0});
}

static void fa_close(void *ctx, void *sess)
{
    (void)ctx;
    fsess *fs = sess;
    if (fs->greeted && !fs->refused)
        rx.open--;
    free(fs);
}

static void no_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg)
{
    (void)ctx, (void)domain, (void)cb, (void)arg;
}

static void settle(void)
{
    for (int idle = 0, i = 0; idle < 3 && i < 1000000; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        spool_stats st;
        spool_get_stats(sp, &st);
        if (st.pending || pending) {
            idle = 0;
            if (st.pending)
                usleep(20);
        } else {
            idle++;
        }
    }
}

static void start(const char *extra, int fresh)
{
    if (fresh) {
        memset(&rx, 0, sizeof rx);
        snprintf(dir, sizeof dir, "/tmp/sluice-test-shaping-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    char text[2048];
    snprintf(text, sizeof text,
             "queue_directory = \"%s\";\nmyhostname = \"mta.test\";\nrelayhost = \"[127.0.0.2]:25\";\n"
             "minimal_backoff_time = \"300s\";\n%s",
             dir, extra ? extra : "");
    if (fresh)
        clock_set_fake(T0);
    sched_agent ag = {NULL, fa_open, fa_run, fa_close};
    sched_resolver rs = {NULL, no_mx};
    rig_open(text, dir, 4 << 20, &ag, &rs, &cfg, &base, &sp, &sc);
    sched_set_classifier(sc, classify_fake, NULL);
}

static void stop(int keep)
{
    settle();
    rig_close(cfg, base, sp, sc);
    if (!keep)
        rig_rmdir(dir);
}

static void submit_n(int n, int nrcpt_distinct)
{
    static const char body[] = "Subject: t\r\n\r\nx\r\n";
    for (int i = 0; i < n; i++) {
        char r[64];
        snprintf(r, sizeof r, "user%02d@d%d.test", i % nrcpt_distinct, i % 5);
        const char *rc[] = {r};
        spool_new nw = {.sender = "s@src.test", .rcpts = rc, .nrcpt = 1,
                        .body = (uint8_t *)xstrdup(body), .body_len = sizeof body - 1};
        spool_add(sp, &nw, NULL, NULL);
    }
    settle();
}

/* run_until_empty - advance fake time in small steps until the queue is empty */
static int64_t run_until_empty(int64_t step, int64_t limit)
{
    int64_t t = clock_now_us();
    while (spool_count(sp) && clock_now_us() - t < limit) {
        clock_advance(step);
        sched_run_due(sc);
        settle();
    }
    return clock_now_us() - t;
}

static void test_greylist_window_learned(void **state)
{
    (void)state;
    start(NULL, 1);
    rx.grey_delay = 20 * SEC;
    submit_n(40, 10);
    int64_t took = run_until_empty(SEC / 4, 3600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    /* probes at 15 s (refused again) and 30 s (passes): done a little after 30 s, not the
     * 5-6 minutes of a fixed greylist retry, nor exponential backoff */
    if (took > 40 * SEC)
        fail_msg("took %.1fs", (double)took / SEC);
    assert_true(rx.greylisted >= 40 && rx.greylisted <= 100);
    stop(0);
}

/* test_greylist_window_per_triplet - the receiver's window runs from the triplet's first
 * attempt: messages to a recipient queued 12 s after the first one pass 8 s after their
 * own first refusal, which must not teach a window of 8 s */
static void test_greylist_window_per_triplet(void **state)
{
    (void)state;
    start(NULL, 1);
    rx.grey_delay = 20 * SEC;
    submit_n(5, 5);
    run_until_empty(SEC / 4, 12 * SEC);   /* greylisted at 0 s, the 15 s probe is ahead */
    submit_n(5, 5);                       /* the same five recipients, 12 s later */
    run_until_empty(SEC / 4, 3600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    json_t *st = sched_status(sc);
    json_t *d = json_array_get(json_object_get(st, "destinations"), 0);
    json_t *w = json_object_get(d, "greylist_window_s");
    assert_non_null(w);
    print_message("greylist window learned: %.1fs (the receiver: 20 s)\n", json_real_value(w));
    assert_true(json_real_value(w) >= 20.0);
    json_decref(st);
    stop(0);
}

/* test_connection_limit_learned_while_sessions_close - sessions of ours close all the time
 * (greylisted transactions), yet connections refused beyond the receiver's limit still
 * teach the limit: a close excuses one refusal at most, and none while we are at the most
 * sessions the receiver ever took */
static void test_connection_limit_learned_while_sessions_close(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 20;\nsmtp_connection_cache_time_limit = \"0s\";\n", 1);
    rx.max_conn = 2;
    rx.grey_delay = 20 * SEC;
    rx.quit_after_grey = 1;
    submit_n(100, 50);
    run_until_empty(SEC / 10, 5 * SEC);
    int refused = rx.refusals_421;
    json_t *st = sched_status(sc);
    json_t *d = json_array_get(json_object_get(st, "destinations"), 0);
    print_message("after 5 s: %d refused connections, concurrency limit %lld\n", refused,
                  (long long)json_integer_value(json_object_get(d, "concurrency_limit")));
    assert_int_equal(json_integer_value(json_object_get(d, "concurrency_limit")), 2);
    json_decref(st);
    assert_true(refused >= 1 && refused <= 10);
    run_until_empty(SEC / 4, 3600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    assert_true(rx.refusals_421 <= refused + 3);
    stop(0);
}

static void test_connection_limit_learned_and_kept(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 20;\n", 1);
    rx.max_conn = 2;
    submit_n(200, 50);
    run_until_empty(SEC / 10, 600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    assert_true(rx.max_open_seen <= 2);
    int early = rx.refusals_421;
    assert_true(early >= 1 && early <= 25);   /* learned within the first burst */
    json_t *st = sched_status(sc);
    json_t *d = json_array_get(json_object_get(st, "destinations"), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "concurrency_limit")), 2);
    json_decref(st);
    stop(1);
    /* a restart remembers: no refusal at all this time */
    int before = rx.refusals_421;
    rx.open = 0;
    start("smtp_destination_concurrency_limit = 20;\n", 0);
    submit_n(100, 50);
    run_until_empty(SEC / 10, 600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    assert_int_equal(rx.refusals_421, before);
    stop(0);
}

static void test_rate_limit_learned(void **state)
{
    (void)state;
    start("smtp_destination_concurrency_limit = 2;\n", 1);
    rx.rate_n = 60;
    rx.rate_w = 10 * SEC;
    submit_n(500, 50);
    int64_t t0 = clock_now_us();
    run_until_empty(SEC / 20, 3600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    double took = (double)(rx.last_accept - t0) / SEC;
    /* the receiver allows 60 at once and 60 more every 10 s: the last of 500 at 80 s at best */
    print_message("500 messages in %.1fs (best possible 80 s), %d refusals\n", took, rx.refusals_421);
    if (took > 80 * 1.25)
        fail_msg("500 messages took %.1fs (best possible 80 s); %d refusals", took, rx.refusals_421);
    assert_true(rx.refusals_421 <= 10);
    stop(0);
}

static void test_overload_backoff_and_reputation_pause(void **state)
{
    (void)state;
    start(NULL, 1);
    rx.overload_next = 3;
    submit_n(1, 1);
    settle();
    json_t *st = sched_status(sc);
    json_t *d = json_array_get(json_object_get(st, "destinations"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "backoff");
    json_decref(st);
    run_until_empty(SEC / 2, 600 * SEC);
    assert_int_equal(spool_count(sp), 0);
    /* 3 consecutive greeting failures: 3, 6, 12 s (+-20%) of destination backoff */
    int64_t took = clock_now_us() - T0;
    if (took < 16 * SEC || took > 27 * SEC)
        fail_msg("took %.1fs", (double)took / SEC);
    stop(0);
    start(NULL, 1);
    rx.reputation = 1;
    submit_n(3, 3);
    settle();
    int first = rx.refusals_421;   /* the deliveries already under way when it said so */
    assert_true(first >= 1 && first <= 3);
    submit_n(5, 5);
    clock_advance(10 * 60 * SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(rx.refusals_421, first);   /* then the destination pauses */
    st = sched_status(sc);
    d = json_array_get(json_object_get(st, "destinations"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "paused");
    assert_true(json_real_value(json_object_get(d, "paused_for_s")) > 40 * 60);
    assert_string_equal(json_string_value(json_object_get(d, "last_class")), "reputation");
    json_decref(st);
    stop(0);
}

static void test_reputation_fallback_relay(void **state)
{
    (void)state;
    start("smtp_fallback_relay = \"[127.0.0.9]:2525\";\n", 1);
    rx.reputation = 1;
    submit_n(3, 3);
    settle();
    clock_advance(2 * SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(spool_count(sp), 0);   /* delivered through the relay, not after 1 h */
    json_t *st = sched_status(sc);
    int relay_seen = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(st, "destinations"), i, d)
        relay_seen |= !strcmp(json_string_value(json_object_get(d, "destination")), "[127.0.0.9]:2525") &&
                      json_integer_value(json_object_get(d, "delivered")) == 3;
    assert_true(relay_seen);
    json_decref(st);
    stop(0);
}

static void test_reputation_fallback_with_classes(void **state)
{
    (void)state;
    /* the relay refuses too: its "via" destination pauses as well, and nothing loops */
    start("smtp_fallback_relay = \"[127.0.0.9]:2525\";\nsmtp_source_classes = [\"tx 127.0.0.10\"];\n", 1);
    rx.reputation = 1;
    rx.relay_grudge = 1;
    submit_n(3, 3);
    settle();
    for (int k = 0; k < 3; k++) {
        clock_advance(2 * SEC);
        sched_run_due(sc);
        settle();
    }
    submit_n(2, 2);   /* new mail while both are paused: ready jobs at the paused relay */
    clock_advance(2 * SEC);
    sched_run_due(sc);
    settle();
    assert_int_equal(spool_count(sp), 5);   /* waiting, none lost */
    json_t *st = sched_status(sc);
    int paused = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(st, "destinations"), i, d)
        paused += !strcmp(json_string_value(json_object_get(d, "destination")), "[127.0.0.9]:2525 via 127.0.0.10") &&
                  json_object_get(d, "paused_for_s") != NULL;
    assert_int_equal(paused, 1);
    json_decref(st);
    stop(0);
}

/* test_state_file_values_checked - a damaged or hand-edited shaping.json: values the shaping
 * never writes are ignored, so nothing overflows later (fuzz_shaping_state found "greylist_s"
 * and "rate_window_s" near 2^63/10^6 overflowing, and a negative learned concurrency kept) */
static void test_state_file_values_checked(void **state)
{
    (void)state;
    shape_cfg c = {.enabled = 1, .conc_max = 20, .conc_initial = 5, .conc_probe_us = 600 * SEC,
                   .rate_probe_us = 300 * SEC, .grey_min_us = 15 * SEC, .grey_max_us = 360 * SEC,
                   .overload_min_us = 3 * SEC, .overload_max_us = 1800 * SEC, .rep_min_us = 3600 * SEC,
                   .rep_max_us = 43200 * SEC};
    static const char *const bad[] = {
        "{\"concurrency\":-3,\"concurrency_learned\":-1,\"probe_every_s\":-5,\"rate_messages\":-1,"
        "\"rate_window_s\":-10,\"greylist_s\":-300}",
        "{\"concurrency_learned\":4294967298,\"probe_every_s\":9223372036854775807,\"rate_messages\":40,"
        "\"rate_window_s\":111111111111111110,\"greylist_s\":111111111111111110}",
        "{\"rate_messages\":3000000000,\"rate_window_s\":10,\"greylist_s\":9999999}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shape sh;
        int64_t win = 0;
        shape_init(&sh, &c, "mx:test:25");
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        shape_restore(&sh, j, T0);
        json_decref(j);
        assert_int_equal(sh.conc, 5);
        assert_int_equal(sh.conc_learned, 0);
        assert_int_equal(sh.conc_probe_every_us, 600 * SEC);
        assert_int_equal(sh.grey_hi_us, 0);
        assert_int_equal(rm_limit(&sh.rate, &win), 0);
        shape_free(&sh);
    }
    shape sh;   /* good values are kept */
    int64_t win = 0;
    shape_init(&sh, &c, "mx:test:25");
    json_t *j = json_loads("{\"concurrency\":2,\"concurrency_learned\":2,\"probe_every_s\":1200,"
                           "\"rate_messages\":40,\"rate_window_s\":10,\"greylist_s\":300}", 0, NULL);
    shape_restore(&sh, j, T0);
    json_decref(j);
    assert_int_equal(sh.conc, 2);
    assert_int_equal(sh.conc_learned, 2);
    assert_int_equal(sh.conc_probe_every_us, 1200 * SEC);
    assert_int_equal(sh.grey_hi_us, 300 * SEC);
    assert_int_equal(rm_limit(&sh.rate, &win), 40);
    assert_int_equal(win, 10 * SEC);
    shape_free(&sh);
}

int main(void)
{
    log_set_level(SL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greylist_window_learned),
        cmocka_unit_test(test_greylist_window_per_triplet),
        cmocka_unit_test(test_connection_limit_learned_while_sessions_close),
        cmocka_unit_test(test_connection_limit_learned_and_kept),
        cmocka_unit_test(test_rate_limit_learned),
        cmocka_unit_test(test_overload_backoff_and_reputation_pause),
        cmocka_unit_test(test_reputation_fallback_relay),
        cmocka_unit_test(test_reputation_fallback_with_classes),
        cmocka_unit_test(test_state_file_values_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
