/* logparse_opensmtpd.c - OpenSMTPD (program smtpd) lines:
 *   SESSION mta delivery evpid=EVP from=<s> to=<r> rcpt=<-> source="ip" relay="ip (host)"
 *           delay=2s result="Ok|TempFail|PermFail|Loop" stat="250 2.0.0 ..."   (6.x and later)
 *   SESSION smtp failed-command command="RCPT TO:<r>" result="451 4.7.1 ..."   (inbound)
 *   relay: TempFail for EVP: from=<s>, to=<r>, relay=ip (host), delay=12s, stat=451 ...
 *   delivery: Ok for EVP: ...                                                  (before 5.4)
 * The envelope id is the queue id (one per recipient); the session id names the
 * connection. */
#include <ctype.h>
#include <string.h>

#include "doctor/logparse_int.h"

/* quoted - the value of key="..." (or key=token) in [s, e) */
static bool quoted(const char *s, const char *e, const char *key, const char **v, size_t *vn)
{
    size_t kn = strlen(key);
    for (const char *q = s; q + kn + 1 < e; q++) {
        if ((q != s && q[-1] != ' ') || memcmp(q, key, kn) != 0 || q[kn] != '=')
            continue;
        const char *b = q + kn + 1;
        if (b < e && *b == '"') {
            b++;
            const char *end = b;
            while (end < e && !(*end == '"' && (end + 1 == e || end[1] == ' ')))
                end++;
            *v = b;
            *vn = (size_t)(end - b);
        } else {
            const char *end = b;
            while (end < e && *end != ' ' && *end != ',')
                end++;
            *v = b;
            *vn = (size_t)(end - b);
        }
        return true;
    }
    return false;
}

/* result_status - OpenSMTPD's result words */
static enum lp_status result_status(const char *v, size_t n)
{
    if (n == 2 && !memcmp(v, "Ok", 2))
        return LS_SENT;
    if (n == 8 && !memcmp(v, "TempFail", 8))
        return LS_DEFERRED;
    if ((n == 8 && !memcmp(v, "PermFail", 8)) || (n == 4 && !memcmp(v, "Loop", 4)))
        return LS_BOUNCED;
    return LS_NONE;
}

/* common - to, relay, delay, stat of both generations */
static enum lp_kind common(const char *s, const char *e, logrec *rec, enum lp_status st)
{
    const char *v;
    size_t vn;
    if (st == LS_NONE)
        return LK_OTHER;
    rec->status = st;
    if (quoted(s, e, "to", &v, &vn))
        lp_addr(rec, v, vn);
    if (quoted(s, e, "relay", &v, &vn))
        lp_relay(rec, v, vn);
    if (quoted(s, e, "delay", &v, &vn))
        rec->delay_s = lpt_duration(v, vn);
    if (quoted(s, e, "stat", &v, &vn))
        lp_reply_parse(v, vn, &rec->r);
    return LK_DELIVERY;
}

/* hex_id - 16 hex digits at p followed by a blank or ':' */
static bool hex_id(const char *p, const char *e)
{
    if (e - p < 16)
        return false;
    for (int i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)p[i]))
            return false;
    return e - p == 16 || p[16] == ' ' || p[16] == ':';
}

/* modern - "SESSION mta|smtp ..." */
static enum lp_kind modern(const char *s, const char *e, logrec *rec)
{
    lp_copy(rec->conn, sizeof rec->conn, s, 16);
    const char *b = s + 17, *v;
    size_t vn;
    if (e - b > 13 && !memcmp(b, "mta delivery ", 13)) {
        if (quoted(b, e, "evpid", &v, &vn))
            lp_copy(rec->qid, sizeof rec->qid, v, vn);
        if (!quoted(b, e, "result", &v, &vn))
            return LK_OTHER;
        return common(b, e, rec, result_status(v, vn));
    }
    if (e - b > 24 && !memcmp(b, "smtp failed-command ", 20) && quoted(b, e, "result", &v, &vn)) {
        lp_reply_parse(v, vn, &rec->r);
        const char *c;
        size_t cn;
        if (quoted(b, e, "command", &c, &cn)) {
            const char *lt = memchr(c, '<', cn), *gt = lt ? memchr(lt, '>', (size_t)(c + cn - lt)) : NULL;
            if (gt && cn >= 4 && !memcmp(c, "RCPT", 4))
                lp_addr(rec, lt + 1, (size_t)(gt - lt - 1));
            rec->r.stage = cn >= 4 && !memcmp(c, "RCPT", 4) ? CS_RCPT : cn >= 4 && !memcmp(c, "MAIL", 4) ? CS_MAIL : CS_ANY;
        }
        rec->status = rec->r.code >= 500 ? LS_BOUNCED : LS_DEFERRED;
        return LK_INBOUND;
    }
    return LK_OTHER;
}

/* legacy - "relay: TempFail for EVP: from=..., to=..., ..." */
static enum lp_kind legacy(const char *s, const char *e, logrec *rec)
{
    const char *b = memchr(s, ':', (size_t)(e - s));
    if (!b || e - b < 3)
        return LK_UNRECOGNISED;
    b += 2;
    const char *f = memmem(b, (size_t)(e - b), " for ", 5);
    if (!f || !hex_id(f + 5, e))
        return LK_UNRECOGNISED;
    lp_copy(rec->qid, sizeof rec->qid, f + 5, 16);
    enum lp_status st = result_status(b, (size_t)(f - b));
    const char *flds = f + 5 + 16;
    if (flds < e && *flds == ':')
        flds++;
    if (st == LS_NONE)
        return LK_UNRECOGNISED;
    const char *v;
    size_t vn;
    rec->status = st;
    if (lp_kv(flds, e, "to", &v, &vn, ","))
        lp_addr(rec, v, vn);
    if (lp_kv(flds, e, "relay", &v, &vn, ","))
        lp_relay(rec, v, vn);
    if (lp_kv(flds, e, "delay", &v, &vn, ","))
        rec->delay_s = lpt_duration(v, vn);
    const char *stat = memmem(flds, (size_t)(e - flds), "stat=", 5);
    if (stat)
        lp_reply_parse(stat + 5, (size_t)(e - stat - 5), &rec->r);
    return LK_DELIVERY;
}

enum lp_kind lp_body_opensmtpd(const char *s, size_t n, logrec *rec)
{
    rec->fmt = LPF_OPENSMTPD;
    const char *e = s + n;
    if (hex_id(s, e) && n > 17)
        return modern(s, e, rec);
    if ((n > 7 && !memcmp(s, "relay: ", 7)) || (n > 10 && !memcmp(s, "delivery: ", 10)))
        return legacy(s, e, rec);
    return LK_UNRECOGNISED;
}
