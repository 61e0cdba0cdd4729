/* sched.c - the scheduler's intake and clock: every queued message sits in a heap keyed by
 * the time its next recipient is due; the one libevent timer is set for the earliest of that,
 * rate-delay waits and idle-session expiries.  When recipients fall due they become jobs
 * (grouped by recipient domain, split by smtp_destination_recipient_limit) and go to routing.
 * Held messages are not in the heap.  Recipients in a job are marked in flight so that no
 * recipient is ever in two jobs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sched/sched_int.h"

/* ---- the due heap (1-based; qmsg.heap_idx is the position) ---- */

static int64_t key_of(sched *s, uint32_t i)
{
    return s->heap[i]->due_us;
}

/* heap_swap - exchange two slots and their back-references */
static void heap_swap(sched *s, uint32_t a, uint32_t b)
{
    qmsg *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_idx = a;
    s->heap[b]->heap_idx = b;
}

static void sift_up(sched *s, uint32_t i)
{
    while (i > 1 && key_of(s, i / 2) > key_of(s, i)) {
        heap_swap(s, i, i / 2);
        i /= 2;
    }
}

static void sift_down(sched *s, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i, r = l + 1, m = i;
        if (l <= s->nheap && key_of(s, l) < key_of(s, m))
            m = l;
        if (r <= s->nheap && key_of(s, r) < key_of(s, m))
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

void sched_heap_update(sched *s, qmsg *m)
{
    if (!m->heap_idx) {
        if (s->nheap + 1 >= s->heapcap) {
            s->heapcap = s->heapcap ? s->heapcap * 2 : 1024;
            s->heap = xrealloc(s->heap, sizeof *s->heap * s->heapcap);
        }
        s->heap[++s->nheap] = m;
        m->heap_idx = s->nheap;
    }
    sift_up(s, m->heap_idx);
    sift_down(s, m->heap_idx);
}

void sched_heap_remove(sched *s, qmsg *m)
{
    uint32_t i = m->heap_idx;
    if (!i)
        return;
    heap_swap(s, i, s->nheap);
    s->nheap--;
    m->heap_idx = 0;
    if (i <= s->nheap) {
        sift_up(s, i);
        sift_down(s, i);
    }
}

uint64_t sched_random(sched *s)
{
    s->rng ^= s->rng << 13;   /* xorshift64 */
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* ---- the timer ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sched *s = arg;
    s->timer_at = 0;
    sched_run_due(s);
}

void sched_arm_timer(sched *s, int64_t at_us)
{
    if (s->timer_at && s->timer_at <= at_us)
        return;
    int64_t now = clock_now_us(), d = at_us > now ? at_us - now : 0;
    if (clock_is_fake() && d > 0)
        return;   /* a fake clock only moves when a test moves it and calls sched_run_due */
    s->timer_at = at_us;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    event_add(s->timer, &tv);
}

/* ---- intake ---- */

/* rcpt_due - when recipient r wants to be tried; INT64_MAX when never (final, in flight) */
static int64_t rcpt_due(const qrcpt *r)
{
    if (RCPT_STATE_FINAL(r->state) || (r->sflags & RCPT_SF_INFLIGHT))
        return INT64_MAX;
    return r->state == RCPT_DEFERRED ? r->next_attempt_us : 0;
}

/* refresh - recompute m's due time and its place in the heap */
static void refresh(sched *s, qmsg *m)
{
    int64_t due = INT64_MAX;
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        int64_t d = rcpt_due(&m->rcpts[i]);
        if (d < due)
            due = d;
    }
    if (due == INT64_MAX || (m->flags & MSGF_HELD)) {
        sched_heap_remove(s, m);
        return;
    }
    m->due_us = due;
    sched_heap_update(s, m);
}

void sched_add(sched *s, qmsg *m)
{
    refresh(s, m);
    if (m->heap_idx)
        sched_arm_timer(s, m->due_us);
}

void sched_hold(sched *s, qmsg *m)
{
    sched_heap_remove(s, m);
    /* jobs already queued keep their recipients; they go when their turn comes */
}

/* domain_of - the lower-cased domain of an address ("" when none) into buf */
static void domain_of(const char *addr, char *buf, size_t n)
{
    const char *at = strrchr(addr, '@');
    snprintf(buf, n, "%s", at ? at + 1 : "");
    for (char *p = buf; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

/* job_new - an empty job for m */
static sched_job *job_new(qmsg *m, int cap, int64_t now)
{
    sched_job *j = xcalloc(1, sizeof *j);
    j->m = m;
    j->qid = m->qid;
    j->sender = xstrdup(m->sender);
    j->flags = m->flags;
    j->rcpts = xcalloc((size_t)cap, sizeof *j->rcpts);
    j->idx = xcalloc((size_t)cap, sizeof *j->idx);
    j->t_due_us = m->due_us;
    j->t_queued_us = now;
    j->mnext = m->jobs;
    m->jobs = j;
    return j;
}

sched_job *sched_job_split(sched_job *j, int keep)
{
    sched_job *r = job_new(j->m, j->n - keep, j->t_queued_us);
    r->t_due_us = j->t_due_us;
    for (int i = keep; i < j->n; i++) {
        r->idx[r->n] = j->idx[i];
        r->rcpts[r->n++] = j->rcpts[i];
        j->rcpts[i] = NULL;
    }
    j->n = keep;
    return r;
}

/* make_jobs - turn m's due recipients into jobs, one per domain and recipient limit */
static void make_jobs(sched *s, qmsg *m, int64_t now)
{
    int limit = (int)s->cfg->smtp_destination_recipient_limit;
    uint8_t *taken = xcalloc(m->nrcpt, 1);
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        if (taken[i] || rcpt_due(&m->rcpts[i]) > now)
            continue;
        char dom[256], other[256];
        domain_of(m->rcpts[i].address, dom, sizeof dom);
        sched_job *j = NULL;
        for (uint32_t k = i; k < m->nrcpt; k++) {
            if (taken[k] || rcpt_due(&m->rcpts[k]) > now)
                continue;
            domain_of(m->rcpts[k].address, other, sizeof other);
            if (strcmp(dom, other) != 0)
                continue;
            if (j && j->n == limit) {
                sched_route_job(s, j, dom);
                j = NULL;
            }
            if (!j)
                j = job_new(m, limit, now);
            taken[k] = 1;
            m->rcpts[k].sflags |= RCPT_SF_INFLIGHT;
            j->idx[j->n] = k;
            j->rcpts[j->n++] = xstrdup(m->rcpts[k].address);
        }
        if (j)
            sched_route_job(s, j, dom);
    }
    free(taken);
}

void sched_run_due(sched *s)
{
    int64_t now = clock_now_us();
    while (s->nheap && s->heap[1]->due_us <= now) {
        qmsg *m = s->heap[1];
        sched_heap_remove(s, m);
        make_jobs(s, m, now);
        refresh(s, m);
    }
    sched_flush_failed(s);
    sched_pump(s);
    int64_t next = sched_dest_housekeeping(s, clock_now_us());
    if (clock_now_us() - s->saved_at_us > 10 * 1000000LL)
        sched_state_save(s);
    if (s->nheap && s->heap[1]->due_us < next)
        next = s->heap[1]->due_us;
    if (next != INT64_MAX)
        sched_arm_timer(s, next);
}

uint64_t sched_flush(sched *s)
{
    uint64_t n = 0;
    for (qmsg *m = spool_first(s->sp); m; m = spool_next(s->sp, m)) {
        if (m->flags & MSGF_HELD)
            continue;
        for (uint32_t i = 0; i < m->nrcpt; i++)
            if (m->rcpts[i].state == RCPT_DEFERRED && !(m->rcpts[i].sflags & RCPT_SF_INFLIGHT)) {
                m->rcpts[i].next_attempt_us = 0;
                n++;
            }
        refresh(s, m);
    }
    sched_arm_timer(s, 0);
    return n;
}

/* on_added - a new message is durable: schedule it */
static void on_added(void *arg, qmsg *m)
{
    sched_add(arg, m);
}

/* on_gone - the spool dropped m (delivered, bounced or deleted): forget it */
static void on_gone(void *arg, qmsg *m)
{
    sched *s = arg;
    sched_heap_remove(s, m);
    for (sched_job *j = m->jobs; j; j = j->mnext)
        j->m = NULL;   /* queued or running jobs finish as orphans */
    m->jobs = NULL;
}

sched *sched_new(struct event_base *base, const sl_config *cfg, spool *sp,
                 const sched_agent *agent, const sched_resolver *res)
{
    sched *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->cfg = cfg;
    s->sp = sp;
    s->agent = *agent;
    s->res = *res;
    s->timer = evtimer_new(base, on_timer, s);
    s->domains = hmap_new();
    s->dests = hmap_new();
    s->shcfg = (shape_cfg){
        .enabled = cfg->shaping,
        .conc_max = (int)cfg->smtp_destination_concurrency_limit,
        .conc_initial = (int)cfg->initial_destination_concurrency,
        .conc_probe_us = cfg->concurrency_probe_time_ms * 1000,
        .rate_probe_us = cfg->rate_probe_time_ms * 1000,
        .grey_min_us = cfg->greylist_min_retry_time_ms * 1000,
        .grey_max_us = cfg->greylist_max_retry_time_ms * 1000,
        .overload_min_us = cfg->overload_backoff_time_ms * 1000,
        .overload_max_us = cfg->overload_max_backoff_time_ms * 1000,
        .rep_min_us = cfg->reputation_backoff_time_ms * 1000,
        .rep_max_us = cfg->reputation_max_backoff_time_ms * 1000,
    };
    char err[300];
    if (src_table_init(&s->src, cfg, err, sizeof err) < 0) {   /* checked before: */
        log_err(NULL, "%s; sending from smtp_bind_address", err);   /* never here */
        src_table_free(&s->src);
    }
    s->state_path = xasprintf("%s/shaping.json", cfg->queue_directory);
    sched_state_load(s);
    if (getrandom(&s->rng, sizeof s->rng, GRND_NONBLOCK) != sizeof s->rng || !s->rng)
        s->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)clock_now_us();
    spool_on_gone(sp, on_gone, s);
    spool_on_added(sp, on_added, s);
    for (qmsg *m = spool_first(sp); m; m = spool_next(sp, m))
        sched_add(s, m);
    return s;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    sched_state_save(s);
    spool_on_gone(s->sp, NULL, NULL);
    spool_on_added(s->sp, NULL, NULL);
    while (s->failed) {
        sched_job *j = s->failed;
        s->failed = j->next;
        sched_job_detach(j);
        sched_job_free(j);
    }
    sched_dest_free_all(s);
    sched_route_free(s);
    for (uint32_t i = 1; i <= s->nheap; i++)
        s->heap[i]->heap_idx = 0;
    free(s->heap);
    event_free(s->timer);
    json_decref(s->saved);
    free(s->state_path);
    src_table_free(&s->src);
    free(s);
}

void sched_set_queue_fn(sched *s, sched_queue_fn fn, void *ctx)
{
    s->queue_fn = fn;
    s->queue_ctx = ctx;
}

void sched_set_classifier(sched *s, sched_classify_fn fn, const classifier *c)
{
    s->classify = fn;
    s->cls = c;
}

void sched_get_counts(sched *s, sched_counts *c)
{
    *c = s->counts;
    c->sessions_now = (uint64_t)s->total_sess;
    c->dests = hmap_count(s->dests);
}

/* dest_json - one destination for status: queue, sessions and what shaping learned */
/* The destinations being listed. */
struct dests_out {
    const sched *s;
    json_t *a;
};

static void dest_json(const char *key, void *val, void *arg)
{
    sched_dest *d = val;
    const struct dests_out *out = arg;
    json_t *a = out->a;
    if (out->s->src.ncls && !d->src)
        return;   /* a site's own entry: with classes, its mail goes "via" an address */
    int64_t now = clock_now_us();
    json_t *o = shape_json(&d->sh, now);
    int64_t oldest = 0;
    for (sched_job *j = d->ready; j; j = j->next)
        if (j->m && (!oldest || j->m->arrival_us < oldest))
            oldest = j->m->arrival_us;
    json_object_set_new(o, "destination", json_string(key));
    json_object_set_new(o, "sessions", json_integer(d->nsess));
    json_object_set_new(o, "busy", json_integer(d->nbusy));
    json_object_set_new(o, "idle", json_integer(d->nidle));
    json_object_set_new(o, "queued_jobs", json_integer((json_int_t)d->nready));
    if (d->rcpt_limit)
        json_object_set_new(o, "recipient_limit_learned", json_integer(d->rcpt_limit));
    if (now < d->suspended_until_us)   /* a refused login */
        json_object_set_new(o, "suspended_for_s", json_real((double)(d->suspended_until_us - now) / 1e6));
    json_object_set_new(o, "oldest_queued_s", json_real(oldest ? (double)(now - oldest) / 1e6 : 0));
    int64_t wake = now;   /* now, unless shaping makes the ready jobs wait */
    if (d->nready) {
        shape_may_start(&d->sh, now, (uint32_t)d->nbusy, &wake);
        json_object_set_new(o, "next_attempt_time", json_real((double)wake / 1e6));
    }
    json_object_set_new(o, "delivered", json_integer((json_int_t)d->delivered));
    json_object_set_new(o, "deferred", json_integer((json_int_t)d->deferred));
    json_object_set_new(o, "bounced", json_integer((json_int_t)d->bounced));
    json_object_set_new(o, "rate_delay_ms", json_integer((json_int_t)(d->rate_delay_us / 1000)));
    json_object_set_new(o, "tls", json_string(d->t.tls_level));
    json_array_append_new(a, o);
}

json_t *sched_status(sched *s)
{
    json_t *dests = json_array();
    hmap_foreach(s->dests, dest_json, &(struct dests_out){s, dests});
    sched_counts c;
    sched_get_counts(s, &c);
    json_t *src = sched_sources_status(s);
    json_t *o = json_pack("{s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I}", "destinations", dests, "counts",
                     "delivered", (json_int_t)c.delivered, "deferred", (json_int_t)c.deferred,
                     "bounced", (json_int_t)c.bounced, "expired", (json_int_t)c.expired,
                     "notifications", (json_int_t)c.dsn_sent, "jobs_started", (json_int_t)c.jobs_started,
                     "sessions_opened", (json_int_t)c.sessions_opened, "sessions_now",
                     (json_int_t)c.sessions_now, "waiting_messages", (json_int_t)s->nheap);
    if (src)
        json_object_set_new(o, "sources", src);
    return o;
}
