/* advise_retry.c - the retry schedule (minimal_backoff_time, maximal_backoff_time,
 * queue_run_delay, maximal_queue_lifetime; sluice's greylist_max_retry_time).
 * The greylisting window of each greylisting destination is bounded from the timelines: a
 * retry refused again t after the first deferral means the window is longer than t (lower
 * bound), a delivery t after it means it is at most t (upper bound).  Rules, in order:
 *   early       retries refused again: minimal_backoff_time (sluice with shaping:
 *               greylist_max_retry_time) to the ladder step at or above lower bound x 1.1
 *   late        nothing refused again, every greylisted recipient waited over 15 minutes and
 *               minimal_backoff_time is above the seed's 300s: back to 300s
 *   aggressive  minimal_backoff_time under a minute: 300s; maximal under 5 minutes: 4000s
 *   growth      maximal_backoff_time below twice the new minimum: max(4000s, 2 x minimum)
 *   scan        Postfix's queue_run_delay above the minimum: the minimum
 *   lifetime    recipients expired, or rate limiting / reputation seen, with a lifetime
 *               under 5 days: 5d (the seed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doctor/advise_int.h"

#define MAX_GREY 64
#define FIVE_DAYS (5 * 86400LL)

/* One greylisting destination's window, from its timelines. */
typedef struct grey_fig {
    const la_dest *d;
    double lo, hi;          /* seconds after the first deferral: refused again / delivered */
    long early, passed;     /* recipients refused again at their first retry / delivered */
} grey_fig;

/* The schedule of one MTA: current and suggested values (seconds; -1 unknown). */
typedef struct sched_vals {
    long long min, max, run, life, grey_max;
    long long nmin, nmax, nrun, nlife, ngrey_max;
} sched_vals;

typedef struct retry_ctx {
    advise *a;
    grey_fig g[MAX_GREY];
    int ng;
    double lo, hi;
    long early, passed, expired, pressure;
    double hammer_s;        /* the shortest median retry interval under a minute, 0: none */
    const char *hammer_dest;
    sched_vals pf, sl;
} retry_ctx;

/* is_grey_deferral - a deferral greylisting could explain */
static int is_grey_deferral(const la_attempt *t)
{
    return t->status == LS_DEFERRED && (t->cat == RC_GREYLISTING || t->cat == RC_OTHER);
}

/* fig_of - the figure of the rcpt's destination, or NULL */
static grey_fig *fig_of(retry_ctx *c, const char *rcpt)
{
    const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
    for (int i = 0; at && i < c->ng; i++)
        if (!strcasecmp(at + 1, c->g[i].d->domain))
            return &c->g[i];
    return NULL;
}

/* one_rcpt - the attempts of att[from]'s recipient after its first greylisting deferral */
static void one_rcpt(retry_ctx *c, const la_message *m, int from)
{
    const la_attempt *f = &m->att[from];
    grey_fig *g = fig_of(c, f->rcpt);
    if (!g)
        return;
    int first_retry = 1;
    for (int k = from + 1; k < m->natt; k++) {
        const la_attempt *t = &m->att[k];
        if (!t->rcpt || strcmp(t->rcpt, f->rcpt))
            continue;
        double w = (double)(t->t_us - f->t_us) / 1e6;
        if (t->status == LS_SENT) {
            g->passed++;
            g->hi = !g->hi || w < g->hi ? w : g->hi;
            return;
        }
        if (!is_grey_deferral(t))
            return;
        g->lo = w > g->lo ? w : g->lo;
        g->early += first_retry;
        first_retry = 0;
    }
}

/* timelines - every message's recipients, from their first greylisting deferral */
static void timelines(retry_ctx *c)
{
    for (size_t i = 0; i < la_nmessages(c->a->in->la); i++) {
        const la_message *m = la_message_at(c->a->in->la, i);
        for (int k = 0; k < m->natt; k++) {
            const la_attempt *t = &m->att[k];
            int seen = 0;
            for (int j = 0; j < k && !seen; j++)
                seen = m->att[j].rcpt && t->rcpt && !strcmp(m->att[j].rcpt, t->rcpt);
            if (t->rcpt && !seen && is_grey_deferral(t))
                one_rcpt(c, m, k);
        }
    }
}

/* gather - the greylisting destinations, expiries and pressure (rate, reputation) */
static void gather(retry_ctx *c)
{
    const loganalyzer *la = c->a->in->la;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        c->expired += d->expired;
        c->pressure += d->verdict == LV_RATE_LIMITING || d->verdict == LV_REPUTATION;
        if (d->status >= CK_INFO && d->retry_interval.n >= 3 && d->retry_interval.median < 60 &&
            (!c->hammer_s || d->retry_interval.median < c->hammer_s)) {
            c->hammer_s = d->retry_interval.median;
            c->hammer_dest = d->domain;
        }
        if (d->verdict == LV_GREYLISTING && c->ng < MAX_GREY)
            c->g[c->ng++].d = d;
    }
    if (la)
        timelines(c);
    for (int i = 0; i < c->ng; i++) {
        grey_fig *g = &c->g[i];
        c->lo = g->lo > c->lo ? g->lo : c->lo;
        c->hi = g->hi && (!c->hi || g->hi < c->hi) ? g->hi : c->hi;
        c->early += g->early;
        c->passed += g->passed;
    }
}

/* current - the schedules in effect */
static void current(retry_ctx *c)
{
    const advise_in *in = c->a->in;
    c->pf = (sched_vals){adv_postfix_secs(in, "minimal_backoff_time"), adv_postfix_secs(in, "maximal_backoff_time"),
                         adv_postfix_secs(in, "queue_run_delay"), adv_postfix_secs(in, "maximal_queue_lifetime"),
                         -1, 0, 0, 0, 0, 0};
    c->sl = (sched_vals){adv_sluice_secs(in, "minimal_backoff_time"), adv_sluice_secs(in, "maximal_backoff_time"),
                         -1, adv_sluice_secs(in, "maximal_queue_lifetime"),
                         adv_sluice_secs(in, "greylist_max_retry_time"), 0, 0, 0, 0, 0};
}

/* decide - the rules for one schedule; grey_ladder: greylisting is sluice's shaping's */
static void decide(const retry_ctx *c, sched_vals *v, int grey_ladder)
{
    long long need = c->early ? adv_ladder(c->lo * 1.1) : 0;
    long long min = v->min;
    if (need && grey_ladder && need > v->grey_max)
        v->ngrey_max = need;
    if (need && !grey_ladder && need > min)
        min = need;
    if (!c->early && c->passed && c->hi > 900 && min > 300 && !grey_ladder)
        min = 300;
    if (min >= 0 && min < 60)
        min = 300;
    v->nmin = min != v->min ? min : 0;
    long long max = v->max;
    if (max >= 0 && max < 300)
        max = 4000;
    if (max >= 0 && max < 2 * min)
        max = 2 * min > 4000 ? 2 * min : 4000;
    v->nmax = max != v->max ? max : 0;
    if (v->run >= 0 && v->run > min)
        v->nrun = min;
    if (v->life >= 0 && v->life < FIVE_DAYS && (c->expired || c->pressure))
        v->nlife = FIVE_DAYS;
}

/* changes - one schedule's suggestions as changes for target */
static int changes(retry_ctx *c, const sched_vals *v, enum adv_target t)
{
    static const char *const names[] = {"minimal_backoff_time", "maximal_backoff_time", "queue_run_delay",
                                        "maximal_queue_lifetime", "greylist_max_retry_time"};
    const long long vals[] = {v->nmin, v->nmax, v->nrun, v->nlife, v->ngrey_max};
    int n = 0;
    for (int i = 0; i < 5; i++) {
        char buf[48];
        if (vals[i] <= 0)
            continue;
        adv_change_add(c->a, t, names[i], adv_dur(vals[i], buf, sizeof buf), "retry", "the retry schedule");
        n++;
    }
    return n;
}

/* grey_evidence - each greylisting destination's window and its lines */
static void grey_evidence(retry_ctx *c, adv_item *it)
{
    json_t *arr = json_array();
    for (int i = 0; i < c->ng; i++) {
        const grey_fig *g = &c->g[i];
        char lo[32], hi[32];
        adv_evidencef(it, "%s: %ld recipient(s) delivered after greylisting, the first %s after their first "
                          "deferral; %ld refused again at their first retry (up to %s after it)",
                      g->d->domain, g->passed, g->hi ? la_dur_text(g->hi, hi, sizeof hi) : "-", g->early,
                      g->lo ? la_dur_text(g->lo, lo, sizeof lo) : "-");
        for (int k = 0; k < g->d->nevidence && k < 2 && i < 2; k++)
            adv_evidence(it, g->d->evidence[k]);
        json_t *st = adv_dest_learned(c->a->in, g->d->domain);
        char buf[300];
        if (st)
            adv_evidencef(it, "sluiced status for %s: %s", json_string_value(json_object_get(st, "destination")),
                          adv_learned_text(st, buf, sizeof buf));
        json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:f,s:f,s:f}", "domain", g->d->domain, "passed",
                                             (int)g->passed, "early", (int)g->early, "window_lower_s", g->lo,
                                             "window_upper_s", g->hi, "pass_delay_median_s",
                                             g->d->pass_delay.median));
    }
    json_object_set_new(it->figures, "greylisting", arr);
}

/* vals_json - a schedule's current and suggested values */
static json_t *vals_json(const sched_vals *v)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "minimal_backoff_time", (json_int_t)v->min,
                     "maximal_backoff_time", (json_int_t)v->max, "queue_run_delay", (json_int_t)v->run,
                     "maximal_queue_lifetime", (json_int_t)v->life, "greylist_max_retry_time",
                     (json_int_t)v->grey_max, "suggested", "minimal_backoff_time", (json_int_t)v->nmin,
                     "maximal_backoff_time", (json_int_t)v->nmax, "queue_run_delay", (json_int_t)v->nrun,
                     "maximal_queue_lifetime", (json_int_t)v->nlife, "greylist_max_retry_time",
                     (json_int_t)v->ngrey_max);
}

/* explain - the sentences for what was found */
static void explain(retry_ctx *c, adv_item *it, int shaping)
{
    char a[32], b[32];
    if (c->early)
        adv_explain(it, "%ld greylisted recipient(s) were refused again at their first retry, up to %s after the "
                        "first deferral: the window is longer than that, so the first retry should come after %s%s.",
                    c->early, la_dur_text(c->lo, a, sizeof a), adv_dur(adv_ladder(c->lo * 1.1), b, sizeof b),
                    c->pf.nmin ? "" : " (Postfix's minimal_backoff_time here already waits that long: the early "
                                      "retries came from elsewhere - another host or address, or a queue flush)");
    else if (c->passed)
        adv_explain(it, "every greylisted recipient got through at its first retry (the window is at most %s here).",
                    la_dur_text(c->hi, a, sizeof a));
    if (!c->early && c->passed && c->hi > 900)
        adv_explain(it, "Greylisted mail waited %s or more: greylisting windows are usually 1-5 minutes "
                        "(postgrey's default is 300s), so a first retry after 300s delivers it sooner.",
                    la_dur_text(c->hi, a, sizeof a));
    if (c->expired)
        adv_explain(it, "%ld recipient(s) expired in the queue.", c->expired);
    if (c->ng && shaping)
        adv_explain(it, "sluice (shaping = yes) retries greylisted recipients on its own ladder "
                        "(greylist_min_retry_time x1.5 up to greylist_max_retry_time) and learns each destination's "
                        "window; minimal_backoff_time is for the other temporary failures.");
    if (c->pf.min >= 0 && c->pf.min < 60)
        adv_explain(it, "A minimal_backoff_time under a minute retries before any greylisting window ends and "
                        "counts against you at rate limiters: the seed's Fix 1 is 300s / 4000s / 5d.");
    if (c->hammer_s)
        adv_explain(it, "In the logs, refused mail to %s was retried every %s (median): far more often than a "
                        "minimal_backoff_time of a minute or more allows; check the settings of the MTA that wrote "
                        "them (a flush, a cron job running \"postqueue -f\" or \"sendmail -q\", several hosts).",
                    c->hammer_dest, la_dur_text(c->hammer_s, a, sizeof a));
}

void advise_retry(advise *a)
{
    retry_ctx c = {.a = a};
    gather(&c);
    current(&c);
    decide(&c, &c.pf, 0);
    decide(&c, &c.sl, adv_shaping(a->in));
    char pf[160], sl[400], x[32], y[32], z[32];
    snprintf(pf, sizeof pf, "Postfix %s / %s / %s", adv_dur(c.pf.min, x, sizeof x), adv_dur(c.pf.max, y, sizeof y),
             adv_dur(c.pf.life, z, sizeof z));
    snprintf(sl, sizeof sl, "%s; sluice %s / %s / %s", pf, adv_dur(c.sl.min, x, sizeof x),
             adv_dur(c.sl.max, y, sizeof y), adv_dur(c.sl.life, z, sizeof z));
    adv_item *it = adv_item_new(a, CK_PASS, "retry", "Retry schedule (minimal / maximal backoff, queue lifetime)",
                                c.early ? "the first retry after the greylisting window"
                                        : "retries that pass greylisting and do not hammer",
                                sl, "%s", "");
    explain(&c, it, adv_shaping(a->in));
    grey_evidence(&c, it);
    int n = changes(&c, &c.pf, AT_MAIN) + changes(&c, &c.sl, AT_SLUICE);
    it->st = n || c.hammer_s ? CK_WARN : c.ng ? CK_INFO : CK_PASS;
    if (!n && !it->explanation[0])
        adv_explain(it, "nothing in the logs or the settings asks for a different schedule.");
    json_object_set_new(it->figures, "window_lower_s", json_real(c.lo));
    json_object_set_new(it->figures, "window_upper_s", json_real(c.hi));
    json_object_set_new(it->figures, "early", json_integer(c.early));
    json_object_set_new(it->figures, "expired", json_integer(c.expired));
    json_object_set_new(it->figures, "retry_interval_median_s", c.hammer_s ? json_real(c.hammer_s) : json_null());
    json_object_set_new(it->figures, "postfix", vals_json(&c.pf));
    json_object_set_new(it->figures, "sluice", vals_json(&c.sl));
}
