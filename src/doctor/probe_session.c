/* probe_session.c - one SMTP session of `doctor probe`, with the outbound client
 * (src/client/smtpc.h) on the probe's own event loop: connect, greeting, EHLO (HELO when
 * refused), STARTTLS when offered and a TLS context exists, then, when --from/--rcpt asked,
 * an envelope-only transaction (MAIL, RCPT, RSET: DATA is never sent), and QUIT.
 *
 * The client's observer records a transcript with the time of every step (probe_phase.c
 * turns it into phase times) and, at the TLS step, the peer certificate (probe_cert.c).
 * Every phase is bounded by env->timeout_ms (the client's per-state timers); a guard timer
 * gives up on the whole session should the client ever fail to report.
 * Ownership: the session owns its transcript, replies and certificate (probe_session_clear);
 * the client connection lives only inside probe_session_run. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/xmalloc.h"
#include "doctor/probe.h"
#include "smtp/smtp_cmd.h"

#define LINE_MAX_TEXT 4096   /* reply bytes kept per transcript line */
#define GUARD_PHASES 12      /* the whole session may take this many phase timeouts */

/* What the callbacks need besides the session. */
typedef struct run {
    probe_session *s;
    const probe_env *env;
    const char *cert_name;   /* the name the certificate should match, NULL for a literal */
    smtpc *c;
    smtpc_txn txn;
    const char *rcpts[1];
    struct event *guard;
} run;

/* since - milliseconds since the session started */
static double since(const probe_session *s)
{
    return (double)(clock_mono_us() - s->start_us) / 1000.0;
}

char *probe_text(const char *s, size_t n)
{
    char *t = xstrndup(s, n);
    if (!smtp_utf8_valid((const unsigned char *)t, n))
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)t[i] > 0x7f)
                t[i] = '?';
    return t;
}

/* reply_copy - an owned copy of a reply, its text made safe for the report */
static void reply_copy(smtpc_reply *dst, const smtpc_reply *src)
{
    *dst = *src;
    dst->text = src->text ? probe_text(src->text, strlen(src->text)) : NULL;
}

/* add_line - a new transcript line, stamped now */
static probe_line *add_line(probe_session *s, enum probe_ev ev)
{
    XGROW(s->lines, s->nlines, s->cap, 16);
    probe_line *l = &s->lines[s->nlines++];
    memset(l, 0, sizeof *l);
    l->ev = ev;
    l->t_ms = since(s);
    return l;
}

/* raw_text - a reply's bytes as lines joined with '\n' (CRs and the last LF dropped) */
static char *raw_text(const char *raw, size_t len)
{
    dbuf d = {0};
    for (size_t i = 0; i < len && d.len < LINE_MAX_TEXT; i++)
        if (raw[i] != '\r')
            dbuf_putc(&d, (uint8_t)raw[i]);
    while (d.len && d.data[d.len - 1] == '\n')
        d.len--;
    char *t = probe_text(d.len ? (const char *)d.data : "", d.len);
    dbuf_free(&d);
    return t;
}

/* tls_up - the handshake finished: the protocol, the cipher and the certificate */
static void tls_up(run *x, const smtpc *c)
{
    probe_session *s = x->s;
    SSL *ssl = smtpc_tls_ssl(c);
    s->tls_up = 1;
    if (!ssl)
        return;
    snprintf(s->tls_version, sizeof s->tls_version, "%s", SSL_get_version(ssl));
    snprintf(s->tls_cipher, sizeof s->tls_cipher, "%s", SSL_get_cipher_name(ssl));
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert) {
        probe_cert_read(cert, SSL_get_verify_result(ssl), x->cert_name, &s->cert);
        s->have_cert = 1;
    }
}

/* on_step - the client's observer: one transcript line per step */
static void on_step(void *arg, const smtpc *c, const smtpc_step_info *si)
{
    static const enum probe_ev evs[] = {PE_CONNECTED, PE_COMMAND, PE_REPLY, PE_TLS};
    run *x = arg;
    if ((size_t)si->step >= sizeof evs / sizeof evs[0])
        return;   /* a step this probe does not know */
    probe_line *l = add_line(x->s, evs[si->step]);
    if (si->step == SMTPC_STEP_CONNECTED) {
        x->s->connected = 1;
    } else if (si->step == SMTPC_STEP_COMMAND) {
        l->text = probe_text(si->line, strlen(si->line));
    } else if (si->step == SMTPC_STEP_REPLY) {
        l->code = si->reply->code;
        l->stage = si->reply->stage;
        l->text = raw_text(si->raw, si->rawlen);
    } else {
        tls_up(x, c);
    }
}

/* finish - the session is over: free the connection (we are inside its callback) */
static void finish(run *x, smtpc *c)
{
    x->s->end_ms = since(x->s);
    x->s->done = 1;
    smtpc_free(c);
    x->c = NULL;
}

/* on_txn - the envelope-only transaction ended: keep its replies, then QUIT */
static void on_txn(void *arg, smtpc *c, smtpc_txn *t)
{
    run *x = arg;
    x->s->txn_ran = 1;
    x->s->txn_lost = t->conn_lost;
    reply_copy(&x->s->mail, &t->mail);
    if (t->nrcpt > 0)
        reply_copy(&x->s->rcpt, &t->rcpt[0]);
    smtpc_txn_clear(t);
    smtpc_quit(c);
}

/* start_txn - MAIL (and RCPT) without DATA; QUIT at once if it cannot be sent */
static void start_txn(run *x, smtpc *c)
{
    const probe_env *e = x->env;
    memset(&x->txn, 0, sizeof x->txn);
    x->txn.sender = e->from ? e->from : "";
    x->rcpts[0] = e->rcpt;
    x->txn.rcpts = x->rcpts;
    x->txn.nrcpt = e->rcpt ? 1 : 0;
    x->txn.envelope_only = 1;
    if (smtpc_send(c, &x->txn, on_txn, x) < 0)
        smtpc_quit(c);
}

/* on_event - READY: the transaction or QUIT; FAILED or CLOSED: the end */
static void on_event(void *arg, smtpc *c, enum smtpc_event ev, const smtpc_reply *r)
{
    run *x = arg;
    if (ev == SMTPC_EV_READY) {
        x->s->ready = 1;
        if (x->env->want_txn)
            start_txn(x, c);
        else
            smtpc_quit(c);
        return;
    }
    if (ev == SMTPC_EV_FAILED) {
        x->s->failed = 1;
        reply_copy(&x->s->fail, r);
    } else {
        reply_copy(&x->s->closed, r);
    }
    finish(x, c);
}

/* on_guard - the client never reported: give up on the session */
static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    run *x = arg;
    char text[] = "the probe gave up on the session";
    smtpc_reply r = {0};
    r.text = text;
    r.closed = 1;
    x->s->failed = 1;
    reply_copy(&x->s->fail, &r);
    x->s->end_ms = since(x->s);
    x->s->done = 1;
    smtpc_free(x->c);
    x->c = NULL;
}

/* client_opts - the source address of a's family; every phase bounded by the timeout */
static smtpc_opts client_opts(const probe_env *e, const probe_addr *a, enum smtpc_tls tls)
{
    smtpc_opts o = {0};
    o.helo_name = e->helo;
    o.source = a->addr.ss.ss_family == AF_INET6 ? e->source6 : e->source4;
    o.tls = e->tls_ctx ? tls : SMTPC_TLS_NONE;
    o.tls_ctx = e->tls_ctx;
    o.connect_timeout_ms = o.helo_timeout_ms = o.starttls_timeout_ms = e->timeout_ms;
    o.mail_timeout_ms = o.rcpt_timeout_ms = o.quit_timeout_ms = e->timeout_ms;
    o.data_init_timeout_ms = o.data_xfer_timeout_ms = o.data_done_timeout_ms = e->timeout_ms;
    return o;
}

void probe_session_run(const probe_env *env, const probe_addr *a, enum smtpc_tls tls,
                       probe_session *s)
{
    netaddr lit;
    run x = {0};
    x.s = s;
    x.env = env;
    x.cert_name = probe_literal(a->host, &lit) == 0 ? NULL : a->host;   /* by address: none */
    memset(s, 0, sizeof *s);
    s->tls = tls;
    smtpc_opts o = client_opts(env, a, tls);
    int64_t guard_ms = env->timeout_ms * GUARD_PHASES;
    struct timeval tv = {(time_t)(guard_ms / 1000), (suseconds_t)(guard_ms % 1000 * 1000)};
    x.guard = evtimer_new(env->base, on_guard, &x);
    evtimer_add(x.guard, &tv);
    s->start_us = clock_mono_us();
    x.c = smtpc_connect(env->base, &a->addr, a->host, &o, on_event, &x);
    smtpc_observe(x.c, on_step, &x);
    while (!s->done)
        event_base_loop(env->base, EVLOOP_ONCE);
    event_free(x.guard);
}

void probe_session_clear(probe_session *s)
{
    for (int i = 0; i < s->nlines; i++)
        free(s->lines[i].text);
    free(s->lines);
    probe_cert_clear(&s->cert);
    smtpc_reply_clear(&s->fail);
    smtpc_reply_clear(&s->mail);
    smtpc_reply_clear(&s->rcpt);
    smtpc_reply_clear(&s->closed);
    memset(s, 0, sizeof *s);
}
