/* hmap.h - a string-keyed hash map (chained, grows by doubling).  Keys are copied; values
 * are the caller's.  Not for hostile key sets larger than memory: the hash is seeded per
 * process but is not a cryptographic PRF. */
#ifndef SLUICE_HMAP_H
#define SLUICE_HMAP_H
#include <stddef.h>

typedef struct hmap hmap;

hmap *hmap_new(void);
/* hmap_free - free the map and its keys; free_val (may be NULL) is called on each value */
void hmap_free(hmap *h, void (*free_val)(void *));
void *hmap_get(const hmap *h, const char *key);
/* hmap_put - set key to val (replacing any value, which is returned) */
void *hmap_put(hmap *h, const char *key, void *val);
/* hmap_del - remove key; returns its value or NULL */
void *hmap_del(hmap *h, const char *key);
size_t hmap_count(const hmap *h);
/* hmap_foreach - call fn for every entry (fn must not change the map) */
void hmap_foreach(const hmap *h, void (*fn)(const char *key, void *val, void *arg), void *arg);

#endif
