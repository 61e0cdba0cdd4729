/* strpool.h - interned, reference-counted strings: one copy of each distinct text, however
 * many queued messages and recipients use it (senders, last replies).  Single-threaded: the
 * loop thread owns the pool. */
#ifndef SLUICE_STRPOOL_H
#define SLUICE_STRPOOL_H

/* strpool_get - the pooled copy of s (a new reference; NULL for NULL) */
const char *strpool_get(const char *s);
/* strpool_put - drop a reference taken by strpool_get (NULL is a no-op) */
void strpool_put(const char *s);
/* strpool_count - distinct strings in the pool */
unsigned long strpool_count(void);

#endif
