/* smtpc_conn.c - one outbound connection's life: the socket (bound to the source address
 * when asked), the non-blocking connect, the bufferevent callbacks, reading replies and
 * handing each to its state's handler (smtpc_state.c), the per-state timer, losing the
 * connection, QUIT, and freeing.
 *
 * Called by: the owner (smtpc_connect, smtpc_quit, smtpc_free, accessors), libevent.
 * Invariants:
 *  - Every reply is parsed whole (multi-line replies may arrive in pieces) and handled in
 *    the state it arrives in; a 421 in any state but QUIT means the server is closing and
 *    goes to smtpc_lost, like EOF, a reset, a timeout or a malformed reply.
 *  - smtpc_lost is the one way out of a broken conversation: it drops the connection,
 *    finishes a running transaction (smtpc_txn_lost) and queues exactly one final event:
 *    FAILED before READY, CLOSED from READY on (or whenever the owner asked to quit).
 *  - A refusal before READY (greeting, EHLO/HELO, STARTTLS, TLS policy) is answered with
 *    QUIT; FAILED follows as soon as the QUIT is written (its reply is not awaited).
 *  - When the socket dies while writing, whatever the server said before is read first, so
 *    a "421" sent just before a close is reported rather than a bare reset.
 *  - The process ignores SIGPIPE once a connection is made (as the server engine does): a
 *    write to a vanished server must be an error, not a signal.
 *  - The observer (smtpc_observe) is told of the connect, every command queued and every
 *    reply before its handler runs; it only reads, so it may be called from anywhere.
 * Ownership: the owner frees with smtpc_free; from inside one of its callbacks that only marks
 * the connection dead and the report loop frees it when the callback returns. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/smtpc_int.h"
#include "common/evread.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* doing - what the client is doing in its state, for texts */
static const char *doing(const smtpc *c)
{
    return smtpc_states[c->state].doing;
}

void smtpc_set_state(smtpc *c, enum smtpc_state s)
{
    c->state = s;
    smtpc_restart_timer(c);
}

void smtpc_restart_timer(smtpc *c)
{
    const smtpc_state_info *si = &smtpc_states[c->state];
    evtimer_del(c->timer);
    if (si->timeout_off == SMTPC_NO_TIMEOUT || !c->bev)
        return;
    int64_t ms;
    memcpy(&ms, (const char *)&c->o + si->timeout_off, sizeof ms);
    if (ms <= 0)
        ms = si->timeout_default;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(c->timer, &tv);
}

void smtpc_write(smtpc *c, const void *p, size_t n)
{
    if (!c->bev)
        return;
    if (c->failing)   /* the QUIT after a refusal: on_write reports when it is out */
        bufferevent_enable(c->bev, EV_WRITE);
    bufferevent_write(c->bev, p, n);
    if (!c->failing && c->plain_socket && !c->push_pending) {
        c->push_pending = 1;   /* pipelined commands leave together, after this callback */
        event_active(c->push_ev, EV_TIMEOUT, 1);
    }
}

/* on_push - write what was queued during the callback that just ended */
static void on_push(evutil_socket_t fd, short what, void *arg)
{
    smtpc *c = arg;
    (void)fd;
    (void)what;
    c->push_pending = 0;
    if (c->bev && !c->failing)
        smtpc_push(c);
}

int smtpc_push(smtpc *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->plain_socket)
        return evbuffer_get_length(out) == 0;
    while (evbuffer_get_length(out) > 0 && evbuffer_write(out, bufferevent_getfd(c->bev)) > 0)
        ;
    if (evbuffer_get_length(out) == 0)
        return 1;
    bufferevent_enable(c->bev, EV_WRITE);   /* the rest, or the error, is the bufferevent's */
    return 0;
}

void smtpc_command(smtpc *c, const char *fmt, ...)
{
    va_list ap, ap2;
    dbuf line = {0};
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        dbuf_reserve(&line, (size_t)n + 2);
        vsnprintf((char *)line.data, (size_t)n + 1, fmt, ap2);
        line.len = (size_t)n;
        log_debug(LOG_NOQUEUE, "%s: > %s", c->peer, (const char *)line.data);
        smtpc_observed(c, SMTPC_STEP_COMMAND, (const char *)line.data, NULL, NULL, 0);
        dbuf_put(&line, "\r\n", 2);
        smtpc_write(c, line.data, line.len);
    }
    va_end(ap2);
    dbuf_free(&line);
}

void smtpc_drop(smtpc *c)
{
    smtpc_read_stop(c);
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    evtimer_del(c->timer);
    c->state = SMTPC_S_CLOSED;
}

/* end_report - the one final event after the conversation ended in state st */
static void end_report(smtpc *c, enum smtpc_state st, smtpc_reply *r)
{
    if (c->failing) {
        smtpc_reply_clear(r);
        *r = c->fail;
        memset(&c->fail, 0, sizeof c->fail);
    }
    if (c->quit_wanted || (st >= SMTPC_S_READY && !c->failing))
        smtpc_report_event(c, SMTPC_EV_CLOSED, r);
    else
        smtpc_report_event(c, SMTPC_EV_FAILED, r);
}

void smtpc_lost(smtpc *c, smtpc_reply *r)
{
    enum smtpc_state st = c->state;
    if (st == SMTPC_S_CLOSED) {
        smtpc_reply_clear(r);
        return;
    }
    r->closed = 1;
    if (st == SMTPC_S_QUIT && c->failing && r->code == 0)
        c->fail.closed = 1;   /* the server went away before answering QUIT */
    if (st == SMTPC_S_QUIT && r->code && c->f.tls_active && c->bev)
        SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));   /* close_notify, best effort */
    log_debug(LOG_NOQUEUE, "%s: closed while %s: %d %s", c->peer, smtpc_states[st].doing,
              r->code, r->text ? r->text : "");
    smtpc_drop(c);
    if (c->t)
        smtpc_txn_lost(c, st, r);
    end_report(c, st, r);
}

void smtpc_lost_text(smtpc *c, const char *enh, const char *fmt, ...)
{
    va_list ap;
    char text[SMTPC_TEXT_MAX];
    smtpc_reply r;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    smtpc_reply_set(&r, 0, enh, smtpc_states[c->state].stage, 1, "%s", text);
    smtpc_lost(c, &r);
}

void smtpc_fail_polite(smtpc *c, smtpc_reply *r)
{
    smtpc_reply_clear(&c->fail);
    c->fail = *r;
    memset(r, 0, sizeof *r);
    c->failing = 1;
    smtpc_send_quit(c);
}

void smtpc_send_quit(smtpc *c)
{
    smtpc_command(c, "QUIT");
    smtpc_set_state(c, SMTPC_S_QUIT);
}

/* connect_failed - the TCP connection could not be made (err: an errno value) */
static void connect_failed(smtpc *c, int err, const char *what)
{
    smtpc_lost_text(c, "4.4.1", "connect to %s: %s%s%s", c->peer, what ? what : "",
                    what ? ": " : "", strerror(err));
}

/* protocol_error - the server sent something that is not a reply */
static void protocol_error(smtpc *c, const char *what)
{
    smtpc_lost_text(c, "4.5.0", "protocol error with %s while %s: %s", c->host, doing(c),
                    what);
}

/* dispatch - hand one reply (raw: its bytes) to the handler of the current state */
static void dispatch(smtpc *c, smtpc_reply *r)
{
    r->stage = smtpc_states[c->state].stage;
    log_debug(LOG_NOQUEUE, "%s: < %d %s%s%s", c->peer, r->code, r->enh, r->enh[0] ? " " : "",
              r->text);
    smtpc_observed(c, SMTPC_STEP_REPLY, NULL, r, (const char *)c->raw.data, c->raw.len);
    if (r->code == 421 && c->state != SMTPC_S_QUIT) {
        smtpc_lost(c, r);   /* the server is closing the connection */
        return;
    }
    smtpc_states[c->state].on_reply(c, r, (const char *)c->raw.data, c->raw.len);
}

/* read_replies - handle every complete reply waiting in the input */
static void read_replies(smtpc *c)
{
    while (c->bev && smtpc_states[c->state].on_reply) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t len = evbuffer_get_length(in);
        if (len == 0)
            return;
        const char *buf = (const char *)evbuffer_pullup(in, -1);
        smtpc_reply r;
        int n = smtp_reply_parse(buf, len, &r, SMTPC_TEXT_MAX);
        if (n == 0 && len <= SMTPC_INPUT_MAX)
            return;
        if (n <= 0) {
            protocol_error(c, n < 0 ? "malformed reply" : "reply too long");
            return;
        }
        dbuf_reset(&c->raw);
        dbuf_put(&c->raw, buf, (size_t)n);
        evbuffer_drain(in, (size_t)n);
        dispatch(c, &r);
    }
}

/* on_read - replies arrived (TLS: the bufferevent read them) */
static void on_read(struct bufferevent *b, void *arg)
{
    read_replies(arg);
}

static void connection_ended(smtpc *c, short what);

/* on_readable - a plain socket has replies, EOF or an error: read it ourselves (evread.h) */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    smtpc *c = arg;
    ssize_t n = evread_fd(bufferevent_get_input(c->bev), fd);
    if (n > 0)
        read_replies(c);
    else if (n == 0)
        connection_ended(c, BEV_EVENT_READING | BEV_EVENT_EOF);
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
        connection_ended(c, BEV_EVENT_READING | BEV_EVENT_ERROR);
}

/* read_start - connected on a plain socket: read with our own event from now on */
static void read_start(smtpc *c)
{
    c->rev = event_new(c->base, bufferevent_getfd(c->bev), EV_READ | EV_PERSIST, on_readable, c);
    if (c->rev)
        event_add(c->rev, NULL);   /* the state timer watches for silence */
    else
        bufferevent_enable(c->bev, EV_READ);
}

void smtpc_read_stop(smtpc *c)
{
    if (c->rev)
        event_free(c->rev);
    c->rev = NULL;
}

/* quit_sent - the QUIT after a refusal is out: FAILED now, without waiting for its reply
 * (as Postfix's smtp_skip_quit_response), so the owner can try the next server at once */
static void quit_sent(smtpc *c)
{
    smtpc_reply none = {0};
    log_debug(LOG_NOQUEUE, "%s: QUIT sent after a refusal", c->peer);
    smtpc_drop(c);
    end_report(c, SMTPC_S_QUIT, &none);
}

/* on_write - the output drained to the low watermark: the body wants more, or the QUIT
 * after a refusal is out */
static void on_write(struct bufferevent *b, void *arg)
{
    smtpc *c = arg;
    if (c->state == SMTPC_S_BODY)
        smtpc_body_more(c);
    else if (c->state == SMTPC_S_QUIT && c->failing)
        quit_sent(c);
}

/* salvage - read what the server sent before the socket failed (plain TCP only) */
static void salvage(smtpc *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->f.tls_active || fd < 0)
        return;
    while (evbuffer_get_length(in) < SMTPC_INPUT_MAX && evread_fd(in, fd) > 0)
        ;
}

/* connection_ended - EOF or an error on an established connection */
static void connection_ended(smtpc *c, short what)
{
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_ERROR)
        salvage(c);
    read_replies(c);   /* a last reply (a 421) may explain the close */
    if (!c->bev)
        return;
    if ((what & BEV_EVENT_EOF) || err == 0)
        smtpc_lost_text(c, "4.4.2", "lost connection with %s while %s", c->host, doing(c));
    else
        smtpc_lost_text(c, "4.4.2", "lost connection with %s while %s: %s", c->host, doing(c),
                        strerror(err));
}

/* on_event - connected, TLS handshake done or failed, EOF, error */
static void on_event(struct bufferevent *b, short what, void *arg)
{
    smtpc *c = arg;
    if (c->state == SMTPC_S_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            log_debug(LOG_NOQUEUE, "%s: connected", c->peer);
            if (c->plain_socket)
                read_start(c);
            smtpc_set_state(c, SMTPC_S_GREETING);
            smtpc_observed(c, SMTPC_STEP_CONNECTED, NULL, NULL, NULL, 0);
        } else {
            int err = EVUTIL_SOCKET_ERROR();
            connect_failed(c, err ? err : ECONNREFUSED, NULL);
        }
    } else if (c->state == SMTPC_S_HANDSHAKE) {
        if (what & BEV_EVENT_CONNECTED)
            smtpc_tls_established(c);
        else
            smtpc_tls_failed(c, what);
    } else if (!(what & BEV_EVENT_CONNECTED)) {
        connection_ended(c, what);
    }
}

/* on_timer - the current state took too long */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    smtpc *c = arg;
    if (c->state == SMTPC_S_CONNECTING)
        connect_failed(c, ETIMEDOUT, NULL);
    else
        smtpc_lost_text(c, "4.4.2", "conversation with %s timed out while %s", c->host,
                        doing(c));
}

void smtpc_use_bev(smtpc *c, struct bufferevent *b)
{
    c->bev = b;
    c->plain_socket = 0;
    bufferevent_setcb(b, on_read, on_write, on_event, c);
    bufferevent_enable(b, EV_READ | EV_WRITE);
}

/* bind_source - bind fd to the source address; 0, or -1 with errno set */
static int bind_source(smtpc *c, int fd)
{
    const struct sockaddr *src = (const struct sockaddr *)&c->source.ss;
    if (src->sa_family != c->addr.ss.ss_family) {
        errno = EAFNOSUPPORT;
        return -1;
    }
#ifdef IP_BIND_ADDRESS_NO_PORT
    int one = 1;   /* pick the port at connect: many sources share the ephemeral range */
    if (netaddr_port(src) == 0)
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    return bind(fd, src, c->source.len);
}

/* start_connect - the socket and the non-blocking connect; failures are reported */
static void start_connect(smtpc *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->addr.ss;
    char ip[NETADDR_STRLEN];
    int one = 1, fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connect_failed(c, errno, "socket");
        return;
    }
    if (c->o.source && bind_source(c, fd) < 0) {
        int err = errno;
        close(fd);
        char what[NETADDR_STRLEN + 40];
        snprintf(what, sizeof what, "cannot bind to source address %s",
                 netaddr_ip((const struct sockaddr *)&c->source.ss, ip, sizeof ip));
        connect_failed(c, err, what);
        return;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *b = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!b) {
        close(fd);
        connect_failed(c, ENOMEM, "bufferevent");
        return;
    }
    smtpc_use_bev(c, b);
    /* writing is armed by smtpc_push when needed (the connect works without); reading is
     * ours once connected (read_start) */
    bufferevent_disable(b, EV_READ | EV_WRITE);
    c->plain_socket = 1;
    smtpc_set_state(c, SMTPC_S_CONNECTING);
    if (bufferevent_socket_connect(b, sa, (int)c->addr.len) < 0)
        connect_failed(c, EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNREFUSED, NULL);
}

/* set_names - c->host "name[ip]" and c->peer "name[ip]:port" */
static void set_names(smtpc *c)
{
    char ip[NETADDR_STRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&c->addr.ss;
    netaddr_ip(sa, ip, sizeof ip);
    snprintf(c->host, sizeof c->host, "%.255s[%s]", c->server_name, ip);
    snprintf(c->peer, sizeof c->peer, "%s:%d", c->host, netaddr_port(sa));
}

/* copy_opts - keep the owner's options, with our own copies of the strings */
static void copy_opts(smtpc *c, const smtpc_opts *o, const char *server_name)
{
    char ip[NETADDR_STRLEN];
    c->o = *o;
    c->helo_name = xstrdup(o->helo_name ? o->helo_name : "localhost");
    c->verify_name = o->verify_name ? xstrdup(o->verify_name) : NULL;
    c->o.helo_name = c->helo_name;
    c->o.verify_name = c->verify_name;
    if (o->auth_user) {   /* the login: copies, wiped when the connection is freed */
        c->o.auth_user = xstrdup(o->auth_user);
        c->o.auth_pass = xstrdup(o->auth_pass ? o->auth_pass : "");
    }
    if (o->source) {
        c->source = *o->source;
        c->o.source = &c->source;
    }
    c->server_name = xstrdup(server_name && *server_name
                                 ? server_name
                                 : netaddr_ip((const struct sockaddr *)&c->addr.ss, ip,
                                              sizeof ip));
}

smtpc *smtpc_connect(struct event_base *base, const netaddr *addr, const char *server_name,
                     const smtpc_opts *o, smtpc_event_cb cb, void *arg)
{
    smtpc *c = xcalloc(1, sizeof *c);
    signal(SIGPIPE, SIG_IGN);
    c->base = base;
    c->cb = cb;
    c->arg = arg;
    c->addr = *addr;
    copy_opts(c, o, server_name);
    set_names(c);
    c->timer = evtimer_new(base, on_timer, c);
    c->push_ev = event_new(base, -1, 0, on_push, c);
    smtpc_report_init(c);
    c->state = SMTPC_S_CONNECTING;
    log_debug(LOG_NOQUEUE, "%s: connecting", c->peer);
    start_connect(c);
    return c;
}

const smtpc_features *smtpc_features_of(const smtpc *c)
{
    return &c->f;
}

const char *smtpc_peer(const smtpc *c)
{
    return c->peer;
}

void smtpc_observe(smtpc *c, smtpc_observe_cb cb, void *arg)
{
    c->observe = cb;
    c->observe_arg = arg;
}

void smtpc_observed(const smtpc *c, enum smtpc_step step, const char *line,
                    const smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (!c->observe || c->dead)
        return;
    smtpc_step_info si = {step, line, r, raw, rawlen};
    c->observe(c->observe_arg, c, &si);
}

void smtpc_quit(smtpc *c)
{
    if (!c || c->dead || c->quit_wanted || c->state == SMTPC_S_CLOSED)
        return;
    c->quit_wanted = 1;   /* from now on the final event is CLOSED */
    if (c->state == SMTPC_S_QUIT)
        return;
    if (c->state == SMTPC_S_READY && !c->t)
        smtpc_send_quit(c);
    else if (c->state == SMTPC_S_CONNECTING)
        smtpc_lost_text(c, "4.4.1", "connect to %s: closed by the client", c->peer);
    /* otherwise QUIT follows the greeting or the running transaction */
}

void smtpc_destroy(smtpc *c)
{
    smtpc_drop(c);
    smtpc_report_clear(c);
    event_free(c->timer);
    event_free(c->push_ev);
    event_free(c->report_ev);
    smtpc_reply_clear(&c->fail);
    dbuf_free(&c->raw);
    free(c->server_name);
    free(c->helo_name);
    free(c->verify_name);
    if (c->o.auth_user) {
        explicit_bzero((char *)c->o.auth_pass, strlen(c->o.auth_pass));
        free((char *)c->o.auth_user);
        free((char *)c->o.auth_pass);
    }
    free(c);
}

void smtpc_free(smtpc *c)
{
    if (!c)
        return;
    if (c->in_cb) {   /* inside one of our callbacks: smtpc_report.c frees it afterwards */
        c->dead = 1;
        smtpc_drop(c);
        smtpc_report_clear(c);
        return;
    }
    smtpc_destroy(c);
}
