/* test_ratemodel.c - the rate-limit learner against simulated receivers: a sliding window
 * of N per W (several N and W), learned within a few refusals and then never exceeded
 * while delivering at the receiver's full rate; a fixed calendar window; probing up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shaping/ratemodel.h"

#define SEC 1000000LL

/* A receiver that accepts at most n messages in any window of w (sliding). */
typedef struct recv {
    int64_t *acc;
    int nacc, cap;
    int n;
    int64_t w;
    int fixed;   /* 1: calendar windows [k*w, (k+1)*w) instead */
} recv;

static int recv_try(recv *r, int64_t now)
{
    int c = 0;
    for (int i = r->nacc - 1; i >= 0; i--) {
        int in = r->fixed ? r->acc[i] / r->w == now / r->w : r->acc[i] > now - r->w;
        if (!in)
            break;
        c++;
    }
    if (c >= r->n)
        return 0;
    if (r->nacc == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->acc = realloc(r->acc, sizeof *r->acc * (size_t)r->cap);
    }
    r->acc[r->nacc++] = now;
    return 1;
}

/* run - deliver total messages as fast as the model allows, one at a time (1 ms each);
 * returns refusals, and the finishing time in *end */
static int run(ratemodel *m, recv *r, int total, int64_t start, int64_t *end)
{
    int64_t now = start;
    int sent = 0, refused = 0;
    while (sent < total && now < start + 100000 * SEC) {
        int64_t at = rm_allowed_at(m, now, 0);
        if (at > now) {
            now = at;
            continue;
        }
        rm_tick(m, now);
        if (recv_try(r, now)) {
            rm_accepted(m, now);
            sent++;
        } else {
            rm_refused(m, now, 0);
            refused++;
        }
        now += 1000;
    }
    *end = now;
    return refused;
}

static void test_learns_sliding_windows(void **state)
{
    (void)state;
    struct { int n; int64_t w; } cases[] = {{60, 10 * SEC}, {10, 60 * SEC}, {100, 3600 * SEC}, {5, 1 * SEC},
                                            {30, 15 * SEC}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ratemodel m;
        rm_init(&m);
        recv r = {.n = cases[k].n, .w = cases[k].w};
        int total = cases[k].n * 8;
        int64_t end;
        int refused = run(&m, &r, total, 1000 * SEC, &end);
        int64_t w;
        uint32_t n = rm_limit(&m, &w) - m.bonus;   /* a probe may be under way */
        if (n != (uint32_t)cases[k].n || w != cases[k].w)
            fail_msg("case %zu: learned %u per %llds, want %d per %llds", k, n, (long long)(w / SEC),
                     cases[k].n, (long long)(cases[k].w / SEC));
        /* learning costs a few refusals, one per wrong guess below the window */
        if (refused < 1 || refused > RM_NWIN + 8)
            fail_msg("case %zu: %d refusals", k, refused);
        /* and it is not slower than the receiver allows: 8 windows' worth takes about
         * 7 windows (bursts at t, t+W, ..., t+7W) plus what learning cost */
        double took = (double)(end - 1000 * SEC) / (double)cases[k].w;
        if (took > 9.5)
            fail_msg("case %zu: took %.1f windows for 8 windows' worth", k, took);
        /* from now on no refusal, except one per additive probe (each 300 s or more) */
        int64_t from = end;
        int more = run(&m, &r, cases[k].n * 4, end, &end);
        assert_true(more <= 1 + (int)((end - from) / (300 * SEC)));
        rm_free(&m);
        free(r.acc);
    }
}

static void test_no_limit_before_refusal(void **state)
{
    (void)state;
    ratemodel m;
    rm_init(&m);
    for (int i = 0; i < 1000; i++)
        rm_accepted(&m, i * 1000);
    assert_int_equal(rm_allowed_at(&m, 2 * SEC, 50), 2 * SEC);
    assert_int_equal(rm_window(&m), -1);
    rm_free(&m);
}

static void test_inflight_counts(void **state)
{
    (void)state;
    ratemodel m;
    rm_init(&m);
    rm_set(&m, 10, 10 * SEC, 0);
    for (int i = 0; i < 8; i++)
        rm_accepted(&m, 5 * SEC + i);
    assert_int_equal(rm_allowed_at(&m, 6 * SEC, 1), 6 * SEC);   /* 8 + 1 < 10 */
    assert_true(rm_allowed_at(&m, 6 * SEC, 2) > 6 * SEC);       /* 8 + 2 = 10: wait */
    rm_free(&m);
}

static void test_fixed_window_and_probe(void **state)
{
    (void)state;
    ratemodel m;
    rm_init(&m);
    recv r = {.n = 20, .w = 60 * SEC, .fixed = 1};
    int64_t end;
    run(&m, &r, 200, 7 * SEC, &end);
    int64_t w;
    uint32_t n = rm_limit(&m, &w);
    /* a calendar window looks like a sliding one of up to twice the rate: the learned
     * rate must stay at or under the receiver's 20 per minute over a long run */
    assert_true(n > 0);
    assert_true((double)n / (double)w <= 2.0 * 20 / (60.0 * SEC) + 1e-12);
    /* after quiet time the model probes one higher */
    ratemodel p;
    rm_init(&p);
    rm_set(&p, 10, 10 * SEC, 0);
    rm_tick(&p, 200 * SEC);
    assert_int_equal(rm_limit(&p, &w), 10);   /* not yet quiet long enough (300 s) */
    rm_tick(&p, 400 * SEC);
    assert_int_equal(rm_limit(&p, &w), 11);
    rm_refused(&p, 401 * SEC, 0);                 /* the probe failed */
    assert_int_equal(p.bonus, 0);
    assert_true(p.probe_every_us > 300 * SEC);
    rm_free(&m);
    rm_free(&p);
    free(r.acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_sliding_windows),
        cmocka_unit_test(test_no_limit_before_refusal),
        cmocka_unit_test(test_inflight_counts),
        cmocka_unit_test(test_fixed_window_and_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
