/* smtpc_txn.c - one mail transaction on a READY connection: RSET when the previous one left
 * the server mid-transaction, MAIL FROM, RCPT TO per recipient, DATA, the body
 * (smtpc_body.c), the end of data; pipelined (RFC 2920: RSET, MAIL, every RCPT and DATA in
 * one write) when the server offers PIPELINING, else one command per reply.  With PIPELINING
 * and CHUNKING offered, a body up to SMTPC_BDAT_MAX goes as "BDAT n LAST" and its bytes in
 * place of DATA (RFC 3030): raw, no dot-stuffing, one round trip less; its reply is read in
 * the DOT state like the end of data's.  Nobody accepted: the BDAT's refusal delivers
 * nothing, and RSET precedes the next transaction.
 *
 * Results (what the owner reads in its done callback):
 *  - mail: MAIL FROM's reply; rcpt[i]: recipient i's final answer; data: DATA's refusal or
 *    the end-of-data reply; accepted: that reply was 2xx.
 *  - A recipient keeps its RCPT reply when it was refused, or when the message was
 *    accepted.  A recipient whose RCPT was accepted but whose message was not gets the reply
 *    that decided (DATA's refusal, the end-of-data refusal, or the 421/EOF/timeout that cut
 *    the conversation).  So when accepted is 0, no recipient holds a 2xx.
 *  - MAIL refused: every recipient gets MAIL's reply (the pipelined RCPT/DATA replies, 503s
 *    as a rule, are read and dropped).
 *  - Local refusals, decided before anything is sent: a body over the announced SIZE gets
 *    "552 5.3.4" for every recipient; a message that needs SMTPUTF8 when the server does not
 *    offer it gets "550 5.6.7".  An 8-bit body without 8BITMIME is sent as it is (Postfix's
 *    default); BODY=8BITMIME is given only when offered.
 *  - In pipelined mode DATA goes out before the RCPT replies are known: when it gets 354
 *    although no recipient was accepted, a lone "." ends it and nothing is delivered.
 * RSET: needed before the next transaction when MAIL was sent but no end-of-data reply was
 * read (recipients all refused, MAIL or DATA refused) and the connection survived.
 * Envelope-only transactions (t->envelope_only: address checks) send MAIL and the RCPTs
 * (pipelined when offered) but never DATA, then RSET at once; the transaction ends with
 * RSET's reply, the RCPT replies kept as the recipients' answers. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/smtpc_int.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* addr_usable - an address that cannot break the command line */
static int addr_usable(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* txn_usable - the owner's transaction can be sent */
static int txn_usable(const smtpc_txn *t)
{
    if (!t || t->nrcpt < (t->envelope_only ? 0 : 1) || (t->nrcpt && !t->rcpts) ||
        !addr_usable(t->sender) ||
        (t->body_len && !t->body))
        return 0;
    for (int i = 0; i < t->nrcpt; i++)
        if (!addr_usable(t->rcpts[i]))
            return 0;
    return 1;
}

/* rcpt_all - every recipient gets a copy of r */
static void rcpt_all(smtpc_txn *t, const smtpc_reply *r)
{
    for (int i = 0; i < t->nrcpt; i++) {
        smtpc_reply_clear(&t->rcpt[i]);
        smtpc_reply_copy(&t->rcpt[i], r);
    }
}

/* local_refusal - refuse here what the server announced it would refuse; 1 when done */
static int local_refusal(smtpc *c, smtpc_txn *t)
{
    smtpc_reply r;
    if (c->f.size_limit > 0 && (uint64_t)t->body_len > (uint64_t)c->f.size_limit)
        smtpc_reply_set(&r, 552, "5.3.4", SMTPC_ST_MAIL, 0,
                        "message size %zu exceeds size limit %lld of server %s", t->body_len,
                        (long long)c->f.size_limit, c->host);
    else if (t->smtputf8 && !c->f.smtputf8)
        smtpc_reply_set(&r, 550, "5.6.7", SMTPC_ST_MAIL, 0,
                        "SMTPUTF8 is required, but was not offered by host %s", c->host);
    else
        return 0;
    log_debug(LOG_NOQUEUE, "%s: not sent: %d %s %s", c->peer, r.code, r.enh, r.text);
    rcpt_all(t, &r);
    smtpc_reply_clear(&r);
    smtpc_report_txn(c);
    return 1;
}

/* send_mail - MAIL FROM with the parameters the server supports */
static void send_mail(smtpc *c)
{
    const smtpc_txn *t = c->t;
    char size[40] = "";
    if (c->size_offered && !t->envelope_only)
        snprintf(size, sizeof size, " SIZE=%zu", t->body_len);
    smtpc_command(c, "MAIL FROM:<%s>%s%s%s", t->sender, size,
                  t->body_8bit && c->f.eightbitmime ? " BODY=8BITMIME" : "",
                  t->smtputf8 && c->f.smtputf8 ? " SMTPUTF8" : "");
}

/* send_rcpt - RCPT TO for recipient i */
static void send_rcpt(smtpc *c, int i)
{
    smtpc_command(c, "RCPT TO:<%s>", c->t->rcpts[i]);
}

/* use_bdat - the body goes as one "BDAT n LAST" chunk, pipelined after the RCPTs: the
 * server offers PIPELINING and CHUNKING, the owner did not turn it off, and the body is not
 * so big that it must be streamed (no dot-stuffing, no 354 round trip) */
static int use_bdat(const smtpc *c)
{
    const smtpc_txn *t = c->t;
    return c->pipelined && c->f.chunking && !c->o.no_chunking && !t->envelope_only &&
           !t->hold_data && t->body_len <= SMTPC_BDAT_MAX;
}

/* send_bdat - the whole body as the last chunk */
static void send_bdat(smtpc *c)
{
    const smtpc_txn *t = c->t;
    smtpc_command(c, "BDAT %zu LAST", t->body_len);
    smtpc_write(c, t->body, t->body_len);
    log_debug(LOG_NOQUEUE, "%s: > (%zu bytes of body)", c->peer, t->body_len);
}

/* txn_begin - the first command(s) of the transaction */
static void txn_begin(smtpc *c)
{
    int rset = c->need_rset;
    c->pipelined = c->f.pipelining;
    c->mail_failed = c->rcpt_next = c->naccepted = c->dot_only = c->rset_ends = 0;
    c->need_rset = 0;
    if (rset)
        smtpc_command(c, "RSET");
    if (rset && !c->pipelined) {
        smtpc_set_state(c, SMTPC_S_RSET);
        return;
    }
    send_mail(c);
    c->data_piped = c->bdat = 0;
    if (c->pipelined) {
        for (int i = 0; i < c->t->nrcpt; i++)
            send_rcpt(c, i);
        if (use_bdat(c)) {
            send_bdat(c);
            c->data_piped = c->bdat = 1;
        } else if (!c->t->envelope_only && !c->t->hold_data) {
            smtpc_command(c, "DATA");
            c->data_piped = 1;
        }
    }
    smtpc_set_state(c, rset ? SMTPC_S_RSET : SMTPC_S_MAIL);
}

int smtpc_send(smtpc *c, smtpc_txn *t, smtpc_txn_cb done, void *arg)
{
    if (!c || c->dead || c->state != SMTPC_S_READY || c->txn_open || c->quit_wanted ||
        !txn_usable(t))
        return -1;
    c->txn_open = 1;
    memset(&t->mail, 0, sizeof t->mail);
    memset(&t->data, 0, sizeof t->data);
    t->rcpt = xcalloc((size_t)t->nrcpt, sizeof *t->rcpt);
    t->accepted = t->conn_lost = t->naccepted = 0;
    c->t = t;
    c->done = done;
    c->done_arg = arg;
    if (!local_refusal(c, t))
        txn_begin(c);
    return 0;
}

/* txn_finish - the transaction is over, the connection lives on: settle and report */
static void txn_finish(smtpc *c, int clean)
{
    smtpc_txn *t = c->t;
    for (int i = 0; i < t->nrcpt && !t->accepted && t->data.code; i++) {
        if (t->rcpt[i].code / 100 == 2) {
            smtpc_reply_clear(&t->rcpt[i]);
            smtpc_reply_copy(&t->rcpt[i], &t->data);
        }
    }
    c->need_rset = !clean;
    smtpc_report_txn(c);
    smtpc_set_state(c, SMTPC_S_READY);
    if (c->quit_wanted)
        smtpc_send_quit(c);
}

/* envelope_end - an envelope-only transaction has its answers: RSET, then done */
static void envelope_end(smtpc *c)
{
    smtpc_command(c, "RSET");
    c->rset_ends = 1;
    smtpc_set_state(c, SMTPC_S_RSET);
}

/* ended_early - no DATA after all: settle now (envelope-only: after RSET) */
static void ended_early(smtpc *c)
{
    if (c->t->envelope_only)
        envelope_end(c);
    else
        txn_finish(c, 0);
}

void smtpc_txn_lost(smtpc *c, enum smtpc_state st, const smtpc_reply *r)
{
    smtpc_txn *t = c->t;
    t->conn_lost = 1;
    if (c->rset_ends) {   /* every answer was in before the closing RSET: they stand */
        smtpc_report_txn(c);
        return;
    }
    if (st <= SMTPC_S_MAIL && t->mail.code == 0) {
        smtpc_reply_clear(&t->mail);
        smtpc_reply_copy(&t->mail, r);
    }
    if (st >= SMTPC_S_DATA && t->data.code == 0) {
        smtpc_reply_clear(&t->data);
        smtpc_reply_copy(&t->data, r);
    }
    for (int i = 0; i < t->nrcpt; i++) {
        int code = t->rcpt[i].code;
        if (code == 0 || code / 100 == 2) {   /* no final answer yet */
            smtpc_reply_clear(&t->rcpt[i]);
            smtpc_reply_copy(&t->rcpt[i], r);
        }
    }
    smtpc_report_txn(c);
}

void smtpc_on_rset(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (r->code / 100 != 2) {
        char text[SMTPC_TEXT_MAX];
        snprintf(text, sizeof text, "%s refused RSET: %d %s", c->host, r->code, r->text);
        smtpc_reply_clear(r);
        smtpc_lost_text(c, "4.5.0", "%s", text);   /* the session is in an unknown state */
        return;
    }
    smtpc_reply_clear(r);
    if (c->rset_ends) {
        txn_finish(c, 1);
        return;
    }
    if (!c->pipelined)
        send_mail(c);
    smtpc_set_state(c, SMTPC_S_MAIL);
}

void smtpc_on_mail(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    smtpc_txn *t = c->t;
    smtpc_reply_clear(&t->mail);
    t->mail = *r;
    if (r->code / 100 != 2) {
        c->mail_failed = 1;
        rcpt_all(t, &t->mail);
    }
    if (c->pipelined && t->nrcpt > 0) {
        smtpc_set_state(c, SMTPC_S_RCPT);
        return;
    }
    if (c->mail_failed || t->nrcpt == 0) {
        ended_early(c);
        return;
    }
    send_rcpt(c, 0);
    smtpc_set_state(c, SMTPC_S_RCPT);
}

void smtpc_on_rcpt(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    smtpc_txn *t = c->t;
    int i = c->rcpt_next++;
    if (c->mail_failed) {
        smtpc_reply_clear(r);
    } else {
        t->rcpt[i] = *r;
        c->naccepted += r->code / 100 == 2;
        t->naccepted += r->code / 100 == 2;
    }
    if (c->rcpt_next < t->nrcpt) {
        if (!c->pipelined)
            send_rcpt(c, c->rcpt_next);
        smtpc_set_state(c, SMTPC_S_RCPT);
    } else if (t->envelope_only) {
        envelope_end(c);
    } else if (c->bdat) {
        c->dot_only = c->mail_failed || c->naccepted == 0;   /* its reply delivers nothing */
        smtpc_set_state(c, SMTPC_S_DOT);
    } else if (c->data_piped) {
        smtpc_set_state(c, SMTPC_S_DATA);
    } else if (c->naccepted == 0) {
        txn_finish(c, 0);   /* nobody to send to: no DATA */
    } else {
        smtpc_command(c, "DATA");
        smtpc_set_state(c, SMTPC_S_DATA);
    }
}

void smtpc_on_data(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    int code = r->code;
    if (code == 354) {
        smtpc_reply_clear(r);
        if (c->mail_failed || c->naccepted == 0) {
            c->dot_only = 1;   /* pipelined DATA with nobody accepted: end it at once */
            smtpc_write(c, ".\r\n", 3);
            smtpc_set_state(c, SMTPC_S_DOT);
        } else {
            smtpc_body_start(c);
        }
        return;
    }
    if (code / 100 == 2) {
        smtpc_reply_clear(r);
        smtpc_lost_text(c, "4.5.0", "protocol error with %s: %d reply to DATA", c->host,
                        code);
        return;
    }
    smtpc_reply_clear(&c->t->data);
    c->t->data = *r;
    txn_finish(c, 0);
}

void smtpc_on_dot(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    smtpc_txn *t = c->t;
    smtpc_reply_clear(&t->data);
    t->data = *r;
    t->accepted = !c->dot_only && r->code / 100 == 2;
    txn_finish(c, !c->bdat || t->accepted);   /* after a refused BDAT: RSET before the next */
}

void smtpc_on_body(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    int code = r->code;
    if (c->body_done && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        smtpc_on_dot(c, r, raw, rawlen);   /* the "." is out: this answers it */
        return;
    }
    if (code / 100 == 2) {
        smtpc_reply_clear(r);
        smtpc_lost_text(c, "4.5.0", "protocol error with %s: %d reply before the end of data",
                        c->host, code);
        return;
    }
    smtpc_lost(c, r);   /* refused in the middle of the body: the session cannot go on */
}

void smtpc_txn_clear(smtpc_txn *t)
{
    if (!t)
        return;
    for (int i = 0; t->rcpt && i < t->nrcpt; i++)
        smtpc_reply_clear(&t->rcpt[i]);
    free(t->rcpt);
    t->rcpt = NULL;
    smtpc_reply_clear(&t->mail);
    smtpc_reply_clear(&t->data);
    t->accepted = t->conn_lost = t->naccepted = 0;
}
