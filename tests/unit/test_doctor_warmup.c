/* test_doctor_warmup.c - `sluice doctor warmup` without a terminal: the schedule (the
 * seed's 50/day doubled weekly, other factors and periods, rounding, the cap at the
 * target, the ten-year limit), argument validation (table), UTC date arithmetic across
 * month, leap-day and year ends, and the whole command's JSON rows on a fake clock.
 * Includes doctor_warmup.c to reach its static functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "doctor/doctor_warmup.c"

static void test_seed_schedule(void **state)
{
    (void)state;
    warm_args a = {3000, 50, 2.0, 7, 0, 0};
    warm_row rows[64];
    int n = warm_schedule(&a, rows, 64);
    static const long long want[] = {50, 100, 200, 400, 800, 1600, 3000};
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rows[i].daily, want[i]);
        assert_int_equal(rows[i].period, i + 1);
        assert_int_equal(rows[i].first_day, i * 7);
    }
}

static const struct sched_case {
    long long target, start;
    double factor;
    int period;
    int n; /* rows, -1: too long */
    long long last_daily, second_daily;
    long long last_day;
} scheds[] = {
    {50, 50, 2.0, 7, 1, 50, -1, 0},
    {10, 50, 2.0, 7, 1, 10, -1, 0},
    {100, 50, 2.0, 7, 2, 100, 100, 7},
    {101, 50, 2.0, 7, 3, 101, 100, 14},
    {1000, 50, 1.5, 1, 9, 1000, 75, 8},
    {1000, 50, 3.0, 3, 4, 1000, 150, 9},
    {1000000000, 1, 1.01, 7, -1, 0, 0, 0},
    {1000000000, 1, 2.0, 365, -1, 0, 0, 0},
    {1000000000, 1, 10.0, 365, 10, 1000000000, 10, 3285},
    {1000000000, 1, 10.0, 30, 10, 1000000000, 10, 270},
};

static void test_schedules(void **state)
{
    (void)state;
    warm_row *rows = xcalloc(MAX_DAYS + 1, sizeof *rows);
    for (size_t i = 0; i < sizeof scheds / sizeof scheds[0]; i++) {
        const struct sched_case *c = &scheds[i];
        warm_args a = {c->target, c->start, c->factor, c->period, 0, 0};
        int n = warm_schedule(&a, rows, MAX_DAYS + 1);
        if (n != c->n)
            fail_msg("case %zu: %d rows, want %d", i, n, c->n);
        if (n < 0)
            continue;
        if (rows[n - 1].daily != c->last_daily || rows[n - 1].first_day != c->last_day ||
            (n > 1 && rows[1].daily != c->second_daily))
            fail_msg("case %zu: last %lld on day %lld, second %lld", i, rows[n - 1].daily,
                     rows[n - 1].first_day, n > 1 ? rows[1].daily : -1);
    }
    free(rows);
}

static const struct arg_case {
    const char *args[8];
    const char *err; /* NULL: accepted */
} arg_cases[] = {
    {{"--target", "3000"}, NULL},
    {{"--target", "3000", "--start", "10", "--factor", "1.5", "--period", "2w"}, NULL},
    {{"--target", "3000", "--period", "3", "--from", "2024-02-29", "--daily"}, NULL},
    {{NULL}, "--target is required"},
    {{"--start", "10"}, "--target is required"},
    {{"--target", "0"}, "--target"},
    {{"--target", "-5"}, "--target"},
    {{"--target", "12x"}, "--target"},
    {{"--target", "2000000000"}, "--target"},
    {{"--target", "100", "--start", "0"}, "--start"},
    {{"--target", "100", "--factor", "1"}, "--factor"},
    {{"--target", "100", "--factor", "0.5"}, "--factor"},
    {{"--target", "100", "--factor", "nan"}, "--factor"},
    {{"--target", "100", "--factor", "11"}, "--factor"},
    {{"--target", "100", "--period", "12h"}, "--period"},
    {{"--target", "100", "--period", "0"}, "--period"},
    {{"--target", "100", "--period", "1.5d"}, "--period"},
    {{"--target", "100", "--period", "400d"}, "--period"},
    {{"--target", "100", "--from", "2023-02-29"}, "--from"},
    {{"--target", "100", "--from", "2024-13-01"}, "--from"},
    {{"--target", "100", "--from", "24-01-01"}, "--from"},
    {{"--target", "100", "--from", "1969-12-31"}, "--from"},
    {{"--target", "100", "--bogus", "1"}, "unknown option"},
    {{"--target"}, "needs a value"},
    {{"--target", "100", "extra"}, "unexpected argument"},
};

static void test_args(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof arg_cases / sizeof arg_cases[0]; i++) {
        const struct arg_case *c = &arg_cases[i];
        char *argv[8];
        int argc = 0;
        while (argc < 8 && c->args[argc]) {
            argv[argc] = (char *)c->args[argc];
            argc++;
        }
        warm_args a;
        const char *why = parse_args(argc, argv, &a);
        if (c->err ? !why || !strstr(why, c->err) : why != NULL)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, why ? why : "(ok)",
                     c->err ? c->err : "(ok)");
    }
}

static void test_dates(void **state)
{
    (void)state;
    long long d;
    char buf[16];
    assert_int_equal(units_parse_day("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(units_parse_day("2024-02-28", &d), 0);
    assert_string_equal(format_day(d + 1, buf, sizeof buf), "2024-02-29");
    assert_string_equal(format_day(d + 2, buf, sizeof buf), "2024-03-01");
    assert_int_equal(units_parse_day("2026-12-30", &d), 0);
    assert_string_equal(format_day(d + 7, buf, sizeof buf), "2027-01-06");
    assert_int_equal(units_parse_day("2026-02-29", &d), -1);
    assert_int_equal(units_parse_day("2026-04-31", &d), -1);
    assert_int_equal(units_parse_day("2026-4-1", &d), -1);
    assert_int_equal(units_parse_day("2026-04-01x", &d), -1);
}

static void test_command_json(void **state)
{
    (void)state;
    clock_set_fake(1764288000LL * 1000000); /* 2025-11-28 00:00:00 UTC */
    char path[] = "/tmp/test_doctor_warmup.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    doctor_opts o = {.json = 1, .timeout_ms = 1000};
    char *argv[] = {"--target", "400"};
    int rc = doctor_warmup(&o, 2, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    unlink(path);
    close(fd);
    assert_non_null(j);
    json_t *w = json_object_get(json_object_get(j, "data"), "warmup");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), "sluice-doctor/1");
    assert_string_equal(json_string_value(json_object_get(w, "from")), "2025-11-28");
    assert_string_equal(json_string_value(json_object_get(w, "reached")), "2025-12-19");
    json_t *rows = json_object_get(w, "rows");
    assert_int_equal(json_array_size(rows), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 3), "daily")), 400);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "total")), 350);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_schedule), cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_args),          cmocka_unit_test(test_dates),
        cmocka_unit_test(test_command_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
