/* dkim_canon.c - DKIM's "relaxed" canonicalization of header fields (RFC 6376 3.4.2) and
 * of the body (3.4.4).  A line ends with CRLF; a bare LF is read as a line end too (the SMTP
 * server makes those CRLF before a message gets this far), and a bare CR is an ordinary
 * byte, kept as it is - the server keeps bare CRs, and a verifier sees them. */
#include <ctype.h>
#include <string.h>

#include "dkim/dkim.h"

/* is_wsp - SP or HTAB */
static int is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* put_value - the value with line ends removed (unfolded), each run of WSP as one SP, and
 * no WSP at either end */
static void put_value(const char *v, size_t len, dbuf *out)
{
    int pending_sp = 0, any = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\n' || (c == '\r' && i + 1 < len && v[i + 1] == '\n'))
            continue;   /* unfolding: the line ends go, the WSP after them stays */
        if (is_wsp(c)) {
            pending_sp = any;
            continue;
        }
        if (pending_sp)
            dbuf_putc(out, ' ');
        pending_sp = 0;
        any = 1;
        dbuf_putc(out, (char)c);
    }
}

void dkim_canon_header(const char *raw, size_t len, dbuf *out)
{
    size_t colon = 0;
    while (colon < len && raw[colon] != ':')
        colon++;
    size_t name_end = colon;
    while (name_end > 0 && (is_wsp((unsigned char)raw[name_end - 1]) || raw[name_end - 1] == '\r' ||
                            raw[name_end - 1] == '\n'))
        name_end--;
    for (size_t i = 0; i < name_end; i++)   /* a field's name has no line end; garbage */
        if (raw[i] != '\n' && !(raw[i] == '\r' && i + 1 < name_end && raw[i + 1] == '\n'))
            dbuf_putc(out, (char)tolower((unsigned char)raw[i]));   /* keeps the result one line */
    dbuf_putc(out, ':');
    if (colon < len)
        put_value(raw + colon + 1, len - colon - 1, out);
    dbuf_put(out, "\r\n", 2);
}

/* put_line - one body line: WSP runs as one SP, none at the end; CRLF after */
static void put_line(const uint8_t *l, size_t len, dbuf *out)
{
    while (len > 0 && is_wsp(l[len - 1]))
        len--;
    for (size_t i = 0; i < len; i++) {
        if (is_wsp(l[i])) {
            while (i + 1 < len && is_wsp(l[i + 1]))
                i++;
            dbuf_putc(out, ' ');
        } else {
            dbuf_putc(out, (char)l[i]);
        }
    }
    dbuf_put(out, "\r\n", 2);
}

/* blank - a line of nothing but WSP (empty once canonicalized) */
static int blank(const uint8_t *l, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_wsp(l[i]))
            return 0;
    return 1;
}

void dkim_canon_body(const uint8_t *body, size_t len, dbuf *out)
{
    size_t empties = 0;   /* empty lines seen and not yet written: dropped at the end */
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *lf = memchr(body + pos, '\n', len - pos);
        size_t end = lf ? (size_t)(lf - body) : len, next = lf ? end + 1 : len;
        if (lf && end > pos && body[end - 1] == '\r')
            end--;   /* CRLF; a CR anywhere else is content */
        if (blank(body + pos, end - pos)) {
            empties++;
        } else {
            for (; empties > 0; empties--)
                dbuf_put(out, "\r\n", 2);
            put_line(body + pos, end - pos, out);
        }
        pos = next;
    }
}
