/* smtpd_bdat.c - CHUNKING (RFC 3030): "BDAT size [LAST]" and its size bytes of message data.
 *
 * A chunk's bytes are read by count whatever becomes of the command, so that a refused
 * chunk never turns into commands; its reply goes out once the last of its bytes is read.
 * The data goes through the DATA scanner in raw mode (smtpd_data.c: CRLF canonical, size
 * limit, no dot-unstuffing, no end marker).  on_data is asked when the first chunk of a
 * transaction is complete (its acceptance text and delay do not apply: a non-LAST chunk is
 * answered "250 2.0.0 Ok: N octets received", the LAST one by on_message like an end of
 * DATA).  A refused chunk ends the transaction: later chunks of it are read and refused
 * with 503, as RFC 3030 asks of a server that offers PIPELINING.  DATA in a transaction
 * begun with BDAT is refused (503).
 * Called by: smtpd_cmds.c (smtpd_command), smtpd_session.c (the BDAT input mode). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>

#include "server/smtpd_int.h"

/* chunk_refusal - why a chunk cannot be taken now (its 5xx text), or NULL */
static const char *chunk_refusal(const smtpd_session *s)
{
    if (s->state == SMTPD_ST_REFUSED)
        return "5.5.1 Error: service refused, send QUIT";
    if (s->state == SMTPD_ST_INIT)
        return "5.5.1 Error: send HELO/EHLO first";
    if (s->state < SMTPD_ST_MAIL)
        return "5.5.1 Error: need MAIL command";
    if (s->state < SMTPD_ST_RCPT)
        return "5.5.1 Error: need RCPT command";
    return NULL;
}

void smtpd_cmd_bdat(smtpd_session *s, const smtp_cmd *c)
{
    s->bdat_left = s->bdat_chunk = c->chunk_size;
    s->bdat_last = c->chunk_last;
    s->bdat_refusal = chunk_refusal(s);
    s->mode = SMTPD_MODE_BDAT;
    if (s->bdat_refusal || s->bdat_active)
        return;
    s->bdat_active = 1;   /* the first chunk: on_data is asked at its end */
    smtpd_scan_init(&s->scan, s->l->o.max_message_size, s->size_param);
    s->scan.raw = 1;
}

/* data_allowed - on_data's verdict on the transaction's data; 0 when it refused (replied) */
static int data_allowed(smtpd_session *s)
{
    smtpd_reply r = {0};
    if (!s->hooks.on_data)
        return 1;
    s->hooks.on_data(s, &r);
    if (r.code == 0 || (r.code >= 200 && r.code < 400))
        return 1;
    smtpd_answer(s, SMTPD_DATA, &r, 250, "2.0.0 Ok", 0);
    smtpd_transaction_reset(s);
    return 0;
}

/* chunk_done - every byte of the chunk is read: answer it */
static void chunk_done(smtpd_session *s)
{
    char text[80];
    s->mode = SMTPD_MODE_COMMAND;
    if (s->bdat_refusal) {
        smtpd_send(s, SMTPD_DATA, 503, s->bdat_refusal, NULL, 0, SMTPD_R_ERROR);
        s->bdat_refusal = NULL;
        return;
    }
    if (!s->bdat_allowed) {
        if (!data_allowed(s))
            return;
        s->bdat_allowed = 1;
    }
    if (s->bdat_last) {
        smtpd_scan_flush(&s->scan);
        smtpd_data_finish(s);   /* 552 when too big, else on_message */
        return;
    }
    if (s->scan.overflow) {
        smtpd_send(s, SMTPD_EOM, 552, "5.3.4 Message size exceeds fixed limit", NULL, 0,
                   SMTPD_R_ERROR);
        smtpd_transaction_reset(s);
        return;
    }
    snprintf(text, sizeof text, "2.0.0 Ok: %llu octets received", (unsigned long long)s->bdat_chunk);
    smtpd_send(s, SMTPD_DATA, 250, text, NULL, 0, 0);
    s->cnt_ok[SMTP_BDAT]++;
}

int smtpd_bdat_step(smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t avail = evbuffer_get_length(in);
    if (s->bdat_left > 0) {
        if (avail == 0)
            return 0;
        size_t take = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
        if (!s->bdat_refusal) {
            struct evbuffer_iovec v[16];
            int n = evbuffer_peek(in, (ev_ssize_t)take, NULL, v, 16), done;
            size_t left = take;
            for (int i = 0; i < n && i < 16 && left > 0; i++) {
                size_t k = v[i].iov_len < left ? v[i].iov_len : left;
                smtpd_scan_feed(&s->scan, v[i].iov_base, k, &done);
                left -= k;
            }
            take -= left;   /* more than 16 pieces: the rest on the next step */
        }
        evbuffer_drain(in, take);
        s->bdat_left -= take;
        if (s->bdat_left > 0)
            return 1;
    }
    chunk_done(s);
    return 1;
}
