/* sink_map.h - a hash map from byte-string keys to pointers, for the sink's per-IP,
 * per-triplet and per-message state (connection counts, rate windows, greylist entries,
 * duplicate detection).
 *
 * Ownership: the map owns its entries and copies of the keys; the values are the caller's,
 * and sink_map_free hands each one to the free function it is given.  Value slots stay at the
 * same address until their entry is deleted, so a caller may keep a value pointer.
 * Hashing is seeded per map from OpenSSL's RNG, so a client can't aim at one chain. */
#ifndef SLUICE_SINK_MAP_H
#define SLUICE_SINK_MAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct sink_map sink_map;

sink_map *sink_map_new(void);
/* sink_map_free - free the map; free_val (may be NULL) is called on every value */
void sink_map_free(sink_map *m, void (*free_val)(void *));
/* sink_map_get - the value stored under key, or NULL */
void *sink_map_get(const sink_map *m, const void *key, size_t klen);
/* sink_map_slot - the value slot for key, created (holding NULL) when missing */
void **sink_map_slot(sink_map *m, const void *key, size_t klen);
/* sink_map_del - remove key's entry; its value, or NULL when there was none */
void *sink_map_del(sink_map *m, const void *key, size_t klen);
size_t sink_map_count(const sink_map *m);
/* sink_map_sweep - call drop(val, arg) on every entry; entries for which it returns 1 are
 * removed (drop has then disposed of the value) */
void sink_map_sweep(sink_map *m, int (*drop)(void *val, void *arg), void *arg);
/* sink_map_each - call fn(key, klen, val, arg) on every entry, in no particular order */
void sink_map_each(const sink_map *m,
                   void (*fn)(const void *key, size_t klen, void *val, void *arg), void *arg);

/* sink_hash64 - a seeded 64-bit hash of n bytes (not cryptographic) */
uint64_t sink_hash64(const void *p, size_t n, uint64_t seed);

#endif
