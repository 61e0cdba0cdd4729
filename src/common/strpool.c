/* strpool.c - the interned string pool of strpool.h: a chained hash table of entries that
 * carry their reference count in front of the text; the text pointer handed out is the
 * entry's own, so releasing needs no lookup of the key's bucket other than the stored hash. */
#include "common/strpool.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

typedef struct ent {
    struct ent *next;
    uint32_t hash, refs;
    char s[];
} ent;

static ent **tab;
static size_t mask, count;

/* hash - FNV-1a of s */
static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* grow - double the table */
static void grow(void)
{
    size_t n = tab ? (mask + 1) * 2 : 1024;
    ent **t = xcalloc(n, sizeof *t);
    for (size_t i = 0; tab && i <= mask; i++)
        for (ent *e = tab[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(tab);
    tab = t;
    mask = n - 1;
}

const char *strpool_get(const char *s)
{
    if (!s)
        return NULL;
    if (!tab || count > mask)
        grow();
    uint32_t h = hash(s);
    for (ent *e = tab[h & mask]; e; e = e->next)
        if (e->hash == h && !strcmp(e->s, s)) {
            e->refs++;
            return e->s;
        }
    size_t n = strlen(s);
    ent *e = xmalloc(sizeof *e + n + 1);
    memcpy(e->s, s, n + 1);
    e->hash = h;
    e->refs = 1;
    e->next = tab[h & mask];
    tab[h & mask] = e;
    count++;
    return e->s;
}

void strpool_put(const char *s)
{
    if (!s)
        return;
    ent *e = (ent *)(void *)(s - offsetof(ent, s));
    if (--e->refs)
        return;
    ent **pp = &tab[e->hash & mask];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    count--;
    free(e);
}

unsigned long strpool_count(void)
{
    return (unsigned long)count;
}
