/* smtp_reply.c - reply formatting: multi-line replies, enhanced status codes on every line,
 * control bytes neutralised.  Invariant: whatever the text, the output is a sequence of
 * complete "DDD-..." lines ended by exactly one "DDD ..." (or "DDD") line, all CRLF-ended. */
#include "smtp/smtp_reply.h"

#include <string.h>

/* count_digits - how many ASCII digits start at s[i] (before n) */
static size_t count_digits(const char *s, size_t n, size_t i)
{
    size_t d = 0;
    while (i + d < n && s[i + d] >= '0' && s[i + d] <= '9')
        d++;
    return d;
}

size_t smtp_enhanced_len(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2, d = count_digits(s, n, i);
    if (d == 0 || d > 3)
        return 0;
    i += d;
    if (i >= n || s[i] != '.')
        return 0;
    d = count_digits(s, n, ++i);
    if (d == 0 || d > 3)
        return 0;
    i += d;
    return i == n || s[i] == ' ' ? i : 0;
}

/* put_clean - append n bytes of text with control bytes turned into spaces */
static void put_clean(dbuf *out, const char *s, size_t n)
{
    dbuf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out->data[out->len++] = (ch < 0x20 || ch == 0x7f) ? ' ' : ch;
    }
}

/* put_enhanced - append an enhanced code with its class digit set to cls */
static void put_enhanced(dbuf *out, const char *enh, size_t n, char cls)
{
    dbuf_putc(out, (unsigned char)cls);
    dbuf_put(out, enh + 1, n - 1);
}

/* put_line - one reply line: code, separator, enhanced code (own or inherited), text */
static void put_line(dbuf *out, int code, char sep, const char *enh, size_t enhlen,
                     const char *line, size_t n)
{
    char cls = (char)('0' + code / 100 % 10);
    uint8_t head[4] = {(uint8_t)cls, (uint8_t)('0' + code / 10 % 10),
                       (uint8_t)('0' + code % 10), (uint8_t)sep};
    dbuf_put(out, head, 4);
    size_t own = smtp_enhanced_len(line, n);
    if (own) {
        put_enhanced(out, line, own, cls);
        put_clean(out, line + own, n - own);
    } else if (enhlen) {
        put_enhanced(out, enh, enhlen, cls);
        if (n)
            dbuf_putc(out, ' ');
        put_clean(out, line, n);
    } else {
        put_clean(out, line, n);
    }
    if (sep == ' ' && !own && !enhlen && n == 0)
        out->len--;   /* "250" rather than "250 " for an empty text */
    dbuf_put(out, "\r\n", 2);
}

void smtp_reply_put(dbuf *out, int code, const char *text, int add_default)
{
    static const char dflt[] = "2.0.0";
    size_t n = text ? strlen(text) : 0;
    if (n && text[n - 1] == '\n')
        n--;
    const char *nl = n ? memchr(text, '\n', n) : NULL;
    size_t first = nl ? (size_t)(nl - text) : n;
    const char *enh = text;
    size_t enhlen = n ? smtp_enhanced_len(text, first) : 0;
    int cls = code / 100 % 10;
    if (!enhlen && add_default && (cls == 2 || cls == 4 || cls == 5)) {
        enh = dflt;
        enhlen = sizeof dflt - 1;
    }
    size_t pos = 0;
    for (;;) {
        const char *line = text ? text + pos : "";
        const char *end = pos < n ? memchr(line, '\n', n - pos) : NULL;
        size_t len = end ? (size_t)(end - line) : n - pos;
        put_line(out, code, end ? '-' : ' ', enh, enhlen, line, len);
        if (!end)
            break;
        pos += len + 1;
    }
}
