/* sched_state.c - what shaping learned about each destination (concurrency, rate limit,
 * greylist window) kept in QUEUE_DIRECTORY/shaping.json, so a restart does not begin by
 * drawing the same 421s again.  Written (tmp + rename, no fsync: losing the last few
 * seconds of learning to a power cut only costs a little relearning) at most every 10 s
 * while the daemon runs, and at shutdown; read at start. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sched/sched_int.h"

void sched_state_load(sched *s)
{
    json_error_t err;
    json_t *j = json_load_file(s->state_path, 0, &err);
    if (!j)
        return;   /* none yet (or unreadable: start from the configuration) */
    json_t *d = json_object_get(j, "destinations");
    if (json_is_object(d))
        s->saved = json_incref(d);
    json_t *w = json_object_get(j, "warmup");
    if (json_is_object(w))
        sched_sources_restore(s, w);
    json_decref(j);
    if (s->saved)
        log_info(NULL, "shaping: %zu destinations' learned limits loaded from %s", json_object_size(s->saved),
                 s->state_path);
}

/* save_one - one destination's learned values into the object */
static void save_one(const char *key, void *val, void *arg)
{
    sched_dest *d = val;
    json_t *v = shape_save(&d->sh);
    if (!v && d->rcpt_limit)
        v = json_object();
    if (v && d->rcpt_limit) {
        json_object_set_new(v, "recipient_limit", json_integer(d->rcpt_limit));
        json_object_set_new(v, "recipient_limit_since", json_integer((json_int_t)(d->rcpt_limit_us / 1000000)));
    }
    if (v)
        json_object_set_new(arg, key, v);
}

void sched_state_save(sched *s)
{
    s->saved_at_us = clock_now_us();
    json_t *dests = s->saved ? json_deep_copy(s->saved) : json_object();
    if (s->dests)
        hmap_foreach(s->dests, save_one, dests);
    json_t *warm = sched_sources_save(s);
    if (!json_object_size(dests) && !json_object_size(warm)) {
        json_decref(dests);
        json_decref(warm);
        return;
    }
    json_t *all = json_pack("{s:i,s:I,s:o,s:o}", "version", 1, "saved", (json_int_t)clock_now(), "destinations",
                            dests, "warmup", warm);
    char *tmp = xasprintf("%s.tmp", s->state_path);
    if (json_dump_file(all, tmp, JSON_INDENT(1)) == 0 && rename(tmp, s->state_path) == 0) {
        json_decref(s->saved);
        s->saved = json_incref(json_object_get(all, "destinations"));
    } else {
        unlink(tmp);
        log_warn(NULL, "shaping: cannot write %s", s->state_path);
    }
    free(tmp);
    json_decref(all);
}
