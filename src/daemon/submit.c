/* submit.c - the SMTP submission listeners of sluiced: the server engine with the daemon's
 * policy.  Recipients are accepted only from clients in mynetworks (554 5.7.1 otherwise);
 * a finished message goes through cleanup into the spool, and the 250 is sent when the
 * spool's group commit has made it durable. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"

/* in_mynetworks - the client is one of ours */
static int in_mynetworks(const sluiced *d, const struct sockaddr *sa)
{
    for (int i = 0; i < d->cfg->n_mynetworks_cidr; i++)
        if (cidr_match(&d->cfg->mynetworks_cidr[i], sa))
            return 1;
    return 0;
}

/* on_rcpt - relay control */
static void on_rcpt(smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    sluiced *d = smtpd_session_ctx(s);
    if (in_mynetworks(d, smtpd_session_peer(s)))
        return;
    r->code = 554;
    snprintf(r->text, sizeof r->text, "5.7.1 <%s>: Relay access denied", rcpt);
    r->policy = "relay";   /* the engine logs the refusal */
}

/* storage_note - log when the spool's room falls under the threshold need, and when it is
 * back above twice that (so a room hovering at the line logs once, not at every message) */
static void storage_note(sluiced *d, uint64_t room, uint64_t need)
{
    int low = d->storage_low ? room < 2 * need : room < need;
    if (low == d->storage_low)
        return;
    d->storage_low = low;
    if (low)
        log_warn(NULL, "spool: %llu bytes left for the queue, %llu needed (queue_minfree, 1.5 x "
                 "message_size_limit): new mail gets 452 4.3.1 until space is freed",
                 (unsigned long long)room, (unsigned long long)need);
    else
        log_info(NULL, "spool: %llu bytes left for the queue again: accepting mail",
                 (unsigned long long)room);
}

/* on_mail - room for the message?  As Postfix's queue_minfree: the spool must keep
 * 1.5 x message_size_limit free, and queue_minfree after the message's declared SIZE.
 * Refusing here, not after the body, spares the client the transfer and keeps room for
 * the delivery records that free space again. */
static void on_mail(smtpd_session *s, const char *sender, smtpd_reply *r)
{
    (void)sender;
    sluiced *d = smtpd_session_ctx(s);
    const sl_config *c = d->cfg;
    int64_t declared = smtpd_session_size(s);
    uint64_t base = (uint64_t)c->message_size_limit + (uint64_t)c->message_size_limit / 2;
    if ((uint64_t)c->queue_minfree > base)
        base = (uint64_t)c->queue_minfree;
    uint64_t need = (uint64_t)c->queue_minfree + (uint64_t)(declared > 0 ? declared : 0);
    if (need < base)
        need = base;
    uint64_t room = spool_room(d->sp);
    storage_note(d, room, base);
    if (room >= need && (declared <= 0 || (uint64_t)declared <= room / 2))   /* Postfix too: */
        return;                                          /* a message fills at most half */
    r->code = 452;
    snprintf(r->text, sizeof r->text, "4.3.1 Insufficient system storage");
    r->policy = "queue_minfree";
}

/* A message waiting for its group commit. */
typedef struct pending_msg {
    smtpd_session *s;
    smtpd_message *m;
} pending_msg;

/* on_queued - the spool's answer: durable (250) or not (451) */
static void on_queued(void *arg, qmsg *qm, int err)
{
    pending_msg *p = arg;
    smtpd_reply r = {0};
    if (qm) {
        char qs[QID_LEN + 1];
        r.code = 250;
        snprintf(r.text, sizeof r.text, "2.0.0 Ok: queued as %s", qid_format(qm->qid, qs));
    } else {
        r.code = err == ENOSPC ? 452 : 451;
        snprintf(r.text, sizeof r.text, "%s", err == ENOSPC ? "4.3.1 Insufficient system storage"
                                                               : "4.3.0 Error: queue file write error");
    }
    smtpd_message_done(p->s, p->m, &r);
    free(p);
}

/* on_message - a complete message: into cleanup and the spool */
static void on_message(smtpd_session *s, smtpd_message *m)
{
    sluiced *d = smtpd_session_ctx(s);
    if (d->stopping) {
        smtpd_reply r = {.code = 421, .close = 1};
        snprintf(r.text, sizeof r.text, "4.3.2 %s Service shutting down", d->cfg->myhostname);
        smtpd_message_done(s, m, &r);
        return;
    }
    pending_msg *p = xmalloc(sizeof *p);
    p->s = s;
    p->m = m;
    const char *proto = smtpd_session_esmtp(s) ? (smtpd_session_tls(s) ? "ESMTPS" : "ESMTP")
                                               : "SMTP";
    cleanup_in in = {.sender = m->sender, .rcpts = (const char *const *)m->rcpts,
                     .nrcpt = m->nrcpt, .msg = m->body.data, .len = m->body.len,
                     .client_ip = smtpd_session_ip(s), .helo = smtpd_session_helo(s),
                     .proto = proto,
                     .flags = (m->body_8bitmime ? MSGF_8BITMIME : 0) |
                              (m->smtputf8 ? MSGF_SMTPUTF8 : 0)};
    cleanup_submit(d, &in, on_queued, p);
}

static const smtpd_hooks submit_hooks = {
    .on_mail = on_mail,
    .on_rcpt = on_rcpt,
    .on_message = on_message,
};

#define HANDOVER_ENV "SLUICED_LISTEN_FDS"
#define HANDOVER_MAX 64

/* inherited_fds - the listening sockets a reloading sluiced passed across exec (the
 * environment names them; it is cleared so that nothing started later sees it) */
static int inherited_fds(int *fds, int max)
{
    const char *v = getenv(HANDOVER_ENV);
    int n = 0;
    for (const char *p = v; p && *p && n < max;) {
        char *end;
        long fd = strtol(p, &end, 10);
        if (end == p || fd < 3 || fd > INT_MAX)
            break;
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
            fds[n++] = (int)fd;
        p = *end == ',' ? end + 1 : end;
    }
    unsetenv(HANDOVER_ENV);
    return n;
}

/* take_inherited - the inherited socket bound to addr (taken out of fds), or -1 */
static int take_inherited(int *fds, int n, const netaddr *addr)
{
    char want[NETADDR_STRLEN], have[NETADDR_STRLEN];
    netaddr_format((const struct sockaddr *)&addr->ss, want, sizeof want);
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (fds[i] < 0 || getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0)
            continue;
        netaddr_format((const struct sockaddr *)&ss, have, sizeof have);
        if (strcmp(want, have) == 0) {
            int fd = fds[i];
            fds[i] = -1;
            return fd;
        }
    }
    return -1;
}

/* open_listener - listen on addr: on the inherited socket fd when there is one (>= 0) */
static smtpd_listener *open_listener(sluiced *d, const netaddr *addr, const smtpd_opts *o, int fd,
                                     char *err, int errlen)
{
    if (fd < 0)
        return smtpd_listen(d->base, addr, o, err, errlen);
    smtpd_listener *l = smtpd_listen_fd(d->base, fd, o, err, errlen);
    if (!l)
        close(fd);
    return l;
}

int submit_listen(sluiced *d, char *err, int errlen)
{
    const sl_config *c = d->cfg;
    smtpd_opts o = {
        .hostname = c->myhostname,
        .banner = c->smtpd_banner,
        .max_connections = c->smtpd_connection_limit,
        .max_conn_per_ip = c->smtpd_client_connection_count_limit,
        .timeout_ms = c->smtpd_timeout_ms,
        .max_message_size = c->message_size_limit,
        .max_rcpts = c->smtpd_recipient_limit,
        .rcpt_overshoot_limit = c->smtpd_recipient_overshoot_limit,
        .hard_error_limit = c->smtpd_hard_error_limit,
        .soft_error_limit = c->smtpd_soft_error_limit,
        .error_sleep_ms = c->smtpd_error_sleep_time_ms,
        .line_limit = c->line_length_limit,
        .tls = d->tls,
        .tls_required = strcmp(c->smtpd_tls_security_level, "encrypt") == 0,
        .hooks = &submit_hooks,
        .hook_ctx = d,
    };
    int fds[HANDOVER_MAX];
    int nfds = inherited_fds(fds, HANDOVER_MAX), rc = 0;
    int *mine = xcalloc((size_t)c->n_listen_addrs + 1, sizeof *mine);
    for (int i = 0; i < c->n_listen_addrs; i++)
        mine[i] = take_inherited(fds, nfds, &c->listen_addrs[i]);
    for (int i = 0; i < nfds; i++)   /* addresses no longer configured: closed before the */
        if (fds[i] >= 0)              /* new ones bind (127.0.0.1:25 after 0.0.0.0:25) */
            close(fds[i]);
    d->listeners = xcalloc((size_t)c->n_listen_addrs + 1, sizeof *d->listeners);
    for (int i = 0; i < c->n_listen_addrs; i++) {
        char e[256];
        if (rc) {   /* an earlier one failed: the start ends, nothing more to open */
            if (mine[i] >= 0)
                close(mine[i]);
            continue;
        }
        smtpd_listener *l = open_listener(d, &c->listen_addrs[i], &o, mine[i], e, sizeof e);
        if (!l) {   /* open_listener closed an inherited socket it could not use */
            snprintf(err, (size_t)errlen, "listen = %s: %s", c->listen.v[i], e);
            rc = -1;
            continue;
        }
        d->listeners[d->nlisteners++] = l;
        log_info(NULL, "listening for SMTP on %s", smtpd_listener_name(l));
    }
    free(mine);
    return rc;
}

void submit_hand_over(sluiced *d)
{
    d->handover = xcalloc((size_t)d->nlisteners + 1, sizeof *d->handover);
    for (int i = 0; i < d->nlisteners; i++) {
        int fd = smtpd_listener_hand_over(d->listeners[i]);
        if (fd >= 0)
            d->handover[d->nhandover++] = fd;
    }
}

void submit_export_handover(const sluiced *d)
{
    dbuf b = {0};
    for (int i = 0; i < d->nhandover; i++)
        dbuf_printf(&b, "%s%d", i ? "," : "", d->handover[i]);
    setenv(HANDOVER_ENV, b.len ? dbuf_cstr(&b) : "", 1);
    dbuf_free(&b);
}

void submit_close(sluiced *d)
{
    for (int i = 0; i < d->nlisteners; i++)
        smtpd_listener_free(d->listeners[i]);
    free(d->listeners);
    d->listeners = NULL;
    d->nlisteners = 0;
}
