/* sink_map.c - the sink's hash map: separate chaining over a power-of-two bucket array that
 * doubles when the entries outnumber the buckets.  Each entry is one allocation holding the
 * key bytes after its header.  Single-threaded (the event loop). */
#include "sink/sink_map.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    size_t klen;
    unsigned char key[];
} entry;

struct sink_map {
    entry **v;
    size_t nbuckets, n;
    uint64_t seed;
};

/* mix - the 64-bit finaliser of MurmurHash3 (a public-domain constant set) */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t sink_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), v;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&v, s, 8);
        h = mix(h ^ v) + 0x9e3779b97f4a7c15ULL;
    }
    v = 0;
    memcpy(&v, s, n);
    return mix(h ^ v ^ ((uint64_t)n << 56));
}

sink_map *sink_map_new(void)
{
    sink_map *m = xcalloc(1, sizeof *m);
    m->nbuckets = 16;
    m->v = xcalloc(m->nbuckets, sizeof *m->v);
    if (RAND_bytes((unsigned char *)&m->seed, sizeof m->seed) != 1)
        m->seed = (uint64_t)(uintptr_t)m * 0x9e3779b97f4a7c15ULL;
    return m;
}

void sink_map_free(sink_map *m, void (*free_val)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (entry *e = m->v[i], *nx; e; e = nx) {
            nx = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
        }
    free(m->v);
    free(m);
}

/* find - the link pointing at key's entry, or at the NULL ending its chain */
static entry **find(const sink_map *m, const void *key, size_t klen, uint64_t h)
{
    entry **pp = &m->v[h & (m->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || (*pp)->klen != klen || memcmp((*pp)->key, key, klen)))
        pp = &(*pp)->next;
    return pp;
}

/* grow - double the buckets and rechain every entry */
static void grow(sink_map *m)
{
    size_t old = m->nbuckets;
    entry **ov = m->v;
    m->nbuckets = old * 2;
    m->v = xcalloc(m->nbuckets, sizeof *m->v);
    for (size_t i = 0; i < old; i++)
        for (entry *e = ov[i], *nx; e; e = nx) {
            nx = e->next;
            entry **head = &m->v[e->hash & (m->nbuckets - 1)];
            e->next = *head;
            *head = e;
        }
    free(ov);
}

void *sink_map_get(const sink_map *m, const void *key, size_t klen)
{
    entry *e = *find(m, key, klen, sink_hash64(key, klen, m->seed));
    return e ? e->val : NULL;
}

void **sink_map_slot(sink_map *m, const void *key, size_t klen)
{
    uint64_t h = sink_hash64(key, klen, m->seed);
    entry **pp = find(m, key, klen, h);
    if (*pp)
        return &(*pp)->val;
    entry *e = xmalloc(sizeof *e + klen);
    e->next = NULL;
    e->hash = h;
    e->val = NULL;
    e->klen = klen;
    memcpy(e->key, key, klen);
    *pp = e;
    if (++m->n > m->nbuckets)
        grow(m);   /* moves entries, never reallocates them: the slot stays valid */
    return &e->val;
}

void *sink_map_del(sink_map *m, const void *key, size_t klen)
{
    entry **pp = find(m, key, klen, sink_hash64(key, klen, m->seed));
    entry *e = *pp;
    if (!e)
        return NULL;
    void *val = e->val;
    *pp = e->next;
    free(e);
    m->n--;
    return val;
}

size_t sink_map_count(const sink_map *m)
{
    return m->n;
}

void sink_map_sweep(sink_map *m, int (*drop)(void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        entry **pp = &m->v[i];
        while (*pp) {
            entry *e = *pp;
            if (drop(e->val, arg)) {
                *pp = e->next;
                free(e);
                m->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

void sink_map_each(const sink_map *m,
                   void (*fn)(const void *key, size_t klen, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (entry *e = m->v[i]; e; e = e->next)
            fn(e->key, e->klen, e->val, arg);
}
