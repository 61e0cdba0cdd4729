/* queueparse_exim.c - `exim -bp` (and `mailq` on Exim hosts):
 *    25m  2.9K 1rZt2Y-00000000Bls-0hzG <sender@example.com>
 *             D delivered@example.org
 *               rcpt@example.org
 *   (blank line)
 *    4d  1.1K 1mIxbt-0001eM-09 <> *** frozen ***
 * The age is minutes up to 90, then hours up to 72, then days; the size has K/M/G
 * suffixes.  "D" marks delivered recipients (skipped), "+D" addresses delivered as a
 * result of others.  No delay reasons: those are in the message logs (exim -Mvl). */
#include <ctype.h>
#include <string.h>

#include "doctor/queueparse_int.h"

/* exim_id - an Exim message id (6-6-2 or 6-11-4) of exactly n characters */
static int exim_id(const char *s, size_t n)
{
    size_t a = 0, b, c;
    while (a < n && isalnum((unsigned char)s[a]))
        a++;
    if (a != 6 || a >= n || s[a] != '-')
        return 0;
    for (b = a + 1; b < n && isalnum((unsigned char)s[b]); b++)
        ;
    if ((b - a - 1 != 6 && b - a - 1 != 11) || b >= n || s[b] != '-')
        return 0;
    for (c = b + 1; c < n && isalnum((unsigned char)s[c]); c++)
        ;
    return c == n && (c - b - 1 == 2 || c - b - 1 == 4);
}

/* Fields of a message line. */
typedef struct exim_head {
    int64_t age, size;
    const char *id, *rest;
    size_t idn, restn;
} exim_head;

/* token - the next blank-separated token of [*s, e) */
static size_t token(const char **s, const char *e, const char **t)
{
    while (*s < e && **s == ' ')
        (*s)++;
    *t = *s;
    while (*s < e && **s != ' ')
        (*s)++;
    return (size_t)(*s - *t);
}

/* number - the digits at [t, t + k) with an optional fraction: its value and length */
static size_t number(const char *t, size_t k, double *v)
{
    size_t i = 0;
    double x = 0, scale = 0;
    for (; i < k && (isdigit((unsigned char)t[i]) || (t[i] == '.' && !scale)); i++) {
        if (t[i] == '.')
            scale = 1;
        else if (scale)
            x += (t[i] - '0') / (scale *= 10);
        else
            x = x * 10 + (t[i] - '0');
    }
    *v = x;
    return i;
}

/* head - "AGE SIZE ID rest" */
static int head(const char *s, size_t n, exim_head *h)
{
    static const char units[] = "smhdw";
    static const int64_t secs[] = {1, 60, 3600, 86400, 604800};
    const char *e = s + n, *t;
    double v;
    size_t k = token(&s, e, &t);
    const char *u = k >= 2 && k <= 6 && t[k - 1] ? memchr(units, t[k - 1], 5) : NULL;
    if (!u || number(t, k - 1, &v) != k - 1 || memchr(t, '.', k))
        return 0;
    h->age = (int64_t)v * secs[u - units];
    k = token(&s, e, &t);
    size_t d = k && k <= 10 ? number(t, k, &v) : 0;
    if (!d || d + 1 < k)
        return 0;
    char suf = d < k ? t[d] : 0;
    if (suf && suf != 'K' && suf != 'M' && suf != 'G')
        return 0;
    h->size = (int64_t)(v * (suf == 'K' ? 1024 : suf == 'M' ? 1048576 : suf == 'G' ? 1073741824 : 1));
    h->idn = token(&s, e, &h->id);
    if (!exim_id(h->id, h->idn))
        return 0;
    h->rest = s;
    h->restn = (size_t)(e - s);
    return 1;
}

int qp_sniff_exim(const char *s, size_t n)
{
    exim_head h;
    return head(s, n, &h);
}

/* message - the line that starts a message */
static int message(qparser *p, const char *s, size_t n)
{
    exim_head h;
    if (!head(s, n, &h))
        return 0;
    qp_begin(p, h.id, h.idn);
    p->m.age_s = h.age;
    p->m.arrival = p->now - h.age;
    p->m.size = h.size;
    const char *r = h.rest, *lt = memchr(r, '<', h.restn), *gt = lt ? memchr(lt, '>', (size_t)(r + h.restn - lt)) : NULL;
    if (gt)
        qp_set_sender(p, lt, (size_t)(gt - lt + 1));
    p->m.frozen = memmem(r, h.restn, "*** frozen ***", 14) != NULL;
    p->m.state = p->m.frozen ? QS_HOLD : QS_UNKNOWN;
    return 1;
}

enum qp_line_kind qp_exim_line(qparser *p, const char *s, size_t n)
{
    const char *t = s;
    size_t tn = n;
    qp_trim(&t, &tn);
    if (!tn) {
        qp_flush(p);
        return QL_OK;
    }
    if (message(p, s, n))
        return QL_OK;
    if (!p->open)
        return QL_UNRECOGNISED;
    if (tn >= 3 && !memcmp(t, "***", 3))
        return QL_OK;   /* spool format / read error */
    if ((tn > 2 && t[0] == 'D' && t[1] == ' ') || (tn > 3 && !memcmp(t, "+D ", 3)))
        return QL_OK;   /* delivered */
    if (memchr(t, ' ', tn))
        return QL_UNRECOGNISED;
    qp_add_rcpt(p, t, tn);
    return QL_OK;
}
