/* queueparse_postfix.c - `postqueue -p` / Postfix `mailq` text:
 *   -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   BC495AA0516*    1234 Tue Apr 21 08:40:01  sender@example.com
 *                                                    (host mx[ip] said: 421 ... (in reply to RCPT TO command))
 *                                            rcpt@example.org
 *   (blank line between messages)
 *   -- 5 Kbytes in 2 Requests.
 * Long queue ids widen the first column ("----Queue ID-----").  Markers after the id: '*'
 * active, '!' hold, '#' forced to expire.  A "(reason)" line (right-aligned, or at the left
 * when long) applies to the recipients after it until the next one; "(reason unavailable)"
 * means none. */
#include <ctype.h>
#include <string.h>

#include "doctor/queueparse_int.h"

/* header - the column headings, the total and the empty queue */
static int header(const char *t, size_t n)
{
    return (n >= 10 && !memcmp(t, "-Queue ID-", 10)) || (n >= 12 && !memcmp(t, "----Queue ID", 12)) ||
           (n >= 19 && !memcmp(t, "Mail queue is empty", 19)) ||
           (n > 3 && !memcmp(t, "-- ", 3) && memmem(t, n, " Kbytes in ", 11));
}

int qp_sniff_postfix(const char *s, size_t n)
{
    qp_head h;
    return header(s, n) || qp_parse_head(s, n, "*!#", 1, 0, &h);
}

/* message - the line that starts a message */
static int message(qparser *p, const char *s, size_t n)
{
    qp_head h;
    if (!qp_parse_head(s, n, "*!#", 1, p->now, &h))
        return 0;
    qp_begin(p, h.qid, h.qn);
    p->m.size = h.size;
    p->m.arrival = h.arrival;
    p->m.age_s = h.arrival >= 0 ? p->now - h.arrival : -1;
    p->m.state = memchr(h.marks, '!', h.mn) ? QS_HOLD : memchr(h.marks, '*', h.mn) ? QS_ACTIVE : QS_DEFERRED;
    p->m.forced_expire = memchr(h.marks, '#', h.mn) != NULL;
    qp_set_sender(p, h.sender, h.sn);
    return 1;
}

enum qp_line_kind qp_postfix_line(qparser *p, const char *s, size_t n)
{
    const char *t = s;
    size_t tn = n;
    qp_trim(&t, &tn);
    if (!tn) {
        qp_flush(p);
        return QL_OK;
    }
    if (header(t, tn)) {
        qp_flush(p);
        return QL_OK;
    }
    if (!isspace((unsigned char)s[0]) && t[0] != '(')
        return message(p, s, n) ? QL_OK : QL_UNRECOGNISED;
    if (!p->open)
        return QL_UNRECOGNISED;
    if (t[0] == '(' && t[tn - 1] == ')') {
        int none = tn == 20 && !memcmp(t, "(reason unavailable)", 20);
        qp_set_reason(p, t + 1, none ? 0 : tn - 2);
        return QL_OK;
    }
    if (memchr(t, ' ', tn))
        return QL_UNRECOGNISED;
    qp_add_rcpt(p, t, tn);
    return QL_OK;
}
