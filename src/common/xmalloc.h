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

#endif
