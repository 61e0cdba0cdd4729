/* fuzz_rfc5322.c - libFuzzer target for the message header code: the header iterator,
 * the address-list parser (on every field value and on the whole input), `sendmail -t`
 * collection with Bcc removal, unfolding, folding and prepending.  Besides the sanitizers
 * it checks invariants and aborts when one breaks:
 *   - fields tile the header block exactly; hdr_end <= body <= len;
 *   - printing the parsed addresses and parsing them again gives the same list, cleanly;
 *   - removing Bcc leaves a message whose fields are the old ones minus every Bcc;
 *   - a written field has no CR or LF except its folds and its final CRLF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "smtp/rfc5322.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_iter - fields tile [0, hdr_end) and the offsets are in order; the field count */
static size_t check_iter(const char *m, size_t len, size_t *bcc)
{
    rfc5322_iter it;
    rfc5322_field f;
    size_t off = 0, n = 0;
    *bcc = 0;
    rfc5322_iter_init(&it, m, len);
    while (rfc5322_next(&it, &f)) {
        check(f.raw == m + off && f.raw_len > 0 && off + f.raw_len <= len);
        check(f.name == f.raw && f.name_len > 0 && f.name_len < f.raw_len);
        check(f.value >= f.name + f.name_len && f.value + f.value_len <= f.raw + f.raw_len);
        off += f.raw_len;
        n++;
        *bcc += rfc5322_name_is(&f, "Bcc") || rfc5322_name_is(&f, "Resent-Bcc");
    }
    check(off == it.hdr_end && it.hdr_end <= it.body && it.body <= len);
    return n;
}

/* check_roundtrip - the printed list parses back to itself with nothing malformed */
static void check_roundtrip(const rfc5322_addrs *a)
{
    dbuf text = {0};
    rfc5322_addrs b = {0};
    for (size_t i = 0; i < a->n; i++) {
        check(a->v[i][0] != 0);
        dbuf_puts(&text, i ? ", " : "");
        dbuf_puts(&text, a->v[i]);
    }
    check(rfc5322_parse_addrs((char *)text.data, text.len, &b) == 0);
    check(b.n == a->n);
    for (size_t i = 0; i < a->n; i++)
        check(strcmp(a->v[i], b.v[i]) == 0);
    rfc5322_addrs_free(&b);
    dbuf_free(&text);
}

/* check_addrs - parse every field value and the whole input as address lists */
static void check_addrs(const char *m, size_t len)
{
    rfc5322_iter it;
    rfc5322_field f;
    rfc5322_addrs a = {0};
    rfc5322_iter_init(&it, m, len);
    while (rfc5322_next(&it, &f))
        rfc5322_parse_addrs(f.value, f.value_len, &a);
    check_roundtrip(&a);
    rfc5322_addrs_free(&a);
    rfc5322_parse_addrs(m, len, &a);
    check_roundtrip(&a);
    rfc5322_addrs_free(&a);
}

/* check_sendmail_t - collect recipients; Bcc removal drops exactly the Bcc fields */
static void check_sendmail_t(const char *m, size_t len, size_t fields, size_t bcc)
{
    rfc5322_addrs a = {0};
    dbuf out = {0};
    size_t bcc_after;
    rfc5322_collect_rcpts(m, len, &a);
    rfc5322_addrs_free(&a);
    rfc5322_remove_bcc(m, len, &out);
    check(out.len <= len);
    check(check_iter((char *)out.data, out.len, &bcc_after) == fields - bcc && bcc_after == 0);
    dbuf_free(&out);
}

/* check_field_lines - a written field: CRLF only as a fold (before WSP) or at its end */
static void check_field_lines(const dbuf *b)
{
    check(b->len >= 2 && b->data[b->len - 2] == '\r' && b->data[b->len - 1] == '\n');
    for (size_t i = 0; i + 2 < b->len; i++) {
        if (b->data[i] == '\r' || b->data[i] == '\n') {
            check(b->data[i] == '\r' && b->data[i + 1] == '\n');
            check(b->data[i + 2] == ' ' || b->data[i + 2] == '\t');
            i++;
        }
    }
}

/* check_writers - unfold, fold the input as a field value, and prepend a field */
static void check_writers(const char *m, size_t len)
{
    dbuf out = {0};
    size_t fields, bcc;
    rfc5322_unfold(&out, m, len);
    check(out.len <= len);
    dbuf_reset(&out);
    rfc5322_put_field(&out, "X-Fuzz", m, len);
    check_field_lines(&out);
    check(check_iter((char *)out.data, out.len, &bcc) == 1);
    dbuf_reset(&out);
    rfc5322_prepend(&out, "X-Pre: 1\r\n", 10, m, len);
    fields = check_iter((char *)out.data, out.len, &bcc);
    check(fields >= 1 && fields == 1 + check_iter(m, len, &bcc));
    dbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *m = (const char *)data;
    size_t bcc, fields = check_iter(m, size, &bcc);
    check_addrs(m, size);
    check_sendmail_t(m, size, fields, bcc);
    check_writers(m, size);
    return 0;
}
