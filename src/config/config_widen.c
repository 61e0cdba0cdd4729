/* config_widen.c - make libconfig read large integers as they are written.
 *
 * libconfig 1.5 (Debian 12) reads a decimal literal without an L suffix as a 32-bit int and
 * silently wraps anything larger: "message_size_limit = 5000000000;" would arrive as
 * 705032704.  Postfix admins write byte counts that size, so before libconfig sees the text
 * every integer literal (decimal or hex) outside strings and comments gets the L that makes
 * it a 64-bit integer - every one, not only the large ones, so that the elements of an
 * array keep one type ([1, 5000000000]).  Floats (1.5, 5e9, 1.0e+50) are left alone. */
#include "config/config.h"

#include <ctype.h>
#include <string.h>

#include "common/dbuf.h"

/* skip_string - past the closing quote of the string starting at s[i] == '"' */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\' && i + 1 < n)
            i++;
    return i < n ? i + 1 : n;
}

/* skip_comment - past the comment at s[i], or i when there is none */
static size_t skip_comment(const char *s, size_t i, size_t n)
{
    if (s[i] == '#' || (s[i] == '/' && i + 1 < n && s[i + 1] == '/')) {
        while (i < n && s[i] != '\n')
            i++;
        return i;
    }
    if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
        const char *end = strstr(s + i + 2, "*/");
        return end ? (size_t)(end - s) + 2 : n;
    }
    return i;
}

/* needs_l - the integer literal ending at s[b] has no suffix yet and is not part of a float
 * (1.5, 5e9) or of a name */
static int needs_l(const char *s, size_t b, size_t n)
{
    return !(b < n && (s[b] == '.' || s[b] == '_' || isalpha((unsigned char)s[b])));
}

/* in_exponent - the sign at s[i] belongs to a float's exponent ("1.0e+5") */
static int in_exponent(const char *s, size_t i)
{
    return i > 0 && (s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E');
}

/* literal_end - the end of the integer literal starting with the digit at s[i] (decimal, or
 * 0x and hex digits) */
static size_t literal_end(const char *s, size_t i, size_t n)
{
    int hex = s[i] == '0' && i + 2 < n && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
              isxdigit((unsigned char)s[i + 2]);
    if (hex)
        i += 2;
    while (i < n && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])))
        i++;
    return i;
}

int config_has_include(const char *s)
{
    size_t n = strlen(s), i = 0;
    int line = 1, bol = 1;   /* at a line's start, blanks aside */
    while (i < n) {
        size_t c = s[i] == '"' ? skip_string(s, i, n) : skip_comment(s, i, n);
        if (c != i) {   /* a string or comment: count the lines it spans */
            for (size_t k = i; k < c; k++)
                line += s[k] == '\n';
            bol = c > 0 && s[c - 1] == '\n';
            i = c;
            continue;
        }
        if (bol && !strncmp(s + i, "@include", 8))
            return line;
        if (s[i] == '\n') {
            line++;
            bol = 1;
        } else if (s[i] != ' ' && s[i] != '\t') {
            bol = 0;
        }
        i++;
    }
    return 0;
}

char *config_widen_ints(const char *s)
{
    size_t n = strlen(s);
    dbuf out = {0};
    size_t i = 0, copied = 0;
    while (i < n) {
        size_t c = s[i] == '"' ? skip_string(s, i, n) : skip_comment(s, i, n);
        if (c != i) {
            i = c;
            continue;
        }
        int inside_word = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' ||
                                    s[i - 1] == '.' || in_exponent(s, i - 1));
        if (!isdigit((unsigned char)s[i]) || inside_word) {   /* a sign before it stays */
            i++;
            continue;
        }
        i = literal_end(s, i, n);
        if (needs_l(s, i, n)) {
            dbuf_put(&out, s + copied, i - copied);
            dbuf_putc(&out, 'L');
            copied = i;
        }
    }
    dbuf_put(&out, s + copied, n - copied);
    return (char *)dbuf_steal(&out, NULL);
}
