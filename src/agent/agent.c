/* agent.c - sessions of the SMTP delivery agent (see agent.h).
 * A session moves RESOLVING -> CONNECTING -> READY <-> BUSY -> CLOSING.  It reports to the
 * scheduler only through sched_job_done (a job finished, or could not start because every
 * host failed) and sched_sess_gone (an idle connection ended).  The scheduler may hand it
 * the next job from inside sched_job_done, so the session's state is settled before that
 * call and not touched after it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "client/smtpc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct agent {
    struct event_base *base;
    const sl_config *cfg;
    spool *sp;
    dns_ctx *dns;
    sched *s;
    int stopping;              /* agent_shutdown: close sessions at once, no QUIT */
    struct asess *all;         /* every session, for agent_free */
    SSL_CTX *tls;
    netaddr src4, src6;
    int have_src4, have_src6;
};

enum as_state { AS_RESOLVING, AS_CONNECTING, AS_READY, AS_BUSY, AS_QUITTING, AS_CLOSING };

typedef struct asess {
    agent *a;
    struct asess *prev, *next;   /* in a->all */
    sched_dest *d;
    char **hosts;
    char *dest_name;           /* the destination's key (e.g. relayhost as written) */
    int nhosts, port, literal;
    const netaddr *source;     /* the destination's sending address, or NULL */
    enum smtpc_tls tls;
    enum as_state state;
    int host_i, addr_i, tried, all_notfound, plain_retry;
    netaddr *addrs;
    int naddrs;
    dns_query *q;
    smtpc *c;
    struct event *go;          /* starts the waiting job from the loop, never from inside a
                                  callback of the client (which cannot take a new
                                  transaction before its own callback returns) */
    sched_job *job;
    smtpc_txn txn;
    dbuf body;
    int64_t opened_us, conn_start_us, setup_us, txn_start_us;
    int msgs;
    int refused_in_row;        /* transactions in a row that delivered nothing */
    char fail_text[600];
    int fail_code;
    char fail_enh[16];
    int fail_stage;
} asess;

static void advance(asess *x);
static void start_txn(asess *x);
static void connect_addr(asess *x);
static void on_addrs(void *arg, const dns_addr_result *r);

/* tls_of - the level by name */
static enum smtpc_tls tls_of(const char *name)
{
    if (!strcmp(name, "none"))
        return SMTPC_TLS_NONE;
    if (!strcmp(name, "encrypt"))
        return SMTPC_TLS_ENCRYPT;
    if (!strcmp(name, "verify"))
        return SMTPC_TLS_VERIFY;
    return SMTPC_TLS_MAY;
}

/* sess_free - release a session that has nothing pending */
static void sess_free(asess *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        x->a->all = x->next;
    if (x->next)
        x->next->prev = x->prev;
    if (x->go)
        event_free(x->go);
    if (x->q)
        dns_cancel(x->q);
    if (x->c)
        smtpc_free(x->c);
    for (int i = 0; i < x->nhosts; i++)
        free(x->hosts[i]);
    free(x->hosts);
    free(x->dest_name);
    free(x->addrs);
    smtpc_txn_clear(&x->txn);
    dbuf_free(&x->body);
    free(x);
}

/* note_failure - remember why a host or address did not work */
static void note_failure(asess *x, int code, const char *enh, int stage, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void note_failure(asess *x, int code, const char *enh, int stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->fail_text, sizeof x->fail_text, fmt, ap);
    va_end(ap);
    x->fail_code = code;
    snprintf(x->fail_enh, sizeof x->fail_enh, "%s", enh ? enh : "");
    x->fail_stage = stage;
}

/* fail_job - no host worked: every recipient of the waiting job gets the last failure */
static void fail_job(asess *x)
{
    sched_job *j = x->job;
    sched *s = x->a->s;
    void *handle = x;
    x->job = NULL;
    if (x->all_notfound && !x->fail_code) {   /* no host exists: permanent */
        x->fail_code = 550;
        snprintf(x->fail_enh, sizeof x->fail_enh, "5.4.4");
    }
    j->res = xcalloc((size_t)j->n, sizeof *j->res);
    for (int i = 0; i < j->n; i++) {
        j->res[i].code = x->fail_code;
        snprintf(j->res[i].enh, sizeof j->res[i].enh, "%s", x->fail_enh);
        j->res[i].text = xstrdup(x->fail_text);
        j->res[i].stage = x->fail_stage;
        j->res[i].closed = 1;
    }
    if (!j->relay[0])
        snprintf(j->relay, sizeof j->relay, "none");
    j->conn_us = clock_now_us() - x->conn_start_us;
    sess_free(x);
    sched_job_done(s, handle, j, 0);   /* the handle is only compared, never used */
}

/* literal_addr - a host that is a numeric address needs no lookup; 1 when it was one */
static int literal_addr(asess *x, const char *h)
{
    netaddr n;
    const char *err;
    if (netaddr_parse(h, 1, &n, &err) < 0)
        return 0;
    x->addrs = xcalloc(1, sizeof *x->addrs);
    x->addrs[0] = n;
    x->naddrs = 1;
    return 1;
}

/* advance - the next address to try: of this host, else the next host (looked up) */
static void advance(asess *x)
{
    int limit = (int)x->a->cfg->smtp_mx_address_limit;
    for (;;) {
        if (x->tried >= limit) {
            fail_job(x);
            return;
        }
        if (x->addr_i < x->naddrs) {
            connect_addr(x);
            return;
        }
        if (x->host_i + 1 >= x->nhosts) {
            fail_job(x);
            return;
        }
        x->host_i++;
        free(x->addrs);
        x->addrs = NULL;
        x->naddrs = x->addr_i = 0;
        x->plain_retry = 0;
        if (literal_addr(x, x->hosts[x->host_i]))
            continue;
        x->state = AS_RESOLVING;
        int family = x->source ? x->source->ss.ss_family : AF_UNSPEC;   /* what it can reach */
        x->q = dns_query_addr(x->a->dns, x->hosts[x->host_i], family, 1, on_addrs, x);
        return;
    }
}

/* sess_gone - free x and tell the scheduler its slot is free (x is only a handle then) */
static void sess_gone(asess *x)
{
    sched_dest *d = x->d;
    sched *s = x->a->s;
    void *handle = x;   /* the scheduler's key for the session, never dereferenced */
    sess_free(x);
    sched_sess_gone(s, d, handle);
}

/* on_event - the client's connection events */
static void on_event(void *arg, smtpc *c, enum smtpc_event ev, const smtpc_reply *r)
{
    asess *x = arg;
    if (ev == SMTPC_EV_READY) {
        const smtpc_features *f = smtpc_features_of(c);
        if (f->tls_active)
            log_info(NULL, "%s TLS connection established to %s: %s", f->tls_verified ? "Verified" : "Untrusted",
                     smtpc_peer(c), f->tls_info);
        x->state = AS_READY;
        x->setup_us = clock_now_us() - x->conn_start_us;
        if (x->job)
            start_txn(x);
        return;
    }
    if (x->state == AS_CLOSING) {   /* the scheduler closed it: nobody to tell */
        sess_free(x);
        return;
    }
    if (x->state == AS_QUITTING) {   /* our own QUIT is done: the slot is free now */
        sess_gone(x);
        return;
    }
    if (ev == SMTPC_EV_CLOSED && x->state == AS_READY && x->job) {   /* closed as a job was given */
        note_failure(x, r && r->code ? r->code : 0, r ? r->enh : "4.4.2", r ? (int)r->stage : SMTPC_ST_MAIL,
                     "%s", r && r->text ? r->text : "connection closed before the transaction");
        x->all_notfound = 0;
        snprintf(x->job->relay, sizeof x->job->relay, "%s", smtpc_peer(c));
        fail_job(x);
        return;
    }
    if (ev == SMTPC_EV_CLOSED && x->state == AS_READY) {   /* an idle connection ended */
        sess_gone(x);
        return;
    }
    /* FAILED, or closed before READY: this address did not work */
    if (x->job)
        snprintf(x->job->relay, sizeof x->job->relay, "%s", smtpc_peer(c));
    if (r && r->code)
        note_failure(x, r->code, r->enh, r->stage, "host %s refused to talk to me: %d %s%s%s",
                     smtpc_peer(c), r->code, r->enh, r->enh[0] ? " " : "", r->text ? r->text : "");
    else
        note_failure(x, 0, "4.4.1", r ? (int)r->stage : SMTPC_ST_CONNECT, "%s",
                     r && r->text ? r->text : "lost connection");
    x->all_notfound = 0;
    smtpc_free(x->c);
    x->c = NULL;
    if (r && smtpc_login_failed(r->code, r->enh, r->text)) {
        note_failure(x, 0, "4.7.0", r->stage, "%s", r->text);   /* our login, not this address: */
        fail_job(x);                                            /* no other address is tried */
        return;
    }
    if (r && r->stage == SMTPC_ST_STARTTLS && x->tls == SMTPC_TLS_MAY && !x->plain_retry) {
        x->plain_retry = 1;   /* opportunistic TLS failed: the same address in plaintext */
        x->addr_i--;
        x->tried--;
    }
    advance(x);
}

/* sasl_login - the "USER:PASSWORD" smtp_sasl_password_maps has for this host ("[host]:port"
 * and "[host]" for a literal next hop as relayhost writes it, then "host:port", "host"), or
 * NULL (also when smtp_sasl_auth_enable is off) */
static const char *sasl_login(const asess *x, const char *host)
{
    const sl_config *cfg = x->a->cfg;
    if (!cfg->smtp_sasl_auth_enable || !cfg->smtp_sasl_entries.n)
        return NULL;
    char key[300];
    const char *v = NULL;
    for (int k = x->literal ? 0 : 2; k < 4 && !v; k++) {
        if (k == 0)
            snprintf(key, sizeof key, "[%s]:%d", host, x->port);
        else if (k == 1)
            snprintf(key, sizeof key, "[%s]", host);
        else if (k == 2)
            snprintf(key, sizeof key, "%s:%d", host, x->port);
        else
            snprintf(key, sizeof key, "%s", host);
        v = config_map_get(&cfg->smtp_sasl_entries, key);
    }
    if (!v && x->dest_name)   /* the next hop as the destination names it (relayhost's text) */
        v = config_map_get(&cfg->smtp_sasl_entries, x->dest_name);
    return v;
}

/* mech_bit - the SMTPC_AUTH_* bit of a mechanism name */
static unsigned mech_bit(const char *name)
{
    return !strcasecmp(name, "plain") ? SMTPC_AUTH_PLAIN : !strcasecmp(name, "login") ? SMTPC_AUTH_LOGIN
                                                                                   : SMTPC_AUTH_OTHER;
}

/* mech_bits - smtp_sasl_mechanism_filter as SMTPC_AUTH_* bits, 0 when it is empty (any).
 * As Postfix's list: taken in order, the first entry that names a mechanism decides - a
 * name allows it, "!name" refuses it, and "static:rest" allows every mechanism not named
 * before it; what no entry names is refused.  SMTPC_AUTH_OTHER stands for the mechanisms
 * sluice does not speak, so a filter that allows neither PLAIN nor LOGIN leaves nothing. */
static unsigned mech_bits(const sl_config *cfg)
{
    const strlist *f = &cfg->smtp_sasl_mechanism_filter;
    unsigned allow = 0, decided = 0;
    for (int i = 0; i < f->n; i++) {
        if (!strcasecmp(f->v[i], "static:rest")) {
            allow |= (SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN) & ~decided;
            break;
        }
        int no = f->v[i][0] == '!';
        unsigned b = mech_bit(f->v[i] + no) & ~decided;
        decided |= b;
        if (!no)
            allow |= b;
    }
    return f->n ? allow | SMTPC_AUTH_OTHER : 0;   /* OTHER: a filter is set (never 0) */
}

/* has_word - the list holds w (any case) */
static int has_word(const strlist *l, const char *w)
{
    for (int i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i], w))
            return 1;
    return 0;
}

/* connect_addr - open the client connection to the next address of the current host */
static void connect_addr(asess *x)
{
    agent *a = x->a;
    const sl_config *cfg = a->cfg;
    netaddr addr = x->addrs[x->addr_i++];
    netaddr_set_port((struct sockaddr *)&addr.ss, x->port);
    int v6 = addr.ss.ss_family == AF_INET6;
    smtpc_opts o = {
        .helo_name = cfg->smtp_helo_name,
        .source = x->source ? x->source : v6 ? (a->have_src6 ? &a->src6 : NULL) : (a->have_src4 ? &a->src4 : NULL),
        .tls = x->plain_retry ? SMTPC_TLS_NONE : x->tls,
        .tls_ctx = a->tls,
        .verify_name = x->hosts[x->host_i],
        .connect_timeout_ms = cfg->smtp_connect_timeout_ms,
        .helo_timeout_ms = cfg->smtp_helo_timeout_ms,
        .starttls_timeout_ms = cfg->smtp_starttls_timeout_ms,
        .mail_timeout_ms = cfg->smtp_mail_timeout_ms,
        .rcpt_timeout_ms = cfg->smtp_rcpt_timeout_ms,
        .data_init_timeout_ms = cfg->smtp_data_init_timeout_ms,
        .data_xfer_timeout_ms = cfg->smtp_data_xfer_timeout_ms,
        .data_done_timeout_ms = cfg->smtp_data_done_timeout_ms,
        .quit_timeout_ms = cfg->smtp_quit_timeout_ms,
        .no_chunking = !cfg->smtp_use_chunking,
        .auth_mechs = mech_bits(cfg),
        .auth_plain_ok = !has_word(&cfg->smtp_sasl_security_options, "noplaintext"),
        .auth_tls_plain_ok = !has_word(&cfg->smtp_sasl_tls_security_options, "noplaintext"),
    };
    const char *login = sasl_login(x, x->hosts[x->host_i]);
    char *user = NULL;
    if (login) {   /* USER:PASSWORD, split at the first ':' */
        const char *colon = strchr(login, ':');
        user = xstrndup(login, (size_t)(colon - login));
        o.auth_user = user;
        o.auth_pass = colon + 1;
    }
    x->state = AS_CONNECTING;
    x->tried++;
    x->c = smtpc_connect(a->base, &addr, x->hosts[x->host_i], &o, on_event, x);
    free(user);
}

/* on_addrs - the addresses of the current host */
/* wrong_family - the host has no address of the source address's family: our limit, not
 * the receiver's fault, so a deferral (never "host not found") */
static void wrong_family(asess *x, const char *h)
{
    char ip[64];
    x->all_notfound = 0;
    note_failure(x, 0, "4.4.4", SMTPC_ST_CONNECT, "host %s has no IPv%c address for the source address %s", h,
                 x->source->ss.ss_family == AF_INET ? '4' : '6',
                 netaddr_ip((const struct sockaddr *)&x->source->ss, ip, sizeof ip));
}

static void on_addrs(void *arg, const dns_addr_result *r)
{
    asess *x = arg;
    x->q = NULL;
    const char *h = x->hosts[x->host_i];
    if (r->status == DNS_OK && r->naddrs > 0) {
        x->addrs = xcalloc((size_t)r->naddrs, sizeof *x->addrs);
        for (int i = 0; i < r->naddrs; i++)   /* a source address reaches its own family only */
            if (!x->source || r->addrs[i].ss.ss_family == x->source->ss.ss_family)
                x->addrs[x->naddrs++] = r->addrs[i];
        if (!x->naddrs)
            wrong_family(x, h);
    } else if (r->status == DNS_NODATA && x->source) {   /* only the other family's records */
        wrong_family(x, h);
    } else if (r->status == DNS_TEMPFAIL) {
        x->all_notfound = 0;
        note_failure(x, 0, "4.4.3", SMTPC_ST_CONNECT, "Host or domain name lookup failed: name=%s type=A: %s",
                     h, r->why ? r->why : "temporary failure");
    } else if (!x->fail_text[0] || x->all_notfound) {
        note_failure(x, 0, "", SMTPC_ST_CONNECT,
                     "Host or domain name not found. Name service error for name=%s type=A: Host not found", h);
    }
    advance(x);
}

/* result_of - recipient i's outcome: rcpt[i] is its final answer (the client puts the
 * deciding reply there), except that a delivered one is logged with the end of data's 250 */
static const smtpc_reply *result_of(const smtpc_txn *t, int i)
{
    if (t->accepted && t->rcpt[i].code >= 200 && t->rcpt[i].code < 300)
        return &t->data;
    return &t->rcpt[i];
}

/* keep_going - whether the connection may take another job: reuse limits, and a fresh
 * connection after a run of refused transactions (servers drop a client that has made
 * "too many errors", Postfix after 20; a new connection starts the count again) */
static int keep_going(const asess *x)
{
    const sl_config *cfg = x->a->cfg;
    if (x->refused_in_row >= 8)
        return 0;
    if (cfg->smtp_connection_reuse_count_limit && x->msgs >= cfg->smtp_connection_reuse_count_limit)
        return 0;
    return clock_now_us() - x->opened_us < cfg->smtp_connection_reuse_time_limit_ms * 1000;
}

/* on_txn - a transaction finished: results to the job, the job to the scheduler */
static void on_txn(void *arg, smtpc *c, smtpc_txn *t)
{
    asess *x = arg;
    sched_job *j = x->job;
    x->job = NULL;
    j->res = xcalloc((size_t)j->n, sizeof *j->res);
    for (int i = 0; i < j->n; i++) {
        const smtpc_reply *r = result_of(t, i);
        j->res[i].code = r->code;
        snprintf(j->res[i].enh, sizeof j->res[i].enh, "%s", r->enh);
        j->res[i].text = xstrdup(r->text ? r->text : "lost connection");
        j->res[i].stage = r->stage;
        j->res[i].closed = r->closed;
    }
    snprintf(j->relay, sizeof j->relay, "%s", smtpc_peer(c));
    j->rcpt_ok = t->naccepted;
    j->conn_us = x->msgs ? 0 : x->setup_us;
    j->xfer_us = clock_now_us() - x->txn_start_us;
    x->msgs++;
    x->refused_in_row = t->accepted ? 0 : x->refused_in_row + 1;
    int alive = !t->conn_lost;
    smtpc_txn_clear(&x->txn);
    dbuf_free(&x->body);
    sched *s = x->a->s;
    void *handle = x;
    if (!alive) {
        sess_free(x);
    } else if (!keep_going(x)) {
        alive = 2;   /* still counted by the receiver until the connection is closed */
        x->state = AS_QUITTING;
        smtpc_quit(x->c);
    } else {
        x->state = AS_READY;
    }
    sched_job_done(s, handle, j, alive);   /* may hand this session its next job */
}

/* start_txn - run the waiting job on the ready connection */
static void start_txn(asess *x)
{
    sched_job *j = x->job;
    qmsg *m = spool_find(x->a->sp, j->qid);
    x->state = AS_BUSY;
    x->txn_start_us = clock_now_us();
    memset(&x->txn, 0, sizeof x->txn);
    if (!m || spool_read_body(x->a->sp, m, &x->body) < 0) {
        note_failure(x, 451, "4.3.0", SMTPC_ST_MAIL, "the message could not be read from the queue");
        x->all_notfound = 0;
        snprintf(j->relay, sizeof j->relay, "%s", smtpc_peer(x->c));
        x->state = AS_READY;
        x->job = j;
        fail_job(x);   /* frees the session: the scheduler opens a new one next time */
        return;
    }
    x->txn.sender = j->sender;
    x->txn.rcpts = (const char *const *)j->rcpts;
    x->txn.nrcpt = j->n;
    x->txn.body = x->body.data;
    x->txn.body_len = x->body.len;
    x->txn.body_8bit = (j->flags & MSGF_8BITMIME) != 0;
    x->txn.smtputf8 = (j->flags & MSGF_SMTPUTF8) != 0;
    x->txn.hold_data = sched_dest_expects_refusals(x->d);
    if (smtpc_send(x->c, &x->txn, on_txn, x) < 0) {   /* the connection could not take it */
        note_failure(x, 451, "4.3.0", SMTPC_ST_MAIL, "the transaction could not be started on %s",
                     smtpc_peer(x->c));
        x->all_notfound = 0;
        snprintf(j->relay, sizeof j->relay, "%s", smtpc_peer(x->c));
        smtpc_txn_clear(&x->txn);
        dbuf_free(&x->body);
        fail_job(x);
    }
}

/* ---- the sched_agent table ---- */

static void *a_open(void *ctx, sched_dest *d, const sched_target *t)
{
    agent *a = ctx;
    asess *x = xcalloc(1, sizeof *x);
    x->a = a;
    x->d = d;
    x->next = a->all;
    if (a->all)
        a->all->prev = x;
    a->all = x;
    x->nhosts = t->nhosts;
    x->hosts = xcalloc((size_t)t->nhosts, sizeof *x->hosts);
    for (int i = 0; i < t->nhosts; i++)
        x->hosts[i] = xstrdup(t->hosts[i]);
    x->port = t->port;
    x->literal = t->literal;
    x->dest_name = t->name ? xstrdup(t->name) : NULL;
    x->source = t->source;
    x->tls = tls_of(t->tls_level ? t->tls_level : a->cfg->smtp_tls_security_level);
    x->host_i = -1;
    x->all_notfound = 1;
    x->opened_us = x->conn_start_us = clock_now_us();
    x->state = AS_RESOLVING;
    return x;
}

/* on_go - start the job a ready session was given */
static void on_go(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    asess *x = arg;
    if (x->job && x->state == AS_READY)
        start_txn(x);
}

static void a_run(void *ctx, void *sess, sched_job *j)
{
    agent *a = ctx;
    asess *x = sess;
    x->job = j;
    if (x->state == AS_READY) {   /* maybe inside the client's callback: start from the loop */
        if (!x->go)
            x->go = evtimer_new(a->base, on_go, x);
        event_active(x->go, EV_TIMEOUT, 0);
    } else if (x->host_i < 0) {
        advance(x);   /* a new session: start connecting now that there is work */
    }
}

static void a_close(void *ctx, void *sess)
{
    (void)ctx;
    asess *x = sess;
    x->job = NULL;   /* a running job is abandoned: the scheduler forgets it */
    if (x->state == AS_QUITTING) {   /* already saying QUIT: just stop telling anyone */
        x->state = AS_CLOSING;
        if (x->a->stopping)
            sess_free(x);
        return;
    }
    if (x->c && x->state == AS_READY && !x->a->stopping) {
        x->state = AS_CLOSING;
        smtpc_quit(x->c);   /* freed on SMTPC_EV_CLOSED */
        return;
    }
    sess_free(x);
}

agent *agent_new(struct event_base *base, const sl_config *cfg, spool *sp, dns_ctx *dns, char *err,
                 int errlen)
{
    agent *a = xcalloc(1, sizeof *a);
    a->base = base;
    a->cfg = cfg;
    a->sp = sp;
    a->dns = dns;
    const char *why;
    if (cfg->smtp_bind_address[0])
        a->have_src4 = netaddr_parse(cfg->smtp_bind_address, 1, &a->src4, &why) == 0;
    if (cfg->smtp_bind_address6[0])
        a->have_src6 = netaddr_parse(cfg->smtp_bind_address6, 1, &a->src6, &why) == 0;
    netaddr_set_port((struct sockaddr *)&a->src4.ss, 0);   /* (no family when not set: nothing) */
    netaddr_set_port((struct sockaddr *)&a->src6.ss, 0);
    a->tls = smtpc_tls_client_ctx(cfg->smtp_tls_CAfile[0] ? cfg->smtp_tls_CAfile : NULL, err, errlen);
    if (!a->tls) {
        free(a);
        return NULL;
    }
    return a;
}

void agent_set_sched(agent *a, sched *s)
{
    a->s = s;
}

void agent_shutdown(agent *a)
{
    a->stopping = 1;
}

sched_agent agent_table(agent *a)
{
    return (sched_agent){a, a_open, a_run, a_close};
}

void agent_free(agent *a)
{
    if (!a)
        return;
    while (a->all)   /* sessions still closing (QUIT under way) when the daemon stops */
        sess_free(a->all);
    SSL_CTX_free(a->tls);
    free(a);
}

/* res_mx - the scheduler's MX lookups go straight to the resolver */
static void res_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg)
{
    agent *a = ctx;
    dns_query_mx(a->dns, domain, cb, arg);
}

sched_resolver agent_resolver(agent *a)
{
    return (sched_resolver){a, res_mx};
}
