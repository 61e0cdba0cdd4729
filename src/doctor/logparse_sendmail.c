/* logparse_sendmail.c - Sendmail's delivery lines (programs sendmail, sm-mta,
 * sm-msp-queue):
 *   QID: to=<r>[,<r2>...], [ctladdr=<a> (uid/gid),] delay=HH:MM:SS, xdelay=HH:MM:SS,
 *        mailer=esmtp, pri=N, relay=host. [ip], dsn=4.0.0, stat=Deferred: 421 4.3.2 ...
 *   QID: to=..., stat=Sent (...)            delivered
 *   QID: to=..., dsn=5.1.1, stat=User unknown   bounced
 *   QID: from=<s>, size=N, ...              arrival (other)
 * One line may name several recipients of one transaction. */
#include <string.h>
#include <strings.h>

#include "doctor/logparse_int.h"

/* stat_status - the outcome from stat= and dsn= */
static enum lp_status stat_status(const char *v, size_t n, const logrec *rec, const char *dsn, size_t dn)
{
    if (n >= 4 && !strncmp(v, "Sent", 4))
        return LS_SENT;
    if (n >= 8 && !strncmp(v, "Deferred", 8))
        return LS_DEFERRED;
    if (n >= 6 && !strncasecmp(v, "queued", 6))
        return LS_NONE;
    if ((dn && dsn[0] == '5') || rec->r.code >= 500)
        return LS_BOUNCED;
    if ((dn && dsn[0] == '4') || (rec->r.code >= 400 && rec->r.code < 500))
        return LS_DEFERRED;
    if (dn && dsn[0] == '2')
        return LS_SENT;
    return LS_BOUNCED;
}

/* to_line - the fields of a "to=" line */
static enum lp_kind to_line(const char *s, const char *e, logrec *rec)
{
    const char *st = NULL, *v, *dsn = NULL;
    size_t vn, dn = 0;
    for (const char *q = s; q + 5 < e; q++)
        if (!memcmp(q, "stat=", 5) && (q == s || q[-1] == ' ')) {
            st = q + 5;
            break;
        }
    if (!st || (!memmem(s, (size_t)(st - s), "mailer=", 7) && !memmem(s, (size_t)(st - s), "delay=", 6)))
        return LK_UNRECOGNISED;
    if (lp_kv(s, st, "to", &v, &vn, ","))
        lp_addr(rec, v, vn);
    if (lp_kv(s, st, "relay", &v, &vn, ","))
        lp_relay(rec, v, vn);
    if (lp_kv(s, st, "delay", &v, &vn, ","))
        rec->delay_s = lpt_duration(v, vn);
    lp_kv(s, st, "dsn", &dsn, &dn, ",");
    if (lp_kv(s, st, "mailer", &v, &vn, ","))
        rec->local = (vn == 5 && !memcmp(v, "local", 5)) || (vn == 4 && !memcmp(v, "prog", 4)) ||
                     (vn == 6 && !memcmp(v, "*file*", 6));
    lp_reply_parse(st, (size_t)(e - st), &rec->r);
    if (dsn && rec->r.fail != LF_NONE)
        lp_dsn_fallback(&rec->r, dsn, dn);
    rec->status = stat_status(st, (size_t)(e - st), rec, dsn, dn);
    return rec->status == LS_NONE ? LK_OTHER : LK_DELIVERY;
}

enum lp_kind lp_body_sendmail(const char *s, size_t n, logrec *rec)
{
    rec->fmt = LPF_SENDMAIL;
    const char *e = s + n, *colon = memchr(s, ':', n < 42 ? n : 42);
    if (!colon || colon + 1 >= e || colon[1] != ' ' || !lc_qid_like(s, (size_t)(colon - s)))
        return LK_UNRECOGNISED;
    lp_copy(rec->qid, sizeof rec->qid, s, (size_t)(colon - s));
    const char *b = colon + 2;
    if (e - b > 3 && !memcmp(b, "to=", 3))
        return to_line(b, e, rec);
    return LK_UNRECOGNISED;
}
