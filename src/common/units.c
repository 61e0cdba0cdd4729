/* units.c - parsing of the value syntaxes shared by the config file and -o overrides. */
#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* unit_ms - milliseconds in one unit; 0 when the letter is not a unit */
static int64_t unit_ms(char u)
{
    switch (u) {
    case 's': return 1000;
    case 'm': return 60 * 1000;
    case 'h': return 3600 * 1000;
    case 'd': return 86400 * 1000LL;
    case 'w': return 7 * 86400 * 1000LL;
    default: return 0;
    }
}

int units_parse_time(const char *s, char default_unit, int64_t *ms)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    char u = default_unit;
    if (*end) {
        if (end[1] != 0)
            return -1;
        u = (char)tolower((unsigned char)*end);
    }
    int64_t per = unit_ms(u);
    if (!per || v * (double)per > 9.2e15)
        return -1;
    *ms = (int64_t)llround(v * (double)per);
    return 0;
}

int units_parse_size(const char *s, int64_t *bytes)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned long long mult = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k': mult = 1024ULL; break;
        case 'm': mult = 1024ULL * 1024; break;
        case 'g': mult = 1024ULL * 1024 * 1024; break;
        default: return -1;
        }
        if (end[1] && !(tolower((unsigned char)end[1]) == 'b' && end[2] == 0))
            return -1;
    }
    if (v > (unsigned long long)INT64_MAX / mult)
        return -1;
    *bytes = (int64_t)(v * mult);
    return 0;
}

int units_parse_bool(const char *s)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

char *units_format_ms(int64_t ms, char *buf, int len)
{
    static const char letters[] = "wdhms";
    for (int i = 0; letters[i]; i++) {
        int64_t per = unit_ms(letters[i]);
        if (ms && ms % per == 0) {
            snprintf(buf, (size_t)len, "%lld%c", (long long)(ms / per), letters[i]);
            return buf;
        }
    }
    /* seconds with the milliseconds as decimals, trailing zeros dropped: exact (a "%g" form
     * showed 1.234s as 1.23s and 1234567.5s as 1.23e+06s) */
    uint64_t a = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
    int n = snprintf(buf, (size_t)len, "%s%llu.%03llu", ms < 0 ? "-" : "", (unsigned long long)(a / 1000),
                     (unsigned long long)(a % 1000));
    while (n > 0 && n < len && buf[n - 1] == '0')
        n--;
    if (n > 0 && n < len && buf[n - 1] == '.')
        n--;
    if (n >= 0 && n < len)
        snprintf(buf + n, (size_t)(len - n), "s");
    return buf;
}

int units_parse_day(const char *s, long long *out)
{
    int y, m, d, n = 0;
    for (int i = 0; i < 10; i++)   /* exactly DDDD-DD-DD: no signs or spaces for sscanf to take */
        if (!s[i] || (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i])))
            return -1;
    if (s[10] || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != m - 1)
        return -1;
    *out = (long long)(t / 86400);
    return 0;
}
