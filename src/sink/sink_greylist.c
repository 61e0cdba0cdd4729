/* sink_greylist.c - the greylist table (rules in sink_greylist.h): a sink_map from triplet
 * keys to the time of the first attempt and of the last accepted use. */
#include "sink/sink_greylist.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "sink/sink_map.h"

typedef struct grey_entry {
    int64_t first;      /* first attempt of the current greylisting round */
    int64_t last_pass;  /* last accepted use; 0 while not passed */
} grey_entry;

struct sink_greylist {
    sink_map *m;
    int64_t delay, expire;
    size_t swept_at;    /* entries after the last sweep */
};

sink_greylist *sink_greylist_new(int64_t delay_us, int64_t expire_us)
{
    sink_greylist *g = xcalloc(1, sizeof *g);
    g->m = sink_map_new();
    g->delay = delay_us;
    g->expire = expire_us;
    return g;
}

void sink_greylist_free(sink_greylist *g)
{
    if (!g)
        return;
    sink_map_free(g->m, free);
    free(g);
}

/* forgotten - the entry has outlived expire at now */
static int forgotten(const sink_greylist *g, const grey_entry *e, int64_t now)
{
    if (e->last_pass)
        return now - e->last_pass >= g->expire;
    return now - e->first >= g->expire;
}

/* What a sweep needs to know. */
typedef struct sweep_ctx {
    const sink_greylist *g;
    int64_t now;
} sweep_ctx;

/* sweep_one - sink_map_sweep callback: drop a forgotten entry */
static int sweep_one(void *val, void *arg)
{
    const sweep_ctx *c = arg;
    if (!forgotten(c->g, val, c->now))
        return 0;
    free(val);
    return 1;
}

/* maybe_sweep - drop forgotten entries once the table has doubled since the last sweep */
static void maybe_sweep(sink_greylist *g, int64_t now)
{
    size_t n = sink_map_count(g->m);
    if (n < 1024 || n < 2 * g->swept_at)
        return;
    sweep_ctx c = {g, now};
    sink_map_sweep(g->m, sweep_one, &c);
    g->swept_at = sink_map_count(g->m);
}

int sink_greylist_check(sink_greylist *g, const void *key, size_t klen, int64_t now)
{
    void **slot = sink_map_slot(g->m, key, klen);
    grey_entry *e = *slot;
    if (!e) {
        e = *slot = xcalloc(1, sizeof *e);
        e->first = now;
        maybe_sweep(g, now);
        return 0;
    }
    if (forgotten(g, e, now)) {
        e->first = now;
        e->last_pass = 0;
        return 0;
    }
    if (!e->last_pass && now - e->first < g->delay)
        return 0;
    e->last_pass = now;
    return 1;
}

size_t sink_greylist_size(const sink_greylist *g)
{
    return sink_map_count(g->m);
}

/* put_lower - append s in lower case, NUL-terminated, as far as it fits */
static size_t put_lower(char *buf, size_t off, size_t size, const char *s)
{
    for (; *s && off < size; s++)
        buf[off++] = (char)tolower((unsigned char)*s);
    if (off < size)
        buf[off++] = 0;
    return off;
}

size_t sink_greylist_key(const struct sockaddr *sa, int bits4, int bits6, const char *sender,
                         const char *rcpt, char *buf, size_t bufsize)
{
    uint8_t k[17];
    netaddr_key(sa, k);
    int bits = k[0] == 4 ? bits4 : bits6;
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        k[1 + i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    size_t off = bufsize < sizeof k ? bufsize : sizeof k;
    memcpy(buf, k, off);
    off = put_lower(buf, off, bufsize, sender);
    return put_lower(buf, off, bufsize, rcpt);
}
