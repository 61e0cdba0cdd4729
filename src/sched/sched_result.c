/* sched_result.c - what each recipient's outcome does, and the delivery log.
 *   2xx            delivered (final)
 *   5xx            bounced: a DSN to the sender, then final
 *   4xx / no reply deferred: attempts + 1, next attempt after an exponential backoff
 *                  between minimal_ and maximal_backoff_time with +-10% jitter; past
 *                  maximal_queue_lifetime (bounce_queue_lifetime for a DSN) it is returned
 * The DSN is queued before the recipients are marked bounced, so a crash in between sends
 * the notice twice rather than never.  A DSN that cannot be delivered is not bounced: it
 * goes to double_bounce_recipient, or is logged and dropped.
 * One log line per recipient and attempt, with the fields of Postfix's smtp lines (or the
 * same event as a JSON object with log_format = json). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/smtpc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sched/sched_int.h"

enum outcome { OUT_SENT, OUT_DEFER, OUT_BOUNCE, OUT_EXPIRE };

static const char *const stage_names[] = {
    [SMTPC_ST_CONNECT] = "connect", [SMTPC_ST_GREETING] = "initial greeting",
    [SMTPC_ST_EHLO] = "EHLO", [SMTPC_ST_STARTTLS] = "STARTTLS", [SMTPC_ST_MAIL] = "MAIL FROM",
    [SMTPC_ST_RCPT] = "RCPT TO", [SMTPC_ST_DATA] = "DATA", [SMTPC_ST_BODY] = "end of DATA",
    [SMTPC_ST_QUIT] = "QUIT",
};

/* stage_name - for "(in reply to X command)" */
static const char *stage_name(int st)
{
    return st >= 0 && st <= SMTPC_ST_QUIT ? stage_names[st] : "unknown";
}

/* dsn_of - the enhanced status code of a result, or one derived from its class */
static const char *dsn_of(const sched_result *r, enum outcome o)
{
    if (r->enh[0])
        return r->enh;
    return o == OUT_SENT ? "2.0.0" : o == OUT_BOUNCE ? "5.0.0" : "4.0.0";
}

/* describe - the text in parentheses of the log line, and the DSN's diagnostic */
static void describe(const sched_job *j, const sched_result *r, char *buf, size_t n)
{
    const char *text = r->text ? r->text : "";
    char host[sizeof j->relay];
    snprintf(host, sizeof host, "%s", j->relay);
    char *colon = strrchr(host, ']');
    if (colon)
        colon[1] = 0;   /* host[ip] without the port */
    if (r->code >= 200 && r->code < 300)
        snprintf(buf, n, "%d %s%s%s", r->code, r->enh, r->enh[0] ? " " : "", text);
    else if (r->code > 0 && strcmp(j->relay, "none") != 0)
        snprintf(buf, n, "host %s said: %d %s%s%s (in reply to %s command)", host, r->code, r->enh,
                 r->enh[0] ? " " : "", text, stage_name(r->stage));
    else if (r->code > 0)
        snprintf(buf, n, "%s", text);
    else
        snprintf(buf, n, "%s", text[0] ? text : "lost connection");
}

/* backoff_us - the wait before attempt number attempts+1 */
static int64_t backoff_us(sched *s, int attempts)
{
    int64_t min = s->cfg->minimal_backoff_time_ms * 1000, max = s->cfg->maximal_backoff_time_ms * 1000;
    int64_t b = min;
    for (int k = 1; k < attempts && b < max; k++)
        b *= 2;
    if (b > max)
        b = max;
    double f = 0.9 + 0.2 * (double)(sched_random(s) % 1000001) / 1e6;
    b = (int64_t)((double)b * f);
    return b < min ? min : b > max ? max : b;
}

/* expired - m has been queued longer than its lifetime */
static int expired(const sched *s, const qmsg *m, int64_t now)
{
    int64_t life = (m->flags & MSGF_BOUNCE) ? s->cfg->bounce_queue_lifetime_ms : s->cfg->maximal_queue_lifetime_ms;
    return now - m->arrival_us >= life * 1000;
}

static const char *const status_names[] = {"sent", "deferred", "bounced", "expired"};

/* log_attempt - one delivery line */
static void log_attempt(sched *s, const sched_job *j, int i, enum outcome o, const char *why, int64_t now,
                        int64_t arrival, const classify_result *cr)
{
    char qs[QID_LEN + 1];
    qid_format(j->qid, qs);
    double delay = (double)(now - arrival) / 1e6, a = (double)(j->t_queued_us - arrival) / 1e6,
           b = (double)(j->t_started_us - j->t_queued_us) / 1e6, c = (double)j->conn_us / 1e6,
           d = (double)j->xfer_us / 1e6;
    if (a < 0)
        a = 0;
    if (b < 0)
        b = 0;
    const char *dsn = dsn_of(&j->res[i], o);
    enum sl_level lvl = o == OUT_SENT ? SL_INFO : SL_NOTICE;
    if (!strcmp(s->cfg->log_format, "json")) {
        json_t *e = json_pack("{s:f,s:s,s:s,s:s,s:f,s:[f,f,f,f],s:s,s:s,s:s}", "ts", (double)now / 1e6,
                              "queue_id", qs, "to", j->rcpts[i], "relay", j->relay, "delay", delay,
                              "delays", a, b, c, d, "dsn", dsn, "status", status_names[o], "reply", why);
        if (cr) {
            json_object_set_new(e, "class", json_string(shape_class_name(cr->cls)));
            json_object_set_new(e, "rule", json_string(cr->rule ? cr->rule : ""));
            if (cr->provider)
                json_object_set_new(e, "provider", json_string(cr->provider));
        }
        if (j->dest && j->dest->src)   /* the sending address (smtp_source_classes) */
            json_object_set_new(e, "source", json_string(j->dest->src->ip));
        char *line = json_dumps(e, JSON_COMPACT);
        log_raw(lvl, line);
        free(line);
        json_decref(e);
        return;
    }
    log_msg(lvl, qs, "to=<%s>, relay=%s, delay=%.2f, delays=%.2f/%.2f/%.2f/%.2f, dsn=%s, status=%s (%s)",
            j->rcpts[i], j->relay, delay, a, b, c, d, dsn, o == OUT_EXPIRE ? "expired, returned to sender" : status_names[o], why);
}

/* on_dsn_queued - log the notice's queue id */
static void on_dsn_queued(void *arg, qmsg *m, int err)
{
    char *orig = arg, qs[QID_LEN + 1];
    if (m)
        log_info(orig, "sender non-delivery notification: %s", qid_format(m->qid, qs));
    else
        log_err(orig, "cannot queue the non-delivery notification: %s", strerror(err));
    free(orig);
}

/* send_dsn - queue a notification about r[0..n) of m; returns 1 when queued */
static int send_dsn(sched *s, qmsg *m, const dsn_rcpt *r, int n, int delayed)
{
    char qs[QID_LEN + 1];
    qid_format(m->qid, qs);
    const char *to = m->sender;
    int dbl = !m->sender[0] || (m->flags & MSGF_BOUNCE);
    if (dbl) {
        s->counts.double_bounces++;
        if (delayed || !s->cfg->double_bounce_recipient[0] || (m->origin && !strcmp(m->origin, "double-bounce"))) {
            log_warn(qs, "undeliverable %s dropped (a bounce is never bounced; double_bounce_recipient "
                         "is not set)", delayed ? "delay notice" : "notification");
            return 0;
        }
        to = s->cfg->double_bounce_recipient;
    }
    dbuf body = {0}, out = {0};
    if (spool_read_body(s->sp, m, &body) < 0)
        dbuf_reset(&body);
    dsn_build(&out, s->cfg->myhostname, qs, to, m->arrival_us, r, n, body.data, body.len, delayed);
    dbuf_free(&body);
    size_t len;
    const char *rcpt[1] = {to};
    spool_new nw = {.sender = "", .rcpts = rcpt, .nrcpt = 1, .flags = MSGF_BOUNCE,
                    .proto = "local", .origin = dbl ? "double-bounce" : NULL};
    nw.body = dbuf_steal(&out, &len);
    nw.body_len = len;
    if (s->queue_fn)
        s->queue_fn(s->queue_ctx, &nw, on_dsn_queued, xstrdup(qs));   /* signed, in the daemon */
    else
        spool_add(s->sp, &nw, on_dsn_queued, xstrdup(qs));
    s->counts.dsn_sent++;
    return 1;
}

/* our_setup - a 530 to MAIL FROM: the server wants a login (RFC 4954) or TLS (RFC 3207)
 * before it takes mail from us.  That is our configuration to fix, not the recipients'
 * fault: the mail waits instead of bouncing */
static int our_setup(const sched_result *r)
{
    return r->code == 530 && r->stage == SMTPC_ST_MAIL;
}


/* suspend - a refused login holds for every message to the destination: like Postfix's
 * "delivery temporarily suspended", no new connection there for minimal_backoff_time (each
 * would try the same password again, and an ESP may lock the account); returns when the
 * destination can be tried again */
static int64_t suspend(sched *s, sched_dest *d, const sched_result *r, int64_t now)
{
    int64_t until = now + s->cfg->minimal_backoff_time_ms * 1000;
    if (d->suspended_until_us < until) {
        d->suspended_until_us = until;
        log_warn(NULL, "%s: delivery temporarily suspended for %llds: %s", d->key,
                 (long long)(s->cfg->minimal_backoff_time_ms / 1000), r->text);
    }
    return d->suspended_until_us;
}

/* outcome_of - what happens to recipient i of j */
static enum outcome outcome_of(const sched *s, const sched_job *j, int i, int64_t now)
{
    int code = j->res[i].code;
    if (code >= 200 && code < 300)
        return OUT_SENT;
    if (code >= 500 && !our_setup(&j->res[i]))
        return OUT_BOUNCE;
    return j->m && expired(s, j->m, now) ? OUT_EXPIRE : OUT_DEFER;
}

/* notify - the DSNs this job calls for: failures now, and the one-time delay notice */
static void notify(sched *s, sched_job *j, const enum outcome *o, char **why, int64_t now)
{
    qmsg *m = j->m;
    dsn_rcpt *fail = xcalloc((size_t)j->n, sizeof *fail), *late = xcalloc((size_t)j->n, sizeof *late);
    int nf = 0, nl = 0;
    char host[sizeof j->relay];
    snprintf(host, sizeof host, "%.*s", (int)strcspn(j->relay, "["), j->relay);
    for (int i = 0; i < j->n; i++) {
        dsn_rcpt d = {j->rcpts[i], dsn_of(&j->res[i], o[i]), strcmp(host, "none") ? host : NULL, why[i]};
        if (o[i] == OUT_BOUNCE || o[i] == OUT_EXPIRE) {
            if (o[i] == OUT_EXPIRE)
                d.status = j->res[i].enh[0] == '4' ? j->res[i].enh : "4.4.7";
            fail[nf++] = d;
        } else if (o[i] == OUT_DEFER) {
            late[nl++] = d;
        }
    }
    if (nf)
        send_dsn(s, m, fail, nf, 0);
    int64_t warn = s->cfg->delay_warning_time_ms * 1000;
    if (nl && warn > 0 && !(m->flags & MSGF_WARNED) && now - m->arrival_us >= warn && m->sender[0] &&
        !(m->flags & MSGF_BOUNCE)) {
        send_dsn(s, m, late, nl, 1);
        spool_mark_warned(s->sp, m, NULL, NULL);
    }
    free(fail);
    free(late);
}

/* update_dest - the destination's counters and last reply */
static void update_dest(sched_dest *d, enum outcome o, const char *why)
{
    if (o == OUT_SENT)
        d->delivered++;
    else if (o == OUT_DEFER)
        d->deferred++;
    else
        d->bounced++;
    if (o != OUT_SENT) {
        free(d->last_reply);
        d->last_reply = xstrdup(why);
    }
}

/* store - the new states: deferrals first, finals last (the last final frees m).  A
 * deferral's next attempt is shaping's decision (retry_at) or else the exponential backoff. */
static void store(sched *s, sched_job *j, const enum outcome *o, char **why, const int64_t *retry_at,
                  int64_t now)
{
    qmsg *m = j->m;
    int nfinal = 0;
    for (int i = 0; i < j->n; i++) {
        qrcpt *r = &m->rcpts[j->idx[i]];
        if (o[i] != OUT_DEFER) {
            nfinal++;
            continue;
        }
        uint16_t att = (uint16_t)(r->attempts < UINT16_MAX ? r->attempts + 1 : r->attempts);
        int64_t next = retry_at[i] ? retry_at[i] : now + backoff_us(s, att);
        spool_set_rcpt(s->sp, m, j->idx[i], RCPT_DEFERRED, att, next, why[i], NULL, NULL);
    }
    int dies = m->nfinal + (uint32_t)nfinal == m->nrcpt;
    for (int i = 0; i < j->n; i++) {
        if (o[i] == OUT_DEFER)
            continue;
        qrcpt *r = &m->rcpts[j->idx[i]];
        uint16_t att = (uint16_t)(r->attempts < UINT16_MAX ? r->attempts + 1 : r->attempts);
        spool_set_rcpt(s->sp, m, j->idx[i], o[i] == OUT_SENT ? RCPT_DELIVERED : RCPT_BOUNCED, att, 0, why[i],
                       NULL, NULL);   /* m may be gone after the last of these */
    }
    if (!dies)
        sched_add(s, m);
}

/* shape_one - classify recipient i's refusal and let the destination's shaping decide
 * when it comes back; *applied remembers the classes already acted on for this job (one
 * connection-level refusal must not count once per recipient) */
static int64_t shape_one(sched *s, sched_job *j, int i, const char *why, classify_result *cr, uint32_t *applied,
                         int64_t now)
{
    const sched_result *r = &j->res[i];
    classify_input in = {.code = r->code, .enh = r->enh, .text = r->text, .stage = r->stage,
                         .closed = r->closed};
    s->classify(s->cls, &in, cr);
    if (!j->dest || !j->m || !(r->code >= 400 && r->code < 500 ? 1 : r->code == 0))
        return 0;
    qrcpt *q = &j->m->rcpts[j->idx[i]];
    int64_t first = cr->cls == RC_GREYLISTING ? sched_grey_first(j->dest, j->m, q, now)
                                               : sched_grey_known(j->dest, j->m, q);
    if (!first && q->grey_s)   /* greylisted before a restart: the message's own first */
        first = j->m->arrival_us + (int64_t)(q->grey_s - 1) * 1000000;
    shape_verdict v;
    int64_t last_close = j->dest->last_close_us;
    if (cr->cls == RC_TOO_MANY_CONNECTIONS && !((*applied >> cr->cls) & 1) && !sched_dest_excuse(j->dest, now))
        last_close = 0;   /* no close of ours explains this refusal: it counts */
    shape_refused(&j->dest->sh, cr, why, r->stage, (*applied >> cr->cls) & 1, j->dest->nsess,
                  j->dest->nbusy, first, j->t_started_us, last_close, now, &v);
    *applied |= 1u << cr->cls;
    if (cr->cls == RC_GREYLISTING && !q->grey_s)
        q->grey_s = (uint32_t)((now - j->m->arrival_us) / 1000000) + 1;
    if (v.use_fallback && s->cfg->smtp_fallback_relay[0])
        return now;   /* back to its destination at once, which diverts it to the relay */
    if (!v.retry_at_us && r->code == 421 && r->stage >= SMTPC_ST_MAIL && r->stage < SMTPC_ST_RCPT + 1 &&
        cr->cls == RC_OTHER && q->attempts < 3)
        return now + 10 * 1000000;   /* the server closed before judging this recipient
                                        ("too many errors", shutting down): soon, anew */
    return v.retry_at_us;
}

/* too_many_rcpts - r is a refusal of a RCPT past the receiver's recipients per transaction:
 * 4xx with X.5.3 ("too many recipients", RFC 3463: send the rest in another transaction),
 * or without an enhanced code in those words; a "rate" in the text is a rate limit */
static int too_many_rcpts(const sched_result *r)
{
    if (r->stage != SMTPC_ST_RCPT || r->code < 400 || r->code >= 500)
        return 0;
    const char *t = r->text ? r->text : "";
    for (const char *p = t; (p = strcasestr(p, "rate")); p += 4)   /* a word that begins so */
        if (p == t || !isalpha((unsigned char)p[-1]))   /* (ratelimit), not "separately" */
            return 0;
    return r->enh[0] ? strcmp(r->enh + 1, ".5.3") == 0 : strcasestr(t, "too many recipients") != NULL;
}

/* rcpt_overflow - j sent more recipients than the receiver takes per transaction: some were
 * accepted, then one was refused as too many.  The limit is learned (jobs are cut to it from
 * then on) and 1 returned: the refused recipients, and any that a close the overflow caused
 * took down ("too many errors"), go again at once - they say nothing about rate or load. */
static int rcpt_overflow(sched_job *j)
{
    int hit = 0;
    for (int i = 0; i < j->n && !hit; i++)
        hit = too_many_rcpts(&j->res[i]);
    if (!hit || j->rcpt_ok < 1 || !j->dest)
        return 0;
    sched_dest *d = j->dest;
    if (j->rcpt_ok == 1 && ++d->rcpt_one_hits < 2)   /* one: a pattern only when it repeats */
        return 0;
    if (!d->rcpt_limit || j->rcpt_ok < d->rcpt_limit) {
        d->rcpt_limit = j->rcpt_ok;
        d->rcpt_limit_us = clock_now_us();
        log_notice(NULL, "%s takes %d recipients per transaction (452 4.5.3 after that many): "
                   "transactions are cut to %d from now on", d->key, d->rcpt_limit, d->rcpt_limit);
    }
    return 1;
}

/* shape_sent - a delivered recipient: what it teaches (rate, greylist window) */
static void shape_sent(sched *s, sched_job *j, int i, int64_t now)
{
    (void)s;
    if (!j->dest || !j->m)
        return;
    qrcpt *q = &j->m->rcpts[j->idx[i]];
    if (!q->grey_s)
        return;
    int64_t first = sched_grey_known(j->dest, j->m, q);   /* the triplet's, not the message's */
    shape_greylist_passed(&j->dest->sh, first ? first : j->m->arrival_us + (int64_t)(q->grey_s - 1) * 1000000,
                          now);
}

void sched_apply_results(sched *s, sched_job *j)
{
    int64_t now = clock_now_us();
    enum outcome *o = xcalloc((size_t)j->n, sizeof *o);
    char **why = xcalloc((size_t)j->n, sizeof *why);
    int64_t *retry_at = xcalloc((size_t)j->n, sizeof *retry_at);
    int64_t arrival = j->m ? j->m->arrival_us : qid_time_us(j->qid);
    uint32_t applied = 0;
    int sent = 0, overflow = rcpt_overflow(j);
    if (j->n && our_setup(&j->res[0]) && j->dest && !j->dest->setup_warned) {
        j->dest->setup_warned = 1;   /* once per destination and run */
        log_warn(NULL, "%s wants %s before it takes mail (%d %s %s): mail for it waits; see "
                 "smtp_sasl_auth_enable, smtp_sasl_password_maps, smtp_tls_security_level", j->dest->key,
                 j->res[0].text && strcasestr(j->res[0].text, "TLS") ? "TLS" : "a login", j->res[0].code,
                 j->res[0].enh, j->res[0].text ? j->res[0].text : "");
    }
    for (int i = 0; i < j->n; i++) {
        char buf[1200];
        classify_result cr = {0}, *crp = NULL;
        const sched_result *r = &j->res[i];
        o[i] = outcome_of(s, j, i, now);
        describe(j, r, buf, sizeof buf);
        why[i] = xstrdup(buf);
        if (o[i] == OUT_SENT) {
            sent = 1;
            shape_sent(s, j, i, now);
        } else if (overflow && o[i] == OUT_DEFER &&
                   (too_many_rcpts(r) || r->code == 421 || r->code == 0)) {
            retry_at[i] = now;   /* our transaction was too big: at once, cut to size */
        } else if (o[i] == OUT_DEFER && smtpc_login_failed(r->code, r->enh, r->text) && j->dest) {
            retry_at[i] = suspend(s, j->dest, r, now);
        } else if (s->classify) {
            retry_at[i] = shape_one(s, j, i, why[i], &cr, &applied, now);
            crp = &cr;
        }
        if (j->m)
            j->m->rcpts[j->idx[i]].sflags &= (uint8_t)~RCPT_SF_INFLIGHT;
        log_attempt(s, j, i, o[i], why[i], now, arrival, crp);
        if (j->dest)
            update_dest(j->dest, o[i], why[i]);
        s->counts.delivered += o[i] == OUT_SENT;
        s->counts.deferred += o[i] == OUT_DEFER;
        s->counts.bounced += o[i] == OUT_BOUNCE;
        s->counts.expired += o[i] == OUT_EXPIRE;
    }
    if (sent && j->dest)
        shape_accepted(&j->dest->sh, now, j->dest->nbusy + 1, j->dest->nsess >= j->dest->sh.conc);
    for (int i = 0; i < j->n && j->dest; i++)
        if (j->res[i].stage >= SMTPC_ST_MAIL && j->res[i].code) {
            shape_engaged(&j->dest->sh);
            break;
        }
    if (j->m) {
        notify(s, j, o, why, now);
        store(s, j, o, why, retry_at, now);
    }
    for (int i = 0; i < j->n; i++)
        free(why[i]);
    free(why);
    free(retry_at);
    free(o);
}

void sched_fail_job(sched *s, sched_job *j, int code, const char *enh, const char *text)
{
    j->res = xcalloc((size_t)j->n, sizeof *j->res);
    for (int i = 0; i < j->n; i++) {
        j->res[i].code = code;
        snprintf(j->res[i].enh, sizeof j->res[i].enh, "%s", enh ? enh : "");
        j->res[i].text = xstrdup(text);
        j->res[i].stage = SMTPC_ST_CONNECT;
    }
    snprintf(j->relay, sizeof j->relay, "none");
    j->t_started_us = clock_now_us();
    j->next = s->failed;   /* applied by sched_flush_failed, outside the caller's loops */
    s->failed = j;
}

void sched_flush_failed(sched *s)
{
    while (s->failed) {
        sched_job *j = s->failed;
        s->failed = j->next;
        j->next = NULL;
        sched_job_detach(j);
        sched_apply_results(s, j);
        sched_job_free(j);
    }
}
