/* fuzz_dkim_sign.c - libFuzzer target for DKIM signing: any bytes as a message are
 * canonicalized and signed with an Ed25519 key made once in-process.  Besides the
 * sanitizers it checks invariants and aborts when one breaks:
 *   - signing succeeds (no input may make a loaded key fail);
 *   - the field starts "DKIM-Signature: ", ends with one CRLF, and holds no other CR or LF
 *     than its folds (CRLF followed by a tab), so it cannot inject a header or end the
 *     header block;
 *   - canonical bodies end with CRLF or are empty, have no WSP before a CRLF and no WSP runs;
 *     canonicalizing a canonical body again changes nothing;
 *   - a canonical header field is one line (a bare CR is content) with a lower-case name. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* the_key - an Ed25519 key, made and loaded through a temp PEM file once */
static dkim_skey *the_key(void)
{
    static dkim_skey *k;
    if (k)
        return k;
    EVP_PKEY *p = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
    check(c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_generate(c, &p) == 1);
    char path[] = "/tmp/fuzz-dkim-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    check(f && PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    char err[256];
    k = dkim_skey_load("example.com", "fuzz", path, err, sizeof err);
    unlink(path);
    check(k != NULL);
    EVP_PKEY_free(p);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* check_field - the signature field's shape */
static void check_field(const dbuf *f)
{
    const char *s = (const char *)f->data;
    check(f->len > 18 && !memcmp(s, "DKIM-Signature: ", 16));
    check(!memcmp(s + f->len - 2, "\r\n", 2));
    for (size_t i = 0; i + 2 < f->len; i++)
        if (s[i] == '\r' || s[i] == '\n') {
            check(s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\t');
            i += 2;
        }
}

/* check_body - canonical form invariants, and idempotence */
static void check_body(const uint8_t *data, size_t size)
{
    dbuf a = {0}, b = {0};
    dkim_canon_body(data, size, &a);
    const uint8_t *p = a.data;
    check(a.len == 0 || (a.len >= 2 && !memcmp(p + a.len - 2, "\r\n", 2)));
    check(a.len < 4 || memcmp(p + a.len - 4, "\r\n\r\n", 4) != 0);
    for (size_t i = 0; i + 1 < a.len; i++) {
        check(!(p[i] == ' ' && (p[i + 1] == ' ' || (p[i + 1] == '\r' && i + 2 < a.len && p[i + 2] == '\n'))));
        check(p[i] != '\t');
        check(p[i] != '\n' || (i > 0 && p[i - 1] == '\r'));
    }
    dkim_canon_body(a.data, a.len, &b);
    check(a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len)));
    dbuf_free(&a);
    dbuf_free(&b);
}

/* check_header - one line, name in lower case */
static void check_header(const uint8_t *data, size_t size)
{
    dbuf h = {0};
    dkim_canon_header((const char *)data, size, &h);
    const char *s = (const char *)h.data;
    check(h.len >= 3 && !memcmp(s + h.len - 2, "\r\n", 2));
    const char *colon = memchr(s, ':', h.len);
    check(colon != NULL);
    for (const char *q = s; q < colon; q++)
        check(!(*q >= 'A' && *q <= 'Z'));
    for (size_t i = 0; i + 2 < h.len; i++)
        check(s[i] != '\n' && !(s[i] == '\r' && s[i + 1] == '\n'));
    dbuf_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *hdrs[] = {"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"};
    static const char *over[] = {"From"};
    dbuf out = {0};
    char err[256];
    check(dkim_sign(the_key(), data, size, hdrs, 6, over, 1, 1764324000, &out, err, sizeof err) == 0);
    check_field(&out);
    dbuf_free(&out);
    check_body(data, size);
    check_header(data, size);
    return 0;
}
