/* sched_dest.c - destinations: a queue of ready jobs, the sessions open to the site (busy
 * or idle), the concurrency limit and the rate delay, and the pump that starts jobs.
 *
 * Concurrency counts open sessions, idle ones included: a receiver that allows 2
 * connections per client sees an idle cached connection as one of them.  The rate delay
 * (smtp_destination_rate_delay) is the least time between the starts of two deliveries to
 * the destination, whatever connection they use; unlike Postfix it does not force the
 * concurrency to 1.  The pump goes round the destinations that have ready jobs and starts
 * at most one job per destination per round, so a destination with a long queue cannot
 * starve the others of the global connection cap (smtp_connection_limit).  Idle sessions
 * are reused first and closed after smtp_connection_cache_time_limit. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "client/smtpc.h"
#include "config/nexthop.h"
#include "sched/sched_int.h"

/* tls_level_for - smtp_tls_policy_maps by the destination key or a host (exact or .suffix) */
static const char *tls_level_for(const sl_config *c, const char *key, const sched_target *t)
{
    for (int i = 0; i < c->smtp_tls_policy_maps.n; i++) {
        const char *e = c->smtp_tls_policy_maps.v[i];
        size_t n = strcspn(e, " \t");
        const char *level = e + n + strspn(e + n, " \t");
        if (strlen(key) == n && !strncasecmp(e, key, n))
            return level;
        for (int h = 0; h < t->nhosts; h++) {
            size_t hl = strlen(t->hosts[h]);
            if ((hl == n && !strncasecmp(e, t->hosts[h], n)) ||
                (e[0] == '.' && hl > n && !strncasecmp(e, t->hosts[h] + hl - n, n)))
                return level;
        }
    }
    return c->smtp_tls_security_level;
}

sched_dest *sched_dest_get(sched *s, const char *key, const sched_target *t)
{
    sched_dest *d = hmap_get(s->dests, key);
    if (d)
        return d;
    d = xcalloc(1, sizeof *d);
    d->key = xstrdup(key);
    d->t = *t;
    d->t.hosts = xcalloc((size_t)t->nhosts, sizeof(char *));
    for (int i = 0; i < t->nhosts; i++)
        d->t.hosts[i] = xstrdup(t->hosts[i]);
    d->t.name = d->key;
    /* a "SITE via ADDRESS" destination keeps its site's level (the policy names sites) */
    d->t.tls_level = t->tls_level ? t->tls_level : tls_level_for(s->cfg, key, t);
    d->rate_delay_us = s->cfg->smtp_destination_rate_delay_ms * 1000;
    shape_init(&d->sh, &s->shcfg, d->key);
    json_t *saved = json_object_get(s->saved, key);
    if (saved) {
        shape_restore(&d->sh, saved, clock_now_us());
        json_int_t rl = json_integer_value(json_object_get(saved, "recipient_limit"));
        json_int_t since = json_integer_value(json_object_get(saved, "recipient_limit_since"));
        int64_t now = clock_now_us();
        d->rcpt_limit = rl > 0 && rl < 100000 ? (int)rl : 0;
        d->rcpt_limit_us = since > 0 && since * 1000000 <= now ? since * 1000000 : now;
    }
    hmap_put(s->dests, key, d);
    log_debug(NULL, "destination %s: concurrency %d, rate delay %lldms, TLS %s", key, d->sh.conc,
              (long long)(d->rate_delay_us / 1000), d->t.tls_level);
    return d;
}

/* ring_add - d has ready jobs: make sure the pump visits it */
static void ring_add(sched *s, sched_dest *d)
{
    if (d->in_ring)
        return;
    d->in_ring = 1;
    if (!s->ring) {
        d->ring_next = d->ring_prev = d;
        s->ring = d;
        return;
    }
    d->ring_next = s->ring;
    d->ring_prev = s->ring->ring_prev;
    d->ring_prev->ring_next = d;
    s->ring->ring_prev = d;
}

/* ring_remove - d has nothing ready */
static void ring_remove(sched *s, sched_dest *d)
{
    if (!d->in_ring)
        return;
    d->in_ring = 0;
    if (d->ring_next == d) {
        s->ring = NULL;
        return;
    }
    d->ring_prev->ring_next = d->ring_next;
    d->ring_next->ring_prev = d->ring_prev;
    if (s->ring == d)
        s->ring = d->ring_next;
}

int sched_dest_expects_refusals(const sched_dest *d)
{
    return shape_greylisting(&d->sh, clock_now_us());
}

/* ready_count - j joins (+1) or leaves (-1) d's ready jobs: the counts that go with it */
static void ready_count(sched_dest *d, const sched_job *j, int sign)
{
    d->nready += (uint64_t)(int64_t)sign;
    if (d->src)
        d->src->queued += sign * j->n;
}

void sched_dest_enqueue(sched *s, sched_dest *d, sched_job *j)
{
    d = sched_source_dest(s, d, j);
    j->dest = d;
    j->next = NULL;
    if (d->ready_tail)
        d->ready_tail->next = j;
    else
        d->ready = j;
    d->ready_tail = j;
    ready_count(d, j, 1);
    ring_add(s, d);
}

/* take_idle - the most recently idle session of d, or NULL */
static void *take_idle(sched_dest *d)
{
    return d->nidle ? d->idle[--d->nidle].sess : NULL;
}

/* split_head - the first ready job cut to the receiver's recipients per transaction, the
 * rest queued right behind it */
static void split_head(sched_dest *d, int64_t now)
{
    sched_job *j = d->ready;
    if (d->rcpt_limit && now - d->rcpt_limit_us > RCPT_LIMIT_KEEP_US) {
        log_info(NULL, "%s: recipients per transaction learned a day ago (%d): trying %s again",
                 d->key, d->rcpt_limit, "smtp_destination_recipient_limit");
        d->rcpt_limit = 0;   /* receivers change their limits: learn it anew */
    }
    if (!d->rcpt_limit || j->n <= d->rcpt_limit || !j->m)
        return;
    sched_job *rest = sched_job_split(j, d->rcpt_limit);
    rest->dest = d;
    rest->next = j->next;
    j->next = rest;
    if (d->ready_tail == j)
        d->ready_tail = rest;
    d->nready++;   /* the source address's queued count is per recipient: unchanged */
}

/* start_job - the first ready job of d on sess */
static void start_job(sched *s, sched_dest *d, void *sess, int64_t now)
{
    sched_job *j = d->ready;
    d->ready = j->next;
    if (!d->ready)
        d->ready_tail = NULL;
    ready_count(d, j, -1);
    j->next = d->running;
    d->running = j;
    j->sess = sess;
    j->t_started_us = now;
    d->nbusy++;
    d->next_start_us = now + d->rate_delay_us;
    sched_source_started(d, j->n, now);
    s->counts.jobs_started++;
    s->agent.run(s->agent.ctx, sess, j);
}

/* drop_stale - ready jobs at the head whose message was deleted or put on hold */
static void drop_stale(sched_dest *d)
{
    while (d->ready && (!d->ready->m || (d->ready->m->flags & MSGF_HELD))) {
        sched_job *j = d->ready;
        d->ready = j->next;
        if (!d->ready)
            d->ready_tail = NULL;
        ready_count(d, j, -1);
        if (j->m)
            for (int i = 0; i < j->n; i++)
                j->m->rcpts[j->idx[i]].sflags &= (uint8_t)~RCPT_SF_INFLIGHT;
        sched_job_detach(j);
        sched_job_free(j);
    }
}

/* fallback_dest - smtp_fallback_relay as a destination ([host]:port or host: no MX
 * lookup), or NULL when none is configured or it does not parse */
static sched_dest *fallback_dest(sched *s)
{
    nexthop nh;
    const char *err;
    if (!s->cfg->smtp_fallback_relay[0] || nexthop_parse(s->cfg->smtp_fallback_relay, &nh, &err) < 0 || !nh.host[0])
        return NULL;
    int port = nh.port ? nh.port : (int)s->cfg->smtp_port;
    char *key = xasprintf("[%s]:%d", nh.host, port);
    char *hosts[1] = {nh.host};
    sched_target t = {.literal = 1, .hosts = hosts, .nhosts = 1, .port = port};
    sched_dest *d = sched_dest_get(s, key, &t);
    free(key);
    return d;
}

/* divert - a destination paused for our reputation hands its waiting jobs to the fallback
 * relay (smtp_fallback_relay), if there is one; 1 when it did */
static int divert(sched *s, sched_dest *d, int64_t now)
{
    if (now >= d->sh.paused_until_us || d->sh.pause_class != RC_REPUTATION || !d->ready)
        return 0;
    sched_dest *f = fallback_dest(s);
    if (!f || f == d || d->base == f)   /* d is the relay itself (or it via an address) */
        return 0;
    log_notice(NULL, "shaping: %s: paused for reputation: %llu waiting deliveries go through the fallback relay %s",
               d->key, (unsigned long long)d->nready, f->key);
    while (d->ready) {
        sched_job *j = d->ready;
        d->ready = j->next;
        ready_count(d, j, -1);
        sched_dest_enqueue(s, f, j);
    }
    d->ready_tail = NULL;
    return 1;
}

/* try_start - one job on d if its limits allow; 1 when started, else 0 (*wake: when to retry) */
static int try_start(sched *s, sched_dest *d, int64_t now, int64_t *wake)
{
    drop_stale(d);
    if (divert(s, d, now))
        return 1;
    if (!d->ready)
        return 0;
    if (now < d->next_start_us || now < d->suspended_until_us) {
        int64_t at = d->next_start_us > d->suspended_until_us ? d->next_start_us : d->suspended_until_us;
        if (at < *wake)
            *wake = at;
        return 0;
    }
    int64_t at = INT64_MAX;
    if (!shape_may_start(&d->sh, now, (uint32_t)d->nbusy, &at)) {
        if (at < *wake)
            *wake = at;
        return 0;
    }
    split_head(d, now);   /* before the warm-up check: the cut piece may fit today */
    if (!sched_source_may_start(d, d->ready->n, now, wake))
        return 0;
    void *sess = take_idle(d);
    if (!sess) {
        if (d->nsess >= d->sh.conc || s->total_sess >= s->cfg->smtp_connection_limit)
            return 0;
        d->nsess++;
        s->total_sess++;
        s->counts.sessions_opened++;
        sess = s->agent.open(s->agent.ctx, d, &d->t);
    }
    start_job(s, d, sess, now);
    return 1;
}

void sched_pump(sched *s)
{
    if (s->pumping)
        return;
    s->pumping = 1;
    int64_t now = clock_now_us(), wake = INT64_MAX;
    sched_dest **round = NULL;
    size_t cap = 0;
    for (int progress = 1; progress && s->ring;) {
        progress = 0;
        size_t n = 0;   /* this round's destinations, in ring order */
        sched_dest *d = s->ring;
        do {
            XGROW(round, n, cap, 16);
            round[n++] = d;
            d = d->ring_next;
        } while (d != s->ring);
        for (size_t i = 0; i < n; i++) {
            if (!round[i]->nready)
                ring_remove(s, round[i]);
            else
                progress |= try_start(s, round[i], now, &wake);
        }
    }
    free(round);
    s->pumping = 0;
    if (wake != INT64_MAX)
        sched_arm_timer(s, wake);
}

/* running_remove - take j out of d's running list */
static void running_remove(sched_dest *d, sched_job *j)
{
    sched_job **pp = &d->running;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    j->next = NULL;
}

/* est_del - sess is no longer open */
static void est_del(sched_dest *d, void *sess)
{
    for (int i = 0; i < d->nest; i++)
        if (d->est[i] == sess) {
            d->est[i] = d->est[--d->nest];
            return;
        }
}

/* est_add - sess is established (the receiver talked to it past its greeting) */
static void est_add(sched_dest *d, void *sess)
{
    for (int i = 0; i < d->nest; i++)
        if (d->est[i] == sess)
            return;
    XGROW(d->est, d->nest, d->est_cap, 8);
    d->est[d->nest++] = sess;
    if (d->nest > d->est_peak)
        d->est_peak = d->nest;
}

/* note_close - one of our sessions to d closed now (the receiver may count it a moment
 * longer) */
static void note_close(sched_dest *d, int64_t now)
{
    if (now - d->last_close_us > 1000000)
        d->close_credit = 0;
    if (d->close_credit < 64)
        d->close_credit++;
    d->last_close_us = now;
}

int sched_dest_excuse(sched_dest *d, int64_t now)
{
    if (now - d->last_close_us > 1000000 || d->close_credit <= 0 || d->nest >= d->est_peak)
        return 0;
    d->close_credit--;
    return 1;
}

/* park_session - a session finished a job: keep it idle, or close it when over the limit */
static void park_session(sched *s, sched_dest *d, void *sess, int alive)
{
    if (alive == 2) {   /* quitting: counted until sched_sess_gone */
        d->nquitting++;
        return;
    }
    if (!alive) {
        d->nsess--;
        s->total_sess--;
        return;
    }
    if (d->nsess > d->sh.conc || (!d->nready && s->cfg->smtp_connection_cache_time_limit_ms == 0)) {
        note_close(d, clock_now_us());
        est_del(d, sess);
        s->agent.close(s->agent.ctx, sess);
        d->nsess--;
        s->total_sess--;
        return;
    }
    XGROW(d->idle, d->nidle, d->idle_cap, 4);
    d->idle[d->nidle++] = (idle_sess){sess, clock_now_us(), 0};
}

/* engaged - the receiver answered j past its greeting (the session had been established) */
static int engaged(const sched_job *j)
{
    for (int i = 0; j->res && i < j->n; i++)
        if (j->res[i].code && j->res[i].stage >= SMTPC_ST_MAIL)
            return 1;
    return 0;
}

void sched_job_done(sched *s, void *sess, sched_job *j, int alive)
{
    sched_dest *d = j->dest;
    running_remove(d, j);
    d->nbusy--;
    int was = 0;
    for (int i = 0; i < d->nest; i++)
        was |= d->est[i] == sess;
    if (alive != 1 || !engaged(j))
        est_del(d, sess);
    else
        est_add(d, sess);
    park_session(s, d, sess, alive);
    sched_job_detach(j);
    sched_apply_results(s, j);
    if (alive == 0 && (was || engaged(j)))
        note_close(d, clock_now_us());   /* an established session went away */
    sched_job_free(j);
    sched_run_due(s);
}

void sched_sess_gone(sched *s, sched_dest *d, void *sess)
{
    est_del(d, sess);
    for (int i = 0; i < d->nidle; i++) {
        if (d->idle[i].sess != sess)
            continue;
        d->idle[i] = d->idle[--d->nidle];
        d->nsess--;
        s->total_sess--;
        note_close(d, clock_now_us());
        sched_pump(s);
        return;
    }
    if (d->nquitting > 0) {   /* a quitting session has finished closing */
        d->nquitting--;
        d->nsess--;
        s->total_sess--;
        note_close(d, clock_now_us());
        sched_pump(s);
    }
}

/* expire_idle - close d's sessions idle for too long; returns the next expiry.  While jobs
 * wait only for the destination's rate or pause to allow them, idle sessions are kept up to
 * 30 s: they will be used in a moment, and a new connection is one more chance of a 421 */
static int64_t expire_idle(sched *s, sched_dest *d, int64_t now, int *closed)
{
    int64_t limit = s->cfg->smtp_connection_cache_time_limit_ms * 1000, next = INT64_MAX;
    if (d->nready && limit < 30 * 1000000LL)
        limit = 30 * 1000000LL;
    for (int i = 0; i < d->nidle;) {
        int64_t at = d->idle[i].since_us + limit;
        if (at <= now) {
            note_close(d, now);
            est_del(d, d->idle[i].sess);
            s->agent.close(s->agent.ctx, d->idle[i].sess);
            d->idle[i] = d->idle[--d->nidle];
            d->nsess--;
            s->total_sess--;
            (*closed)++;
            continue;
        }
        if (at < next)
            next = at;
        i++;
    }
    return next;
}

struct hk {
    sched *s;
    int64_t now, next;
    int closed;
};

static void hk_one(const char *key, void *val, void *arg)
{
    (void)key;
    struct hk *h = arg;
    sched_dest *d = val;
    int before = d->sh.conc;
    shape_tick(&d->sh, h->now);
    if (d->sh.conc > before)
        h->closed++;   /* room for another session: pump again */
    sched_grey_prune(d, h->now);
    if (!d->nidle)
        return;
    int64_t n = expire_idle(h->s, d, h->now, &h->closed);
    if (n < h->next)
        h->next = n;
}

int64_t sched_dest_housekeeping(sched *s, int64_t now)
{
    struct hk h = {s, now, INT64_MAX, 0};
    hmap_foreach(s->dests, hk_one, &h);
    if (h.closed)
        sched_pump(s);
    return h.next;
}

void sched_job_detach(sched_job *j)
{
    if (!j->m)
        return;
    sched_job **pp = &j->m->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->mnext;
    if (*pp)
        *pp = j->mnext;
    j->mnext = NULL;
}

void sched_job_free(sched_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->n; i++) {
        free(j->rcpts[i]);
        if (j->res)
            free(j->res[i].text);
    }
    free(j->rcpts);
    free(j->idx);
    free(j->res);
    free(j->sender);
    free(j);
}

/* abandon - a job that will not finish: its recipients are no longer in flight */
static void abandon(sched_job *j)
{
    if (j->m)
        for (int i = 0; i < j->n; i++)
            j->m->rcpts[j->idx[i]].sflags &= (uint8_t)~RCPT_SF_INFLIGHT;
    sched_job_detach(j);
    sched_job_free(j);
}

/* free_dest - close its sessions (running jobs are abandoned) and free it */
static void free_dest(void *p)
{
    sched_dest *d = p;
    for (sched_job *j = d->ready, *nx; j; j = nx) {
        nx = j->next;
        abandon(j);
    }
    for (sched_job *j = d->running, *nx; j; j = nx) {
        nx = j->next;
        abandon(j);
    }
    for (int i = 0; i < d->t.nhosts; i++)
        free(d->t.hosts[i]);
    free(d->t.hosts);
    shape_free(&d->sh);
    sched_grey_free(d);
    free(d->est);
    free(d->idle);
    free(d->last_reply);
    free(d->via);
    free(d->key);
    free(d);
}

/* close_sessions - every session of d, busy or idle */
static void close_sessions(const char *key, void *val, void *arg)
{
    (void)key;
    sched *s = arg;
    sched_dest *d = val;
    for (int i = 0; i < d->nidle; i++)
        s->agent.close(s->agent.ctx, d->idle[i].sess);
    d->nidle = 0;
    for (sched_job *j = d->running; j; j = j->next)
        s->agent.close(s->agent.ctx, j->sess);
}

void sched_dest_free_all(sched *s)
{
    hmap_foreach(s->dests, close_sessions, s);
    hmap_free(s->dests, free_dest);
    s->dests = NULL;
    s->ring = NULL;
}
