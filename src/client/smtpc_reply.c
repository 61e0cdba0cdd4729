/* smtpc_reply.c - reading SMTP replies (RFC 5321 §4.2): smtp_reply_parse, the line walker
 * the EHLO capability parser uses, and small helpers for reply values.
 *
 * Called by: the client (smtpc_conn.c), the classifier and the doctor's probe, fuzz_smtp_reply.
 * A reply is one or more lines "NNN-text" ending with one "NNN text" (or a bare "NNN"), all
 * with the same code, the first digit 2..5.  Lines end with LF; a CR before it is dropped.
 * Rules (tolerant where servers are sloppy, strict where a mistake could mislead):
 *  - the enhanced status code (RFC 3463) is taken from the first line only when its class
 *    digit equals the reply's ("550 4.7.1 ..." has none); later lines lose a leading
 *    enhanced code of the same class, so repeated codes do not clutter the text;
 *  - the texts of the lines are trimmed and joined with single spaces; control bytes become
 *    spaces; at most max_text bytes are kept, cut on a UTF-8 boundary;
 *  - more than SMTP_REPLY_MAX_LINES lines, a line without a valid code, or a code that
 *    changes between lines is malformed (-1);
 *  - an incomplete reply returns 0, unless what is there already cannot be a reply.
 * Ownership: a successful parse gives r a malloc'd text (smtpc_reply_clear frees it). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/smtpc_int.h"
#include "common/xmalloc.h"
#include "smtp/smtp_reply.h"

#define SMTP_REPLY_MAX_LINES 1000
#define SMTP_REPLY_TEXT_DEFAULT 4096   /* max_text 0 */

/* head_ok - the first n (< 4) bytes of a line could begin a reply line */
static int head_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n && i < 3; i++)
        if (s[i] < '0' || s[i] > '9' || (i == 0 && (s[i] < '2' || s[i] > '5')))
            return 0;
    return n < 4 || s[3] == ' ' || s[3] == '-' || s[3] == '\r';
}

/* line_code - the code of a complete line of n bytes (CR already gone), and whether it is
 * the last line; -1 when it is not a reply line */
static int line_code(const char *s, size_t n, int *last)
{
    if (n < 3 || !head_ok(s, n < 4 ? n : 4) || (n > 3 && s[3] == '\r'))
        return -1;
    *last = n == 3 || s[3] == ' ';
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* line_len - the length of the line at s without its CR LF; *next: where the next begins;
 * -1 when there is no LF yet */
static long line_len(const char *s, size_t avail, size_t *next)
{
    const char *nl = memchr(s, '\n', avail);
    if (!nl)
        return -1;
    size_t n = (size_t)(nl - s);
    *next = n + 1;
    if (n && s[n - 1] == '\r')
        n--;
    return (long)n;
}

/* reply_end - the length of the complete reply at buf, 0 incomplete, -1 malformed */
static long reply_end(const char *buf, size_t len, int *code)
{
    size_t off = 0, next;
    for (int lines = 0; lines < SMTP_REPLY_MAX_LINES; lines++) {
        long n = line_len(buf + off, len - off, &next);
        if (n < 0) {
            size_t part = len - off;
            return head_ok(buf + off, part < 4 ? part : 4) ? 0 : -1;
        }
        int last, lc = line_code(buf + off, (size_t)n, &last);
        if (lc < 0 || (lines && lc != *code))
            return -1;
        *code = lc;
        off += next;
        if (last)
            return off > INT_MAX ? -1 : (long)off;
    }
    return -1;
}

/* text_put - append n bytes of line text to out (a space first when out has text), cap
 * bytes at most, control bytes as spaces; returns 0 when the cap was reached */
static int text_put(dbuf *out, const char *s, size_t n, size_t cap)
{
    if (out->len) {
        if (out->len + 1 >= cap)
            return 0;
        out->data[out->len++] = ' ';
    }
    for (size_t i = 0; i < n; i++) {
        if (out->len >= cap)
            return 0;
        unsigned char ch = (unsigned char)s[i];
        out->data[out->len++] = ch < 0x20 || ch == 0x7f ? ' ' : ch;
    }
    return out->len < cap;
}

/* blank - a byte that trimming drops: space, tab, any control byte */
static int blank(char ch)
{
    return (unsigned char)ch <= 0x20 || ch == 0x7f;
}

/* trim - drop blanks around s[0,*n) */
static const char *trim(const char *s, size_t *n)
{
    while (*n && blank(s[0])) {
        s++;
        (*n)--;
    }
    while (*n && blank(s[*n - 1]))
        (*n)--;
    return s;
}

/* utf8_cut - shorten a truncated text so it does not end inside a UTF-8 sequence */
static void utf8_cut(dbuf *out)
{
    size_t n = out->len, cont = 0;
    while (cont < 3 && cont < n && (out->data[n - 1 - cont] & 0xC0) == 0x80)
        cont++;
    if (cont == n)
        return;
    unsigned lead = out->data[n - 1 - cont];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (want > 1 && cont + 1 < want)
        out->len = n - 1 - cont;   /* drop the unfinished sequence */
}

/* strip_enh - the enhanced code at the start of a line's text, when of class cls */
static size_t strip_enh(const char *s, size_t n, char cls)
{
    size_t e = smtp_enhanced_len(s, n);
    return e && s[0] == cls ? e : 0;
}

/* line_text - a line's text without surrounding blanks and without a leading enhanced code
 * of the reply's class (the first line's goes into r->enh; later lines lose theirs only
 * when the first line had one) */
static const char *line_text(const char *t, size_t *n, int lineno, smtpc_reply *r)
{
    t = trim(t, n);
    size_t e = strip_enh(t, *n, (char)('0' + r->code / 100));
    if (!e || (lineno > 0 && !r->enh[0]) || e >= sizeof r->enh)
        return t;
    if (lineno == 0)
        memcpy(r->enh, t, e);
    *n -= e;
    return trim(t + e, n);
}

/* build_text - join the texts of the lines of a complete reply into r->text */
static void build_text(const char *buf, size_t len, smtpc_reply *r, size_t cap)
{
    dbuf out = {0};
    const char *t;
    size_t off = 0, n;
    int room = 1;
    if (cap > len)
        cap = len;   /* the text is never longer than the reply */
    dbuf_reserve(&out, cap + 1);
    for (int i = 0; room && smtpc_reply_line(buf, len, &off, &t, &n); i++) {
        t = line_text(t, &n, i, r);
        if (n)
            room = text_put(&out, t, n, cap);
    }
    if (!room)
        utf8_cut(&out);
    while (out.len && out.data[out.len - 1] == ' ')
        out.len--;   /* a cut may leave a word's trailing space */
    r->text = (char *)dbuf_steal(&out, NULL);
}

int smtp_reply_parse(const char *buf, size_t len, smtpc_reply *r, size_t max_text)
{
    int code = 0;
    memset(r, 0, sizeof *r);
    long end = reply_end(buf, len, &code);
    if (end <= 0)
        return (int)end;
    r->code = code;
    build_text(buf, (size_t)end, r, max_text ? max_text : SMTP_REPLY_TEXT_DEFAULT);
    return (int)end;
}

int smtpc_reply_line(const char *raw, size_t rawlen, size_t *off, const char **text,
                     size_t *len)
{
    size_t next;
    if (*off >= rawlen)
        return 0;
    long n = line_len(raw + *off, rawlen - *off, &next);
    if (n < 3)
        return 0;
    *text = raw + *off + (n > 3 ? 4 : 3);
    *len = n > 3 ? (size_t)n - 4 : 0;
    *off += next;
    return 1;
}

void smtpc_reply_clear(smtpc_reply *r)
{
    if (!r)
        return;
    free(r->text);
    memset(r, 0, sizeof *r);
}

void smtpc_reply_set(smtpc_reply *r, int code, const char *enh, enum smtpc_stage stage,
                     int closed, const char *fmt, ...)
{
    va_list ap;
    char text[SMTPC_TEXT_MAX];
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memset(r, 0, sizeof *r);
    r->code = code;
    snprintf(r->enh, sizeof r->enh, "%s", enh ? enh : "");
    r->text = xstrdup(text);
    r->stage = stage;
    r->closed = closed;
}

void smtpc_reply_copy(smtpc_reply *dst, const smtpc_reply *src)
{
    *dst = *src;
    dst->text = src->text ? xstrdup(src->text) : NULL;
}
