/* test_doctor_logs_verdict.c - the log analyzer (loganalyze.h): the verdict per destination
 * on synthetic but realistic logs of every receiving behaviour (greylisting, rate limiting,
 * too many connections, reputation, authentication, overload, network) in Postfix, Exim,
 * sluice text and sluice JSON formats, plain and gzip (tests/data/doctor/logs, written by
 * gen_logs.py); the figures the API gives `doctor advise` (retry intervals, pass delays,
 * accepted rates, concurrency, provider codes, evidence); the cross-destination checks of
 * the report; and the memory bounds (timeline cap, budget), queue id reuse, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "doctor/loganalyze.h"
#include "test_util_doctor.h"

/* data_path - a file of tests/data/doctor/logs */
static const char *data_path(const char *name, char *buf, size_t n)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    snprintf(buf, n, "%s/tests/data/doctor/logs/%s", src ? src : "..", name);
    return buf;
}

/* analyze - a finished analysis of one data file (year 2025 for syslog stamps) */
static loganalyzer *analyze(const char *name)
{
    char path[4096], err[512];
    loganalyzer *la = la_new(shipped_cls, &(la_opts){.year = 2025});
    if (la_feed_file(la, data_path(name, path, sizeof path), err, sizeof err) < 0)
        fail_msg("%s", err);
    la_finish(la);
    return la;
}

/* The verdict each file must give its destination. */
static const struct verdict_case {
    const char *file, *domain;
    enum la_verdict verdict;
    enum check_status status;
} verdict_cases[] = {
#define FORMATS(stem, dom, v, st)                                                                        \
    {"postfix-" stem ".log", dom, v, st}, {"exim-" stem ".log", dom, v, st}, {"sluice-" stem ".log", dom, v, st}
    FORMATS("greylisting", "example.net", LV_GREYLISTING, CK_INFO),
    FORMATS("greylisting-unexplained", "example.net", LV_GREYLISTING, CK_INFO),
    FORMATS("ratelimit", "corp.example", LV_RATE_LIMITING, CK_WARN),
    FORMATS("ratelimit-unexplained", "corp.example", LV_RATE_LIMITING, CK_WARN),
    FORMATS("connections", "exch.example", LV_TOO_MANY_CONNECTIONS, CK_WARN),
    FORMATS("reputation", "yahoo.com", LV_REPUTATION, CK_FAIL),
    FORMATS("authentication", "strict.example", LV_AUTHENTICATION, CK_FAIL),
    FORMATS("overload", "busy.example", LV_OVERLOAD, CK_WARN),
    FORMATS("network", "example.org", LV_NETWORK, CK_FAIL),
    FORMATS("network", "example.edu", LV_NETWORK, CK_FAIL),
#undef FORMATS
    {"sluice-greylisting.json.log", "example.net", LV_GREYLISTING, CK_INFO},
    {"sluice-ratelimit.json.log", "corp.example", LV_RATE_LIMITING, CK_WARN},
    {"sluice-network.json.log", "example.org", LV_NETWORK, CK_FAIL},
    {"postfix-greylisting.log.gz", "example.net", LV_GREYLISTING, CK_INFO},
    {"exim-greylisting.log.gz", "example.net", LV_GREYLISTING, CK_INFO},
    {"postfix-ratelimit.log.gz", "corp.example", LV_RATE_LIMITING, CK_WARN},
    {"exim-ratelimit.log.gz", "corp.example", LV_RATE_LIMITING, CK_WARN},
    {"postfix-network.log.gz", "example.edu", LV_NETWORK, CK_FAIL},
    {"exim-network.log.gz", "example.org", LV_NETWORK, CK_FAIL},
    /* every scenario but the network one also delivers to a healthy destination */
    {"postfix-ratelimit.log", "example.com", LV_HEALTHY, CK_PASS},
    {"exim-reputation.log", "example.com", LV_HEALTHY, CK_PASS},
    {"sluice-overload.log", "example.com", LV_HEALTHY, CK_PASS},
};

/* test_verdicts - every file's verdict */
static void test_verdicts(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(verdict_cases); i++) {
        const struct verdict_case *w = &verdict_cases[i];
        loganalyzer *la = analyze(w->file);
        const la_dest *d = la_dest_find(la, w->domain);
        if (!d) {
            printf("  %s: no destination %s\n", w->file, w->domain);
            mismatches++;
        } else if (d->verdict != w->verdict || d->status != w->status) {
            printf("  %s %s: got %s/%s, want %s/%s\n    why: %s\n", w->file, w->domain, la_verdict_name(d->verdict),
                   check_status_name(d->status), la_verdict_name(w->verdict), check_status_name(w->status), d->why);
            mismatches++;
        } else if (!d->why || !d->why[0] || (w->verdict != LV_HEALTHY && d->nevidence < 1)) {
            printf("  %s %s: no reasons or no evidence\n", w->file, w->domain);
            mismatches++;
        }
        const la_summary *s = la_get_summary(la);
        if (s->unrecognised) {
            printf("  %s: %ld unrecognised lines (first: %s)\n", w->file, s->unrecognised, s->unrecognised_examples[0]);
            mismatches++;
        }
        la_free(la);
    }
    check_done();
}

/* dumps - the analysis as one JSON text (summary and destinations) */
static char *dumps(const loganalyzer *la)
{
    json_t *o = json_pack("{s:o,s:[]}", "summary", la_summary_json(la), "dests");
    for (size_t i = 0; i < la_ndests(la); i++)
        json_array_append_new(json_object_get(o, "dests"), la_dest_json(la, la_dest_at(la, i)));
    json_object_del(json_object_get(json_object_get(o, "summary"), "input"), "files");
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return s;
}

/* test_gzip_same - a gzip file gives exactly the analysis of its plain twin */
static void test_gzip_same(void **state)
{
    (void)state;
    static const char *const stems[] = {"postfix-greylisting.log", "exim-ratelimit.log", "postfix-network.log"};
    for (size_t i = 0; i < NCASES(stems); i++) {
        char gz[256];
        snprintf(gz, sizeof gz, "%s.gz", stems[i]);
        loganalyzer *a = analyze(stems[i]), *b = analyze(gz);
        char *x = dumps(a), *y = dumps(b);
        assert_string_equal(x, y);
        free(x);
        free(y);
        la_free(a);
        la_free(b);
    }
}

/* test_api_greylisting - the figures advise reads, for greylisting */
static void test_api_greylisting(void **state)
{
    (void)state;
    loganalyzer *la = analyze("postfix-greylisting.log");
    const la_dest *d = la_dest_find(la, "example.net");
    assert_non_null(d);
    assert_int_equal(d->rcpts, 8);
    assert_int_equal(d->grey_pattern, 8);
    assert_int_equal(d->after_retry_ok[0], 8);
    assert_int_equal(d->persistent, 0);
    assert_int_equal(d->deferred_by[RC_GREYLISTING], 8);
    assert_true(d->pass_delay.median >= 300 && d->pass_delay.median <= 400);
    assert_true(d->retry_interval.n == 8 && d->retry_interval.min >= 300);
    assert_string_equal(d->provider, "postgrey");
    assert_non_null(strstr(d->evidence[1], "status=sent"));   /* a deferral, then its delivery */
    assert_true(d->peak_concurrency >= 1);
    assert_true(d->avg_per_hour > 0 && d->peak_per_hour >= d->peak_per_min);
    const la_summary *s = la_get_summary(la);
    assert_int_equal(s->by_format[LPF_POSTFIX], s->lines);
    assert_int_equal(s->verdicts[LV_GREYLISTING], 1);
    assert_int_equal(s->verdicts[LV_HEALTHY], 1);
    la_free(la);
}

/* test_api_rate_reputation - persistence, 421s, provider codes */
static void test_api_rate_reputation(void **state)
{
    (void)state;
    loganalyzer *la = analyze("postfix-ratelimit-unexplained.log");
    const la_dest *d = la_dest_find(la, "corp.example");
    assert_true(d->persistent >= 3 && d->persistent_varied >= 1);   /* Postfix backs off: 5m, 10m, 20m */
    assert_true(d->n421 == d->deferred && d->delivered > 0);
    assert_true(d->retry_deferred > 0 && d->retry_attempts > d->retry_deferred / 2);
    assert_non_null(strstr(d->why, "whatever the retry interval"));
    la_free(la);
    la = analyze("sluice-reputation.log");
    d = la_dest_find(la, "yahoo.com");
    assert_string_equal(d->provider_code, "TSS04");
    assert_string_equal(d->provider, "yahoo");
    assert_non_null(strstr(d->why, "TSS04"));
    la_free(la);
    la = analyze("postfix-connections.log");
    d = la_dest_find(la, "exch.example");
    assert_true(d->hostreply_by[RC_TOO_MANY_CONNECTIONS] + d->deferred_by[RC_TOO_MANY_CONNECTIONS] > 0);
    la_free(la);
}

/* la_report_json - the report of an analysis, as JSON */
static json_t *la_report_json(const loganalyzer *la)
{
    report *r = report_new("logs", "test");
    la_report_opts ro = {-1, 0, NULL, 0};
    la_report(la, r, &ro);
    json_t *o = report_json(r);
    report_free(r);
    return o;
}

/* test_report - the report's checks and data */
static void test_report(void **state)
{
    (void)state;
    loganalyzer *la = analyze("postfix-network.log");
    json_t *rep = la_report_json(la);
    assert_string_equal(report_check_status(rep, "port25"), "fail");
    assert_string_equal(report_check_status(rep, "dest:example.org"), "fail");
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "fail");
    json_t *data = json_object_get(rep, "data");
    assert_int_equal(json_array_size(json_object_get(data, "destinations")), 2);
    assert_true(json_array_size(json_object_get(data, "messages")) == la_nmessages(la));
    json_decref(rep);
    la_free(la);
    la = analyze("exim-greylisting.log");
    rep = la_report_json(la);
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "info");
    assert_string_equal(report_check_status(rep, "dest:example.net"), "info");
    assert_string_equal(report_check_status(rep, "port25"), "");
    json_decref(rep);
    la_free(la);
}

/* feed_text - lines of s into la */
static void feed_text(loganalyzer *la, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "\n");
        la_feed_line(la, s, n);
        s += n + (s[n] == '\n');
    }
}

/* test_bounds - the timeline cap and budget, queue id reuse, garbage */
static void test_bounds(void **state)
{
    (void)state;
    loganalyzer *la = la_new(shipped_cls, &(la_opts){.year = 2025, .timeline_budget = 51});
    char line[512];
    for (int i = 0; i < 120; i++) {
        snprintf(line, sizeof line, "Mar  4 %02d:%02d:00 mail postfix/smtp[9]: 4F1A2B3C4D: to=<a@x.org>, relay="
                 "mx.x.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, status=deferred (host mx.x.org[192.0.2.1]"
                 " said: 421 4.7.0 Try again later (in reply to MAIL FROM command))", i / 60, i % 60);
        la_feed_line(la, line, strlen(line));
    }
    feed_text(la, "Mar  4 03:00:00 mail postfix/qmgr[1]: 4F1A2B3C4D: removed\n"
                  "Mar  4 03:01:00 mail postfix/smtp[9]: 4F1A2B3C4D: to=<b@x.org>, relay=mx.x.org[192.0.2.1]:25, "
                  "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n"
                  "Mar  4 03:02:00 mail postfix/smtp[9]: 5B2C3D4E5F: to=<c@x.org>, relay=mx.x.org[192.0.2.1]:25, "
                  "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n"
                  "\x01\x02 garbage\nmore garbage\n{\"json\": 1}\nyet more\n\n");
    la_finish(la);
    assert_int_equal(la_nmessages(la), 3);                 /* the id was reused after "removed" */
    const la_message *m = la_message_at(la, 0);
    assert_int_equal(m->nattempts, 120);
    assert_int_equal(m->natt, 50);                         /* the last 50 kept, oldest first */
    assert_true(m->att[0].t_us < m->att[49].t_us);
    const la_summary *s = la_get_summary(la);
    assert_int_equal(s->timeline_dropped, 1);              /* budget 51: 50 + 1 kept, the last not */
    assert_int_equal(s->unrecognised, 5);
    assert_int_equal(s->nunrecognised_examples, 3);
    const la_dest *d = la_dest_find(la, "x.org");
    assert_int_equal(d->attempts, 122);
    assert_int_equal(d->persistent, 1);
    la_free(la);
}

/* test_host_replies - one MX's refusal before the outcome line counts for the recipient's
 * destination, not for the MX's domain */
static void test_host_replies(void **state)
{
    (void)state;
    loganalyzer *la = la_new(shipped_cls, &(la_opts){.year = 2025});
    feed_text(la, "Mar  4 10:00:00 mail postfix/smtp[9]: 4F1A2B3C4D: host mta5.am0.yahoodns.net[67.195.204.74] "
                  "refused to talk to me: 421 4.7.0 [TS01] Messages from 192.0.2.25 temporarily deferred\n"
                  "Mar  4 10:00:01 mail postfix/smtp[9]: 4F1A2B3C4D: to=<u@yahoo.com>, "
                  "relay=mta6.am0.yahoodns.net[67.195.204.75]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent "
                  "(250 ok dirdel)\n"
                  "Mar  4 10:00:02 mail postfix/smtp[9]: 5B2C3D4E5F: host mx.orphan.example[192.0.2.9] said: 450 "
                  "4.7.1 try later (in reply to RCPT TO command)\n");
    la_finish(la);
    const la_dest *d = la_dest_find(la, "yahoo.com");
    assert_non_null(d);
    assert_int_equal(d->delivered, 1);
    assert_int_equal(d->n421, 1);
    assert_int_equal(d->hostreply_by[RC_REPUTATION] + d->hostreply_by[RC_OTHER] + d->hostreply_by[RC_RATE_LIMITED], 1);
    assert_int_equal(d->verdict, LV_HEALTHY);
    assert_null(la_dest_find(la, "yahoodns.net"));
    assert_non_null(la_dest_find(la, "orphan.example"));   /* no outcome line: the MX's domain */
    assert_int_equal(la_message_at(la, 0)->natt, 2);
    la_free(la);
}

/* test_multiline_json - a pretty-printed JSON record is joined by the reader */
static void test_multiline_json(void **state)
{
    (void)state;
    char path[] = "/tmp/test_doctor_logs_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\n  \"type\": \"TransientFailure\",\n  \"recipient\": \"u@kumo.example\",\n"
                       "  \"response\": {\n    \"code\": 451,\n    \"content\": \"4.7.1 Greylisted, please retry\"\n"
                       "  }\n}\nnot json\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    loganalyzer *la = la_new(shipped_cls, NULL);
    char err[256];
    assert_int_equal(la_feed_file(la, path, err, sizeof err), 0);
    la_finish(la);
    const la_summary *s = la_get_summary(la);
    assert_int_equal(s->by_format[LPF_KUMOMTA], 1);
    assert_int_equal(s->unrecognised, 1);
    assert_int_equal(la_dest_find(la, "kumo.example")->deferred, 1);
    assert_int_equal(la_feed_file(la, "/nonexistent/mail.log", err, sizeof err), -1);
    la_free(la);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),       cmocka_unit_test(test_gzip_same),
        cmocka_unit_test(test_api_greylisting), cmocka_unit_test(test_api_rate_reputation),
        cmocka_unit_test(test_report),         cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_host_replies),   cmocka_unit_test(test_multiline_json),
    };
    return cmocka_run_group_tests(tests, shipped_cls_setup, shipped_cls_teardown);
}
