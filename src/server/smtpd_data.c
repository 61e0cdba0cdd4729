/* smtpd_data.c - the DATA body: a byte-level scanner over the input chunks, the finished
 * message handed to on_message, and the hook's answer (smtpd_message_done).
 *
 * The scanner (one state per position in a line, one small function per state; BDAT's
 * chunks go through it in raw mode - no dot-unstuffing, no end marker - smtpd_bdat.c):
 *  - stores the canonical message: CRLF line ends, a bare LF stored as CRLF, a bare CR kept;
 *  - removes the leading "." of every line (dot-unstuffing);
 *  - ends only on <CRLF>.<CRLF>; a "." line after a bare LF, or a "." followed by a bare
 *    LF, is content (no SMTP smuggling through line-end ambiguity);
 *  - counts every canonical byte; once the count passes the limit it frees the body and
 *    stores nothing more, but keeps scanning for the end.
 * It works on the bufferevent's chunks in place (evbuffer_peek, evbuffer_drain): no copy of
 * the input, no allocation per line.
 * Ownership: the body moves into the smtpd_message; the message belongs to on_message until
 * smtpd_message_done, which frees it. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "server/smtpd_int.h"

#define SCAN_PRESIZE_MAX (1024 * 1024)   /* trust SIZE= only this far: a claim costs no bytes */

enum scan_state {
    SC_BOL,      /* at a line start after CRLF: "." may begin the end marker */
    SC_BOL_LF,   /* at a line start after a bare LF: "." is only stuffing */
    SC_DOT,      /* "." at SC_BOL */
    SC_DOT_CR,   /* ".\r" at SC_BOL */
    SC_TEXT,     /* inside a line */
    SC_CR,       /* "\r" inside a line */
    SC_END       /* <CRLF>.<CRLF> seen */
};

/* store - count n canonical bytes and keep them while under the limit */
static void store(smtpd_scan *sc, const void *p, size_t n)
{
    sc->size += (int64_t)n;
    if (sc->overflow)
        return;
    if (sc->limit > 0 && sc->size > sc->limit) {
        sc->overflow = 1;
        dbuf_free(&sc->body);
        return;
    }
    dbuf_put(&sc->body, p, n);
}

/* Each state function looks at p[0..n) (n >= 1), returns how many bytes it used; 0 only
 * when it moved to a state that will use the byte. */

/* st_bol - line start after CRLF (BDAT's raw data: a dot is text) */
static size_t st_bol(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    int dot = p[0] == '.' && !sc->raw;
    sc->state = dot ? SC_DOT : SC_TEXT;
    return dot;
}

/* st_bol_lf - line start after a bare LF: drop a stuffed dot, never end */
static size_t st_bol_lf(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    sc->state = SC_TEXT;
    return p[0] == '.' && !sc->raw;
}

/* st_dot - after a leading ".": CR may complete the end marker; else the dot was stuffing */
static size_t st_dot(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    sc->state = p[0] == '\r' ? SC_DOT_CR : SC_TEXT;
    return p[0] == '\r';
}

/* st_dot_cr - after ".\r": LF ends the data; else the CR was a bare one */
static size_t st_dot_cr(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    sc->state = p[0] == '\n' ? SC_END : SC_CR;
    return p[0] == '\n';
}

/* text_run - the length of the run before the first CR or LF in p[0..n): memchr in
 * windows of TEXT_WINDOW bytes, so input without one of the two never costs a scan of the
 * whole chunk per line */
#define TEXT_WINDOW 256
static size_t text_run(const uint8_t *p, size_t n)
{
    size_t w = n < TEXT_WINDOW ? n : TEXT_WINDOW;
    const uint8_t *lf = memchr(p, '\n', w);
    size_t lim = lf ? (size_t)(lf - p) : w;
    const uint8_t *cr = memchr(p, '\r', lim);
    return cr ? (size_t)(cr - p) : lim;
}

/* st_text - a run of line content, then a line end or a CR */
static size_t st_text(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    size_t i = text_run(p, n);
    if (i) {
        store(sc, p, i);
        return i;
    }
    if (p[0] == '\r') {
        sc->state = SC_CR;
    } else {
        store(sc, "\r\n", 2);
        sc->state = SC_BOL_LF;
    }
    return 1;
}

/* st_cr - after a CR: LF makes CRLF; anything else makes it a bare CR, kept */
static size_t st_cr(smtpd_scan *sc, const uint8_t *p, size_t n)
{
    if (p[0] == '\n') {
        store(sc, "\r\n", 2);
        sc->state = SC_BOL;
        return 1;
    }
    store(sc, "\r", 1);
    if (p[0] == '\r')
        return 1;   /* still after a CR */
    sc->state = SC_TEXT;
    return 0;
}

static size_t (*const scan_table[])(smtpd_scan *, const uint8_t *, size_t) = {
    [SC_BOL] = st_bol, [SC_BOL_LF] = st_bol_lf, [SC_DOT] = st_dot,
    [SC_DOT_CR] = st_dot_cr, [SC_TEXT] = st_text, [SC_CR] = st_cr,
};

void smtpd_scan_init(smtpd_scan *sc, int64_t limit, int64_t hint)
{
    dbuf_free(&sc->body);
    sc->raw = 0;
    sc->state = SC_BOL;
    sc->size = 0;
    sc->limit = limit > 0 ? limit : 0;
    sc->overflow = 0;
    if (hint > 0 && (sc->limit == 0 || hint <= sc->limit))
        dbuf_reserve(&sc->body, (size_t)(hint < SCAN_PRESIZE_MAX ? hint : SCAN_PRESIZE_MAX));
}

size_t smtpd_scan_feed(smtpd_scan *sc, const uint8_t *p, size_t n, int *done)
{
    size_t i = 0;
    while (i < n && sc->state != SC_END)
        i += scan_table[sc->state](sc, p + i, n - i);
    *done = sc->state == SC_END;
    return i;
}

void smtpd_scan_flush(smtpd_scan *sc)
{
    if (sc->state == SC_CR)
        store(sc, "\r", 1);   /* a CR that ended the data is a bare one */
    sc->state = SC_BOL;
}

void smtpd_scan_free(smtpd_scan *sc)
{
    dbuf_free(&sc->body);
    sc->state = SC_BOL;
    sc->size = 0;
    sc->overflow = 0;
}

/* message_new - the finished transaction as an smtpd_message; the session forgets it */
static smtpd_message *message_new(smtpd_session *s)
{
    smtpd_message *m = xcalloc(1, sizeof *m);
    m->sender = s->sender;
    m->rcpts = xcalloc((size_t)s->nrcpt + 1, sizeof *m->rcpts);
    memcpy(m->rcpts, s->rcpts, (size_t)s->nrcpt * sizeof *m->rcpts);
    m->nrcpt = s->nrcpt;
    m->body = s->scan.body;
    m->size_param = s->size_param;
    m->body_8bitmime = s->body_8bitmime;
    m->smtputf8 = s->smtputf8;
    s->sender = NULL;
    s->nrcpt = 0;
    s->overshoot = 0;
    memset(&s->scan.body, 0, sizeof s->scan.body);
    return m;
}

void smtpd_data_finish(smtpd_session *s)
{
    s->mode = SMTPD_MODE_COMMAND;
    if (s->scan.overflow) {
        char peer[96];
        log_info(LOG_NOQUEUE, "message from %s too big: %lld bytes", smtpd_peer_name(s, peer,
                 sizeof peer), (long long)s->scan.size);
        smtpd_send(s, SMTPD_EOM, 552, "5.3.4 Message size exceeds fixed limit", NULL, 0,
                    SMTPD_R_ERROR);
        smtpd_transaction_reset(s);
        return;
    }
    smtpd_message *m = message_new(s);
    smtpd_transaction_reset(s);
    s->msg_pending = 1;
    if (s->hooks.on_message)
        s->hooks.on_message(s, m);
    else
        smtpd_message_done(s, m, NULL);
}

int smtpd_data_step(smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer_iovec v[16];
    int n = evbuffer_peek(in, -1, NULL, v, 16), done = 0;
    size_t used = 0;
    if (n <= 0)
        return 0;
    for (int i = 0; i < n && i < 16 && !done; i++)
        used += smtpd_scan_feed(&s->scan, v[i].iov_base, v[i].iov_len, &done);
    evbuffer_drain(in, used);
    if (done)
        smtpd_data_finish(s);
    return 1;
}

void smtpd_message_free(smtpd_message *m)
{
    if (!m)
        return;
    free(m->sender);
    for (int i = 0; i < m->nrcpt; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    dbuf_free(&m->body);
    free(m);
}

void smtpd_message_done(smtpd_session *s, smtpd_message *m, const smtpd_reply *r)
{
    static const smtpd_reply dflt;
    smtpd_message_free(m);
    s->msg_pending = 0;
    if (!s->gone &&
        smtpd_answer(s, SMTPD_EOM, r ? r : &dflt, 250, "2.0.0 Ok", 0) == SMTPD_ACCEPTED) {
        s->messages++;
        s->cnt_ok[s->last == SMTP_BDAT ? SMTP_BDAT : SMTP_DATA]++;
    }
    smtpd_session_run(s);
    smtpd_session_settle(s);
}
