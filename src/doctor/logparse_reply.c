/* logparse_reply.c - the status text of a delivery (or a queue's delay reason) into an SMTP
 * reply (code, enhanced code, stage) or a failure without one (timeout, refused, lost, DNS,
 * TLS, local); and the names of formats, kinds, statuses and categories.  Used by every
 * body parser and by the queue listing parsers. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "doctor/logparse_int.h"

/* Reply-less failures by wording, first match wins (case-insensitive). */
static const struct {
    const char *words;
    enum lp_fail fail;
} fail_words[] = {
    {"retry time not reached", LF_RETRY_WAIT},
    {"timed out while receiving the initial server greeting", LF_GREETING_TIMEOUT},
    {"timeout after initial connection", LF_GREETING_TIMEOUT},
    {"timed out while", LF_TIMEOUT},
    {"SMTP timeout", LF_TIMEOUT},
    {"Connection timed out", LF_CONNECT_TIMEOUT},
    {"Connection timeout", LF_CONNECT_TIMEOUT},
    {"Operation timed out", LF_CONNECT_TIMEOUT},
    {"Connection refused", LF_REFUSED},
    {"No route to host", LF_UNREACHABLE},
    {"Network is unreachable", LF_UNREACHABLE},
    {"Host is unreachable", LF_UNREACHABLE},
    {"Network error on destination", LF_UNREACHABLE},
    {"lost connection", LF_LOST},
    {"closed connection", LF_LOST},
    {"Connection reset", LF_LOST},
    {"connection closed", LF_LOST},
    {"Name service error", LF_DNS},
    {"Host or domain name not found", LF_DNS},
    {"host map: lookup", LF_DNS},
    {"Host not found", LF_DNS},
    {"Unrouteable address", LF_DNS},
    {"MX records point to", LF_DNS},
    {"all relevant MX", LF_DNS},
    {"DNS", LF_DNS},
    {"TLS", LF_TLS},
    {"SSL", LF_TLS},
    {"user lookup error", LF_LOCAL},
    {"failed to expand", LF_LOCAL},
    {"Permission denied", LF_LOCAL},
    {"loops back to myself", LF_LOCAL},
    {"No such file or directory", LF_LOCAL},
    {"mail transport unavailable", LF_LOCAL},
    {"Insufficient system", LF_LOCAL},
};

/* Stages by the words that name the command (Postfix "in reply to X", "while sending X",
 * Exim "after X"), first match wins. */
static const struct {
    const char *words;
    int stage;
} stage_words[] = {
    {"initial server greeting", CS_GREETING}, {"initial connection", CS_GREETING},
    {"initial greeting", CS_GREETING},        {"end of DATA", CS_BODY},
    {"end of data", CS_BODY},                 {"message body", CS_BODY},
    {"data block", CS_BODY},                  {"RCPT TO", CS_RCPT},
    {"MAIL FROM", CS_MAIL},                   {"STARTTLS", CS_STARTTLS},
    {"EHLO", CS_EHLO},                        {"HELO", CS_EHLO},
    {"LHLO", CS_EHLO},                        {"DATA", CS_DATA},
    {"QUIT", CS_QUIT},
};

/* stage_of - the stage named in [s, s+n), CS_ANY when none */
static int stage_of(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof stage_words / sizeof stage_words[0]; i++)
        if (memmem(s, n, stage_words[i].words, strlen(stage_words[i].words)))
            return stage_words[i].stage;
    return CS_ANY;
}

size_t lp_enh_len(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2, k = 0;
    while (i < n && k < 3 && isdigit((unsigned char)s[i]))
        i++, k++;
    if (!k || i >= n || s[i] != '.')
        return 0;
    i++;
    k = 0;
    while (i < n && k < 3 && isdigit((unsigned char)s[i]))
        i++, k++;
    if (!k || (i < n && s[i] != ' ' && s[i] != ';' && s[i] != ',' && s[i] != ')'))
        return 0;
    return i;
}

/* code_at - a reply code "421 ", "421-", "421" (end) or "451:" at s; the code or 0 */
static int code_at(const char *s, size_t n)
{
    if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' || !isdigit((unsigned char)s[2]))
        return 0;
    if (n > 3 && s[3] != ' ' && s[3] != '-' && s[3] != ':')
        return 0;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* after - the position after the first occurrence of w in [s, e), or NULL */
static const char *after(const char *s, const char *e, const char *w)
{
    const char *q = memmem(s, (size_t)(e - s), w, strlen(w));
    return q ? q + strlen(w) : NULL;
}

/* exim_after - Exim's "SMTP error from remote mail server after X: [host H [ip]: ]REPLY" */
static const char *exim_after(const char *s, const char *e, lp_reply *r)
{
    const char *a = after(s, e, "SMTP error from remote mail server after ");
    if (!a)
        a = after(s, e, "SMTP error from remote mailer after ");
    if (!a)
        return NULL;
    const char *colon = a;
    while (colon < e && !(colon[0] == ':' && colon + 1 < e && colon[1] == ' ' &&
                          (colon == a || colon[-1] != ':')))
        colon++;
    if (colon >= e)
        return NULL;
    r->stage = stage_of(a, (size_t)(colon - a));
    const char *b = colon + 2, *h = after(b, e, "]: ");
    if (e - b >= 5 && !memcmp(b, "host ", 5) && h)
        b = h;
    return b;
}

/* reply_start - where the reply text starts in [s, e) (sets the stage where the words give
 * it); NULL when the text holds no reply */
static const char *reply_start(const char *s, const char *e, lp_reply *r)
{
    const char *b;
    if ((b = after(s, e, "refused to talk to me: "))) {
        r->stage = CS_GREETING;
        return b;
    }
    if ((b = after(s, e, "refused to start TLS: "))) {
        r->stage = CS_STARTTLS;
        return b;
    }
    if ((b = after(s, e, " said: ")))
        return b;
    if ((b = exim_after(s, e, r)))
        return b;
    if ((b = after(s, e, "failed with code ")))
        return b;
    return s;
}

/* set_reply - code and enhanced code at b; false when there is neither */
static bool set_reply(const char *b, const char *e, lp_reply *r)
{
    size_t n = (size_t)(e - b), k;
    r->code = code_at(b, n);
    const char *x = r->code ? b + 3 : b;
    while (r->code && x < e && (*x == ' ' || *x == '-' || *x == ':'))
        x++;
    if ((k = lp_enh_len(x, (size_t)(e - x))))
        lp_copy(r->enh, sizeof r->enh, x, k);
    if (!r->code && !r->enh[0])
        return false;
    if (r->enh[0] && r->code && r->enh[0] != b[0])
        r->enh[0] = 0;   /* "250 ... 4.7.0" is no enhanced code of this reply */
    r->fail = LF_REPLY;
    return true;
}

/* tail_stage - "(in reply to X command)" at the end: strip it, take its stage */
static const char *tail_stage(const char *b, const char *e, lp_reply *r)
{
    const char *q = NULL;
    for (const char *t = b; (t = memmem(t, (size_t)(e - t), "(in reply to ", 13)); t++)
        q = t;
    if (!q)
        return e;
    int st = stage_of(q, (size_t)(e - q));
    if (st != CS_ANY)
        r->stage = st;
    while (q > b && q[-1] == ' ')
        q--;
    return q;
}

/* unescape_exim - Exim writes a multi-line reply's newlines as "\n": make them blanks */
static void unescape_exim(char *t)
{
    char *q = t;
    while ((q = strstr(q, "\\n"))) {
        memmove(q, q + 1, strlen(q + 1) + 1);
        *q = ' ';
    }
}

/* fail_kind - a reply-less text's failure kind and stage */
static void fail_kind(const char *s, const char *e, lp_reply *r)
{
    size_t n = (size_t)(e - s);
    r->fail = LF_OTHER;
    for (size_t i = 0; i < sizeof fail_words / sizeof fail_words[0]; i++)
        if (lp_ci_find(s, n, fail_words[i].words)) {
            r->fail = fail_words[i].fail;
            break;
        }
    const char *w = after(s, e, " while ");
    if (!w)
        w = after(s, e, " in response to ");
    if (w)
        r->stage = stage_of(w, (size_t)(e - w));
    if (r->fail == LF_GREETING_TIMEOUT)
        r->stage = CS_GREETING;
    else if (r->fail == LF_CONNECT_TIMEOUT || r->fail == LF_REFUSED || r->fail == LF_UNREACHABLE)
        r->stage = CS_CONNECT;
    lp_copy(r->text, sizeof r->text, s, n);
}

void lp_reply_parse(const char *s, size_t n, lp_reply *r)
{
    memset(r, 0, sizeof *r);
    r->stage = CS_ANY;
    r->closed = -1;
    const char *e = s + n, *b;
    while (s < e && (*s == ' ' || *s == '(' || *s == '"'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '"' || e[-1] == '\r'))
        e--;
    if ((b = after(s, e, "delivery temporarily suspended: ")) && b - s < 40) {
        r->suspended = 1;
        s = b;
    }
    if (e - s >= 10 && !memcmp(s, "Deferred: ", 10))
        s += 10;
    b = reply_start(s, e, r);
    if (set_reply(b, e, r)) {
        const char *end = tail_stage(b, e, r);
        if (r->code && e - b > 3 && b[3] == ':') {   /* "451: 4.7.1 ..." (Mailman): as the server said it */
            const char *x = b + 3;
            while (x < end && (*x == ':' || *x == ' '))
                x++;
            char buf[LP_TEXT_MAX];
            snprintf(buf, sizeof buf, "%d %.*s", r->code, (int)(end - x), x);
            lp_copy(r->text, sizeof r->text, buf, strlen(buf));
            return;
        }
        lp_copy(r->text, sizeof r->text, b, (size_t)(end - b));
        unescape_exim(r->text);
        if (r->stage == CS_GREETING && r->code == 421)
            r->closed = 1;
        return;
    }
    fail_kind(s, e, r);
}

int lp_fail_cat(enum lp_fail f)
{
    switch (f) {
    case LF_CONNECT_TIMEOUT: return LC_CONNECT_TIMEOUT;
    case LF_REFUSED: return LC_REFUSED;
    case LF_UNREACHABLE: return LC_UNREACHABLE;
    case LF_GREETING_TIMEOUT: return LC_GREETING_TIMEOUT;
    case LF_TIMEOUT: return LC_TIMEOUT;
    case LF_LOST: return LC_LOST;
    case LF_DNS: return LC_DNS;
    case LF_TLS: return LC_TLS;
    case LF_LOCAL: return LC_LOCAL;
    default: return RC_OTHER;
    }
}

static const char *const cat_names[LC_NCATS - RC_NCLASSES] = {
    "connect_timeout", "connection_refused", "unreachable", "greeting_timeout",
    "timeout", "lost_connection", "dns", "tls", "local"};

const char *lp_cat_name(int cat)
{
    if (cat >= 0 && cat < RC_NCLASSES)
        return reply_class_name((enum reply_class)cat);
    if (cat >= RC_NCLASSES && cat < LC_NCATS)
        return cat_names[cat - RC_NCLASSES];
    return "?";
}

int lp_cat_parse(const char *name)
{
    for (int i = 0; i < LC_NCATS; i++)
        if (!strcmp(lp_cat_name(i), name))
            return i;
    return -1;
}

const char *lp_format_name(enum lp_format f)
{
    static const char *const n[LPF_NFORMATS] = {"unknown", "postfix", "sluice", "exim", "sendmail",
                                                "opensmtpd", "kumomta", "postgrey", "mailman", "reply"};
    return (unsigned)f < LPF_NFORMATS ? n[f] : "?";
}

const char *lp_kind_name(enum lp_kind k)
{
    static const char *const n[] = {"unrecognised", "ignored", "other", "delivery", "hostreply",
                                    "inbound", "done"};
    return (unsigned)k <= LK_DONE ? n[k] : "?";
}

const char *lp_status_name(enum lp_status s)
{
    static const char *const n[LS_NSTATUS] = {"none", "sent", "deferred", "bounced", "expired"};
    return (unsigned)s < LS_NSTATUS ? n[s] : "?";
}

const char *lp_fail_name(enum lp_fail f)
{
    static const char *const n[LF_NFAILS] = {"none", "reply", "connect_timeout", "connection_refused",
                                             "unreachable", "greeting_timeout", "timeout",
                                             "lost_connection", "dns", "tls", "local", "retry_wait",
                                             "other"};
    return (unsigned)f < LF_NFAILS ? n[f] : "?";
}
