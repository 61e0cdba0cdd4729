/* smtpd_session.c - one SMTP session's life: greeting, reading command lines, queuing
 * replies, applying hook decisions (refuse, delay, close, drop), error limits, timeouts,
 * closing after the last reply is out, freeing; and the session accessors.
 *
 * Called by: smtpd_listen.c (start, abort), libevent (read/write/event/timer callbacks),
 * smtpd_message_done (smtpd_data.c).
 * Invariants:
 *  - Replies are appended to s->out and sent when the batch of pipelined commands is done
 *    (or before a delayed reply), so they leave together: straight to a plain socket when
 *    nothing is queued before them, else through the bufferevent (session_flush).
 *  - Input is processed only while nothing is pending: no held reply, no on_message call
 *    out, no STARTTLS upgrade waiting, not closing, and our output not piled up.  While
 *    blocked, reading is disabled (so is the idle timer) - except while on_message has the
 *    message, when up to SMTPD_READ_AHEAD bytes are read but not processed and the idle
 *    timer does not count; on resume the buffered input is processed first.
 *  - "Close" means: stop reading, flush s->out and the socket buffer, then free.  A hook's
 *    "drop" (code -1) closes without answering that command; replies already given to
 *    earlier pipelined commands still go out, so what the client sees does not depend on
 *    how its commands were batched.  A lost connection frees at once. */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "server/smtpd_int.h"
#include "smtp/smtp_reply.h"

static uint64_t session_ids;

const char *smtpd_peer_name(const smtpd_session *s, char *buf, size_t len)
{
    snprintf(buf, len, "unknown[%s]", s->ip);
    return buf;
}

/* last_name - the command the session was at, for "after X" in logs */
static const char *last_name(const smtpd_session *s)
{
    if (s->mode == SMTPD_MODE_DATA)
        return "DATA content";
    if (s->mode == SMTPD_MODE_BDAT)
        return "BDAT content";
    if (s->last == SMTP_NVERBS)
        return "CONNECT";
    return smtp_verb_name(s->last);
}

/* out_pending - bytes of reply not yet on the wire (ours and the bufferevent's) */
static size_t out_pending(const smtpd_session *s)
{
    return s->out.len + (s->bev ? evbuffer_get_length(bufferevent_get_output(s->bev)) : 0);
}

/* can_process - 1 when input may be handled now */
static int can_process(const smtpd_session *s)
{
    return !s->gone && !s->closing && !s->held && !s->msg_pending && !s->tls_pending &&
           !s->out_full;
}

/* session_flush - send the queued replies, unless one is held: straight to the socket when
 * nothing is waiting before them (no write event to arm and disarm, no loop turn), what the
 * kernel does not take through the bufferevent (which then watches the write timeout) */
static void session_flush(smtpd_session *s)
{
    if (s->held || !s->bev || !s->out.len)
        return;
    size_t off = 0;
    if (s->plain_socket && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
        ssize_t n = send(bufferevent_getfd(s->bev), s->out.data, s->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            off = (size_t)n;   /* an error is the bufferevent's to find, as if it had written */
    }
    if (off < s->out.len) {
        bufferevent_enable(s->bev, EV_WRITE);
        bufferevent_write(s->bev, s->out.data + off, s->out.len - off);
    }
    dbuf_reset(&s->out);
}

/* session_hold - send what is queued now; what follows waits ms */
static void session_hold(smtpd_session *s, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    session_flush(s);
    s->held = 1;
    evtimer_add(s->timer, &tv);
}

/* clean_text - a one-line copy of text for logs */
static const char *clean_text(const char *text, char *buf, size_t len)
{
    size_t i = 0;
    for (; text && text[i] && i + 1 < len; i++)
        buf[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
    buf[i] = 0;
    return buf;
}

/* note_refusal - log a 4xx/5xx reply and tell on_refusal */
static void note_refusal(smtpd_session *s, enum smtpd_stage st, int code, const char *text,
                         const char *policy)
{
    char peer[96], line[600];
    log_info(LOG_NOQUEUE, "reject: %s from %s: %d %s%s%s", last_name(s),
             smtpd_peer_name(s, peer, sizeof peer), code, clean_text(text, line, sizeof line),
             policy ? "; policy=" : "", policy ? policy : "");
    if (s->hooks.on_refusal)
        s->hooks.on_refusal(s, st, code, text ? text : "", policy);
}

/* too_many_errors - the hard error limit is reached: 421 and close */
static void too_many_errors(smtpd_session *s, enum smtpd_stage st)
{
    char text[400], peer[96];
    log_notice(LOG_NOQUEUE, "too many errors after %s from %s", last_name(s),
               smtpd_peer_name(s, peer, sizeof peer));
    snprintf(text, sizeof text, "4.7.0 %s Error: too many errors", s->l->o.hostname);
    smtpd_send(s, st, 421, text, NULL, 0, SMTPD_R_CLOSE);
}

void smtpd_send(smtpd_session *s, enum smtpd_stage st, int code, const char *text,
                 const char *policy, int64_t delay_ms, unsigned flags)
{
    if (s->gone)
        return;
    const smtpd_opts *o = &s->l->o;
    if (code >= 400) {
        note_refusal(s, st, code, text, policy);
        if (flags & SMTPD_R_ERROR) {
            if (o->soft_error_limit > 0 && s->errors >= o->soft_error_limit &&
                o->error_sleep_ms > delay_ms)
                delay_ms = o->error_sleep_ms;
            s->errors++;
        }
    }
    if (delay_ms > 0 && !s->held)
        session_hold(s, delay_ms);
    smtp_reply_put(&s->out, code, text, !(flags & SMTPD_R_PLAIN));
    if ((flags & SMTPD_R_CLOSE) || code == 421)
        s->closing = 1;
    if ((flags & SMTPD_R_ERROR) && o->hard_error_limit > 0 &&
        s->errors >= o->hard_error_limit && !s->closing)
        too_many_errors(s, st);
}

/* code_usable - a hook's code is a real reply code; an accept must be of dcode's class */
static int code_usable(int code)
{
    return code >= 200 && code <= 599;
}

int smtpd_answer(smtpd_session *s, enum smtpd_stage st, const smtpd_reply *r, int dcode,
                 const char *dtext, unsigned flags)
{
    char text[sizeof r->text + 1], peer[96];
    size_t n = strnlen(r->text, sizeof r->text);
    memcpy(text, r->text, n);
    text[n] = 0;
    int code = r->code;
    unsigned extra = r->close ? SMTPD_R_CLOSE : 0;
    if (code == -1) {
        log_info(LOG_NOQUEUE, "dropped after %s from %s%s%s", last_name(s),
                 smtpd_peer_name(s, peer, sizeof peer), r->policy ? "; policy=" : "",
                 r->policy ? r->policy : "");
        s->closing = 1;   /* no reply, no more input; earlier replies still go out */
        return SMTPD_DROPPED;
    }
    if (code != 0 && !code_usable(code)) {
        log_warn(LOG_NOQUEUE, "hook reply code %d after %s is not usable; sending 451",
                 code, last_name(s));
        code = 451;
        snprintf(text, sizeof text, "4.3.0 Error: internal policy error");
    }
    if (code < 400) {
        int own = code / 100 == dcode / 100 && n && st != SMTPD_HELO;
        smtpd_send(s, st, own ? code : dcode, own ? text : dtext, r->policy, r->delay_ms,
                    flags | extra);
        return SMTPD_ACCEPTED;
    }
    if (!n)
        snprintf(text, sizeof text, "%d.7.1 Access denied", code / 100);
    flags &= ~(unsigned)SMTPD_R_PLAIN;
    if (st != SMTPD_CONNECT)
        flags |= SMTPD_R_ERROR;
    smtpd_send(s, st, code, text, r->policy, r->delay_ms, flags | extra);
    return SMTPD_REFUSED;
}

/* line_too_long - answer an over-long command line (its rest is being discarded) */
static void line_too_long(smtpd_session *s)
{
    char peer[96];
    log_notice(LOG_NOQUEUE, "line too long after %s from %s", last_name(s),
               smtpd_peer_name(s, peer, sizeof peer));
    smtpd_send(s, SMTPD_OTHER, 500, "5.5.2 Error: line too long", NULL, 0, SMTPD_R_ERROR);
}

/* step_command - take one command line off the input and handle it; 0 when none is whole */
static int step_command(smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t avail = evbuffer_get_length(in), limit = (size_t)s->l->o.line_limit;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
    if (eol.pos < 0) {
        if (avail <= limit + 1)
            return 0;
        evbuffer_drain(in, avail);
        s->mode = SMTPD_MODE_DISCARD;
        line_too_long(s);
        return 1;
    }
    size_t n = (size_t)eol.pos;
    if (n > limit + 1) {
        evbuffer_drain(in, n + 1);
        line_too_long(s);
        return 1;
    }
    dbuf_reset(&s->line);
    dbuf_reserve(&s->line, n);
    evbuffer_remove(in, s->line.data, n);
    evbuffer_drain(in, 1);
    if (n && s->line.data[n - 1] == '\r')
        n--;
    if (n > limit)
        line_too_long(s);
    else
        smtpd_command(s, (const char *)s->line.data, n);
    return 1;
}

/* step_discard - drop the rest of an over-long line, through its LF */
static int step_discard(smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
    if (eol.pos < 0) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return 0;
    }
    evbuffer_drain(in, (size_t)eol.pos + 1);
    s->mode = SMTPD_MODE_COMMAND;
    return 1;
}

/* What each input mode does with buffered bytes; 1 when something was consumed. */
static int (*const step_table[])(smtpd_session *) = {
    [SMTPD_MODE_COMMAND] = step_command,
    [SMTPD_MODE_DATA] = smtpd_data_step,
    [SMTPD_MODE_DISCARD] = step_discard,
    [SMTPD_MODE_BDAT] = smtpd_bdat_step,
};

void smtpd_session_run(smtpd_session *s)
{
    if (s->running)
        return;
    s->running = 1;
    while (can_process(s) && step_table[s->mode](s))
        if (out_pending(s) > SMTPD_OUT_HIGH)
            s->out_full = 1;
    s->running = 0;
}

/* log_disconnect - Postfix's summary: "disconnect from host[ip] ehlo=1 mail=1 ..." */
static void log_disconnect(const smtpd_session *s)
{
    if (!log_enabled(SL_INFO))
        return;
    char list[512] = "", peer[96];
    size_t off = 0;
    unsigned all = 0, ok = 0;
    for (int i = 1; i <= SMTP_NVERBS; i++) {
        int v = i % SMTP_NVERBS;   /* unknown last */
        if (!s->cnt_all[v] || off >= sizeof list - 40)
            continue;
        char name[16];
        clean_text(smtp_verb_name((enum smtp_verb)v), name, sizeof name);
        for (char *p = name; *p; p++)
            *p = (char)(*p | 0x20);
        if (s->cnt_ok[v] == s->cnt_all[v])
            off += (size_t)snprintf(list + off, sizeof list - off, " %s=%u", name, s->cnt_ok[v]);
        else
            off += (size_t)snprintf(list + off, sizeof list - off, " %s=%u/%u", name,
                                    s->cnt_ok[v], s->cnt_all[v]);
        all += s->cnt_all[v];
        ok += s->cnt_ok[v];
    }
    char total[32];
    if (ok == all)
        snprintf(total, sizeof total, "%u", ok);
    else
        snprintf(total, sizeof total, "%u/%u", ok, all);
    log_info(LOG_NOQUEUE, "disconnect from %s%s commands=%s",
             smtpd_peer_name(s, peer, sizeof peer), list, total);
}

void smtpd_session_disconnect(smtpd_session *s)
{
    smtpd_read_stop(s);
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    s->gone = 1;
    s->held = 0;
    if (s->timer)
        evtimer_del(s->timer);
    dbuf_reset(&s->out);
}

/* session_free - on_close, then release everything; s is gone afterwards */
static void session_free(smtpd_session *s)
{
    if (!s->closed) {
        s->closed = 1;
        log_disconnect(s);
        if (s->hooks.on_close)
            s->hooks.on_close(s);
    }
    smtpd_listener_detach(s);
    if (s->bev && s->tls && s->closing)
        SSL_shutdown(bufferevent_openssl_get_ssl(s->bev));   /* close_notify, best effort */
    smtpd_session_disconnect(s);
    event_free(s->timer);
    smtpd_transaction_reset(s);
    free(s->rcpts);
    dbuf_free(&s->out);
    dbuf_free(&s->line);
    free(s);
}

/* want_read - switch reading (and with it the idle timer) on or off */
static void want_read(smtpd_session *s, int on)
{
    if (s->rev) {
        smtpd_read_enable(s, on);
        return;
    }
    int is_on = (bufferevent_get_enabled(s->bev) & EV_READ) != 0;
    if (on && !is_on)
        bufferevent_enable(s->bev, EV_READ);
    else if (!on && is_on)
        bufferevent_disable(s->bev, EV_READ);
}

/* read_ahead - 1 when input is read though not processed: while a message is being
 * committed, so reading is not switched off and on again for every message and a
 * pipelined next command is at hand when the reply goes out; bounded by SMTPD_READ_AHEAD */
static int read_ahead(const smtpd_session *s)
{
    return s->msg_pending && !s->closing && !s->tls_pending &&
           evbuffer_get_length(bufferevent_get_input(s->bev)) < SMTPD_READ_AHEAD;
}

void smtpd_session_settle(smtpd_session *s)
{
    if (s->running)
        return;
    for (;;) {
        session_flush(s);
        if (!s->out_full || out_pending(s) != 0)
            break;
        s->out_full = 0;   /* it all went straight out: on with the input (no on_write comes) */
        smtpd_session_run(s);
    }
    if (!s->gone && s->tls_pending && out_pending(s) == 0 && smtpd_tls_start(s) < 0)
        smtpd_session_disconnect(s);
    int done = s->gone || (s->closing && !s->held && out_pending(s) == 0);
    if (done && !s->msg_pending) {
        session_free(s);
        return;
    }
    if (!s->gone)
        want_read(s, can_process(s) || read_ahead(s));
}

/* on_read - new input */
static void on_read(struct bufferevent *b, void *arg)
{
    smtpd_session *s = arg;
    smtpd_session_run(s);
    smtpd_session_settle(s);
}

/* on_write - the output buffer is empty */
static void on_write(struct bufferevent *b, void *arg)
{
    smtpd_session *s = arg;
    s->out_full = 0;
    smtpd_session_run(s);
    smtpd_session_settle(s);
}

/* on_timer - a held reply may go now */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    smtpd_session *s = arg;
    s->held = 0;
    smtpd_session_run(s);
    smtpd_session_settle(s);
}

/* session_timeout - the client was idle too long: 421 and close */
static void session_timeout(smtpd_session *s)
{
    char text[400], peer[96];
    log_info(LOG_NOQUEUE, "timeout after %s from %s", last_name(s),
             smtpd_peer_name(s, peer, sizeof peer));
    snprintf(text, sizeof text, "4.4.2 %s Error: timeout exceeded", s->l->o.hostname);
    smtpd_send(s, SMTPD_OTHER, 421, text, NULL, 0, SMTPD_R_CLOSE);
}

/* session_lost - the connection broke (EOF, error, TLS failure, write timeout) */
static void session_lost(smtpd_session *s, short what)
{
    char peer[96], err[256] = "";
    unsigned long e = s->bev ? bufferevent_get_openssl_error(s->bev) : 0;
    if (e)
        ERR_error_string_n(e, err, sizeof err);
    if (s->handshaking)
        log_info(LOG_NOQUEUE, "TLS handshake failed from %s%s%s",
                 smtpd_peer_name(s, peer, sizeof peer), e ? ": " : "", err);
    else if (!s->closing)
        log_info(LOG_NOQUEUE, "lost connection after %s from %s%s%s", last_name(s),
                 smtpd_peer_name(s, peer, sizeof peer), e ? ": " : "", err);
    smtpd_session_disconnect(s);
}

/* on_event - connected (TLS), timeout, EOF or error */
static void on_event(struct bufferevent *b, short what, void *arg)
{
    smtpd_session *s = arg;
    if ((what & BEV_EVENT_TIMEOUT) && s->msg_pending) {
        want_read(s, read_ahead(s));   /* idle while we commit is our wait, not the client's */
        return;
    }
    if (what & BEV_EVENT_CONNECTED)
        smtpd_tls_established(s);
    else if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && !s->handshaking &&
             !s->closing)
        session_timeout(s);
    else
        session_lost(s, what);
    smtpd_session_run(s);
    smtpd_session_settle(s);
}

void smtpd_session_readable(smtpd_session *s, short what)
{
    if (what)
        on_event(s->bev, what, s);
    else
        on_read(s->bev, s);
}

/* attach - b is the session's connection: callbacks and timeouts, nothing enabled yet */
static void attach(smtpd_session *s, struct bufferevent *b)
{
    int64_t ms = s->l->o.timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    s->bev = b;
    bufferevent_setcb(b, on_read, on_write, on_event, s);
    if (ms > 0)
        bufferevent_set_timeouts(b, &tv, &tv);
}

void smtpd_session_use_bev(smtpd_session *s, struct bufferevent *b)
{
    attach(s, b);
    bufferevent_enable(b, EV_READ | EV_WRITE);
}

/* use_socket - a plain socket bufferevent: reading on; writing only once a reply does not
 * go straight out (session_flush), which spares arming a write event per connection */
static void use_socket(smtpd_session *s, struct bufferevent *b)
{
    attach(s, b);
    s->plain_socket = 1;
    smtpd_read_start(s);   /* reading is ours (smtpd_read.c), not the bufferevent's */
    want_read(s, 1);
}

/* session_greet - ask on_connect, then send the 220 banner (or its refusal) */
static void session_greet(smtpd_session *s)
{
    smtpd_reply r = {0};
    if (s->hooks.on_connect)
        s->hooks.on_connect(s, &r);
    if (smtpd_answer(s, SMTPD_CONNECT, &r, 220, s->l->greeting, SMTPD_R_PLAIN) ==
        SMTPD_REFUSED)
        s->state = SMTPD_ST_REFUSED;
}

/* session_new - the session object for a connection, attached to l */
static smtpd_session *session_new(smtpd_listener *l, const struct sockaddr *sa,
                                  socklen_t salen, int admitted)
{
    smtpd_session *s = xcalloc(1, sizeof *s);
    s->id = ++session_ids;
    s->base = l->base;
    s->hooks = l->hooks;
    s->hook_ctx = l->o.hook_ctx;
    memcpy(&s->peer, sa, salen);
    s->peerlen = salen;
    netaddr_ip(sa, s->ip, sizeof s->ip);
    netaddr_key(sa, s->ipkey);
    s->admitted = admitted;
    s->size_param = -1;
    s->last = SMTP_NVERBS;
    s->timer = evtimer_new(l->base, on_timer, s);
    smtpd_listener_attach(l, s);
    return s;
}

void smtpd_session_start(smtpd_listener *l, int fd, const struct sockaddr *sa,
                         socklen_t salen, const char *refuse)
{
    char peer[96];
    smtpd_session *s = session_new(l, sa, salen, refuse == NULL);
    struct bufferevent *b = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
    log_info(LOG_NOQUEUE, "connect from %s", smtpd_peer_name(s, peer, sizeof peer));
    if (!b) {
        log_warn(LOG_NOQUEUE, "cannot create a bufferevent for %s", peer);
        close(fd);
        s->gone = 1;
    } else {
        use_socket(s, b);
        if (refuse)
            smtpd_send(s, SMTPD_CONNECT, 421, refuse, NULL, 0, SMTPD_R_CLOSE);
        else
            session_greet(s);
    }
    smtpd_session_settle(s);
}

void smtpd_session_abort(smtpd_session *s)
{
    smtpd_listener_detach(s);
    if (s->msg_pending) {
        smtpd_session_disconnect(s);   /* smtpd_message_done frees it */
        return;
    }
    session_free(s);
}

void *smtpd_session_ctx(const smtpd_session *s)
{
    return s->hook_ctx;
}

void *smtpd_session_user(const smtpd_session *s)
{
    return s->user;
}

void smtpd_session_set_user(smtpd_session *s, void *p)
{
    s->user = p;
}

const smtpd_listener *smtpd_session_listener(const smtpd_session *s)
{
    return s->l;
}

const struct sockaddr *smtpd_session_peer(const smtpd_session *s)
{
    return (const struct sockaddr *)&s->peer;
}

const char *smtpd_session_ip(const smtpd_session *s)
{
    return s->ip;
}

const char *smtpd_session_helo(const smtpd_session *s)
{
    return s->helo;
}

int64_t smtpd_session_size(const smtpd_session *s)
{
    return s->size_param;
}

int smtpd_session_esmtp(const smtpd_session *s)
{
    return s->esmtp;
}

int smtpd_session_tls(const smtpd_session *s)
{
    return s->tls;
}

const char *smtpd_session_tls_info(const smtpd_session *s)
{
    return s->tls_info;
}

const char *smtpd_session_sender(const smtpd_session *s)
{
    return s->sender;
}

int smtpd_session_nrcpt(const smtpd_session *s)
{
    return s->nrcpt;
}

int64_t smtpd_session_messages(const smtpd_session *s)
{
    return s->messages;
}

uint64_t smtpd_session_id(const smtpd_session *s)
{
    return s->id;
}
