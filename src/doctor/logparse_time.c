/* logparse_time.c - the time stamps that start mail log lines, to microseconds: ISO 8601
 * (rsyslog's RFC 3339 format, journald short-iso, Exim's "2024-12-25 15:43:28"), BSD
 * syslog ("Apr  1 08:45:22", with fractions from journald short-precise, with a year after
 * the day or before the month), journald short-full ("Thu 2024-04-25 22:17:59 CEST") and
 * short-unix ("1714076279.435045"); and the durations MTAs print (delay=).  A stamp
 * with a zone is converted to UTC; one without is taken as written.  Year-less stamps get
 * the context's year, or the one that puts them at most a day after its reference time. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "doctor/logparse_int.h"

static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

int64_t lpt_days(long y, long m, long d)
{
    /* days from 1970-01-01 of the proleptic Gregorian date, eras of 400 years */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

/* frac_us - ".123456" or ",123" after the seconds, as microseconds (0 when absent) */
static int64_t frac_us(lcur *c)
{
    if (lc_left(c) < 2 || (c->p[0] != '.' && c->p[0] != ',') || !isdigit((unsigned char)c->p[1]))
        return 0;
    c->p++;
    int64_t us = 0;
    int k = 0;
    while (c->p < c->e && isdigit((unsigned char)*c->p)) {
        if (k < 6) {
            us = us * 10 + (*c->p - '0');
            k++;
        }
        c->p++;
    }
    while (k++ < 6)
        us *= 10;
    return us;
}

/* hms - "HH:MM:SS" into seconds of the day */
static bool hms(lcur *c, long *secs)
{
    long h, m, s;
    if (!lc_num(c, 2, 2, &h) || !lc_char(c, ':') || !lc_num(c, 2, 2, &m) || !lc_char(c, ':') ||
        !lc_num(c, 2, 2, &s) || h > 23 || m > 59 || s > 60)
        return false;
    *secs = h * 3600 + m * 60 + s;
    return true;
}

/* zone - "Z", "+02:00", "+0200", "-05" as seconds east of UTC; 0 when absent */
static long zone(lcur *c)
{
    if (lc_char(c, 'Z'))
        return 0;
    char sign = lc_peek(c);
    if (sign != '+' && sign != '-')
        return 0;
    lcur save = *c;
    c->p++;
    long h, m = 0;
    if (!lc_num(c, 2, 2, &h)) {
        *c = save;
        return 0;
    }
    lc_char(c, ':');
    if (!lc_num(c, 2, 2, &m))
        m = 0;
    long off = h * 3600 + m * 60;
    return sign == '-' ? -off : off;
}

bool lpt_iso(lcur *c, int64_t *us)
{
    lcur s = *c;
    long y, mo, d, secs;
    if (!lc_num(&s, 4, 4, &y) || !lc_char(&s, '-') || !lc_num(&s, 2, 2, &mo) || !lc_char(&s, '-') ||
        !lc_num(&s, 2, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (!lc_char(&s, 'T') && !lc_char(&s, ' '))
        return false;
    if (!hms(&s, &secs))
        return false;
    int64_t f = frac_us(&s);
    long off = zone(&s);
    *us = ((lpt_days(y, mo, d) * 86400 + secs - off) * 1000000) + f;
    *c = s;
    return true;
}

/* month - a three-letter English month name (1..12), 0 when not one */
static int month(lcur *c)
{
    if (lc_left(c) < 4 || c->p[3] != ' ')
        return 0;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(c->p, months + 3 * i, 3) == 0) {
            c->p += 3;
            return i + 1;
        }
    return 0;
}

/* pick_year - the year for a year-less month/day */
static long pick_year(const lp_ctx *ctx, long mo, long d)
{
    if (ctx->year)
        return ctx->year;
    time_t ref = (time_t)ctx->ref_s;
    struct tm tm;
    gmtime_r(&ref, &tm);
    long y = tm.tm_year + 1900;
    if (lpt_days(y, mo, d) > ref / 86400 + 1)
        y--;
    return y;
}

/* bsd - "Apr  1 08:45:22[.frac]", "Apr 01 2024 08:45:22" */
static bool bsd(lcur *c, const lp_ctx *ctx, int64_t *us)
{
    lcur s = *c;
    long d, y = 0, secs;
    int mo = month(&s);
    if (!mo || !lc_spaces(&s) || !lc_num(&s, 1, 2, &d) || d < 1 || d > 31 || !lc_spaces(&s))
        return false;
    lcur t = s;
    if (lc_num(&t, 4, 4, &y) && lc_char(&t, ' '))
        s = t;
    else
        y = 0;
    if (!hms(&s, &secs))
        return false;
    int64_t f = frac_us(&s);
    if (!y)
        y = pick_year(ctx, mo, d);
    *us = (lpt_days(y, mo, d) * 86400 + secs) * 1000000 + f;
    *c = s;
    return true;
}

/* year_bsd - "2024 Apr  1 08:45:22" */
static bool year_bsd(lcur *c, const lp_ctx *ctx, int64_t *us)
{
    lcur s = *c;
    long y;
    if (!lc_num(&s, 4, 4, &y) || !lc_char(&s, ' '))
        return false;
    lp_ctx fixed = {ctx->ref_s, (int)y};
    if (!bsd(&s, &fixed, us))
        return false;
    *c = s;
    return true;
}

/* unix_stamp - "1714076279.435045" (journald short-unix) */
static bool unix_stamp(lcur *c, int64_t *us)
{
    lcur s = *c;
    long secs;
    if (!lc_num(&s, 9, 11, &secs) || lc_peek(&s) != '.')
        return false;
    int64_t f = frac_us(&s);
    if (lc_peek(&s) != ' ')
        return false;
    *us = (int64_t)secs * 1000000 + f;
    *c = s;
    return true;
}

/* weekday - skip "Thu " (journald short-full) */
static void weekday(lcur *c)
{
    static const char days[] = "montuewedthufrisatsun";
    if (lc_left(c) < 5 || c->p[3] != ' ')
        return;
    for (int i = 0; i < 7; i++)
        if (strncasecmp(c->p, days + 3 * i, 3) == 0) {
            c->p += 4;
            return;
        }
}

/* zone_name - skip " CEST" / " UTC" after a short-full stamp */
static void zone_name(lcur *c)
{
    lcur s = *c;
    if (!lc_char(&s, ' '))
        return;
    int k = 0;
    while (s.p + k < s.e && isupper((unsigned char)s.p[k]))
        k++;
    if (k >= 2 && k <= 5 && s.p + k < s.e && s.p[k] == ' ')
        c->p = s.p + k;
}

bool lpt_prefix(lcur *c, const lp_ctx *ctx, int64_t *us)
{
    lcur s = *c;
    weekday(&s);
    bool wd = s.p != c->p;
    if (lpt_iso(&s, us)) {
        if (wd)
            zone_name(&s);
    } else if (!bsd(&s, ctx, us) && !year_bsd(&s, ctx, us) && (wd || !unix_stamp(&s, us))) {
        return false;
    }
    *c = s;
    return true;
}

/* clock_dur - "00:10:31" or "1+02:03:04" (Sendmail) */
static double clock_dur(const char *s, size_t n)
{
    lcur c = {s, s + n};
    long d = 0, h, m, sec;
    lcur t = c;
    if (lc_num(&t, 1, 4, &d) && lc_char(&t, '+'))
        c = t;
    else
        d = 0;
    if (!lc_num(&c, 1, 3, &h) || !lc_char(&c, ':') || !lc_num(&c, 2, 2, &m) || !lc_char(&c, ':') ||
        !lc_num(&c, 2, 2, &sec) || c.p != c.e)
        return -1;
    return (double)(((d * 24 + h) * 60 + m) * 60 + sec);
}

/* unit_dur - "2h3m4s", "1d", "12s" (OpenSMTPD) or a plain number of seconds */
static double unit_dur(const char *s, size_t n)
{
    double total = 0;
    size_t i = 0;
    while (i < n) {
        char *end;
        char buf[32];
        size_t k = 0;
        while (i + k < n && k < sizeof buf - 1 && (isdigit((unsigned char)s[i + k]) || s[i + k] == '.'))
            k++;
        if (!k)
            return -1;
        memcpy(buf, s + i, k);
        buf[k] = 0;
        double v = strtod(buf, &end);
        i += k;
        char u = i < n ? s[i++] : 's';
        double mul = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : u == 'w' ? 604800 : -1;
        if (mul < 0)
            return -1;
        total += v * mul;
    }
    return total;
}

double lpt_duration(const char *s, size_t n)
{
    if (!n || n > 31)
        return -1;
    double v = memchr(s, ':', n) ? clock_dur(s, n) : unit_dur(s, n);
    return v >= 0 && v < 1e9 ? v : -1;
}
