/* test_doctor_queue.c - the queue listing parsers and the qshape grid (queueparse.h):
 *   - the same queue written as postqueue -j, postqueue -p (short and long queue ids),
 *     exim -bp and Sendmail mailq (tests/data/doctor/queue, gen_queue.py): messages,
 *     recipients, states, ages, buckets and the class of each destination's top reason;
 *   - hand-written edge cases: empty queues, "(reason unavailable)", chunks of a message
 *     with thousands of recipients, garbage, a format forced with --from;
 *   - the sources: a command that prints a listing, one that fails, one that hangs (killed
 *     at the deadline);
 *   - the report's checks for the sample queue.
 * Local time is UTC here (TZ is set), as in the listings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "doctor/queueparse.h"
#include "doctor/queueparse_report.h"
#include "test_util_doctor.h"

#define NOW 1741093200   /* 2025-03-04 13:00:00 UTC, the listings' "now" */

/* A parsed listing. */
typedef struct parsed {
    qparser *p;
    qshape *s;
    long chunks;
} parsed;

/* on_msg - count callbacks, then add to the grid */
static void on_msg(const qp_msg *m, void *arg)
{
    parsed *x = arg;
    x->chunks++;
    assert_true(m->nrcpt <= QP_CHUNK);
    assert_non_null(m->qid);
    qs_add(m, x->s);
}

/* feed - text (lines) into a new parser of format f */
static void feed(parsed *x, enum qp_format f, unsigned allowed, const char *text)
{
    x->s = qs_new(shipped_cls, NOW);
    x->p = qp_new(f, allowed, NOW, on_msg, x);
    x->chunks = 0;
    while (*text) {
        size_t n = strcspn(text, "\n");
        qp_line(x->p, text, n);
        text += n + (text[n] == '\n');
    }
    qp_end(x->p);
    qs_finish(x->s);
}

/* done - free a parse */
static void done(parsed *x)
{
    qp_free(x->p);
    qs_free(x->s);
}

/* slurp - a data file */
static char *slurp(const char *name)
{
    char path[4096];
    const char *src = getenv("SLUICE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/data/doctor/queue/%s", src ? src : "..", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* find - a destination row */
static const qs_dest *find(const qshape *s, const char *domain)
{
    for (size_t i = 0; i < qs_ndests(s); i++)
        if (!strcmp(qs_dest_at(s, i)->domain, domain))
            return qs_dest_at(s, i);
    fail_msg("no destination %s", domain);
    return NULL;
}

static const struct sample_case {
    const char *file;
    enum qp_format fmt;
    int reasons;              /* the format shows delay reasons */
    int active;               /* the format marks active messages */
    int age_slack;            /* seconds of rounding in the format's times */
} samples[] = {
    {"postqueue-j.json", QF_JSON, 1, 1, 0},
    {"postqueue-p.txt", QF_POSTFIX, 1, 1, 0},
    {"postqueue-p-long.txt", QF_POSTFIX, 1, 1, 0},
    {"sendmail-mailq.txt", QF_SENDMAIL, 1, 1, 60},
    {"exim-bp.txt", QF_EXIM, 0, 0, 3600 * 12},
};

/* check_sample - one listing of the sample queue */
static void check_sample(const struct sample_case *w)
{
    parsed x;
    char *text = slurp(w->file);
    feed(&x, QF_AUTO, 0, text);
    free(text);
    printf("  %s: %s, %ld messages, %ld recipients\n", w->file, qp_format_name(qp_detected(x.p)), qs_messages(x.s),
           qs_totals(x.s)->total);
    assert_int_equal(qp_detected(x.p), w->fmt);
    assert_int_equal(qp_unrecognised(x.p), 0);
    assert_int_equal(qs_messages(x.s), 7);
    assert_int_equal(qs_totals(x.s)->total, 10);
    assert_int_equal(qs_ndests(x.s), 4);
    assert_string_equal(qs_dest_at(x.s, 0)->domain, "corp.example");
    const qs_dest *net = find(x.s, "example.net"), *corp = find(x.s, "corp.example"), *org = find(x.s, "example.org");
    assert_int_equal(net->total, 3);
    assert_int_equal(net->buckets[0], 2);   /* 3 minutes */
    assert_int_equal(net->buckets[1], 1);   /* 7 minutes */
    assert_int_equal(corp->buckets[4], 3);  /* 45 minutes */
    assert_int_equal(find(x.s, "example.com")->hold, 1);
    assert_int_equal(qs_totals(x.s)->active, w->active);
    assert_true(org->oldest_s >= 100000 - w->age_slack && org->oldest_s <= 100000 + w->age_slack);
    if (w->reasons) {
        assert_string_equal(lp_cat_name(net->top_cat), "greylisting");
        assert_string_equal(lp_cat_name(corp->top_cat), "rate_limited");
        assert_string_equal(lp_cat_name(org->top_cat), "connect_timeout");
        assert_int_equal(corp->n421, 4);
        assert_non_null(strstr(net->top_text, "<>: Recipient address rejected: Greylisted"));
    } else {
        assert_int_equal(net->top_cat, -1);
        assert_int_equal(corp->no_reason, 4);
    }
    done(&x);
}

/* test_samples - every format of the sample queue */
static void test_samples(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(samples); i++)
        check_sample(&samples[i]);
}

/* test_empty - empty queues in each format */
static void test_empty(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum qp_format fmt;
    } cases[] = {
        {"Mail queue is empty\n", QF_POSTFIX},
        {"MSP Queue status...\n/var/spool/mqueue-client is empty\n\t\tTotal requests: 0\nMTA Queue status...\n"
         "/var/spool/mqueue is empty\n\t\tTotal requests: 0\n", QF_SENDMAIL},
        {"", QF_AUTO},
        {"\n\n", QF_AUTO},
    };
    for (size_t i = 0; i < NCASES(cases); i++) {
        parsed x;
        feed(&x, QF_AUTO, 0, cases[i].text);
        assert_int_equal(qp_detected(x.p), cases[i].fmt);
        assert_int_equal(qs_messages(x.s), 0);
        assert_int_equal(qp_unrecognised(x.p), 0);
        done(&x);
    }
}

/* test_reasons - reasons switching, "(reason unavailable)", forced expiry, long reasons */
static void test_reasons(void **state)
{
    (void)state;
    parsed x;
    feed(&x, QF_AUTO, 0,
         "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
         "A1B2C3D4E5#    1587 Tue Mar  4 12:00:43  root@host.example\n"
         "(Host or domain name not found. Name service error for name=nx.example type=MX: Host not found, try again)\n"
         "                                         user@nx.example\n"
         "                             (reason unavailable)\n"
         "                                         other@nx.example\n"
         "                     (host mx[192.0.2.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))\n"
         "                                         full@nx.example\n"
         "\n-- 2 Kbytes in 1 Request.\n");
    assert_int_equal(qp_detected(x.p), QF_POSTFIX);
    const qs_dest *d = find(x.s, "nx.example");
    assert_int_equal(d->total, 3);
    assert_int_equal(d->no_reason, 1);
    assert_int_equal(d->by_cat[LC_DNS], 1);
    assert_int_equal(d->by_cat[RC_MAILBOX], 1);
    assert_int_equal(d->deferred, 3);
    assert_int_equal(d->buckets[qs_bucket_of(3557)], 3);
    done(&x);
}

/* test_chunks - a message with more recipients than QP_CHUNK is handed over in parts */
static void test_chunks(void **state)
{
    (void)state;
    size_t n = 2500, cap = n * 64 + 256;
    char *text = malloc(cap);
    size_t o = (size_t)snprintf(text, cap, "{\"queue_name\":\"deferred\",\"queue_id\":\"9F8E7D6C5B\",\"arrival_time\":%d,"
                                "\"message_size\":100,\"sender\":\"s@y.org\",\"recipients\":[", NOW - 600);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, cap - o, "%s{\"address\":\"u%zu@bulk.example\"}", i ? "," : "", i);
    snprintf(text + o, cap - o, "]}\n");
    parsed x;
    feed(&x, QF_AUTO, 0, text);
    free(text);
    assert_int_equal(x.chunks, 3);
    assert_int_equal(qs_messages(x.s), 1);
    assert_int_equal(find(x.s, "bulk.example")->total, 2500);
    assert_int_equal(find(x.s, "bulk.example")->buckets[2], 2500);
    done(&x);
}

/* test_garbage - lines that fit nothing are counted, never fatal */
static void test_garbage(void **state)
{
    (void)state;
    parsed x;
    feed(&x, QF_AUTO, 0, "this is not a queue\n\x01\x02\x03\n{broken json\n");
    assert_int_equal(qs_messages(x.s), 0);
    assert_true(qp_unrecognised(x.p) >= 2);
    assert_non_null(qp_unrecognised_example(x.p, 0));
    done(&x);
    char *text = slurp("postqueue-p.txt");
    feed(&x, QF_AUTO, 1u << QF_EXIM, text);   /* --from exim on a Postfix listing */
    assert_int_equal(qs_messages(x.s), 0);
    assert_true(qp_unrecognised(x.p) > 10);
    done(&x);
    feed(&x, QF_EXIM, 0, text);
    assert_int_equal(qs_messages(x.s), 0);
    done(&x);
    free(text);
    feed(&x, QF_AUTO, 0, "{\"queue_id\":\"X\"}\n{\"recipients\":[]}\n[1,2]\n");
    assert_int_equal(qs_messages(x.s), 0);
    assert_int_equal(qp_unrecognised(x.p), 3);
    done(&x);
}

/* test_buckets - qshape's bucket edges */
static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(qs_bucket_of(0), 0);
    assert_int_equal(qs_bucket_of(299), 0);
    assert_int_equal(qs_bucket_of(300), 1);
    assert_int_equal(qs_bucket_of(1280 * 60 - 1), 8);
    assert_int_equal(qs_bucket_of(1280 * 60), 9);
    assert_string_equal(qs_bucket_label(9), "1280m+");
}

/* script - an executable shell script in dir; its path in buf */
static const char *script(const char *dir, const char *name, const char *body, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", dir, name);
    FILE *f = fopen(buf, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(buf, 0755);
    return buf;
}

/* test_sources - a listing command that works, one that fails, one that hangs */
static void test_sources(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_doctor_queue_XXXXXX", path[512], err[512];
    assert_non_null(mkdtemp(dir));
    parsed x = {qp_new(QF_AUTO, 0, NOW, on_msg, &x), qs_new(shipped_cls, NOW), 0};
    char *argv[] = {path, NULL};
    script(dir, "ok", "echo '{\"queue_name\":\"active\",\"queue_id\":\"AB12CD34EF\",\"arrival_time\":1741093100,"
                      "\"recipients\":[{\"address\":\"a@x.org\"}]}'", path, sizeof path);
    assert_int_equal(qsrc_run(argv, 5000, x.p, err, sizeof err), 0);
    qp_end(x.p);
    assert_int_equal(qs_messages(x.s), 1);
    script(dir, "bad", "echo 'postqueue: fatal: Queue report unavailable - mail system is down' >&2; exit 69", path,
           sizeof path);
    assert_int_equal(qsrc_run(argv, 5000, x.p, err, sizeof err), -1);
    assert_non_null(strstr(err, "status 69"));
    assert_non_null(strstr(err, "mail system is down"));
    script(dir, "hang", "sleep 30", path, sizeof path);
    time_t t0 = time(NULL);
    assert_int_equal(qsrc_run(argv, 300, x.p, err, sizeof err), -1);
    assert_true(time(NULL) - t0 < 5);
    assert_non_null(strstr(err, "did not finish"));
    assert_non_null(qsrc_find("sh", path, sizeof path));
    assert_null(qsrc_find("no-such-program-here", path, sizeof path));
    char q[512];
    assert_int_equal(qsrc_sluice("/nonexistent/queue", 1000, x.p, q, sizeof q), 1);
    done(&x);
    for (const char *const *f = (const char *const[]){"ok", "bad", "hang", NULL}; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        unlink(path);
    }
    rmdir(dir);
}

/* test_report - the checks for the sample queue */
static void test_report(void **state)
{
    (void)state;
    parsed x;
    char *text = slurp("postqueue-j.json");
    feed(&x, QF_AUTO, 0, text);
    free(text);
    report *r = report_new("queue", "test");
    qreport_opts o = {1000, 10000, 4 * 3600, 86400, 0};
    qreport_build(r, x.p, x.s, "test", &o);
    json_t *rep = report_json(r);
    assert_string_equal(report_check_status(rep, "size"), "pass");
    assert_string_equal(report_check_status(rep, "age"), "fail");        /* 27 hours */
    assert_string_equal(report_check_status(rep, "hold"), "info");
    assert_string_equal(report_check_status(rep, "dest:example.net"), "info");
    assert_string_equal(report_check_status(rep, "dest:corp.example"), "warn");
    assert_string_equal(report_check_status(rep, "dest:example.org"), "fail");
    json_t *grid = json_object_get(json_object_get(rep, "data"), "grid");
    assert_int_equal(json_array_size(json_object_get(grid, "buckets")), QS_NBUCKETS);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(grid, "total"), "total")), 10);
    assert_int_equal(report_exit_code(r), 2);
    json_decref(rep);
    report_free(r);
    done(&x);
}

/* setup - UTC, and the shipped classifier */
static int setup(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    return shipped_cls_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples), cmocka_unit_test(test_empty),   cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_chunks),  cmocka_unit_test(test_garbage), cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_sources), cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, shipped_cls_teardown);
}
