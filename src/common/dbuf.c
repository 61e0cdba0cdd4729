/* dbuf.c - growable byte buffer; integers are stored little-endian. */
#include "common/dbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

void dbuf_reserve(dbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void dbuf_put(dbuf *b, const void *p, size_t n)
{
    dbuf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void dbuf_puts(dbuf *b, const char *s)
{
    dbuf_put(b, s, strlen(s));
}

void dbuf_putc(dbuf *b, uint8_t c)
{
    dbuf_reserve(b, 1);
    b->data[b->len++] = c;
}

void dbuf_printf(dbuf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        dbuf_reserve(b, (size_t)n);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void dbuf_put_u8(dbuf *b, uint8_t v)
{
    dbuf_putc(b, v);
}

void dbuf_put_u16(dbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    dbuf_put(b, x, 2);
}

void dbuf_put_u32(dbuf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    dbuf_put(b, x, 4);
}

void dbuf_put_u64(dbuf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    dbuf_put(b, x, 8);
}

void dbuf_put_str(dbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    dbuf_put_u32(b, (uint32_t)n);
    dbuf_put(b, s, n);
}

char *dbuf_cstr(dbuf *b)
{
    dbuf_reserve(b, 0);
    b->data[b->len] = 0;
    return (char *)b->data;
}

uint8_t *dbuf_steal(dbuf *b, size_t *len)
{
    dbuf_reserve(b, 0);
    b->data[b->len] = 0;
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void dbuf_reset(dbuf *b)
{
    b->len = 0;
}

void dbuf_free(dbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
