/* queueparse_sendmail.c - Sendmail's `mailq` (sendmail -bp):
 *   MSP Queue status...
 *   /var/spool/mqueue-client is empty
 *                   Total requests: 0
 *   MTA Queue status...
 *                   /var/spool/mqueue (2 requests)
 *   -----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------
 *   u8T9idh4006507*      27 Thu Sep 29 05:44 <user@example.com>
 *         8BITMIME   (Deferred: Connection timed out with mailer.domain)
 *                                            <rcpt@example.org>
 *                   Total requests: 2
 * Markers after the id: '*' being delivered (locked), '-' too young to retry, 'X' load too
 * high, '?' lost.  The reason line may start with the body type; "QUARANTINE: ..." lines
 * mark quarantined (held) messages. */
#include <ctype.h>
#include <string.h>

#include "doctor/queueparse_int.h"

/* chrome - headings, queue names, totals */
static int chrome(const char *t, size_t n)
{
    return (n >= 14 && !memcmp(t, "-----Q-ID-----", 14)) || (n >= 17 && !memcmp(t, "MSP Queue status", 16)) ||
           (n >= 17 && !memcmp(t, "MTA Queue status", 16)) || (n > 15 && !memcmp(t, "Total requests:", 15)) ||
           (t[0] == '/' && (memmem(t, n, " request", 8) || memmem(t, n, " is empty", 9))) ||
           (n >= 19 && !memcmp(t, "Mail queue is empty", 19));
}

int qp_sniff_sendmail(const char *s, size_t n)
{
    qp_head h;
    return (n >= 14 && !memcmp(s, "-----Q-ID-----", 14)) || (n >= 16 && !memcmp(s, "MSP Queue status", 16)) ||
           (n >= 16 && !memcmp(s, "MTA Queue status", 16)) || (n > 15 && !memcmp(s, "Total requests:", 15)) ||
           (s[0] == '/' && memmem(s, n, " request", 8)) || qp_parse_head(s, n, "*X-?", 0, 0, &h);
}

/* message - the line that starts a message */
static int message(qparser *p, const char *s, size_t n)
{
    qp_head h;
    if (!qp_parse_head(s, n, "*X-?", 0, p->now, &h))
        return 0;
    qp_begin(p, h.qid, h.qn);
    p->m.size = h.size;
    p->m.arrival = h.arrival;
    p->m.age_s = h.arrival >= 0 ? p->now - h.arrival : -1;
    p->m.state = memchr(h.marks, '*', h.mn) ? QS_ACTIVE : QS_DEFERRED;
    const char *sp = memchr(h.sender, ' ', h.sn);
    qp_set_sender(p, h.sender, sp ? (size_t)(sp - h.sender) : h.sn);
    return 1;
}

/* reason - "(text)" or "BODYTYPE   (text)" */
static int reason(qparser *p, const char *t, size_t n)
{
    const char *o = memchr(t, '(', n);
    if (!o || t[n - 1] != ')')
        return 0;
    for (const char *c = t; c < o; c++)
        if (!isalnum((unsigned char)*c) && *c != ' ' && *c != '-')
            return 0;
    qp_set_reason(p, o + 1, (size_t)(t + n - 1 - (o + 1)));
    return 1;
}

enum qp_line_kind qp_sendmail_line(qparser *p, const char *s, size_t n)
{
    const char *t = s;
    size_t tn = n;
    qp_trim(&t, &tn);
    if (!tn)
        return QL_OK;
    if (chrome(t, tn)) {
        qp_flush(p);
        return QL_OK;
    }
    if (!isspace((unsigned char)s[0]) && t[0] != '<' && t[0] != '(' && message(p, s, n))
        return QL_OK;
    if (!p->open)
        return QL_UNRECOGNISED;
    if (tn > 11 && !memcmp(t, "QUARANTINE:", 11)) {
        p->m.state = QS_HOLD;
        return QL_OK;
    }
    if (reason(p, t, tn))
        return QL_OK;
    const char *sp = memchr(t, ' ', tn);
    qp_add_rcpt(p, t, sp ? (size_t)(sp - t) : tn);
    return QL_OK;
}
