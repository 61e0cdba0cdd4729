/* logparse_postfix.c - the body of Postfix's lines (after "postfix/smtp[PID]: "), which
 * sluice's text delivery lines share:
 *   QID: to=<r>, [orig_to=<o>,] relay=h[ip]:port, [conn_use=N,] delay=D, delays=a/b/c/d,
 *        dsn=X.Y.Z, status=sent|deferred|bounced|expired[, returned to sender] (text)
 *   QID: host h[ip] said: 421 ... (in reply to X command)      (one MX, then the next)
 *   QID: host h[ip] refused to talk to me: 421 ...
 *   QID: lost connection with h[ip] while ... / conversation with h[ip] timed out while ...
 *   connect to h[ip]:25: Connection timed out                     (no queue id)
 *   QID: removed
 *   NOQUEUE: reject: RCPT from h[ip]: 450 4.2.0 <r>: ...; from=<s> to=<r> proto=ESMTP helo=<h>
 *   QID: milter-reject: END-OF-MESSAGE from h[ip]: 4.7.1 Try again later; from=<s> to=<r> ...
 * Fragments without the queue id ("to=<r>, relay=...", "relay=..., status=...",
 * "status=deferred (...)") are read too.  Queue ids: short hex ids, long ids, sluice's. */
#include <string.h>
#include <strings.h>

#include "doctor/logparse_int.h"

/* status_word - Postfix's status value */
static enum lp_status status_word(const char *v, size_t n, bool *probe)
{
    *probe = false;
    if (n >= 4 && !strncmp(v, "sent", 4))
        return LS_SENT;
    if ((n >= 8 && !strncmp(v, "deferred", 8)) || (n >= 10 && !strncasecmp(v, "softbounce", 10)))
        return LS_DEFERRED;
    if (n >= 7 && !strncmp(v, "bounced", 7))
        return LS_BOUNCED;
    if (n >= 7 && !strncmp(v, "expired", 7))
        return LS_EXPIRED;
    *probe = (n >= 11 && !strncmp(v, "deliverable", 11)) || (n >= 13 && !strncmp(v, "undeliverable", 13));
    return LS_NONE;
}

/* status_text - the "(...)" after the status word, to its matching ')' (or the end when
 * the line was cut) */
static void status_text(const char *v, const char *e, logrec *rec)
{
    const char *o = memchr(v, '(', (size_t)(e - v));
    if (!o) {
        rec->r.fail = LF_NONE;
        return;
    }
    const char *c = o + 1;
    int depth = 1;
    for (; c < e; c++) {
        depth += *c == '(';
        depth -= *c == ')';
        if (!depth)
            break;
    }
    lp_reply_parse(o + 1, (size_t)(c - (o + 1)), &rec->r);
}

/* fields - the key=value part of a delivery line */
static enum lp_kind fields(const char *s, const char *e, logrec *rec)
{
    const char *v;
    size_t vn;
    if (!lp_kv(s, e, "status", &v, &vn, " ,("))
        return LK_UNRECOGNISED;
    bool probe;
    rec->status = status_word(v, vn, &probe);
    if (rec->status == LS_NONE)
        return probe ? LK_OTHER : LK_UNRECOGNISED;
    status_text(v, e, rec);
    const char *stop = v;   /* keys come before status= */
    if (lp_kv(s, stop, "to", &v, &vn, ","))
        lp_addr(rec, v, vn);
    if (lp_kv(s, stop, "relay", &v, &vn, ",")) {
        lp_relay(rec, v, vn);
        rec->local = strcmp(rec->relay, "none") != 0 && !memchr(v, '[', vn);
    }
    if (lp_kv(s, stop, "delay", &v, &vn, ","))
        rec->delay_s = lpt_duration(v, vn);
    if (rec->status != LS_SENT && lp_kv(s, stop, "dsn", &v, &vn, ","))
        lp_dsn_fallback(&rec->r, v, vn);
    return LK_DELIVERY;
}

/* host_of - "h[ip]" (up to the ']') after word w in [s, e) into relay */
static void host_of(const char *s, const char *e, const char *w, logrec *rec)
{
    const char *h = memmem(s, (size_t)(e - s), w, strlen(w));
    if (!h)
        return;
    h += strlen(w);
    const char *rb = memchr(h, ']', (size_t)(e - h));
    if (rb)
        lp_relay(rec, h, (size_t)(rb + 1 - h));
}

/* host_line - the per-host lines without an outcome */
static enum lp_kind host_line(const char *s, const char *e, logrec *rec)
{
    static const char *const starts[] = {"host ", "lost connection with ", "conversation with ",
                                         "connect to "};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        size_t k = strlen(starts[i]);
        if ((size_t)(e - s) > k && !memcmp(s, starts[i], k)) {
            host_of(s, e, starts[i], rec);
            lp_reply_parse(s, (size_t)(e - s), &rec->r);
            return LK_HOSTREPLY;
        }
    }
    return LK_UNRECOGNISED;
}

/* inbound - "reject: RCPT from h[ip]: 450 ...; from=<s> to=<r> ..." and milter-reject */
static enum lp_kind inbound(const char *s, const char *e, logrec *rec)
{
    const char *b = memmem(s, (size_t)(e - s), "]: ", 3);
    if (!b)
        return LK_OTHER;
    host_of(s, e, " from ", rec);
    b += 3;
    const char *end = memmem(b, (size_t)(e - b), "; from=", 7);
    lp_reply_parse(b, (size_t)((end ? end : e) - b), &rec->r);
    rec->r.stage = memmem(s, (size_t)(b - s), "RCPT", 4) ? CS_RCPT
                   : memmem(s, (size_t)(b - s), "END-OF-MESSAGE", 14) ? CS_BODY
                   : memmem(s, (size_t)(b - s), "DATA", 4) ? CS_DATA
                   : memmem(s, (size_t)(b - s), "CONNECT", 7) ? CS_GREETING
                   : memmem(s, (size_t)(b - s), "MAIL", 4) ? CS_MAIL : CS_ANY;
    const char *v;
    size_t vn;
    if (end && lp_kv(end + 2, e, "to", &v, &vn, " ;"))
        lp_addr(rec, v, vn);
    rec->status = rec->r.code >= 500 || rec->r.enh[0] == '5' ? LS_BOUNCED : LS_DEFERRED;
    return LK_INBOUND;
}

/* after_qid - what follows "QID: " */
static enum lp_kind after_qid(const char *s, const char *e, logrec *rec)
{
    size_t n = (size_t)(e - s);
    if (n > 3 && !memcmp(s, "to=", 3))
        return fields(s, e, rec);
    if (n >= 7 && !memcmp(s, "removed", 7))
        return LK_DONE;
    if ((n > 8 && !memcmp(s, "reject: ", 8)) || (n > 14 && !memcmp(s, "milter-reject: ", 15)))
        return inbound(s, e, rec);
    enum lp_kind k = host_line(s, e, rec);
    if (k != LK_UNRECOGNISED)
        return k;
    static const char *const other[] = {"from=<", "message-id=", "client=", "sender ", "uid=",
                                        "enabling PIX", "resent-message-id=", "discard: ",
                                        "hold: ", "redirect: ", "filter: ", "warning: ",
                                        "info: ", "replace: ", "prepend: ", "expired, ",
                                        "orig_to=", "Cannot start TLS", "TLS is required"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (n >= strlen(other[i]) && !memcmp(s, other[i], strlen(other[i])))
            return LK_OTHER;
    return LK_UNRECOGNISED;
}

/* fragment - a line without queue id: "to=<r>, relay=...", "relay=...", "status=..." */
static enum lp_kind fragment(const char *s, const char *e, logrec *rec)
{
    size_t n = (size_t)(e - s);
    if ((n > 4 && !memcmp(s, "to=<", 4)) || (n > 6 && !memcmp(s, "relay=", 6)) ||
        (n > 7 && !memcmp(s, "status=", 7)))
        return fields(s, e, rec);
    if ((n > 8 && !memcmp(s, "reject: ", 8)) || (n > 14 && !memcmp(s, "milter-reject: ", 15)))
        return memmem(s, n, "]: ", 3) ? inbound(s, e, rec) : LK_UNRECOGNISED;
    return host_line(s, e, rec);
}

/* qid_like - a Postfix or sluice queue id (short hex, long, Crockford), or NOQUEUE: letters
 * and digits with at least one digit */
static bool qid_like(const char *s, size_t n)
{
    if (n == 7 && !memcmp(s, "NOQUEUE", 7))
        return true;
    if (!lc_qid_like(s, n) || memchr(s, '-', n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9')
            return true;
    return false;
}

enum lp_kind lp_body_postfix(const char *s, size_t n, logrec *rec)
{
    rec->fmt = LPF_POSTFIX;
    const char *e = s + n, *colon = memchr(s, ':', n < 42 ? n : 42);
    if (colon && colon + 1 < e && colon[1] == ' ' && qid_like(s, (size_t)(colon - s))) {
        if ((size_t)(colon - s) != 7 || memcmp(s, "NOQUEUE", 7))
            lp_copy(rec->qid, sizeof rec->qid, s, (size_t)(colon - s));
        enum lp_kind k = after_qid(colon + 2, e, rec);
        if (k == LK_UNRECOGNISED)
            rec->qid[0] = 0;
        return k;
    }
    return fragment(s, e, rec);
}
