/* xmalloc.h - allocation that never returns NULL: failure is fatal (Postfix's mymalloc). */
#ifndef SLUICE_XMALLOC_H
#define SLUICE_XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf - printf into a new string owned by the caller */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* XGROW - room for one more element in the array p holding n of cap: when full, cap
 * doubles (first when empty) and p is reallocated */
#define XGROW(p, n, cap, first)                                                              \
    do {                                                                                     \
        if ((n) == (cap)) {                                                                  \
            (cap) = (cap) ? (cap) * 2 : (first);                                             \
            (p) = xrealloc((p), sizeof *(p) * (size_t)(cap));                                \
        }                                                                                    \
    } while (0)

#endif
