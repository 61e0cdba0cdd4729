/* doctor_warmup.c - `sluice doctor warmup --target N [--start 50] [--factor 2] [--period 7d]
 * [--from YYYY-MM-DD] [--daily]`: the seed's prevention advice ("warm up new sending IPs
 * gradually: start at 50 emails/day, double weekly") as a schedule.  Period k (from 0) sends
 * round(start * factor^k) a day, capped at the target; the target is reached in the first
 * period whose volume meets it.  Dates are UTC days from today (the injectable clock) or
 * --from.  --daily lists every day instead of every period; --json gives the rows.  The
 * schedule itself is computed by warm_schedule, a pure function the unit test calls. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/units.h"
#include "common/xmalloc.h"
#include "doctor/doctor.h"
#include "doctor/report.h"

#define MAX_DAYS 3650 /* ten years: a schedule longer than that is a mistake */
#define MAX_TARGET 1000000000LL

typedef struct warm_args {
    long long target, start;
    double factor;
    int period_days;
    long long from_day; /* days since 1970-01-01 (UTC) */
    int daily;
} warm_args;

typedef struct warm_row {
    int period;          /* 1-based */
    long long first_day; /* offset from the start, in days */
    long long daily;     /* messages a day in this period */
} warm_row;

static const char *const usage_text =
    "usage: sluice doctor warmup --target N [--start 50] [--factor 2] [--period 7d]\n"
    "                            [--from YYYY-MM-DD] [--daily]\n";

/* usage - why, then the usage line; EX_USAGE */
static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "sluice doctor warmup: %s\n", why);
    fputs(usage_text, stderr);
    return EX_USAGE;
}

/* warm_volume - the daily volume of period k (0-based) */
static long long warm_volume(const warm_args *a, int k)
{
    double v = (double)a->start * pow(a->factor, k);
    return v >= (double)a->target ? a->target : llround(v);
}

/* warm_schedule - the periods up to and including the first at the target; their number,
 * or -1 when the schedule would run past MAX_DAYS */
static int warm_schedule(const warm_args *a, warm_row *rows, int max)
{
    for (int k = 0; k < max; k++) {
        if ((long long)k * a->period_days > MAX_DAYS)
            return -1;
        rows[k] = (warm_row){k + 1, (long long)k * a->period_days, warm_volume(a, k)};
        if (rows[k].daily >= a->target)
            return k + 1;
    }
    return -1;
}

/* parse_count - a whole number in [1, MAX_TARGET] */
static int parse_count(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > MAX_TARGET)
        return -1;
    *out = v;
    return 0;
}

/* format_day - days since the epoch as YYYY-MM-DD */
static char *format_day(long long day, char *buf, size_t len)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
    return buf;
}

/* parse_value - one option's value into a; NULL, or the usage error */
static const char *parse_value(warm_args *a, const char *opt, const char *v)
{
    int64_t ms;
    char *end;
    if (!strcmp(opt, "--target"))
        return parse_count(v, &a->target) < 0 ? "--target must be a whole number, 1 to 10^9" : NULL;
    if (!strcmp(opt, "--start"))
        return parse_count(v, &a->start) < 0 ? "--start must be a whole number, 1 to 10^9" : NULL;
    if (!strcmp(opt, "--factor")) {
        a->factor = strtod(v, &end);
        return end == v || *end || !isfinite(a->factor) || a->factor <= 1.0 || a->factor > 10.0
                   ? "--factor must be a number above 1 and at most 10"
                   : NULL;
    }
    if (!strcmp(opt, "--period")) {
        if (units_parse_time(v, 'd', &ms) < 0 || ms < 86400000 || ms % 86400000 ||
            ms > 365LL * 86400000)
            return "--period must be a whole number of days (7d, 2w, 1) from 1d to 365d";
        a->period_days = (int)(ms / 86400000);
        return NULL;
    }
    if (!strcmp(opt, "--from"))
        return units_parse_day(v, &a->from_day) < 0 ? "--from must be a date YYYY-MM-DD" : NULL;
    return "unknown option";
}

/* parse_args - options into a (defaults: start 50, factor 2, period 7d, from today) */
static const char *parse_args(int argc, char **argv, warm_args *a)
{
    *a = (warm_args){0, 50, 2.0, 7, clock_now() / 86400, 0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--daily")) {
            a->daily = 1;
            continue;
        }
        if (i + 1 >= argc)
            return argv[i][0] == '-' ? "an option needs a value" : "unexpected argument";
        const char *why = parse_value(a, argv[i], argv[i + 1]);
        if (why)
            return why;
        i++;
    }
    return a->target ? NULL : "--target is required";
}

/* table_periods - one line per period */
static void table_periods(report *r, const warm_args *a, const warm_row *rows, int n, json_t *jrows)
{
    char d1[16], d2[16], total[32];
    report_text(r, "%-7s %-10s  %-10s  %12s  %14s", "period", "from", "to", "per day",
                "per period");
    for (int i = 0; i < n; i++) {
        long long start = a->from_day + rows[i].first_day, end = start + a->period_days - 1;
        int last = i == n - 1;
        snprintf(total, sizeof total, "%lld", rows[i].daily * a->period_days);
        report_text(
            r, "%-7d %-10s  %-10s  %12lld  %14s", rows[i].period, format_day(start, d1, sizeof d1),
            last ? "onwards" : format_day(end, d2, sizeof d2), rows[i].daily, last ? "-" : total);
        json_array_append_new(
            jrows, json_pack("{s:i,s:s,s:s?,s:I,s:o?}", "period", rows[i].period, "from", d1, "to",
                             last ? NULL : d2, "daily", (json_int_t)rows[i].daily, "total",
                             last ? NULL : json_integer(rows[i].daily * a->period_days)));
    }
}

/* table_days - one line per day, up to the day the target is reached */
static void table_days(report *r, const warm_args *a, const warm_row *rows, int n, json_t *jrows)
{
    char d[16];
    report_text(r, "%-5s %-10s  %12s", "day", "date", "per day");
    for (int i = 0; i < n; i++) {
        int days = i == n - 1 ? 1 : a->period_days;
        for (int k = 0; k < days; k++) {
            long long day = rows[i].first_day + k;
            format_day(a->from_day + day, d, sizeof d);
            report_text(r, "%-5lld %-10s  %12lld", day + 1, d, rows[i].daily);
            json_array_append_new(
                jrows, json_pack("{s:I,s:s,s:i,s:I}", "day", (json_int_t)(day + 1), "date", d,
                                 "period", rows[i].period, "daily", (json_int_t)rows[i].daily));
        }
    }
}

/* check_pace - no faster than the seed's "double weekly" */
static void check_pace(report *r, const warm_args *a)
{
    double per_day = pow(a->factor, 1.0 / a->period_days), seed = pow(2.0, 1.0 / 7);
    char got[64];
    snprintf(got, sizeof got, "x%g every %d day(s) (x%.3f a day)", a->factor, a->period_days,
             per_day);
    if (per_day > seed * (1 + 1e-9))
        report_check(r, CK_WARN, "warmup-pace", "Warm-up pace", "at most x2 a week (x1.104 a day)",
                     got,
                     "faster than the seed's \"double weekly\": receivers throttle (421) or junk a "
                     "new IP whose volume jumps; slow down if deferrals appear");
    else
        report_check(r, CK_PASS, "warmup-pace", "Warm-up pace", "at most x2 a week (x1.104 a day)",
                     got, NULL);
}

/* build - the whole report */
static void build(report *r, const warm_args *a, const warm_row *rows, int n)
{
    char reached[16], first[16], want[64], got[128];
    long long day = rows[n - 1].first_day;
    format_day(a->from_day + day, reached, sizeof reached);
    format_day(a->from_day, first, sizeof first);
    snprintf(want, sizeof want, "%lld a day", a->target);
    snprintf(got, sizeof got, "on %s (day %lld, period %d)", reached, day + 1, rows[n - 1].period);
    report_checkf(r, CK_PASS, "warmup-target", "Target volume reached", want, got,
                  "starting at %lld a day on %s, x%g every %d day(s); keep watching deferrals and "
                  "complaints at each step",
                  a->start, first, a->factor, a->period_days);
    check_pace(r, a);
    report_section(r, a->daily ? "Schedule, day by day (UTC)" : "Schedule, period by period (UTC)");
    json_t *jrows = json_array();
    (a->daily ? table_days : table_periods)(r, a, rows, n, jrows);
    report_data(r, "warmup",
                json_pack("{s:I,s:I,s:f,s:i,s:s,s:s,s:I,s:o}", "target", (json_int_t)a->target,
                          "start", (json_int_t)a->start, "factor", a->factor, "period_days",
                          a->period_days, "from", first, "reached", reached, "days_to_target",
                          (json_int_t)day, "rows", jrows));
}

int doctor_warmup(const doctor_opts *o, int argc, char **argv)
{
    warm_args a;
    const char *why = parse_args(argc, argv, &a);
    if (why)
        return usage(why);
    warm_row *rows = xcalloc(MAX_DAYS + 1, sizeof *rows);
    int n = warm_schedule(&a, rows, MAX_DAYS + 1);
    if (n < 0) {
        free(rows);
        return usage("the schedule would take more than ten years: raise --start or --factor, or "
                     "shorten --period");
    }
    char subject[64];
    snprintf(subject, sizeof subject, "%lld/day", a.target);
    report *r = report_new("warmup", subject);
    build(r, &a, rows, n);
    report_print(r, stdout, o->json);
    int rc = report_exit_code(r);
    report_free(r);
    free(rows);
    return rc;
}
