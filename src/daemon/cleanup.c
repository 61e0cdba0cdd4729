/* cleanup.c - what every accepted message goes through before the spool (Postfix's cleanup):
 * a Received: field is prepended; a local submission also gets From:, Date: and Message-ID:
 * when it lacks them, and an SMTP submission (a client in mynetworks: an application) gets
 * Date: and Message-ID: when it lacks them.  The queue id is assigned here, because the
 * Received: and Message-ID: fields carry it.  Logs the "queued" line of the message.
 * Mail from a domain with a DKIM key is signed (signer.c) before it goes to the spool: the
 * envelope is copied for the wait, since the caller's copy may be gone by then.  The
 * scheduler's notifications (DSNs, From: MAILER-DAEMON@myhostname) are signed too, on the
 * loop, so they keep their place before the bounce records (cleanup_queue_notice). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"
#include "smtp/rfc5322.h"

/* missing_fields - From/Date/Message-ID (or their Resent- forms) the message lacks */
static void missing_fields(const cleanup_in *in, const char *qid, int64_t now, const char *host,
                           dbuf *f)
{
    unsigned have = rfc5322_have(in->msg, in->len);
    int resent = (have & RFC5322_HAVE_RESENT) != 0;
    if (in->local && !(have & (resent ? RFC5322_HAVE_RESENT_FROM : RFC5322_HAVE_FROM)))
        rfc5322_put_from(f, resent ? "Resent-From" : "From", in->sender, in->fullname);
    if (!(have & (resent ? RFC5322_HAVE_RESENT_DATE : RFC5322_HAVE_DATE)))
        rfc5322_put_date(f, resent ? "Resent-Date" : "Date", now);
    if (!(have & (resent ? RFC5322_HAVE_RESENT_MSGID : RFC5322_HAVE_MSGID)))
        rfc5322_put_message_id(f, resent ? "Resent-Message-ID" : "Message-ID", qid, now, host);
}

/* A message waiting for its signature: the envelope (owned copies) and the completion. */
typedef struct signing {
    sluiced *d;
    spool_new n;
    char *sender, *client_ip, *helo, *proto, *origin;
    char **rcpts;
    spool_add_cb cb;
    void *arg;
} signing;

/* dup_or_null - a copy of s, or NULL */
static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* on_signed - the signature is made: prepend it and queue the message */
static void on_signed(void *arg, uint8_t *msg, size_t len, const char *field, size_t flen)
{
    signing *g = arg;
    g->n.body = msg;
    g->n.body_len = len;
    if (field) {
        g->n.body = xmalloc(flen + len);
        memcpy(g->n.body, field, flen);
        memcpy(g->n.body + flen, msg, len);
        g->n.body_len = flen + len;
        free(msg);
    }
    spool_add(g->d->sp, &g->n, g->cb, g->arg);
    for (int i = 0; i < g->n.nrcpt; i++)
        free(g->rcpts[i]);
    free(g->rcpts);
    free(g->sender);
    free(g->client_ip);
    free(g->helo);
    free(g->proto);
    free(g->origin);
    free(g);
}

/* sign_then_queue - hand the message to the signer with a copy of its envelope */
static void sign_then_queue(sluiced *d, const dkim_skey *k, const spool_new *n, spool_add_cb cb,
                            void *arg)
{
    signing *g = xcalloc(1, sizeof *g);
    g->d = d;
    g->n = *n;
    g->n.sender = g->sender = xstrdup(n->sender);
    g->n.client_ip = g->client_ip = dup_or_null(n->client_ip);
    g->n.helo = g->helo = dup_or_null(n->helo);
    g->n.proto = g->proto = dup_or_null(n->proto);
    g->n.origin = g->origin = dup_or_null(n->origin);
    g->rcpts = xcalloc((size_t)n->nrcpt + 1, sizeof *g->rcpts);
    for (int i = 0; i < n->nrcpt; i++)
        g->rcpts[i] = xstrdup(n->rcpts[i]);
    g->n.rcpts = (const char *const *)g->rcpts;
    g->cb = cb;
    g->arg = arg;
    signer_submit(d, k, n->body, n->body_len, on_signed, g);
}

void cleanup_queue_notice(void *ctx, spool_new *n, spool_add_cb cb, void *arg)
{
    sluiced *d = ctx;
    const dkim_skey *k = signer_key_for(d, n->body, n->body_len);
    dbuf field = {0};
    /* signed here and now, not in the workers: the scheduler records the bounce right after
     * this call, and the notice must reach the writer first (a kill in between would
     * otherwise leave a bounced recipient and no notice) */
    if (k && signer_sign_now(d, k, n->body, n->body_len, &field) == 0) {
        uint8_t *body = xmalloc(field.len + n->body_len);
        memcpy(body, field.data, field.len);
        memcpy(body + field.len, n->body, n->body_len);
        free(n->body);
        n->body = body;
        n->body_len += field.len;
    }
    dbuf_free(&field);
    spool_add(d->sp, n, cb, arg);
}

qid_t cleanup_submit(sluiced *d, const cleanup_in *in, spool_add_cb cb, void *arg)
{
    qid_t qid = qid_next();
    char qs[QID_LEN + 1], uid[32];
    qid_format(qid, qs);
    int64_t now = clock_now();
    snprintf(uid, sizeof uid, "%ld", in->uid);
    rfc5322_received rcv = {.helo = in->local ? NULL : in->helo,
                            .client_ip = in->local ? NULL : in->client_ip,
                            .host = d->cfg->myhostname,
                            .uid = in->local ? uid : NULL,
                            .proto = in->local ? NULL : in->proto,
                            .qid = qs,
                            .rcpt = in->nrcpt == 1 ? in->rcpts[0] : NULL,
                            .time = now};
    dbuf fields = {0}, msg = {0};
    rfc5322_put_received(&fields, &rcv);
    missing_fields(in, qs, now, d->cfg->myhostname, &fields);
    rfc5322_prepend(&msg, fields.data, fields.len, in->msg, in->len);
    dbuf_free(&fields);
    char mid[256];
    rfc5322_message_id(msg.data, msg.len, mid, sizeof mid);
    log_info(qs, "from=<%s>, size=%zu, nrcpt=%d, %s%s%s, message-id=%s", in->sender, msg.len,
             in->nrcpt, in->local ? "uid=" : "client=", in->local ? uid : in->client_ip,
             in->local ? "" : "", mid[0] ? mid : "<>");
    spool_new n = {.sender = in->sender, .rcpts = in->rcpts, .nrcpt = in->nrcpt,
                   .flags = in->flags | (in->local ? MSGF_LOCAL : 0),
                   .client_ip = in->local ? "" : in->client_ip, .helo = in->helo,
                   .proto = in->local ? "local" : in->proto, .origin = in->origin, .qid = qid};
    size_t blen;
    n.body = dbuf_steal(&msg, &blen);
    n.body_len = blen;
    const dkim_skey *k = signer_key_for(d, n.body, n.body_len);
    if (!k)
        return spool_add(d->sp, &n, cb, arg);
    sign_then_queue(d, k, &n, cb, arg);
    return qid;
}
