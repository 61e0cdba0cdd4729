/* hmap.c - the string-keyed hash map of hmap.h: FNV-1a over a per-process random seed. */
#include "common/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/xmalloc.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    char key[];
} entry;

struct hmap {
    entry **b;
    size_t mask, n;
};

/* seed - chosen once per process */
static uint64_t seed(void)
{
    static uint64_t s;
    if (!s) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
            r = (uint64_t)(uintptr_t)&r;
        s = r | 1;
    }
    return s;
}

/* hash - FNV-1a, seeded */
static uint64_t hash(const char *k)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed();
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 32);
}

hmap *hmap_new(void)
{
    hmap *h = xcalloc(1, sizeof *h);
    h->mask = 15;
    h->b = xcalloc(h->mask + 1, sizeof *h->b);
    return h;
}

void hmap_free(hmap *h, void (*free_val)(void *))
{
    if (!h)
        return;
    for (size_t i = 0; i <= h->mask; i++)
        for (entry *e = h->b[i], *nx; e; e = nx) {
            nx = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
        }
    free(h->b);
    free(h);
}

/* find - the slot pointing at key's entry (or at the NULL ending its chain) */
static entry **find(const hmap *h, const char *key, uint64_t hv)
{
    entry **pp = &h->b[hv & h->mask];
    while (*pp && ((*pp)->hash != hv || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *hmap_get(const hmap *h, const char *key)
{
    entry *e = *find(h, key, hash(key));
    return e ? e->val : NULL;
}

/* grow - double the buckets */
static void grow(hmap *h)
{
    size_t n = (h->mask + 1) * 2;
    entry **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i <= h->mask; i++)
        for (entry *e = h->b[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(h->b);
    h->b = b;
    h->mask = n - 1;
}

void *hmap_put(hmap *h, const char *key, void *val)
{
    uint64_t hv = hash(key);
    entry **pp = find(h, key, hv);
    if (*pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    size_t kl = strlen(key);
    entry *e = xmalloc(sizeof *e + kl + 1);
    memcpy(e->key, key, kl + 1);
    e->hash = hv;
    e->val = val;
    e->next = NULL;
    *pp = e;
    if (++h->n > h->mask + 1)
        grow(h);
    return NULL;
}

void *hmap_del(hmap *h, const char *key)
{
    entry **pp = find(h, key, hash(key));
    entry *e = *pp;
    if (!e)
        return NULL;
    *pp = e->next;
    void *v = e->val;
    free(e);
    h->n--;
    return v;
}

size_t hmap_count(const hmap *h)
{
    return h->n;
}

void hmap_foreach(const hmap *h, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i <= h->mask; i++)
        for (entry *e = h->b[i]; e; e = e->next)
            fn(e->key, e->val, arg);
}
