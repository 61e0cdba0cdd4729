/* test_sink.c - the policy machinery of `sluice sink` without sockets: the hash map, the
 * sliding window, the greylist table (times from the fake clock), the random streams, the
 * reply-script parser (good rules, errors with their line) and matcher, and the command-line
 * grammar of per-listener policy sets.  Table-driven with got/want messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "smtp/rfc5322.h"
#include "sink/sink_greylist.h"
#include "sink/sink_int.h"
#include "sink/sink_map.h"
#include "sink/sink_rand.h"
#include "sink/sink_record.h"
#include "sink/sink_script.h"
#include "sink/sink_window.h"

#define SEC 1000000LL

/* v4 - a sockaddr for an IPv4 address */
static struct sockaddr_in v4(const char *ip)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(25)};
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    return sa;
}

static void test_map(void **state)
{
    (void)state;
    sink_map *m = sink_map_new();
    for (int i = 0; i < 5000; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%d", i);
        void **slot = sink_map_slot(m, k, (size_t)n);
        assert_null(*slot);
        *slot = (void *)(intptr_t)(i + 1);
    }
    assert_int_equal(sink_map_count(m), 5000);
    for (int i = 0; i < 5000; i += 7) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%d", i);
        if (sink_map_get(m, k, (size_t)n) != (void *)(intptr_t)(i + 1))
            fail_msg("key %s: got %p want %d", k, sink_map_get(m, k, (size_t)n), i + 1);
    }
    assert_ptr_equal(sink_map_del(m, "k10", 3), (void *)(intptr_t)11);
    assert_null(sink_map_get(m, "k10", 3));
    assert_null(sink_map_del(m, "k10", 3));
    assert_null(sink_map_get(m, "k1", 3));   /* a prefix with another length is another key */
    assert_int_equal(sink_map_count(m), 4999);
    sink_map_free(m, NULL);
}

static void test_window(void **state)
{
    (void)state;
    sink_window w = {0};
    /* 3 per 10 s: events at 0, 1, 2 s; the window forgets each 10 s after it happened */
    struct { int64_t at; int add; size_t want; } steps[] = {
        {0, 1, 1}, {1 * SEC, 1, 2}, {2 * SEC, 1, 3}, {9 * SEC, 0, 3},
        {10 * SEC - 1, 0, 3}, {10 * SEC, 0, 2}, {11 * SEC, 0, 1}, {12 * SEC, 0, 0},
        {12 * SEC, 1, 1},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].add)
            sink_window_add(&w, steps[i].at, 10 * SEC);
        size_t got = sink_window_count(&w, steps[i].at, 10 * SEC);
        if (got != steps[i].want)
            fail_msg("step %zu at %lld: got %zu want %zu", i, (long long)steps[i].at, got,
                     steps[i].want);
    }
    for (int i = 0; i < 1000; i++)   /* growth with wrap-around */
        sink_window_add(&w, 20 * SEC + i * 1000, SEC);
    assert_int_equal(sink_window_count(&w, 20 * SEC + 999 * 1000, SEC), 1000);
    assert_int_equal(sink_window_count(&w, 21 * SEC + 500 * 1000, SEC), 499);
    sink_window_free(&w);
}

static void test_greylist_window(void **state)
{
    (void)state;
    const int64_t t0 = 1000 * SEC;
    sink_greylist *g = sink_greylist_new(20 * SEC, 3600 * SEC);
    const char *k = "triplet";
    /* time after the first attempt, then: accepted? */
    struct { int64_t at; int want; const char *why; } steps[] = {
        {0, 0, "first attempt"},
        {5 * SEC, 0, "retry before DELAY"},
        {20 * SEC - 1, 0, "retry just before DELAY (counted from the first attempt)"},
        {20 * SEC, 1, "retry at DELAY"},
        {120 * SEC, 1, "a passed triplet keeps passing"},
        {3719 * SEC, 1, "used again within EXPIRE of its last use"},
        {7319 * SEC, 0, "unused for EXPIRE: greylisted anew"},
        {7329 * SEC, 0, "new round, before DELAY"},
        {7339 * SEC, 1, "new round, at DELAY"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        clock_set_fake(t0 + steps[i].at);
        int got = sink_greylist_check(g, k, strlen(k), clock_mono_us());
        if (got != steps[i].want)
            fail_msg("step %zu (%s): got %d want %d", i, steps[i].why, got, steps[i].want);
    }
    /* a first attempt never retried within EXPIRE is forgotten */
    assert_int_equal(sink_greylist_check(g, "other", 5, clock_mono_us()), 0);
    clock_advance(3600 * SEC);
    assert_int_equal(sink_greylist_check(g, "other", 5, clock_mono_us()), 0);
    clock_advance(20 * SEC);
    assert_int_equal(sink_greylist_check(g, "other", 5, clock_mono_us()), 1);
    sink_greylist_free(g);
}

static void test_greylist_sweep(void **state)
{
    (void)state;
    sink_greylist *g = sink_greylist_new(SEC, 10 * SEC);
    char k[32];
    for (int i = 0; i < 1024; i++)
        sink_greylist_check(g, k, (size_t)snprintf(k, sizeof k, "old%d", i), 0);
    assert_int_equal(sink_greylist_size(g), 1024);
    for (int i = 0; i < 1100; i++)   /* the old ones have expired: a sweep drops them */
        sink_greylist_check(g, k, (size_t)snprintf(k, sizeof k, "new%d", i), 20 * SEC);
    if (sink_greylist_size(g) >= 2048)
        fail_msg("no sweep: %zu entries", sink_greylist_size(g));
    assert_int_equal(sink_greylist_check(g, "new5", 4, 21 * SEC), 1);
    sink_greylist_free(g);
}

static void test_greylist_key(void **state)
{
    (void)state;
    char a[600], b[600];
    struct sockaddr_in x = v4("127.0.0.2"), y = v4("127.0.0.3"), z = v4("127.0.1.2");
    const struct sockaddr *sx = (struct sockaddr *)&x, *sy = (struct sockaddr *)&y,
                          *sz = (struct sockaddr *)&z;
    size_t na = sink_greylist_key(sx, 32, 128, "S@x.test", "R@y.test", a, sizeof a);
    size_t nb = sink_greylist_key(sy, 32, 128, "s@x.test", "r@y.test", b, sizeof b);
    assert_false(na == nb && !memcmp(a, b, na));          /* per address: different */
    na = sink_greylist_key(sx, 24, 64, "S@x.test", "R@y.test", a, sizeof a);
    nb = sink_greylist_key(sy, 24, 64, "s@x.test", "r@y.test", b, sizeof b);
    assert_true(na == nb && !memcmp(a, b, na));           /* /24 and lower case: the same */
    nb = sink_greylist_key(sz, 24, 64, "s@x.test", "r@y.test", b, sizeof b);
    assert_false(na == nb && !memcmp(a, b, na));          /* another /24 */
    na = sink_greylist_key(sx, 32, 128, "ab", "c", a, sizeof a);
    nb = sink_greylist_key(sx, 32, 128, "a", "bc", b, sizeof b);
    assert_false(na == nb && !memcmp(a, b, na));          /* the parts can't run together */
}

static void test_rand(void **state)
{
    (void)state;
    uint64_t s1 = 42, s2 = 42;
    int hits = 0;
    for (int i = 0; i < 10000; i++) {
        int a = sink_rand_chance(&s1, 0.05), b = sink_rand_chance(&s2, 0.05);
        assert_int_equal(a, b);
        hits += a;
    }
    if (hits < 400 || hits > 600)
        fail_msg("5%% of 10000 draws: got %d", hits);
    for (int i = 0; i < 1000; i++) {
        assert_false(sink_rand_chance(&s1, 0));
        assert_true(sink_rand_chance(&s1, 1));
    }
}

/* facts_at - facts for a client 10.1.2.3 at a stage */
static sink_facts facts_at(enum smtpd_stage st, const struct sockaddr *sa, uint64_t *rng)
{
    sink_facts f = {.stage = st, .peer = sa, .ip = "10.1.2.3", .helo = "client.test",
                    .sender = "alice@example.com", .rcpt = "bob@gmail.test", .attempt = 1,
                    .msg = 1, .conn = 1, .nrcpt = 1, .elapsed_us = 0, .rng = rng};
    return f;
}

static const char script_text[] =
    "# replay of provider replies\n"
    "\n"
    "connect ip 192.0.2.0/24 => 554 5.7.1 Service unavailable; client [${ip}] blocked\n"
    "connect conn 3 => 421 4.7.0 third connection\n"
    "helo helo /^bad\\./i => 550 5.7.1 Bad HELO ${helo}\n"
    "mail from /^vip@/ => pass\n"
    "mail msg 21+ => 421 4.7.0 [TSS04] Messages from ${ip} temporarily deferred\n"
    "rcpt to /@gmail\\.test$/ attempt 1-2 => 450 4.2.1 The user you are trying to contact is "
    "receiving mail at a rate that prevents additional messages from being delivered.\n"
    "rcpt to /drop\\/me@/ => drop\n"
    "rcpt nrcpt 101+ => 452 4.5.3 Your message has too many recipients.\n"
    "data time 5-10 => close delay 0.25 451 4.3.0 slow\\nsecond line\n"
    "eom => 250 2.0.0 OK 1700000000 gsmtp\n";

static void test_script_match(void **state)
{
    (void)state;
    char err[300] = "";
    sink_script *sc = sink_script_parse(script_text, strlen(script_text), "t.rules", err,
                                        sizeof err);
    if (!sc)
        fail_msg("parse: %s", err);
    assert_int_equal(sink_script_rules(sc), 10);
    assert_int_equal(sink_script_uses(sc), SINK_USES_ATTEMPT | SINK_USES_CONN);
    uint64_t rng = 1;
    struct sockaddr_in cl = v4("10.1.2.3"), bl = v4("192.0.2.9");
    const struct sockaddr *c = (struct sockaddr *)&cl;
    struct {
        enum smtpd_stage st;
        int blocked, conn, msg, attempt, nrcpt;
        int64_t elapsed;
        const char *sender, *rcpt, *helo;
        int want_match, want_kind, want_code, want_close;
        const char *want_text;
    } cases[] = {
        {SMTPD_CONNECT, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 554, 0,
         "5.7.1 Service unavailable; client [10.1.2.3] blocked"},
        {SMTPD_CONNECT, 0, 2, 1, 1, 1, 0, NULL, NULL, NULL, 0, 0, 0, 0, NULL},
        {SMTPD_CONNECT, 0, 3, 1, 1, 1, 0, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 421, 0,
         "4.7.0 third connection"},
        {SMTPD_HELO, 0, 1, 1, 1, 1, 0, NULL, NULL, "BAD.example", 1, SINK_ACT_REPLY, 550, 0,
         "5.7.1 Bad HELO BAD.example"},
        {SMTPD_MAIL, 0, 1, 21, 1, 1, 0, "vip@x.test", NULL, NULL, 1, SINK_ACT_PASS, 0, 0, ""},
        {SMTPD_MAIL, 0, 1, 20, 1, 1, 0, NULL, NULL, NULL, 0, 0, 0, 0, NULL},
        {SMTPD_MAIL, 0, 1, 21, 1, 1, 0, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 421, 0,
         "4.7.0 [TSS04] Messages from 10.1.2.3 temporarily deferred"},
        {SMTPD_RCPT, 0, 1, 1, 2, 1, 0, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 450, 0,
         "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
         "additional messages from being delivered."},
        {SMTPD_RCPT, 0, 1, 1, 3, 1, 0, NULL, NULL, NULL, 0, 0, 0, 0, NULL},
        {SMTPD_RCPT, 0, 1, 1, 1, 1, 0, NULL, "x.drop/me@y.test", NULL, 1, SINK_ACT_DROP, 0, 0, ""},
        {SMTPD_RCPT, 0, 1, 1, 1, 101, 0, NULL, "x@y.test", NULL, 1, SINK_ACT_REPLY, 452, 0,
         "4.5.3 Your message has too many recipients."},
        {SMTPD_DATA, 0, 1, 1, 1, 1, 4999999, NULL, NULL, NULL, 0, 0, 0, 0, NULL},
        {SMTPD_DATA, 0, 1, 1, 1, 1, 5 * SEC, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 451, 1,
         "4.3.0 slow\nsecond line"},
        {SMTPD_DATA, 0, 1, 1, 1, 1, 10 * SEC, NULL, NULL, NULL, 0, 0, 0, 0, NULL},
        {SMTPD_EOM, 0, 1, 1, 1, 1, 0, NULL, NULL, NULL, 1, SINK_ACT_REPLY, 250, 0,
         "2.0.0 OK 1700000000 gsmtp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sink_facts f = facts_at(cases[i].st, cases[i].blocked ? (struct sockaddr *)&bl : c, &rng);
        f.conn = cases[i].conn;
        f.msg = cases[i].msg;
        f.attempt = cases[i].attempt;
        f.nrcpt = cases[i].nrcpt;
        f.elapsed_us = cases[i].elapsed;
        if (cases[i].sender)
            f.sender = cases[i].sender;
        if (cases[i].rcpt)
            f.rcpt = cases[i].rcpt;
        if (cases[i].helo)
            f.helo = cases[i].helo;
        sink_action a;
        int got = sink_script_match(sc, &f, &a);
        if (got != cases[i].want_match)
            fail_msg("case %zu: match got %d want %d", i, got, cases[i].want_match);
        if (!got)
            continue;
        if ((int)a.kind != cases[i].want_kind || a.code != cases[i].want_code ||
            a.close != cases[i].want_close || strcmp(a.text, cases[i].want_text))
            fail_msg("case %zu: got kind %d code %d close %d text '%s', want %d %d %d '%s'", i,
                     a.kind, a.code, a.close, a.text, cases[i].want_kind, cases[i].want_code,
                     cases[i].want_close, cases[i].want_text);
    }
    sink_facts f = facts_at(SMTPD_DATA, c, &rng);
    f.elapsed_us = 6 * SEC;
    sink_action a;
    assert_int_equal(sink_script_match(sc, &f, &a), 1);
    assert_int_equal(a.delay_us, 250000);
    assert_string_equal(a.policy, "reply_script:11");
    sink_script_free(sc);
}

static void test_script_chance(void **state)
{
    (void)state;
    char err[300];
    const char *text = "connect chance 0.25 => 421 4.3.2 busy\n";
    sink_script *sc = sink_script_parse(text, strlen(text), "c", err, sizeof err);
    assert_non_null(sc);
    struct sockaddr_in cl = v4("10.1.2.3");
    uint64_t r1 = 7, r2 = 7;
    int hits = 0;
    for (int i = 0; i < 4000; i++) {
        sink_facts f1 = facts_at(SMTPD_CONNECT, (struct sockaddr *)&cl, &r1);
        sink_facts f2 = facts_at(SMTPD_CONNECT, (struct sockaddr *)&cl, &r2);
        sink_action a;
        int m1 = sink_script_match(sc, &f1, &a), m2 = sink_script_match(sc, &f2, &a);
        assert_int_equal(m1, m2);   /* the same seed, the same decisions */
        hits += m1;
    }
    if (hits < 850 || hits > 1150)
        fail_msg("chance 0.25 of 4000: got %d", hits);
    sink_script_free(sc);
}

static void test_script_errors(void **state)
{
    (void)state;
    struct { const char *text, *want; } cases[] = {
        {"# ok\nconect => 421 x\n", "r:2: unknown stage 'conect' (connect helo mail rcpt data eom)"},
        {"mail => 421 4.7.0 ok\nrcpt => \n", "r:2: expected a reply code (200-599), 'drop' or 'pass', got ''"},
        {"rcpt to @x@ => 550 x\n", "r:1: expected a pattern /RE/"},
        {"rcpt to /(/ => 550 x\n", "r:1: bad pattern at offset 1: missing closing parenthesis"},
        {"rcpt to /x/q => 550 x\n", "r:1: unknown pattern flag 'q' (only 'i')"},
        {"mail to /x/ => 550 x\n", "r:1: 'to' cannot be used at stage mail"},
        {"connect attempt 1 => 421 x\n", "r:1: 'attempt' cannot be used at stage connect"},
        {"rcpt attempt x => 450 x\n", "r:1: expected a count (N, N-M or N+), got 'x'"},
        {"rcpt attempt 3-2 => 450 x\n", "r:1: bad count range '3-2'"},
        {"data time 5 => 450 x\n", "r:1: expected seconds START-END or START+, got '5'"},
        {"data chance 1.5 => 450 x\n", "r:1: expected a probability between 0 and 1, got '1.5'"},
        {"connect ip 300.1.1.1 => 421 x\n", "r:1: expected an address or network (CIDR), got '300.1.1.1'"},
        {"mail foo 1 => 421 x\n", "r:1: unknown condition 'foo'"},
        {"mail msg 2\n", "r:1: missing '=> REPLY'"},
        {"mail => 999 x\n", "r:1: expected a reply code (200-599), 'drop' or 'pass', got '999'"},
        {"mail => 354 go on\n", "r:1: an acceptance at stage mail can't be 354"},
        {"helo => 250 hi\n", "r:1: an acceptance at stage helo can't be 250"},
        {"mail => 421 5.7.1 mixed\n", "r:1: enhanced code 5.7.1 does not go with reply code 421"},
        {"mail => 421 4.7.0 ${nope}\n", "r:1: unknown variable in reply text (use ${ip} ${helo} ${from} ${to})"},
        {"mail => close drop\n", "r:1: 'close' and 'delay' go with a reply, not with 'drop'"},
        {"mail => drop now\n", "r:1: unexpected 'now' after the action"},
        {"mail => delay x 421 y\n", "r:1: expected seconds (at most 3600) after 'delay'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[300] = "";
        sink_script *sc = sink_script_parse(cases[i].text, strlen(cases[i].text), "r", err,
                                            sizeof err);
        if (sc)
            fail_msg("case %zu: parsed, want error '%s'", i, cases[i].want);
        if (strcmp(err, cases[i].want))
            fail_msg("case %zu: got '%s' want '%s'", i, err, cases[i].want);
    }
    char big[700];
    memset(big, 'x', sizeof big);
    memcpy(big, "mail => 421 ", 12);
    big[sizeof big - 1] = 0;
    char err[300];
    assert_null(sink_script_parse(big, strlen(big), "r", err, sizeof err));
    assert_string_equal(err, "r:1: reply text longer than 511 bytes");
    assert_null(sink_script_load("/nonexistent/rules", err, sizeof err));
    assert_string_equal(err, "/nonexistent/rules: No such file or directory");
}

/* parse - sink_opts_parse over a NULL-terminated argument list */
static int parse(sink_conf *c, char *err, size_t errlen, ...)
{
    char *argv[40];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    argv[argc++] = "sink";
    for (char *a; (a = va_arg(ap, char *)) && argc < 39;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return sink_opts_parse(c, argc, argv, err, errlen);
}

static void test_opts_grammar(void **state)
{
    (void)state;
    sink_conf c;
    char err[300] = "";
    /* defaults before the first --listen; own options after one */
    int rc = parse(&c, err, sizeof err, "--greylist", "20:3600", "--rate", "60/10", "--json",
                   "--listen", "127.0.0.2:2526", "--listen", "127.0.0.3:2526",
                   "--listen", "127.0.0.4:2526", "--rate", "5/1", "--rate-stage", "rcpt",
                   "--seed", "9", NULL);
    if (rc)
        fail_msg("parse: %s", err);
    assert_int_equal(c.nlis, 3);
    assert_int_equal(c.nsets, 2);
    assert_ptr_equal(c.lis[0].set, c.lis[1].set);        /* no own options: shared */
    assert_ptr_not_equal(c.lis[0].set, c.lis[2].set);
    const sink_policy *d = &c.lis[0].set->p, *o = &c.lis[2].set->p;
    assert_true(d->greylist && o->greylist);              /* defaults carry over */
    assert_int_equal(d->grey_delay_us, 20 * SEC);
    assert_int_equal(d->grey_expire_us, 3600 * SEC);
    assert_int_equal(d->rate_n, 60);
    assert_int_equal(d->rate_window_us, 10 * SEC);
    assert_int_equal(d->rate_stage, SMTPD_MAIL);
    assert_int_equal(o->rate_n, 5);                       /* own options win */
    assert_int_equal(o->rate_window_us, SEC);
    assert_int_equal(o->rate_stage, SMTPD_RCPT);
    assert_true(c.json);
    assert_int_equal(c.seed, 9);
    sink_opts_free(&c);

    struct { const char *a, *b, *want; } bad[] = {
        {"--rate", "5", "--rate: expected N/SECONDS (e.g. 60/10), got '5'"},
        {"--greylist", "20:10", "--greylist: EXPIRE must be longer than DELAY"},
        {"--greylist-net", "/33", "--greylist-net: expected /BITS (IPv4, 0-32) and optionally "
                                  ",/BITS (IPv6, 0-128), got '/33'"},
        {"--overload", "2", "--overload: expected a probability 0..1, got '2'"},
        {"--drop", "0.1:helo", "--drop: expected P[:mail|rcpt|data|eom], got '0.1:helo'"},
        {"--maintenance", "5:1", "--maintenance: expected START:END seconds, END after START, "
                                 "got '5:1'"},
        {"--reject-rcpt", "(", "--reject-rcpt: bad pattern at offset 1: missing closing "
                               "parenthesis"},
        {"--greylist-reply", "250 ok", "--greylist-reply: expected \"CODE TEXT\" with a 4xx or "
                                       "5xx code"},
        {"--bogus", "1", "unknown argument '--bogus'"},
        {"--listen", "nohost", "--listen nohost: bad or missing port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        rc = parse(&c, err, sizeof err, bad[i].a, bad[i].b, "--listen", "127.0.0.1:0", NULL);
        sink_opts_free(&c);
        if (rc != -1 || strncmp(err, bad[i].want, strlen(bad[i].want)))
            fail_msg("case %zu: rc %d err '%s', want '%s'", i, rc, err, bad[i].want);
    }
    assert_int_equal(parse(&c, err, sizeof err, "--json", NULL), -1);
    assert_string_equal(err, "no --listen ADDR:PORT given");
    sink_opts_free(&c);
    assert_int_equal(parse(&c, err, sizeof err, "--listen", "127.0.0.1:0", "--tls-cert", "x",
                           NULL), -1);
    assert_string_equal(err, "--tls-cert and --tls-key go together");
    sink_opts_free(&c);
    assert_int_equal(parse(&c, err, sizeof err, "--help", NULL), 1);
    sink_opts_free(&c);
}

static void test_json_and_message_id(void **state)
{
    (void)state;
    struct { const char *in, *want; } js[] = {
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"a\r\nb\t", "\"a\\u000d\\u000ab\\u0009\""},
        {"\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa7", "\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa7\""},
        {"bad\xff\xc3", "\"bad\\u00ff\\u00c3\""},
        {"\xc0\xaf\x7f", "\"\\u00c0\\u00af\\u007f\""},
    };
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        dbuf b = {0};
        sink_json_str(&b, js[i].in);
        if (strcmp(dbuf_cstr(&b), js[i].want))
            fail_msg("json %zu: got %s want %s", i, (char *)b.data, js[i].want);
        dbuf_free(&b);
    }
    struct { const char *msg, *want; } ids[] = {
        {"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n", "<a@b>"},
        {"message-id:\r\n   <folded@x>  \r\nTo: y\r\n\r\n", "<folded@x>"},
        {"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", ""},
        {"Message-ID: <lf@x>\n\nbody", "<lf@x>"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char got[100];
        rfc5322_message_id(ids[i].msg, strlen(ids[i].msg), got, sizeof got);
        if (strcmp(got, ids[i].want))
            fail_msg("message-id %zu: got '%s' want '%s'", i, got, ids[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_greylist_window),
        cmocka_unit_test(test_greylist_sweep),
        cmocka_unit_test(test_greylist_key),
        cmocka_unit_test(test_rand),
        cmocka_unit_test(test_script_match),
        cmocka_unit_test(test_script_chance),
        cmocka_unit_test(test_script_errors),
        cmocka_unit_test(test_opts_grammar),
        cmocka_unit_test(test_json_and_message_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
