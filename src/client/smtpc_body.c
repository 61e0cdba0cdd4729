/* smtpc_body.c - streaming a message body after 354: dot-stuffed on the wire (RFC 5321
 * §4.5.2: a line that begins with "." gets another "."), then "." alone to end it.
 *
 * The body is never copied whole into the output: SMTPC_BODY_CHUNK bytes at a time are
 * stuffed into the bufferevent's output while it holds less than SMTPC_BODY_HIGH, and the
 * write watermark calls us back when it has drained below SMTPC_BODY_HIGH - SMTPC_BODY_CHUNK.
 * Each refill restarts the data_xfer timeout (it measures progress, as Postfix's does).
 * Invariants:
 *  - c->body_bol is 1 exactly when the next body byte starts a line (the body's start, or
 *    after a "\n"), so stuffing is right across chunk boundaries.  A bare LF counts as a line
 *    end, so "\n.\r\n" in a body can never end the data on a server that accepts bare LFs.
 *  - The end is "\r\n.\r\n" unless the body already ends with CRLF (then ".\r\n").
 *  - The state moves from BODY to DOT (and the data_done timeout starts) only when the
 *    output, final "." included, has been handed to the kernel. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>

#include "client/smtpc_int.h"
#include "common/log.h"

void smtpc_body_stuff(struct evbuffer *out, const uint8_t *p, size_t n, int *bol)
{
    if (n == 0)
        return;
    if (*bol && p[0] == '.')
        evbuffer_add(out, ".", 1);
    /* memchr for each line end, then a look at the byte after it (memmem with a 2-byte
     * needle walks byte by byte) */
    const uint8_t *lf = p;
    while ((lf = memchr(lf, '\n', n - (size_t)(lf - p))) != NULL && (size_t)(lf - p) + 1 < n) {
        if (lf[1] != '.') {
            lf++;
            continue;
        }
        size_t seg = (size_t)(lf - p) + 1;   /* through the "\n" */
        evbuffer_add(out, p, seg);
        evbuffer_add(out, ".", 1);
        p += seg;
        n -= seg;
        lf = p;
    }
    evbuffer_add(out, p, n);
    *bol = p[n - 1] == '\n';
}

/* body_end - the end-of-data marker, after a CRLF when the body lacks one */
static void body_end(smtpc *c, struct evbuffer *out)
{
    const smtpc_txn *t = c->t;
    size_t n = t->body_len;
    int crlf = n == 0 || (n >= 2 && t->body[n - 2] == '\r' && t->body[n - 1] == '\n');
    if (!crlf)
        evbuffer_add(out, "\r\n", 2);
    evbuffer_add(out, ".\r\n", 3);
    c->body_done = 1;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);   /* call back when all is out */
    log_debug(LOG_NOQUEUE, "%s: > (%zu bytes of body) .", c->peer, n);
}

void smtpc_body_more(smtpc *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const smtpc_txn *t = c->t;
    smtpc_restart_timer(c);
    for (int pushed = 0;; pushed = 1) {
        if (c->body_done) {
            if (evbuffer_get_length(out) == 0)
                smtpc_set_state(c, SMTPC_S_DOT);
            return;
        }
        while (evbuffer_get_length(out) < SMTPC_BODY_HIGH && c->body_off < t->body_len) {
            size_t n = t->body_len - c->body_off;
            if (n > SMTPC_BODY_CHUNK)
                n = SMTPC_BODY_CHUNK;
            smtpc_body_stuff(out, t->body + c->body_off, n, &c->body_bol);
            c->body_off += n;
        }
        if (c->body_off == t->body_len)
            body_end(c, out);
        /* one direct push per call (a small body goes out whole); more through the write
         * event, so replies are read between the chunks of a big one */
        if (!c->plain_socket || pushed) {
            bufferevent_enable(c->bev, EV_WRITE);
            return;   /* the write watermark calls again */
        }
        if (!smtpc_push(c))
            return;
    }
}

void smtpc_body_start(smtpc *c)
{
    c->body_off = 0;
    c->body_bol = 1;
    c->body_done = 0;
    bufferevent_setwatermark(c->bev, EV_WRITE, SMTPC_BODY_HIGH - SMTPC_BODY_CHUNK, 0);
    smtpc_set_state(c, SMTPC_S_BODY);
    smtpc_body_more(c);
}
