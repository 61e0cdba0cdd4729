/* logparse_exim.c - Exim's main log (and the same lines through syslog):
 *   DATE [+ZONE] [[PID]] ID <= sender ...                           arrival
 *   DATE ID => addr [<orig>] R=router T=transport H=host [ip] ... C="250 ..."   delivered
 *   DATE ID -> addr ... / >> addr ...                               delivered (same
 *                                                                   connection, cutthrough)
 *   DATE ID == addr R=r T=t defer (-44) H=host [ip]: SMTP error from remote mail server
 *                  after RCPT TO:<addr>: 451 4.7.1 ...              deferred
 *   DATE ID == addr R=r T=t defer (-53): retry time not reached     (not attempted)
 *   DATE ID ** addr R=r T=t H=host [ip]: SMTP error ...: 550 ...    bounced
 *   DATE ID H=host [ip] Connection timed out                        one host failed
 *   DATE ID Completed                                               done
 *   DATE H=host [ip] ... temporarily rejected RCPT <addr>: ...      this host refusing mail
 * Message ids: 6-6-2 characters before Exim 4.97, 6-11-4 since. */
#include <ctype.h>
#include <string.h>

#include "doctor/logparse_int.h"

/* part - n alphanumerics at p (exactly one of the allowed lengths a or b) */
static size_t part(const char *p, const char *e, size_t a, size_t b)
{
    size_t k = 0;
    while (p + k < e && isalnum((unsigned char)p[k]))
        k++;
    return k == a || k == b ? k : 0;
}

/* exim_id - the length of an Exim message id at p, or 0 */
static size_t exim_id(const char *p, const char *e)
{
    size_t a = part(p, e, 6, 6);
    if (!a || p + a >= e || p[a] != '-')
        return 0;
    size_t b = part(p + a + 1, e, 6, 11);
    if (!b || p + a + 1 + b >= e || p[a + 1 + b] != '-')
        return 0;
    size_t c = part(p + a + b + 2, e, 2, 4);
    const char *end = p + a + b + 2 + c;
    if (!c || (end < e && *end != ' '))
        return 0;
    return (size_t)(end - p);
}

/* host_spec - " H=host [ip]:port" anywhere in [s, e): relay, ip; the position after it */
static const char *host_spec(const char *s, const char *e, logrec *rec)
{
    const char *h = NULL;
    for (const char *q = s; q + 2 < e; q++)
        if (q[0] == 'H' && q[1] == '=' && (q == s || q[-1] == ' ')) {
            h = q + 2;
            break;
        }
    if (!h)
        return NULL;
    const char *x = h;
    while (x < e && *x != ' ' && *x != ':')
        x++;
    lp_copy(rec->relay, sizeof rec->relay, h, (size_t)(x - h));
    while (x < e && *x == ' ')
        x++;
    if (x < e && *x == '(') {   /* inbound: H=name (helo) [ip] */
        const char *rp = memchr(x, ')', (size_t)(e - x));
        x = rp ? rp + 1 : e;
        while (x < e && *x == ' ')
            x++;
    }
    if (x < e && *x == '[') {
        const char *rb = memchr(x, ']', (size_t)(e - x));
        if (rb) {
            lp_copy(rec->relay_ip, sizeof rec->relay_ip, x + 1, (size_t)(rb - x - 1));
            x = rb + 1;
            while (x < e && (*x == ':' || isdigit((unsigned char)*x)) && !(x[0] == ':' && x + 1 < e && x[1] == ' '))
                x++;
        }
    }
    return x;
}

/* address - the address token at s (when it is one) into rcpt; the position after it */
static const char *address(const char *s, const char *e, logrec *rec)
{
    if (e - s >= 2 && s[1] == '=' && (s[0] == 'R' || s[0] == 'T'))
        return s;
    if (e - s >= 8 && !memcmp(s, "routing ", 8))
        return s;
    const char *x = s;
    while (x < e && *x != ' ')
        x++;
    size_t n = (size_t)(x - s);
    if (n && s[n - 1] == ':')
        n--;
    lp_addr(rec, s, n);
    return x;
}

/* transport_local - T= names a transport that is not SMTP and no host was used */
static int transport_local(const char *s, const char *e, const logrec *rec)
{
    const char *v;
    size_t vn;
    if (rec->relay[0] || !lp_kv(s, e, "T", &v, &vn, " :"))
        return 0;
    return !lp_ci_find(v, vn, "smtp");
}

/* message - the text after the fields: after "]: " of H=, else after the first ": " */
static const char *message(const char *from, const char *e, const char *after_host)
{
    if (after_host && after_host + 1 < e && after_host[0] == ':' && after_host[1] == ' ')
        return after_host + 2;
    const char *m = memmem(from, (size_t)(e - from), ": ", 2);
    return m ? m + 2 : NULL;
}

/* deferred - "== addr ... defer (N)[: strerror][ H=h [ip]][: message]" */
static enum lp_kind deferred(const char *s, const char *e, logrec *rec)
{
    const char *x = address(s, e, rec);
    const char *d = memmem(x, (size_t)(e - x), "defer (", 7);
    if (!d)
        return LK_OTHER;
    const char *rp = memchr(d, ')', (size_t)(e - d));
    const char *rest = rp ? rp + 1 : e;
    const char *h = host_spec(rest, e, rec);
    const char *m = message(rest, e, h);
    if (m && m < e)
        lp_reply_parse(m, (size_t)(e - m), &rec->r);
    else
        lp_reply_parse(rest, (size_t)(e - rest), &rec->r);
    if (rec->r.fail == LF_RETRY_WAIT)
        rec->r.suspended = 1;
    rec->status = LS_DEFERRED;
    rec->local = transport_local(s, e, rec);
    return LK_DELIVERY;
}

/* failed - "** addr ...: message" */
static enum lp_kind failed(const char *s, const char *e, logrec *rec)
{
    const char *x = address(s, e, rec);
    const char *h = host_spec(x, e, rec);
    const char *m = message(s, e, h);
    if (m)
        lp_reply_parse(m, (size_t)(e - m), &rec->r);
    rec->status = lp_ci_find(x, (size_t)(e - x), "retry timeout exceeded") ? LS_EXPIRED : LS_BOUNCED;
    rec->local = transport_local(x, e, rec);
    return LK_DELIVERY;
}

/* delivered - "=> addr [<orig>] R= T= H=host [ip] ... C="250 ..."" */
static enum lp_kind delivered(const char *s, const char *e, logrec *rec)
{
    const char *x = address(s, e, rec);
    host_spec(x, e, rec);
    const char *c = memmem(x, (size_t)(e - x), " C=\"", 4);
    if (c) {
        const char *q = c + 4, *end = memchr(q, '"', (size_t)(e - q));
        lp_reply_parse(q, (size_t)((end ? end : e) - q), &rec->r);
    }
    rec->status = LS_SENT;
    rec->local = !rec->relay[0];
    return LK_DELIVERY;
}

/* host_line - "H=host [ip] ..." after an id (outbound), or an inbound rejection */
static enum lp_kind host_line(const char *s, const char *e, logrec *rec, bool has_id)
{
    const char *h = host_spec(s, e, rec);
    const char *rej = memmem(s, (size_t)(e - s), "rejected ", 9);
    if (rej) {
        const char *lt = memchr(rej, '<', (size_t)(e - rej)), *gt = lt ? memchr(lt, '>', (size_t)(e - lt)) : NULL;
        if (gt)
            lp_addr(rec, lt + 1, (size_t)(gt - lt - 1));
        const char *m = gt && gt + 2 < e && gt[1] == ':' ? gt + 3 : NULL;
        if (m)
            lp_reply_parse(m, (size_t)(e - m), &rec->r);
        rec->r.stage = memmem(rej, (size_t)(e - rej), "RCPT", 4) ? CS_RCPT : CS_ANY;
        rec->status = (rej - s >= 12 && !memcmp(rej - 12, "temporarily ", 12)) ? LS_DEFERRED : LS_BOUNCED;
        return LK_INBOUND;
    }
    if (!has_id || !h)
        return LK_OTHER;
    while (h < e && (*h == ':' || *h == ' '))
        h++;
    lp_reply_parse(h, (size_t)(e - h), &rec->r);
    return LK_HOSTREPLY;
}

/* rest - what follows the id */
static enum lp_kind rest(const char *s, const char *e, logrec *rec, bool has_id)
{
    size_t n = (size_t)(e - s);
    if (n >= 3 && s[2] == ' ') {
        if (!memcmp(s, "=> ", 3) || !memcmp(s, "-> ", 3) || !memcmp(s, ">> ", 3))
            return delivered(s + 3, e, rec);
        if (!memcmp(s, "== ", 3))
            return deferred(s + 3, e, rec);
        if (!memcmp(s, "** ", 3))
            return failed(s + 3, e, rec);
        if (!memcmp(s, "<= ", 3) || !memcmp(s, "(= ", 3) || !memcmp(s, "*> ", 3))
            return LK_OTHER;
    }
    if (n >= 9 && !memcmp(s, "Completed", 9))
        return LK_DONE;
    if (n > 2 && !memcmp(s, "H=", 2))
        return host_line(s, e, rec, has_id);
    if (has_id && lp_ci_find(s, n, "SMTP error from remote mail")) {
        host_spec(s, e, rec);
        lp_reply_parse(s, n, &rec->r);
        return LK_HOSTREPLY;
    }
    if (memmem(s, n, "defer (", 7) && (memmem(s, n, "T=", 2) || memmem(s, n, "R=", 2)))
        return deferred(s, e, rec);
    return has_id ? LK_OTHER : LK_UNRECOGNISED;
}

/* zone_token - Exim's log_timezone " +0100" after the time: to UTC */
static void zone_token(lcur *c, logrec *rec)
{
    if (lc_left(c) < 6 || (c->p[0] != '+' && c->p[0] != '-') || c->p[5] != ' ')
        return;
    for (int i = 1; i < 5; i++)
        if (!isdigit((unsigned char)c->p[i]))
            return;
    long h = (c->p[1] - '0') * 10 + (c->p[2] - '0'), m = (c->p[3] - '0') * 10 + (c->p[4] - '0');
    long off = (h * 3600 + m * 60) * (c->p[0] == '-' ? -1 : 1);
    rec->t_us -= (int64_t)off * 1000000;
    c->p += 6;
}

enum lp_kind lp_body_exim(const lp_ctx *ctx, const char *s, size_t n, logrec *rec)
{
    (void)ctx;
    rec->fmt = LPF_EXIM;
    lcur c = {s, s + n};
    int64_t t;
    if (lpt_iso(&c, &t)) {
        rec->has_time = 1;
        rec->t_us = t;
        lc_spaces(&c);
    }
    if (rec->has_time)
        zone_token(&c, rec);
    lcur save = c;
    long pid;
    if (lc_char(&c, '[') && lc_num(&c, 1, 10, &pid) && lc_char(&c, ']')) {
        rec->pid = pid;
        lc_spaces(&c);
    } else {
        c = save;
    }
    size_t idn = exim_id(c.p, c.e);
    if (idn) {
        lp_copy(rec->qid, sizeof rec->qid, c.p, idn);
        c.p += idn;
        lc_spaces(&c);
    }
    return rest(c.p, c.e, rec, idn > 0);
}
