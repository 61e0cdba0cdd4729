/* dsn.c - delivery status notifications (RFC 3464): a multipart/report with a human part,
 * a message/delivery-status part (per-message and per-recipient fields) and the original
 * message's headers (text/rfc822-headers).  Used for failures ("failed") and for the
 * optional delay notice ("delayed"). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/qid.h"
#include "sched/sched_int.h"
#include "smtp/rfc5322.h"

/* put_human - the first part: what happened, in words */
static void put_human(dbuf *b, const char *host, const dsn_rcpt *r, int n, int delayed)
{
    dbuf_printf(b, "This is the mail system at host %s.\r\n\r\n", host);
    if (delayed)
        dbuf_puts(b, "####################################################################\r\n"
                     "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
                     "####################################################################\r\n\r\n"
                     "Your message could not be delivered yet. It will be retried until it\r\n"
                     "is too old, and you will be told if it is finally returned.\r\n\r\n");
    else
        dbuf_puts(b, "I'm sorry to have to inform you that your message could not\r\n"
                     "be delivered to one or more recipients. It's attached below.\r\n\r\n");
    for (int i = 0; i < n; i++)
        dbuf_printf(b, "<%s>: %s\r\n\r\n", r[i].addr, r[i].diag ? r[i].diag : r[i].status);
}

/* put_report - the message/delivery-status part */
static void put_report(dbuf *b, const char *host, const char *qid, int64_t arrival_us,
                       const dsn_rcpt *r, int n, int delayed)
{
    dbuf_printf(b, "Reporting-MTA: dns; %s\r\nX-Sluice-Queue-ID: %s\r\nArrival-Date: ", host, qid);
    rfc5322_format_date(b, arrival_us / 1000000);
    dbuf_puts(b, "\r\n");
    for (int i = 0; i < n; i++) {
        dbuf_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n", r[i].addr,
                    delayed ? "delayed" : "failed", r[i].status);
        if (r[i].remote_mta)
            dbuf_printf(b, "Remote-MTA: dns; %s\r\n", r[i].remote_mta);
        if (r[i].diag && r[i].remote_mta)
            dbuf_printf(b, "Diagnostic-Code: smtp; %s\r\n", r[i].diag);
        else if (r[i].diag)
            dbuf_printf(b, "Diagnostic-Code: X-Sluice; %s\r\n", r[i].diag);
        dbuf_puts(b, "Last-Attempt-Date: ");
        rfc5322_format_date(b, clock_now());
        dbuf_puts(b, "\r\n");
    }
}

void dsn_build(dbuf *out, const char *host, const char *qid, const char *to, int64_t arrival_us,
               const dsn_rcpt *r, int n, const uint8_t *orig, size_t orig_len, int delayed)
{
    char boundary[64], mid[QID_LEN + 1];
    snprintf(boundary, sizeof boundary, "%s.%lld/%s", qid, (long long)clock_now(), host);
    int64_t now = clock_now();
    dbuf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", host);
    dbuf_printf(out, "To: <%s>\r\n", to);
    dbuf_printf(out, "Subject: %s\r\n", delayed ? "Delayed Mail (still being retried)"
                                                 : "Undelivered Mail Returned to Sender");
    rfc5322_put_date(out, "Date", now);
    rfc5322_put_message_id(out, "Message-ID", qid_format(qid_next(), mid), now, host);
    dbuf_puts(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    dbuf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                     "\tboundary=\"%s\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n", boundary);
    dbuf_printf(out, "--%s\r\nContent-Description: Notification\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n", boundary);
    put_human(out, host, r, n, delayed);
    dbuf_printf(out, "--%s\r\nContent-Description: Delivery report\r\n"
                     "Content-Type: message/delivery-status\r\n\r\n", boundary);
    put_report(out, host, qid, arrival_us, r, n, delayed);
    dbuf_printf(out, "\r\n--%s\r\nContent-Description: Undelivered Message Headers\r\n"
                     "Content-Type: text/rfc822-headers\r\n\r\n", boundary);
    size_t hdr_end, body;
    rfc5322_split(orig ? orig : (const uint8_t *)"", orig ? orig_len : 0, &hdr_end, &body);
    if (orig)
        dbuf_put(out, orig, hdr_end);
    if (hdr_end >= 2 && orig && memcmp(orig + hdr_end - 2, "\r\n", 2) != 0)
        dbuf_puts(out, "\r\n");
    dbuf_printf(out, "\r\n--%s--\r\n", boundary);
}
