/* fuzz_units.c - libFuzzer target for the Postfix-style value parsers of common/units.h:
 * times with units (every default unit), sizes, booleans and YYYY-MM-DD days (the dates of
 * ip_warmup_schedule and `doctor warmup --from`).  The input, up to its first NUL, is the
 * value.  Beyond "no crash", it checks: a time is >= 0 ms and units_format_ms prints it as
 * text that parses back to the same value (what `sluice config` shows must be what is set;
 * exactly below EXACT_MS); a size is >= 0; a boolean is -1, 0 or 1; a day is a real date of
 * 1970..9999 that prints back as the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Below 2^51 ms (some 71,000 years) seconds with three decimals read back through a double
 * exactly; above, the parse itself may be a millisecond off. */
#define EXACT_MS ((int64_t)1 << 51)

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_time - parse with default unit u; a parsed value formats back to itself */
static void check_time(const char *s, char u)
{
    int64_t ms = -1, back = -1;
    char buf[64];
    if (units_parse_time(s, u, &ms) < 0)
        return;
    check(ms >= 0);
    units_format_ms(ms, buf, sizeof buf);
    check(units_parse_time(buf, 's', &back) == 0);
    check(back == ms || ms >= EXACT_MS);
}

/* check_day - a parsed day is a date in range that prints as the input */
static void check_day(const char *s)
{
    long long day = -1;
    if (units_parse_day(s, &day) < 0)
        return;
    check(day >= 0 && day <= 2932896);   /* 9999-12-31 */
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    char buf[32];
    check(gmtime_r(&t, &tm) != NULL);
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    check(strcmp(buf, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    static const char units[] = "smhdw";
    for (int i = 0; units[i]; i++)
        check_time(s, units[i]);
    int64_t bytes = -1;
    if (units_parse_size(s, &bytes) == 0)
        check(bytes >= 0);
    int b = units_parse_bool(s);
    check(b >= -1 && b <= 1);
    check_day(s);
    free(s);
    return 0;
}
