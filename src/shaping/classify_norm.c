/* classify_norm.c - input normalisation: what a reply says once the wrappers are off.
 *
 * Called by classify() on every reply.  Replies reach the classifier as servers send them
 * and as MTAs log them; this file turns each into (code, enhanced code, text, stage,
 * closed) with the text alone.  In order:
 *  1. the text is copied with control bytes as spaces, blank runs collapsed to one space,
 *     trimmed, and cut at CL_TEXT_MAX_BYTES;
 *  2. prefixes are peeled, repeatedly: "Diagnostic-Code:", a DSN type ("smtp;",
 *     "X-Postfix;"), Postfix's "host H said: " and "host H refused to talk to me: " (the
 *     latter means the greeting), Exim's "SMTP error from remote mail server after CMD: ",
 *     Sendmail's "stat=Deferred: ", log lines (Postfix's "reject: CMD from H: " and
 *     "status=deferred (...)" whose "dsn=" gives the enhanced code when nothing else does,
 *     OpenSMTPD's "stat=451 ..."), then a leading reply code ("421 " or "421-") and a
 *     leading enhanced code ("4.7.0 ");
 *  3. Postfix's "(in reply to CMD command)" suffix is cut (it names the stage when the
 *     caller did not), and closing parentheses nothing opened;
 *  4. flattened continuation lines: every "CODE-" or "CODE " token of the reply's own code
 *     inside the text, with the enhanced code after it, is dropped ("421-4.7.28 ..." texts);
 *  5. qmail's "(#4.3.0)" gives the enhanced code when nothing else did.
 * The caller's code and enhanced code win over what the text says; a code found in the text
 * is used only when the caller had none.  An enhanced code whose class digit contradicts
 * the reply code ("451 5.7.3 ...") is dropped.  A 421 whose closing is unknown counts as
 * closed (RFC 5321 §3.8).  Nothing here allocates. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shaping/classify_int.h"

typedef struct span {
    size_t b, e;              /* [b, e) of n->text */
    unsigned marks;           /* which wrapper markers the text holds at all (MARK_*) */
} span;

enum { MARK_SAID = 1, MARK_EXIM = 2, MARK_DEFERRED = 4, MARK_REJECT = 8, MARK_STAT = 16 };

/* copy_clean - the text with control bytes as spaces, one space per blank run, trimmed */
static size_t copy_clean(const char *s, char *out)
{
    size_t o = 0;
    int blank = 1;
    for (; *s && o < CL_TEXT_MAX_BYTES; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= ' ' || ch == 0x7f) {
            if (!blank)
                out[o++] = ' ';
            blank = 1;
        } else {
            out[o++] = (char)ch;
            blank = 0;
        }
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
    return o;
}

/* cl_enh_parse - "4.7.28" at s (n bytes, exactly) into parts; 0, or -1 when not one */
int cl_enh_parse(const char *s, size_t n, int part[3])
{
    size_t i = 0;
    for (int p = 0; p < 3; p++) {
        size_t d = 0;
        int v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && d < 4) {
            v = v * 10 + (s[i++] - '0');
            d++;
        }
        if (d == 0 || d > (p ? 3u : 1u) || (p < 2 && (i >= n || s[i++] != '.')))
            return -1;
        part[p] = v;
    }
    if (i != n || (part[0] != 2 && part[0] != 4 && part[0] != 5))
        return -1;
    return 0;
}

/* enh_at - the length of an enhanced code at t[i] ended by a blank or end (limit e), or 0 */
static size_t enh_at(const char *t, size_t i, size_t e, int part[3])
{
    size_t k = i;
    while (k < e && (isdigit((unsigned char)t[k]) || t[k] == '.'))
        k++;
    if (k < e && t[k] != ' ')
        return 0;
    return k > i && cl_enh_parse(t + i, k - i, part) == 0 ? k - i : 0;
}

/* set_enh - adopt an enhanced code unless one is known */
static void set_enh(cl_norm *n, const int part[3])
{
    if (n->ecls)
        return;
    n->ecls = part[0];
    n->esubj = part[1];
    n->edet = part[2];
}

/* code_at - the reply code at t[i] when followed by ' ', '-' or the end (limit e), or 0 */
static int code_at(const char *t, size_t i, size_t e)
{
    if (e - i < 3 || t[i] < '2' || t[i] > '5' || !isdigit((unsigned char)t[i + 1]) ||
        !isdigit((unsigned char)t[i + 2]))
        return 0;
    if (e - i > 3 && t[i + 3] != ' ' && t[i + 3] != '-')
        return 0;
    return (t[i] - '0') * 100 + (t[i + 1] - '0') * 10 + (t[i + 2] - '0');
}

/* find_ci - the offset of needle (lowercase) in t[b, e) ignoring ASCII case, or
 * (size_t)-1; the first byte is compared cheaply first ('|0x20' folds letters and keeps
 * the blanks, digits and punctuation the needles use) */
static size_t find_ci(const char *t, size_t b, size_t e, const char *needle)
{
    size_t m = strlen(needle);
    char c0 = needle[0];
    for (size_t i = b; i + m <= e; i++)
        if ((t[i] | 0x20) == c0 && strncasecmp(t + i, needle, m) == 0)
            return i;
    return (size_t)-1;
}

/* starts_ci - whether t[b, e) starts with p ignoring case; moves b past it when so */
static int starts_ci(const char *t, size_t *b, size_t e, const char *p)
{
    size_t m = strlen(p);
    if (e - *b < m || strncasecmp(t + *b, p, m) != 0)
        return 0;
    *b += m;
    return 1;
}

/* skip_blank - move b past spaces */
static void skip_blank(const char *t, size_t *b, size_t e)
{
    while (*b < e && t[*b] == ' ')
        (*b)++;
}

/* stage_of - the stage a Postfix/Exim command phrase names, or CS_ANY */
static int stage_of(const char *t, size_t b, size_t e)
{
    static const struct { const char *p; int st; } tab[] = {
        {"rcpt", CS_RCPT}, {"mail", CS_MAIL}, {"end of data", CS_BODY},
        {"end of message", CS_BODY}, {"data", CS_DATA}, {"ehlo", CS_EHLO}, {"helo", CS_EHLO},
        {"lhlo", CS_EHLO}, {"starttls", CS_STARTTLS}, {"quit", CS_QUIT},
        {"initial connection", CS_GREETING}, {"message body", CS_BODY},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        size_t m = strlen(tab[i].p);
        if (e - b >= m && strncasecmp(t + b, tab[i].p, m) == 0)
            return tab[i].st;
    }
    return CS_ANY;
}

/* peel_host_said - Postfix's "host H said: " / "host H refused to talk to me: " */
static int peel_host_said(cl_norm *n, span *s)
{
    static const char *const marks[] = {" said: ", " refused to talk to me: "};
    if (!(s->marks & MARK_SAID))
        return 0;
    for (int m = 0; m < 2; m++) {
        size_t at = find_ci(n->text, s->b, s->e, marks[m]);
        if (at == (size_t)-1)
            continue;
        size_t h = at;                       /* back over the host token */
        while (h > s->b && n->text[h - 1] != ' ')
            h--;
        if (h < s->b + 5 || strncasecmp(n->text + h - 5, "host ", 5) != 0 || h == at)
            continue;
        s->b = at + strlen(marks[m]);
        if (m == 1 && n->stage == CS_ANY)
            n->stage = CS_GREETING;
        return 1;
    }
    return 0;
}

/* peel_exim - "SMTP error from remote mail server after CMD: " (also "...mailer after") */
static int peel_exim(cl_norm *n, span *s)
{
    if (!(s->marks & MARK_EXIM))
        return 0;
    size_t at = find_ci(n->text, s->b, s->e, "smtp error from remote ");
    if (at == (size_t)-1)
        return 0;
    size_t after = find_ci(n->text, at, s->e, " after ");
    if (after == (size_t)-1)
        return 0;
    for (size_t i = after + 7; i + 2 < s->e; i++) {
        if (n->text[i] == ':' && n->text[i + 1] == ' ' && code_at(n->text, i + 2, s->e)) {
            if (n->stage == CS_ANY)
                n->stage = stage_of(n->text, after + 7, i);
            s->b = i + 2;
            return 1;
        }
    }
    return 0;
}

/* peel_sendmail - "stat=Deferred: " (and a bare leading "Deferred: ") before a code */
static int peel_sendmail(cl_norm *n, span *s)
{
    if (!(s->marks & MARK_DEFERRED))
        return 0;
    size_t at = find_ci(n->text, s->b, s->e, "stat=deferred: ");
    size_t b = at == (size_t)-1 ? s->b : at + 15;
    if (at == (size_t)-1 && !starts_ci(n->text, &b, s->e, "deferred: "))
        return 0;
    if (!code_at(n->text, b, s->e))
        return 0;
    s->b = b;
    return 1;
}

/* peel_smtpd_reject - Postfix's receiving side: "reject: CMD from H[ip]: " (NOQUEUE and
 * milter-reject lines), with the "; from=<...> to=<...> proto=..." tail cut */
static int peel_smtpd_reject(cl_norm *n, span *s)
{
    if (!(s->marks & MARK_REJECT))
        return 0;
    size_t at = find_ci(n->text, s->b, s->e, "reject: ");
    if (at == (size_t)-1)
        return 0;
    size_t from = find_ci(n->text, at + 8, s->e, " from ");
    size_t colon = from == (size_t)-1 ? from : find_ci(n->text, from + 6, s->e, ": ");
    if (colon == (size_t)-1 || find_ci(n->text, at + 8, from, " ") != (size_t)-1)
        return 0;
    if (n->stage == CS_ANY)
        n->stage = stage_of(n->text, at + 8, from);
    size_t tail = find_ci(n->text, colon, s->e, "; from=<");
    if (tail != (size_t)-1)
        s->e = tail;
    s->b = colon + 2;
    return 1;
}

/* peel_status - a Postfix delivery line: the text inside "status=deferred (...)", and the
 * "dsn=4.4.2" before it as the enhanced code when the text gives none */
static int peel_status(cl_norm *n, span *s)
{
    if (!(s->marks & MARK_STAT))
        return 0;
    size_t at = find_ci(n->text, s->b, s->e, "status=");
    if (at == (size_t)-1)
        return 0;
    size_t open = find_ci(n->text, at, s->e, " (");
    if (open == (size_t)-1 || find_ci(n->text, at, open, " ") != (size_t)-1)
        return 0;
    size_t dsn = find_ci(n->text, s->b, at, "dsn=");
    if (dsn != (size_t)-1) {
        size_t k = dsn + 4;
        while (k < at && n->text[k] != ',' && n->text[k] != ' ')
            k++;
        int part[3];
        if (cl_enh_parse(n->text + dsn + 4, k - dsn - 4, part) == 0)
            n->dsn_cls = part[0], n->dsn_subj = part[1], n->dsn_det = part[2];
    }
    s->b = open + 2;
    return 1;
}

/* peel_stat_code - OpenSMTPD's "stat=451 Temporary failure" */
static int peel_stat_code(cl_norm *n, span *s)
{
    if (!(s->marks & MARK_STAT))
        return 0;
    size_t at = find_ci(n->text, s->b, s->e, "stat=");
    if (at == (size_t)-1 || !code_at(n->text, at + 5, s->e))
        return 0;
    s->b = at + 5;
    return 1;
}

/* peel_dsn - "Diagnostic-Code:" and a DSN type: "smtp;", "X-Postfix;", "X-Unix;" ... */
static int peel_dsn(cl_norm *n, span *s)
{
    size_t b = s->b;
    if (starts_ci(n->text, &s->b, s->e, "diagnostic-code:"))
        return 1;
    if (starts_ci(n->text, &s->b, s->e, "smtp;"))
        return 1;
    if (!starts_ci(n->text, &b, s->e, "x-"))
        return 0;
    while (b < s->e && b - s->b < 24 && (isalnum((unsigned char)n->text[b]) || n->text[b] == '-'))
        b++;
    if (b >= s->e || n->text[b] != ';')
        return 0;
    s->b = b + 1;
    return 1;
}

/* peel_codes - a leading reply code (the caller's, or any when it had none) and a leading
 * enhanced code */
static int peel_codes(cl_norm *n, span *s)
{
    int code = code_at(n->text, s->b, s->e), part[3], done = 0;
    if (code && (!n->code || code == n->code)) {
        n->code = code;
        s->b += s->e - s->b > 3 ? 4 : 3;
        done = 1;
    }
    size_t m = enh_at(n->text, s->b, s->e, part);
    if (m) {
        if (!n->code || part[0] == n->code / 100)
            set_enh(n, part);
        s->b += m;
        done = 1;
    }
    return done;
}

/* find_marks - which wrapper markers occur at all (the peelers skip the others) */
static unsigned find_marks(const cl_norm *n, const span *s)
{
    static const struct { const char *needle; unsigned mark; } tab[] = {
        {" said: ", MARK_SAID}, {" refused to talk to me: ", MARK_SAID},
        {"smtp error from remote ", MARK_EXIM}, {"deferred: ", MARK_DEFERRED},
        {"reject: ", MARK_REJECT}, {"stat", MARK_STAT},
    };
    unsigned m = 0;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!(m & tab[i].mark) && find_ci(n->text, s->b, s->e, tab[i].needle) != (size_t)-1)
            m |= tab[i].mark;
    return m;
}

/* peel - take the prefixes off, as long as one comes off */
static void peel(cl_norm *n, span *s)
{
    s->marks = find_marks(n, s);
    for (int round = 0; round < 8; round++) {
        skip_blank(n->text, &s->b, s->e);
        if (!peel_dsn(n, s) && !peel_host_said(n, s) && !peel_exim(n, s) &&
            !peel_sendmail(n, s) && !peel_smtpd_reject(n, s) && !peel_status(n, s) &&
            !peel_stat_code(n, s) && !peel_codes(n, s))
            return;
    }
}

/* cut_in_reply_to - Postfix's "(in reply to CMD command)" suffix */
static void cut_in_reply_to(cl_norm *n, span *s)
{
    size_t at = (size_t)-1;
    for (size_t i = s->b; (i = find_ci(n->text, i, s->e, "(in reply to ")) != (size_t)-1; i++)
        at = i;
    if (at == (size_t)-1 || find_ci(n->text, at, s->e, " command)") == (size_t)-1)
        return;
    if (n->stage == CS_ANY)
        n->stage = stage_of(n->text, at + 13, s->e);
    s->e = at;
}

/* drop_stray_parens - closing parentheses at the end that nothing opened (what is left of
 * a log line's "status=deferred (...)" around a reply) */
static void drop_stray_parens(cl_norm *n, span *s)
{
    int depth = 0;
    for (size_t i = s->b; i < s->e; i++)
        depth += n->text[i] == '(' ? 1 : n->text[i] == ')' ? -1 : 0;
    while (s->e > s->b && n->text[s->e - 1] == ' ')
        s->e--;
    while (depth < 0 && s->e > s->b && n->text[s->e - 1] == ')') {
        s->e--;
        depth++;
        while (s->e > s->b && n->text[s->e - 1] == ' ')
            s->e--;
    }
}

/* drop_continuations - remove " CODE-" / " CODE " tokens (with their enhanced code) of the
 * reply's own code: the line starts of a flattened multi-line reply */
static void drop_continuations(cl_norm *n, span *s)
{
    if (!n->code)
        return;
    char *t = n->text;
    size_t w = s->b, i = s->b;
    while (i < s->e) {
        int at_word = i == s->b || t[i - 1] == ' ';
        if (at_word && code_at(t, i, s->e) == n->code) {
            size_t k = i + (s->e - i > 3 ? 4 : 3), m;
            int part[3];
            if ((m = enh_at(t, k, s->e, part)) != 0 && part[0] == n->code / 100) {
                set_enh(n, part);
                k += m;
            }
            while (k < s->e && t[k] == ' ')
                k++;
            i = k;
            continue;
        }
        t[w++] = t[i++];
    }
    while (w > s->b && t[w - 1] == ' ')
        w--;
    s->e = w;
}

/* qmail_enh - qmail's "(#4.3.0)" when no enhanced code is known */
static void qmail_enh(cl_norm *n, const span *s)
{
    if (n->ecls)
        return;
    for (size_t i = s->b; (i = find_ci(n->text, i, s->e, "(#")) != (size_t)-1; i++) {
        size_t k = i + 2;
        while (k < s->e && (isdigit((unsigned char)n->text[k]) || n->text[k] == '.'))
            k++;
        int part[3];
        if (k < s->e && n->text[k] == ')' && cl_enh_parse(n->text + i + 2, k - i - 2, part) == 0) {
            set_enh(n, part);
            return;
        }
    }
}

/* given_enh - the caller's enhanced code, when valid and of the code's class */
static void given_enh(cl_norm *n, const char *enh)
{
    int part[3];
    if (enh && *enh && cl_enh_parse(enh, strlen(enh), part) == 0 &&
        (!n->code || part[0] == n->code / 100))
        set_enh(n, part);
}

/* finish - move the span to the start, fix the enhanced code string and closing */
static void finish(cl_norm *n, span *s)
{
    skip_blank(n->text, &s->b, s->e);
    n->len = s->e - s->b;
    memmove(n->text, n->text + s->b, n->len);
    n->text[n->len] = 0;
    if (n->ecls && n->code && n->ecls != n->code / 100)
        n->ecls = 0;
    n->enh[0] = 0;
    if (n->ecls)
        snprintf(n->enh, sizeof n->enh, "%d.%d.%d", n->ecls, n->esubj % 1000, n->edet % 1000);
    if (n->closed < 0 && n->code == 421)
        n->closed = 1;
}

/* cl_normalize - the reply as classify() sees it */
void cl_normalize(const classify_input *in, cl_norm *n)
{
    n->code = in->code >= 200 && in->code <= 599 ? in->code : 0;
    n->ecls = n->esubj = n->edet = n->dsn_cls = n->dsn_subj = n->dsn_det = 0;
    n->stage = in->stage >= CS_CONNECT && in->stage <= CS_QUIT ? in->stage : CS_ANY;
    n->closed = in->closed < 0 ? -1 : in->closed > 0;
    given_enh(n, in->enh);
    span s = {0, copy_clean(in->text ? in->text : "", n->text), 0};
    peel(n, &s);
    cut_in_reply_to(n, &s);
    drop_stray_parens(n, &s);
    drop_continuations(n, &s);
    qmail_enh(n, &s);
    if (!n->ecls && n->dsn_cls && !n->code)
        set_enh(n, (int[3]){n->dsn_cls, n->dsn_subj, n->dsn_det});
    finish(n, &s);
}
