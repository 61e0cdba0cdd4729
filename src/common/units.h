/* units.h - Postfix-style values: time with units (300s, 5m, 1h, 5d, 1w), sizes, booleans. */
#ifndef SLUICE_UNITS_H
#define SLUICE_UNITS_H
#include <stdint.h>

/* units_parse_time - "300s", "5m", "1.5h", "5d", "1w" or a bare number in default_unit
 * (one of s m h d w, as Postfix's per-parameter default unit) into milliseconds.
 * Fractions are accepted (a superset of Postfix).  0, or -1 on a malformed value. */
int units_parse_time(const char *s, char default_unit, int64_t *ms);
/* units_parse_size - bytes, with an optional k/m/g suffix (powers of 1024); 0 or -1 */
int units_parse_size(const char *s, int64_t *bytes);
/* units_parse_bool - yes/no/true/false/on/off/1/0 -> 1/0; -1 when none of those */
int units_parse_bool(const char *s);
/* units_parse_day - "YYYY-MM-DD" (a real date, 1970 to 9999) as days since the epoch, UTC;
 * 0, or -1 when it is not one */
int units_parse_day(const char *s, long long *out);
/* units_format_ms - "300s", "1.5s", "5m": the shortest exact form, into buf */
char *units_format_ms(int64_t ms, char *buf, int len);

#endif
