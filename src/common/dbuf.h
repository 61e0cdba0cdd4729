/* dbuf.h - a growable byte buffer (data + length), used to build records and replies.
 * The buffer owns its memory; dbuf_free releases it; a zeroed struct is an empty buffer. */
#ifndef SLUICE_DBUF_H
#define SLUICE_DBUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct dbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} dbuf;

void dbuf_reserve(dbuf *b, size_t extra);
void dbuf_put(dbuf *b, const void *p, size_t n);
void dbuf_puts(dbuf *b, const char *s);
void dbuf_putc(dbuf *b, uint8_t c);
void dbuf_printf(dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dbuf_put_u8(dbuf *b, uint8_t v);
void dbuf_put_u16(dbuf *b, uint16_t v);
void dbuf_put_u32(dbuf *b, uint32_t v);
void dbuf_put_u64(dbuf *b, uint64_t v);
/* dbuf_put_str - a length-prefixed (u32) string, NULL written as empty */
void dbuf_put_str(dbuf *b, const char *s);
/* dbuf_cstr - NUL-terminate (not counted in len) and return the data as a string */
char *dbuf_cstr(dbuf *b);
/* dbuf_steal - hand the NUL-terminated data to the caller (who frees it); reset the buffer */
uint8_t *dbuf_steal(dbuf *b, size_t *len);
void dbuf_reset(dbuf *b);
void dbuf_free(dbuf *b);

#endif
