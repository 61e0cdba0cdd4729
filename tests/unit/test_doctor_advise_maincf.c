/* test_doctor_advise_maincf.c - the Postfix main.cf / master.cf reader and its lints
 * (maincf.h, maincf_params.h, maincf_lint.h), table-driven: logical lines (continuations,
 * comments and blank lines inside them, orphans, CRLF, NULs), "name = value" forms, the
 * last definition winning, $name / ${name} / $(name) / ${name?x} / ${name:x} expansion with
 * the table's defaults, Postfix time values and their units, master.cf services and their
 * -o overrides, and one case per lint rule with the finding's status (and its fix). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doctor/maincf.h"
#include "doctor/maincf_lint.h"
#include "doctor/maincf_params.h"
#include "test_util_doctor.h"

/* parse_str - main.cf text (NUL-terminated; embedded NULs via len) */
static maincf *parse_str(const char *text, size_t len)
{
    return maincf_parse(text, len ? len : strlen(text), "main.cf");
}

static const struct parse_case {
    const char *text;
    size_t len;               /* 0: strlen */
    const char *name, *value; /* the entry that counts for name (value NULL: none) */
    int line, last_line;
    int nentries, nproblems;
    int problem_kind, problem_line; /* the first problem (-1: none) */
} parse_cases[] = {
    {"a = b\n", 0, "a", "b", 1, 1, 1, 0, -1, 0},
    {"a=b", 0, "a", "b", 1, 1, 1, 0, -1, 0},
    {"a\t=\t b  \n", 0, "a", "b", 1, 1, 1, 0, -1, 0},
    {"a =\n", 0, "a", "", 1, 1, 1, 0, -1, 0},
    {"a = b\r\n", 0, "a", "b", 1, 1, 1, 0, -1, 0},
    {"mynetworks = 127.0.0.0/8\n    [::1]/128\n", 0, "mynetworks", "127.0.0.0/8    [::1]/128", 1, 2, 1, 0, -1, 0},
    {"a = x\n# comment\n  y\n", 0, "a", "x  y", 1, 3, 1, 0, -1, 0},
    {"a = x\n   # indented comment\n\ty\n", 0, "a", "x\ty", 1, 3, 1, 0, -1, 0},
    {"a = x\n\n y\n", 0, "a", "x y", 1, 3, 1, 0, -1, 0},
    {"a = x\n   # comment\nb = 2\n", 0, "b", "2", 3, 3, 2, 0, -1, 0},
    {"a = x # not a comment\n", 0, "a", "x # not a comment", 1, 1, 1, 0, -1, 0},
    {"a = 1\na = 2\n", 0, "a", "2", 2, 2, 2, 0, -1, 0},
    {"  a = b\nc = d\n", 0, "a", NULL, 0, 0, 1, 1, MCI_LEADING_SPACE, 1},
    {"# x\n  y\nz = 1\n", 0, "z", "1", 3, 3, 1, 1, MCI_LEADING_SPACE, 2},
    {"garbage line\nz = 1\n", 0, "z", "1", 2, 2, 1, 1, MCI_NO_EQUALS, 1},
    {"= value\n", 0, "", NULL, 0, 0, 0, 1, MCI_NO_EQUALS, 1},
    {"a = b\0c\nd = e\n", 14, "a", "b", 1, 1, 2, 1, MCI_NUL, 1},
    {"", 0, "a", NULL, 0, 0, 0, 0, -1, 0},
    {"\n\n# only comments\n\n", 0, "a", NULL, 0, 0, 0, 0, -1, 0},
};

/* test_parse - logical lines and entries */
static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        maincf *m = parse_str(c->text, c->len);
        const maincf_entry *e = maincf_get(m, c->name);
        int ok = m->n == c->nentries && m->np == c->nproblems;
        if (c->value)
            ok = ok && e && !strcmp(e->value, c->value) && e->line == c->line && e->last_line == c->last_line;
        else
            ok = ok && !e;
        if (c->problem_kind >= 0)
            ok = ok && m->np && (int)m->p[0].kind == c->problem_kind && m->p[0].line == c->problem_line;
        if (!ok) {
            printf("  case %zu (%s): entries %d problems %d, %s=[%s] lines %d-%d\n", i, c->text, m->n, m->np, c->name,
                   e ? e->value : "(none)", e ? e->line : 0, e ? e->last_line : 0);
            mismatches++;
        }
        maincf_free(m);
    }
    check_done();
}

static const struct expand_case {
    const char *text, *name, *want; /* the value of name, expanded */
} expand_cases[] = {
    {"myhostname = mta.example.com\nsmtp_helo_name = $myhostname\n", "smtp_helo_name", "mta.example.com"},
    {"myhostname = mta.example.com\nx = <${myhostname}> <$(myhostname)>\n", "x", "<mta.example.com> <mta.example.com>"},
    {"myhostname = mta.example.com\n", "smtp_helo_name", "mta.example.com"},
    {"", "smtp_destination_concurrency_limit", "20"},
    {"default_destination_concurrency_limit = 5\n", "smtp_destination_concurrency_limit", "5"},
    {"default_destination_rate_delay = 2s\n", "smtp_destination_rate_delay", "2s"},
    {"", "smtp_extra_recipient_limit", "1000"},
    {"relayhost = [mx]:25\nx = ${relayhost?via relay}${relayhost:direct}\n", "x", "via relay"},
    {"x = ${relayhost?via relay}${relayhost:direct}\n", "x", "direct"},
    {"x = $nosuch and ${nosuch}\n", "x", "$nosuch and ${nosuch}"},
    {"x = cost $$5\n", "x", "cost $5"},
    {"x = $\n", "x", "$"},
    {"x = ${unterminated\n", "x", "${unterminated"},
    {"a = $b\nb = $a\n", "a", NULL}, /* a loop: any result, no hang */
};

/* test_expand - references and defaults */
static void test_expand(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(expand_cases); i++) {
        const struct expand_case *c = &expand_cases[i];
        maincf *m = parse_str(c->text, 0);
        char *v = maincf_value(m, c->name, NULL);
        if (!v || (c->want && strcmp(v, c->want))) {
            printf("  case %zu: %s = [%s], want [%s]\n", i, c->name, v ? v : "(null)", c->want ? c->want : "any");
            mismatches++;
        }
        free(v);
        maincf_free(m);
    }
    char *v = maincf_value(NULL, "maximal_backoff_time", NULL);
    assert_string_equal(v, "4000s");
    free(v);
    assert_null(maincf_value(NULL, "no_such_parameter", NULL));
    check_done();
}

static const struct time_case {
    const char *v;
    char unit;
    int rc;
    long long secs;
} time_cases[] = {
    {"300s", 's', 0, 300},   {"300", 's', 1, 300},       {"5", 'd', 1, 432000},  {"5d", 'd', 0, 432000},
    {"1w", 's', 0, 604800},  {"2h", 'd', 0, 7200},       {"90m", 's', 0, 5400},  {"0", 'd', 1, 0},
    {"5min", 's', -1, 0},    {"5 m", 's', -1, 0},        {"", 's', -1, 0},       {"5D", 'd', -1, 0},
    {"-5", 's', -1, 0},      {"1.5h", 's', -1, 0},       {"s", 's', -1, 0},      {"99999999999999999", 's', -1, 0},
};

/* test_times - Postfix's time grammar and default units */
static void test_times(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(time_cases); i++) {
        const struct time_case *c = &time_cases[i];
        long long s = 0;
        int rc = maincf_time_parse(c->v, c->unit, &s);
        if (rc != c->rc || (rc >= 0 && s != c->secs)) {
            printf("  [%s] unit %c: rc %d secs %lld, want %d %lld\n", c->v, c->unit, rc, s, c->rc, c->secs);
            mismatches++;
        }
    }
    char b[32];
    assert_string_equal(maincf_dur(300, b, sizeof b), "5m");
    assert_string_equal(maincf_dur(4000, b, sizeof b), "4000s");
    assert_string_equal(maincf_dur(432000, b, sizeof b), "5d");
    assert_string_equal(maincf_dur(0, b, sizeof b), "0s");
    assert_string_equal(maincf_param_find("maximal_queue_lifetime") ? "d" : "", "d");
    assert_int_equal(maincf_param_find("maximal_queue_lifetime")->unit, 'd');
    assert_int_equal(maincf_param_find("minimal_backoff_time")->unit, 's');
    assert_int_equal(maincf_param_find("bounce_queue_lifetime")->unit, 'd');
    check_done();
}

static const struct similar_case {
    const char *name, *want;
} similar_cases[] = {
    {"maximum_backoff_time", "maximal_backoff_time"},
    {"minimum_backoff_time", "minimal_backoff_time"},
    {"maximal_queue_life_time", "maximal_queue_lifetime"},
    {"smtp-destination-concurrency-limit", "smtp_destination_concurrency_limit"},
    {"smtp_destination_rate_limit", "smtp_destination_rate_delay"},
    {"smtp_destinaton_recipient_limit", "smtp_destination_recipient_limit"},
    {"queue_run_dleay", "queue_run_delay"},
    {"smtpd_banner", NULL},
    {"mynetworks", NULL},
    {"minimal_backoff_time", NULL},
};

/* test_similar - misspelling suggestions */
static void test_similar(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(similar_cases); i++) {
        const char *got = maincf_param_similar(similar_cases[i].name);
        const char *want = similar_cases[i].want;
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want))) {
            printf("  %s: got %s, want %s\n", similar_cases[i].name, got ? got : "-", want ? want : "-");
            mismatches++;
        }
    }
    int plen = 0;
    assert_string_equal(maincf_param_transport("slow_destination_rate_delay", &plen), "_destination_rate_delay");
    assert_int_equal(plen, 4);
    assert_null(maincf_param_transport("minimal_backoff_time", &plen));
    check_done();
}

/* test_master - services and -o overrides */
static void test_master(void **state)
{
    (void)state;
    const char *text = "# master.cf\n"
                       "smtp      inet  n       -       y       -       -       smtpd\n"
                       "smtp      unix  -       -       y       -       -       smtp\n"
                       "slow      unix  -       -       n       -       10      smtp\n"
                       "  -o smtp_helo_timeout=5s\n"
                       "  # a comment in between\n"
                       "  -o { smtp_destination_rate_delay = 5s }\n"
                       "    -osyslog_name=postfix/slow\n"
                       "short line\n";
    mastercf *m = mastercf_parse(text, strlen(text), "master.cf");
    assert_int_equal(m->n, 3);
    assert_int_equal(m->bad_lines, 1);
    const mastercf_service *s = mastercf_find(m, "slow");
    assert_non_null(s);
    assert_int_equal(s->line, 4);
    assert_string_equal(s->command, "smtp");
    assert_int_equal(s->no, 3);
    assert_string_equal(s->o[0].name, "smtp_helo_timeout");
    assert_string_equal(s->o[1].name, "smtp_destination_rate_delay");
    assert_string_equal(s->o[1].value, "5s");
    assert_string_equal(s->o[2].value, "postfix/slow");
    assert_null(mastercf_find(m, "relay"));
    assert_non_null(mastercf_find(m, "smtp"));
    mastercf_free(m);
}

static const char *const STOCK_MASTER = "smtp      unix  -       -       y       -       -       smtp\n"
                                        "slow      unix  -       -       n       -       -       smtp\n";

static const struct lint_case {
    const char *main, *master;
    const char *id;           /* a finding whose id starts with this */
    int status;               /* its status, or -1: there must be none with this prefix */
    const char *fix_name, *fix_value; /* its first fix (fix_name NULL: not checked) */
} lint_cases[] = {
    /* the seed's Fix 1 as written: nothing to say */
    {"minimal_backoff_time = 300s\nmaximal_backoff_time = 4000s\nmaximal_queue_lifetime = 5d\n", NULL, "maincf:", -1,
     NULL, NULL},
    /* units: bare numbers in days, invalid values */
    {"maximal_queue_lifetime = 300\n", NULL, "maincf:units:maximal_queue_lifetime", CK_WARN, "maximal_queue_lifetime",
     "5d"},
    {"maximal_queue_lifetime = 300\n", NULL, "maincf:lifetime:maximal_queue_lifetime", CK_FAIL, NULL, NULL},
    {"maximal_queue_lifetime = 5\n", NULL, "maincf:units:maximal_queue_lifetime", CK_INFO, NULL, NULL},
    {"bounce_queue_lifetime = 45\n", NULL, "maincf:units:bounce_queue_lifetime", CK_WARN, NULL, NULL},
    {"minimal_backoff_time = 300\n", NULL, "maincf:units:", -1, NULL, NULL},
    {"minimal_backoff_time = 5min\n", NULL, "maincf:units:minimal_backoff_time", CK_FAIL, NULL, NULL},
    {"smtp_destination_concurrency_limit = two\n", NULL, "maincf:units:smtp_destination_concurrency_limit", CK_FAIL,
     NULL, NULL},
    {"maximal_queue_lifetime = 0\n", NULL, "maincf:lifetime:maximal_queue_lifetime", CK_WARN, "maximal_queue_lifetime",
     "5d"},
    {"maximal_queue_lifetime = 4h\n", NULL, "maincf:lifetime:maximal_queue_lifetime", CK_WARN, NULL, NULL},
    /* the backoff times */
    {"minimal_backoff_time = 4000s\nmaximal_backoff_time = 300s\n", NULL, "maincf:backoff-order", CK_WARN,
     "maximal_backoff_time", "32000s"},
    {"minimal_backoff_time = 30s\nqueue_run_delay = 30s\n", NULL, "maincf:backoff-aggressive", CK_WARN,
     "minimal_backoff_time", "300s"},
    {"queue_run_delay = 600s\n", NULL, "maincf:queue-run-delay", CK_WARN, "queue_run_delay", "5m"},
    {"queue_run_delay = 300s\nminimal_backoff_time = 300s\n", NULL, "maincf:queue-run-delay", -1, NULL, NULL},
    /* rate delay and concurrency */
    {"smtp_destination_concurrency_limit = 1\nsmtp_destination_rate_delay = 1s\n", NULL,
     "maincf:rate-delay-concurrency:smtp", CK_INFO, NULL, NULL},
    {"smtp_destination_concurrency_limit = 2\nsmtp_destination_rate_delay = 1s\n", NULL,
     "maincf:rate-delay-concurrency:smtp", CK_WARN, NULL, NULL},
    {"smtp_destination_rate_delay = 1s\n", NULL, "maincf:rate-delay-cohort:smtp", CK_WARN,
     "smtp_destination_concurrency_failed_cohort_limit", "10"},
    {"smtp_destination_rate_delay = 1s\nsmtp_destination_concurrency_failed_cohort_limit = 10\n", NULL,
     "maincf:rate-delay-cohort", -1, NULL, NULL},
    {"default_destination_rate_delay = 2s\nsmtp_destination_concurrency_limit = 4\n", NULL,
     "maincf:rate-delay-concurrency:smtp", CK_WARN, NULL, NULL},
    {"smtp_destination_rate_delay = 1s\nsmtp_destination_recipient_limit = 1\n", NULL,
     "maincf:rate-delay-recipient:smtp", CK_INFO, NULL, NULL},
    {"slow_destination_rate_delay = 5s\nslow_destination_concurrency_limit = 3\n", STOCK_MASTER,
     "maincf:rate-delay-concurrency:slow", CK_WARN, NULL, NULL},
    /* smtp_extra_recipient_limit */
    {"smtp_extra_recipient_limit = 10\n", NULL, "maincf:extra-recipient-limit:smtp_extra_recipient_limit", CK_WARN,
     "smtp_extra_recipient_limit", NULL},
    {"smtp_extra_recipient_limit = 5000\n", NULL, "maincf:extra-recipient-limit:smtp_extra_recipient_limit", CK_INFO,
     NULL, NULL},
    /* names */
    {"maximum_backoff_time = 1h\n", NULL, "maincf:unknown:maximum_backoff_time", CK_WARN, "maximum_backoff_time",
     NULL},
    {"smtp-destination-concurrency-limit = 2\n", NULL, "maincf:unknown:smtp-destination-concurrency-limit", CK_WARN,
     NULL, NULL},
    {"smtpd_banner = $myhostname ESMTP\n", NULL, "maincf:unchecked", CK_INFO, NULL, NULL},
    {"yahoo.com_destination_concurrency_limit = 2\n", NULL, "maincf:transport:yahoo.com", CK_WARN, NULL, NULL},
    {"slow_destination_rate_delay = 5s\n", STOCK_MASTER, "maincf:transport:", -1, NULL, NULL},
    {"slow_destination_rate_delay = 5s\n", NULL, "maincf:transport:slow_destination_rate_delay", CK_INFO, NULL, NULL},
    {"fast_destination_rate_delay = 5s\n", STOCK_MASTER, "maincf:transport:fast_destination_rate_delay", CK_WARN,
     NULL, NULL},
    {"relay_destination_concurrency_limit = 5\n", NULL, "maincf:transport:", -1, NULL, NULL},
    /* per-transport settings that do not reach their transport */
    {"smtp_destination_rate_delay = 5s\n", STOCK_MASTER, "maincf:transport-override:slow_destination_rate_delay",
     CK_WARN, NULL, NULL},
    {"smtp_destination_rate_delay = 5s\nslow_destination_rate_delay = 5s\n", STOCK_MASTER,
     "maincf:transport-override", -1, NULL, NULL},
    {"smtp_destination_concurrency_limit = 20\n", STOCK_MASTER, "maincf:transport-override", -1, NULL, NULL},
    {"", "slow unix - - n - - smtp\n  -o smtp_destination_concurrency_limit=2\n",
     "maincf:master-o:slow:smtp_destination_concurrency_limit", CK_WARN, "slow_destination_concurrency_limit", "2"},
    {"", "slow unix - - n - - smtp\n  -o smtp_helo_timeout=5s\n", "maincf:master-o", -1, NULL, NULL},
    {"transport_maps = hash:/etc/postfix/transport\nsmtp_destination_concurrency_limit = 2\n", NULL,
     "maincf:transport-maps", CK_INFO, NULL, NULL},
    /* the file's form */
    {"queue_run_delay = 300s # every 5 minutes\n", NULL, "maincf:comment:queue_run_delay", CK_WARN, "queue_run_delay",
     "300s"},
    {"a = 1\na = 2\n", NULL, "maincf:duplicate:a:1", CK_WARN, NULL, NULL},
    {"slow unix - - n - - smtp\n", NULL, "maincf:syntax:1", CK_FAIL, NULL, NULL},
    {" orphan = 1\n", NULL, "maincf:syntax:1", CK_WARN, NULL, NULL},
};

/* test_lint - one case per rule */
static void test_lint(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(lint_cases); i++) {
        const struct lint_case *c = &lint_cases[i];
        maincf *m = parse_str(c->main, 0);
        mastercf *mc = c->master ? mastercf_parse(c->master, strlen(c->master), "master.cf") : NULL;
        maincf_lint *l = maincf_lint_run(m, mc);
        const maincf_finding *f = maincf_lint_find(l, c->id);
        int ok = c->status < 0 ? !f : f && (int)f->st == c->status;
        if (ok && f && c->fix_name)
            ok = f->nfix && !strcmp(f->fix_name[0], c->fix_name) &&
                 ((!c->fix_value && !f->fix_value[0]) ||
                  (c->fix_value && f->fix_value[0] && !strcmp(f->fix_value[0], c->fix_value)));
        if (!ok) {
            printf("  case %zu [%s]: want %s status %d", i, c->main, c->id, c->status);
            if (f)
                printf("; got %s status %d fix %s=%s", f->id, f->st, f->nfix ? f->fix_name[0] : "-",
                       f->nfix && f->fix_value[0] ? f->fix_value[0] : "-");
            printf("\n");
            for (int k = 0; k < l->n; k++)
                printf("    finding %s (%d)\n", l->f[k].id, l->f[k].st);
            mismatches++;
        }
        maincf_lint_free(l);
        mastercf_free(mc);
        maincf_free(m);
    }
    check_done();
}

/* test_lint_report - the findings as checks, with evidence and fixes as data */
static void test_lint_report(void **state)
{
    (void)state;
    maincf *m = parse_str("minimal_backoff_time = 30s\nsmtp_extra_recipient_limit = 10\n", 0);
    maincf_lint *l = maincf_lint_run(m, NULL);
    report *r = report_new("advise", "test");
    maincf_lint_report(l, m, NULL, r);
    json_t *j = report_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "warn");
    size_t i;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(j, "checks"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!strcmp(id, "maincf:backoff-aggressive")) {
            seen++;
            assert_string_equal(json_string_value(json_array_get(json_object_get(c, "evidence"), 0)),
                                "main.cf:1: minimal_backoff_time = 30s");
            json_t *fix = json_array_get(json_object_get(json_object_get(c, "data"), "fix"), 0);
            assert_string_equal(json_string_value(json_object_get(fix, "value")), "300s");
        }
    }
    assert_int_equal(seen, 1);
    json_decref(j);
    report_free(r);
    maincf_lint_free(l);
    maincf_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),   cmocka_unit_test(test_expand), cmocka_unit_test(test_times),
        cmocka_unit_test(test_similar), cmocka_unit_test(test_master), cmocka_unit_test(test_lint),
        cmocka_unit_test(test_lint_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
