/* logparse_misc.c - the smaller grammars: postgrey's decisions ("action=greylist,
 * reason=new, client_name=h, client_address=ip, sender=s, recipient=r" and "action=pass,
 * reason=triplet found, delay=2400, ..."), Mailman's delivery failures ("delivery to r
 * failed with code 451: 4.7.1 ..."), and a bare SMTP reply on a line of its own. */
#include <string.h>

#include "doctor/logparse_int.h"

enum lp_kind lp_body_postgrey(const char *s, size_t n, logrec *rec)
{
    const char *e = s + n, *v;
    size_t vn;
    if (n < 8 || memcmp(s, "action=", 7) != 0 || !lp_kv(s, e, "action", &v, &vn, ","))
        return LK_UNRECOGNISED;
    rec->fmt = LPF_POSTGREY;
    bool grey = vn == 8 && !memcmp(v, "greylist", 8), pass = vn == 4 && !memcmp(v, "pass", 4);
    if (!grey && !pass)
        return LK_OTHER;
    rec->status = grey ? LS_DEFERRED : LS_SENT;
    if (lp_kv(s, e, "recipient", &v, &vn, ","))
        lp_addr(rec, v, vn);
    if (lp_kv(s, e, "client_name", &v, &vn, ","))
        lp_copy(rec->relay, sizeof rec->relay, v, vn);
    if (lp_kv(s, e, "client_address", &v, &vn, ","))
        lp_copy(rec->relay_ip, sizeof rec->relay_ip, v, vn);
    if (lp_kv(s, e, "delay", &v, &vn, ","))
        rec->delay_s = lpt_duration(v, vn);
    lp_copy(rec->r.text, sizeof rec->r.text, s, n);
    return LK_INBOUND;
}

/* mailman - "(PID) delivery to r failed with code 451: ..." */
static enum lp_kind mailman(const char *s, const char *e, logrec *rec)
{
    const char *d = memmem(s, (size_t)(e - s), "delivery to ", 12);
    const char *f = d ? memmem(d, (size_t)(e - d), " failed with code ", 18) : NULL;
    if (!f)
        return LK_UNRECOGNISED;
    rec->fmt = LPF_MAILMAN;
    lp_addr(rec, d + 12, (size_t)(f - d - 12));
    lp_reply_parse(f + 1, (size_t)(e - f - 1), &rec->r);
    rec->status = rec->r.code >= 500 ? LS_BOUNCED : LS_DEFERRED;
    return LK_DELIVERY;
}

/* bare_reply - "421 4.7.0 ..." alone */
static enum lp_kind bare_reply(const char *s, const char *e, logrec *rec)
{
    if (e - s < 5 || s[0] < '2' || s[0] > '5')
        return LK_UNRECOGNISED;
    lp_reply r;
    lp_reply_parse(s, (size_t)(e - s), &r);
    if (r.fail != LF_REPLY || !r.code || r.text[0] != s[0])
        return LK_UNRECOGNISED;
    rec->fmt = LPF_REPLY;
    rec->r = r;
    return LK_HOSTREPLY;
}

/* reset - forget what a failed grammar wrote, keeping the prefix's fields */
static void reset(logrec *rec, const logrec *head)
{
    rec->fmt = head->fmt;
    rec->status = LS_NONE;
    rec->qid[0] = rec->rcpt[0] = rec->relay[0] = rec->relay_ip[0] = rec->conn[0] = 0;
    rec->nrcpt = 0;
    rec->delay_s = -1;
    rec->local = 0;
    memset(&rec->r, 0, sizeof rec->r);
    rec->r.stage = CS_ANY;
    rec->r.closed = -1;
    rec->has_time = head->has_time;
    rec->t_us = head->t_us;
}

/* The grammars tried, in order, on a body whose program does not say which it is. */
/* g_json - sluice, KumoMTA, journald JSON */
static enum lp_kind g_json(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    return n && (s[0] == '{' || s[0] == '"') ? lp_body_json(c, s, n, r) : LK_UNRECOGNISED;
}

/* g_opensmtpd - OpenSMTPD */
static enum lp_kind g_opensmtpd(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return lp_body_opensmtpd(s, n, r);
}

/* g_sendmail - Sendmail */
static enum lp_kind g_sendmail(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return lp_body_sendmail(s, n, r);
}

/* g_postfix - Postfix (and sluice text) */
static enum lp_kind g_postfix(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return lp_body_postfix(s, n, r);
}

/* g_postgrey - postgrey */
static enum lp_kind g_postgrey(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return lp_body_postgrey(s, n, r);
}

/* g_mailman - Mailman */
static enum lp_kind g_mailman(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return mailman(s, s + n, r);
}

/* g_reply - a bare reply */
static enum lp_kind g_reply(const lp_ctx *c, const char *s, size_t n, logrec *r)
{
    (void)c;
    return bare_reply(s, s + n, r);
}

typedef enum lp_kind (*grammar)(const lp_ctx *, const char *, size_t, logrec *);
static const grammar grammars[] = {g_json, lp_body_exim, g_opensmtpd, g_sendmail,
                                   g_postfix, g_postgrey, g_mailman, g_reply};

enum lp_kind lp_body_any(const lp_ctx *ctx, const char *s, size_t n, logrec *rec)
{
    logrec head;
    head.fmt = rec->fmt;
    head.has_time = rec->has_time;
    head.t_us = rec->t_us;
    for (size_t i = 0; i < sizeof grammars / sizeof grammars[0]; i++) {
        reset(rec, &head);
        enum lp_kind k = grammars[i](ctx, s, n, rec);
        if (k != LK_UNRECOGNISED)
            return k;
    }
    reset(rec, &head);
    return LK_UNRECOGNISED;
}
