/* shape.c - the per-destination decisions of shape.h. */
#include "shaping/shape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"

#define SEC 1000000LL
#define CONC_PROBE_MAX (24 * 3600 * SEC)
#define GREY_SAVED_MAX (7 * 86400 * SEC)   /* a longer greylist window in the state file is not one */
#define TMC_RETRY (1 * SEC)      /* a refused connection's recipients: soon, on another one */

const char *shape_class_name(enum reply_class c)
{
    static const char *const names[RC_NCLASSES] = {
        "greylisting", "too_many_connections", "rate_limited", "reputation", "authentication",
        "overloaded_or_maintenance", "mailbox", "permanent", "other"};
    return c < RC_NCLASSES ? names[c] : "none";
}

void shape_init(shape *sh, const shape_cfg *cfg, const char *name)
{
    memset(sh, 0, sizeof *sh);
    sh->cfg = cfg;
    sh->name = name;
    sh->conc = cfg->enabled && cfg->conc_initial < cfg->conc_max ? cfg->conc_initial : cfg->conc_max;
    sh->conc_probe_every_us = cfg->conc_probe_us;
    rm_init(&sh->rate);
    sh->rate.probe_every_us = cfg->rate_probe_us;
    sh->last_class = RC_NCLASSES;
}

void shape_free(shape *sh)
{
    rm_free(&sh->rate);
    free(sh->last_reply);
    free(sh->last_rule);
}

/* decide - remember and log a decision */
static void decide(shape *sh, int64_t now, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void decide(shape *sh, int64_t now, const char *fmt, ...)
{
    int i;
    if (sh->ndec == SHAPE_NDEC) {   /* keep the newest: drop the oldest */
        memmove(&sh->dec[0], &sh->dec[1], sizeof sh->dec[0] * (SHAPE_NDEC - 1));
        i = SHAPE_NDEC - 1;
    } else {
        i = sh->ndec++;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->dec[i].text, sizeof sh->dec[i].text, fmt, ap);
    va_end(ap);
    sh->dec[i].t = now;
    log_notice(NULL, "shaping: %s: %s", sh->name, sh->dec[i].text);
}

/* jitter - d scaled by a factor in [0.8, 1.2] */
static int64_t jitter(int64_t d, int64_t now)
{
    uint64_t x = (uint64_t)now * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (int64_t)((double)d * (0.8 + 0.4 * (double)(x % 1000) / 999.0));
}

/* grow_capped - base doubled (n-1) times, at most max */
static int64_t grow_capped(int64_t base, int n, int64_t max)
{
    int64_t d = base;
    for (int i = 1; i < n && d < max; i++)
        d *= 2;
    return d > max ? max : d;
}

int shape_may_start(shape *sh, int64_t now, uint32_t inflight, int64_t *wake)
{
    if (!sh->cfg->enabled)
        return 1;
    if (now < sh->paused_until_us) {
        *wake = sh->paused_until_us;
        return 0;
    }
    int64_t at = rm_allowed_at(&sh->rate, now, inflight);
    if (at > now) {
        *wake = at;
        return 0;
    }
    return 1;
}

void shape_accepted(shape *sh, int64_t now, int busy, int saturated)
{
    sh->accepted++;
    (void)busy;
    rm_accepted(&sh->rate, now);
    sh->rate_strikes = 0;
    /* slow start: while the receiver never refused a connection, one more session per
     * message delivered with every session busy (Postfix's initial_destination_concurrency) */
    if (sh->cfg->enabled && saturated && !sh->conc_learned && sh->conc < sh->cfg->conc_max)
        sh->conc++;
    if (sh->streak && sh->pause_class != RC_REPUTATION)
        sh->streak = 0;
}

void shape_greylist_passed(shape *sh, int64_t first_us, int64_t now)
{
    int64_t d = now - first_us;
    if (!sh->cfg->enabled || (sh->grey_hi_us && d >= sh->grey_hi_us))
        return;
    sh->grey_hi_us = d;
    decide(sh, now, "greylisting passed after %.0fs: greylisted recipients retry after about that",
           (double)d / SEC);
}

/* greylist_retry - when a greylisted recipient comes back */
static int64_t greylist_retry(shape *sh, int64_t first, int64_t now, int64_t hint_s)
{
    const shape_cfg *c = sh->cfg;
    int64_t waited = now - first;
    if (waited > 0) {   /* refused again after waiting: the window is longer than that */
        if (waited > sh->grey_lo_us)
            sh->grey_lo_us = waited;
        if (sh->grey_hi_us && sh->grey_hi_us <= waited)
            sh->grey_hi_us = 0;
    }
    if (hint_s > 0)
        return first + hint_s * SEC + SEC;
    if (sh->grey_hi_us && sh->grey_hi_us > waited)
        return first + sh->grey_hi_us + sh->grey_hi_us / 20 + SEC;
    int64_t step = c->grey_min_us;   /* the probe ladder: min, x1.5, x1.5 ... max */
    while (step <= waited || step <= sh->grey_lo_us) {
        if (step >= c->grey_max_us)
            return 0;   /* past the ladder: not greylisting as we know it; own schedule */
        step = step * 3 / 2 > c->grey_max_us ? c->grey_max_us : step * 3 / 2;
    }
    return first + step;
}

/* on_connections - too many connections: down to what the receiver took */
static void on_connections(shape *sh, int open, int64_t now, const classify_result *cr)
{
    int before = sh->conc;
    int want = open > 0 && open < sh->conc ? open : sh->conc / 2;
    sh->conc = want < 1 ? 1 : want;
    sh->conc_learned = sh->conc;
    if (sh->conc_probing)
        sh->conc_probe_every_us = sh->conc_probe_every_us * 2 > CONC_PROBE_MAX ? CONC_PROBE_MAX
                                                                               : sh->conc_probe_every_us * 2;
    sh->conc_probing = 0;
    sh->conc_quiet_since_us = now;
    decide(sh, now, "too_many_connections (rule %s): concurrency %d -> %d; next probe up in %.0fs", cr->rule,
           before, sh->conc, (double)sh->conc_probe_every_us / SEC);
}

/* on_rate - rate limited: learn the limit; pause when the learned limit keeps failing */
static void on_rate(shape *sh, int64_t now, int64_t started, uint32_t inflight, const classify_result *cr)
{
    int64_t win0 = 0, win = 0;
    uint32_t n0 = rm_limit(&sh->rate, &win0);
    rm_refused(&sh->rate, now, inflight);
    uint32_t n = rm_limit(&sh->rate, &win);
    int stale = started < sh->rate_changed_us;   /* begun under an older estimate */
    if (n != n0 || win != win0)
        sh->rate_changed_us = now;
    else if (!stale && n)
        sh->rate_strikes++;
    sh->pause_class = RC_RATE_LIMITED;
    if (stale && !(n != n0 || win != win0)) {
        return;   /* one of several deliveries caught by the same refusal */
    } else if (cr->retry_hint_s > 0) {
        sh->paused_until_us = now + cr->retry_hint_s * SEC;
        decide(sh, now, "rate_limited (rule %s): paused %llds as the reply asks", cr->rule,
               (long long)cr->retry_hint_s);
    } else if (sh->rate_strikes > 2) {   /* the learned limit keeps failing: stand back */
        int64_t p = grow_capped(sh->cfg->overload_min_us, sh->rate_strikes - 2, sh->cfg->overload_max_us);
        sh->paused_until_us = now + jitter(p, now);
        decide(sh, now, "rate_limited again (rule %s): paused %.0fs", cr->rule, (double)p / SEC);
    } else if (n) {
        decide(sh, now, "rate_limited (rule %s): limit learned as %u messages per %llds", cr->rule, n,
               (long long)(win / SEC));
    } else {
        decide(sh, now, "rate_limited (rule %s): learning the limit", cr->rule);
    }
}

/* on_pause - reputation or overload: the destination waits */
static void on_pause(shape *sh, int64_t now, const classify_result *cr, int64_t base, int64_t max,
                     const char *what)
{
    sh->streak = sh->pause_class == cr->cls ? sh->streak + 1 : 1;
    sh->pause_class = cr->cls;
    int64_t p = cr->retry_hint_s > 0 ? cr->retry_hint_s * SEC : jitter(grow_capped(base, sh->streak, max), now);
    sh->paused_until_us = now + p;
    decide(sh, now, "%s (rule %s%s%s): destination paused %.0fs (%d in a row)", what, cr->rule,
           cr->provider ? ", " : "", cr->provider ? cr->provider : "", (double)p / SEC, sh->streak);
}

/* note_reply - counts and the last reply */
static void note_reply(shape *sh, const classify_result *cr, const char *reply)
{
    sh->counts[cr->cls]++;
    sh->last_class = cr->cls;
    free(sh->last_reply);
    sh->last_reply = xstrdup(reply ? reply : "");
    free(sh->last_rule);
    sh->last_rule = xstrdup(cr->rule ? cr->rule : "");
}

/* per_recipient_rate - a rate limit on one recipient's mailbox, not on us */
static int per_recipient_rate(const classify_result *cr, int stage, const char *reply)
{
    (void)cr;
    return stage == CS_RCPT && reply && strstr(reply, "4.2.") != NULL;
}

void shape_refused(shape *sh, const classify_result *cr, const char *reply, int stage, int dest_done,
                   int open_sessions, int inflight, int64_t grey_first_us, int64_t started_us,
                   int64_t last_close_us, int64_t now, shape_verdict *v)
{
    const shape_cfg *c = sh->cfg;
    v->scope = SCOPE_RECIPIENT;
    v->retry_at_us = cr->retry_hint_s > 0 ? now + cr->retry_hint_s * SEC : 0;
    v->use_fallback = 0;
    if (!dest_done)
        note_reply(sh, cr, reply);
    if (!c->enabled)
        return;
    switch (cr->cls) {
    case RC_GREYLISTING:
        sh->last_grey_us = now;
        v->retry_at_us = greylist_retry(sh, grey_first_us ? grey_first_us : now, now, cr->retry_hint_s);
        return;
    case RC_TOO_MANY_CONNECTIONS:
        v->scope = SCOPE_DESTINATION;
        if (!dest_done && now - last_close_us > SEC)
            on_connections(sh, open_sessions, now, cr);
        v->retry_at_us = now + TMC_RETRY;
        return;
    case RC_RATE_LIMITED:
        if (per_recipient_rate(cr, stage, reply))
            return;
        v->scope = SCOPE_DESTINATION;
        if (!dest_done)
            on_rate(sh, now, started_us, (uint32_t)inflight, cr);
        v->retry_at_us = sh->paused_until_us > now ? sh->paused_until_us : now;
        return;
    case RC_REPUTATION:
        v->scope = SCOPE_DESTINATION;
        if (!dest_done)
            on_pause(sh, now, cr, c->rep_min_us, c->rep_max_us, "reputation ALERT");
        v->retry_at_us = sh->paused_until_us;
        v->use_fallback = 1;
        return;
    case RC_OVERLOADED:
        v->scope = SCOPE_DESTINATION;
        if (!dest_done)
            on_pause(sh, now, cr, c->overload_min_us, c->overload_max_us, "overloaded_or_maintenance");
        v->retry_at_us = sh->paused_until_us;
        return;
    case RC_AUTHENTICATION:
        if (!dest_done)
            decide(sh, now, "authentication ALERT (rule %s): the receiver doubts our SPF/DKIM/DMARC/reverse DNS; "
                            "see `sluice doctor domain` and `sluice doctor ip`", cr->rule);
        return;
    default:
        return;   /* mailbox, other: the recipient's own schedule (or the hint) */
    }
}

void shape_engaged(shape *sh)
{
    if (sh->pause_class == RC_OVERLOADED)
        sh->streak = 0;   /* a greeting refused now and then is not a server down */
}

int shape_greylisting(const shape *sh, int64_t now)
{
    return sh->last_grey_us && now - sh->last_grey_us < 3600 * SEC;
}

void shape_tick(shape *sh, int64_t now)
{
    if (!sh->cfg->enabled)
        return;
    rm_tick(&sh->rate, now);
    if (sh->conc_learned && sh->conc < sh->cfg->conc_max &&
        now - sh->conc_quiet_since_us >= sh->conc_probe_every_us) {
        sh->conc++;
        sh->conc_probing = 1;
        sh->conc_quiet_since_us = now;
        decide(sh, now, "quiet for %.0fs: probing concurrency %d", (double)sh->conc_probe_every_us / SEC, sh->conc);
    }
}

const char *shape_state(const shape *sh, int64_t now)
{
    if (now < sh->paused_until_us)
        return sh->pause_class == RC_OVERLOADED ? "backoff" : "paused";
    if (sh->conc < sh->cfg->conc_max || rm_window(&sh->rate) >= 0)
        return "throttled";
    return "normal";
}

json_t *shape_json(const shape *sh, int64_t now)
{
    json_t *counts = json_object(), *dec = json_array();
    for (int i = 0; i < RC_NCLASSES; i++)
        if (sh->counts[i])
            json_object_set_new(counts, shape_class_name((enum reply_class)i), json_integer((json_int_t)sh->counts[i]));
    for (int i = 0; i < sh->ndec; i++)
        json_array_append_new(dec, json_pack("{s:f,s:s}", "time", (double)sh->dec[i].t / 1e6, "decision",
                                             sh->dec[i].text));
    int64_t win = 0;
    uint32_t n = rm_limit(&sh->rate, &win);
    json_t *rate = n ? json_pack("{s:i,s:f,s:f}", "messages", (int)n, "per_seconds", (double)win / 1e6,
                                 "per_second", (double)n * 1e6 / (double)win)
                     : json_null();
    json_t *o = json_pack("{s:s,s:i,s:i,s:i,s:o,s:I,s:o,s:o}", "state", shape_state(sh, now), "concurrency_limit",
                          sh->conc, "concurrency_max", sh->cfg->conc_max, "concurrency_learned", sh->conc_learned,
                          "rate_limit", rate, "accepted", (json_int_t)sh->accepted, "counts_by_class", counts,
                          "decisions", dec);
    int64_t span = n ? win : 10 * SEC;   /* the rate now: over the learned window, or 10 s */
    uint32_t recent = rm_count_since(&sh->rate, now - span);
    json_object_set_new(o, "rate_now", json_pack("{s:i,s:f,s:f}", "messages", (int)recent, "per_seconds",
                                                 (double)span / 1e6, "per_second", (double)recent * 1e6 / (double)span));
    if (now < sh->paused_until_us)
        json_object_set_new(o, "paused_for_s", json_real((double)(sh->paused_until_us - now) / 1e6));
    if (sh->grey_hi_us)
        json_object_set_new(o, "greylist_window_s", json_real((double)sh->grey_hi_us / 1e6));
    if (sh->last_reply) {
        json_object_set_new(o, "last_reply", json_string(sh->last_reply));
        json_object_set_new(o, "last_class", json_string(shape_class_name(sh->last_class)));
        json_object_set_new(o, "last_rule", json_string(sh->last_rule));
    }
    return o;
}

json_t *shape_save(const shape *sh)
{
    int64_t win = 0;
    uint32_t n = rm_limit(&sh->rate, &win);
    if (!sh->conc_learned && !n && !sh->grey_hi_us)
        return NULL;
    return json_pack("{s:i,s:i,s:I,s:i,s:I,s:I}", "concurrency", sh->conc, "concurrency_learned",
                     sh->conc_learned, "probe_every_s", (json_int_t)(sh->conc_probe_every_us / SEC),
                     "rate_messages", (int)(n - sh->rate.bonus), "rate_window_s", (json_int_t)(win / SEC),
                     "greylist_s", (json_int_t)(sh->grey_hi_us / SEC));
}

/* saved_int - a saved integer within lo..hi, else def (a damaged or hand-edited file must not
 * overflow the arithmetic on it, nor set values the shaping never produces) */
static json_int_t saved_int(json_t *s, const char *name, json_int_t lo, json_int_t hi, json_int_t def)
{
    json_int_t v = json_integer_value(json_object_get(s, name));
    return v >= lo && v <= hi ? v : def;
}

void shape_restore(shape *sh, json_t *s, int64_t now)
{
    int conc = (int)saved_int(s, "concurrency", 1, INT32_MAX, 0);
    if (conc > 0 && conc < sh->conc)
        sh->conc = conc;
    sh->conc_learned = (int)saved_int(s, "concurrency_learned", 0, INT32_MAX, 0);
    json_int_t pe = saved_int(s, "probe_every_s", 1, CONC_PROBE_MAX / SEC, 0);
    if (pe > 0)
        sh->conc_probe_every_us = pe * SEC;
    sh->conc_quiet_since_us = now;
    json_int_t rn = saved_int(s, "rate_messages", 1, INT32_MAX, 0);
    json_int_t rw = saved_int(s, "rate_window_s", 1, 86400, 0);
    for (int i = 0; rn > 0 && i < RM_NWIN; i++)
        if (rm_windows_us[i] == rw * SEC)
            rm_set(&sh->rate, (uint32_t)rn, rw * SEC, now);
    sh->grey_hi_us = saved_int(s, "greylist_s", 0, GREY_SAVED_MAX / SEC, 0) * SEC;
}
