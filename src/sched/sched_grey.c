/* sched_grey.c - when each greylisting triplet was first refused, per destination.
 *
 * A receiver greylists a (client address, sender, recipient) triplet, not a message: the
 * window runs from the first attempt of the triplet, and a later message to the same
 * recipient passes as soon as that window is over.  Measuring the window from each
 * message's own first refusal would learn it too short; so the destination remembers, per
 * sender and recipient (one source address), when the triplet was first greylisted.
 * Entries are dropped GREY_KEEP after that (the windows are minutes; this is only for
 * measuring) and with the destination.  Ownership: the map and its values are d's. */
#include <stdio.h>
#include <stdlib.h>

#include "common/hmap.h"
#include "common/xmalloc.h"
#include "sched/sched_int.h"

#define GREY_KEEP (6 * 3600 * 1000000LL)

/* grey_key - the map key of recipient q of m */
static char *grey_key(const qmsg *m, const qrcpt *q)
{
    return xasprintf("%s\x01%s", m->sender ? m->sender : "", q->address);
}

int64_t sched_grey_first(sched_dest *d, const qmsg *m, const qrcpt *q, int64_t now)
{
    if (!d->grey)
        d->grey = hmap_new();
    char *k = grey_key(m, q);
    int64_t *v = hmap_get(d->grey, k);
    if (!v) {
        v = xmalloc(sizeof *v);
        *v = now;
        hmap_put(d->grey, k, v);
    }
    free(k);
    return *v;
}

int64_t sched_grey_known(const sched_dest *d, const qmsg *m, const qrcpt *q)
{
    if (!d->grey)
        return 0;
    char *k = grey_key(m, q);
    int64_t *v = hmap_get(d->grey, k);
    free(k);
    return v ? *v : 0;
}

/* A pruning pass: the keys to drop, collected first (the map must not change in foreach). */
struct prune {
    int64_t before;
    char **keys;
    size_t n, cap;
};

static void collect_old(const char *key, void *val, void *arg)
{
    struct prune *p = arg;
    if (*(int64_t *)val >= p->before)
        return;
    XGROW(p->keys, p->n, p->cap, 16);
    p->keys[p->n++] = xstrdup(key);
}

void sched_grey_prune(sched_dest *d, int64_t now)
{
    if (!d->grey || !hmap_count(d->grey))
        return;
    struct prune p = {now - GREY_KEEP, NULL, 0, 0};
    hmap_foreach(d->grey, collect_old, &p);
    for (size_t i = 0; i < p.n; i++) {
        free(hmap_del(d->grey, p.keys[i]));
        free(p.keys[i]);
    }
    free(p.keys);
}

void sched_grey_free(sched_dest *d)
{
    if (d->grey)
        hmap_free(d->grey, free);
    d->grey = NULL;
}
