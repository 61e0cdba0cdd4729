/* test_dkim_sign.c - DKIM signing: relaxed canonicalization of header fields and bodies
 * (RFC 6376 3.4.2, 3.4.4, and the example of 3.4.5), the signature field's tags and
 * folding, and the signature itself checked with OpenSSL against the data RFC 6376 3.7 says
 * is signed, rebuilt here independently of dkim_sign.c (the e2e test checks the same with
 * dkimpy).  Keys are made in the test: RSA-2048 and Ed25519. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/dbuf.h"
#include "dkim/dkim.h"
#include "test_util_keys.h"

#define M(s) s, sizeof(s) - 1

/* hdr - the relaxed form of one raw field, as a string in b */
static const char *hdr(const char *raw, dbuf *b)
{
    dbuf_reset(b);
    dkim_canon_header(raw, strlen(raw), b);
    return dbuf_cstr(b);
}

/* body - the relaxed form of a body, as a string in b */
static const char *body(const char *raw, size_t n, dbuf *b)
{
    dbuf_reset(b);
    dkim_canon_body((const uint8_t *)raw, n, b);
    return dbuf_cstr(b);
}

static void test_canon_header(void **state)
{
    (void)state;
    dbuf b = {0};
    /* RFC 6376 3.4.5 */
    assert_string_equal(hdr("A: X\r\n", &b), "a:X\r\n");
    assert_string_equal(hdr("B : Y\t\r\n\tZ  \r\n", &b), "b:Y Z\r\n");
    assert_string_equal(hdr("Subject:   a \t b\r\n", &b), "subject:a b\r\n");
    assert_string_equal(hdr("X-Empty:\r\n", &b), "x-empty:\r\n");
    assert_string_equal(hdr("X-Sp:   \r\n  \r\n", &b), "x-sp:\r\n");
    assert_string_equal(hdr("MiXeD-CaSe: KeEp ThE VaLuE\r\n", &b), "mixed-case:KeEp ThE VaLuE\r\n");
    assert_string_equal(hdr("X-Cr: a\rb \r\n", &b), "x-cr:a\rb\r\n");   /* a bare CR is a byte */
    assert_string_equal(hdr("X-Lf: a\n b\n", &b), "x-lf:a b\r\n");          /* a bare LF, a line end */
    dbuf_free(&b);
}

static void test_canon_body(void **state)
{
    (void)state;
    dbuf b = {0};
    /* RFC 6376 3.4.5: " C \r\nD \t E\r\n\r\n\r\n" -> " C\r\nD E\r\n" */
    assert_string_equal(body(M(" C \r\nD \t E\r\n\r\n\r\n"), &b), " C\r\nD E\r\n");
    assert_string_equal(body(M(""), &b), "");
    assert_string_equal(body(M("\r\n\r\n"), &b), "");
    assert_string_equal(body(M(" \t\r\n"), &b), "");
    assert_string_equal(body(M("no line end"), &b), "no line end\r\n");
    assert_string_equal(body(M("a\r\n\r\nb\r\n \r\n"), &b), "a\r\n\r\nb\r\n");
    assert_string_equal(body(M("x\ny\n"), &b), "x\r\ny\r\n");   /* bare LF: a line end */
    assert_string_equal(body(M("a\rb \r\n\r\r\n"), &b), "a\rb\r\n\r\r\n");   /* bare CR: content */
    dbuf_free(&b);
}

/* key - a new private key of type ("RSA" 2048 or "ED25519") in a temp PEM file at *path */
static EVP_PKEY *key(const char *type, char **path)
{
    EVP_PKEY *p = tu_keygen(type, 2048);
    *path = tu_write_pem(p);
    return p;
}

/* tag - the value of tag t in the unfolded field, without the spaces of its folds, into out */
static void tag(const char *field, const char *t, char *out, size_t len)
{
    char pat[16];
    snprintf(pat, sizeof pat, " %s=", t);
    const char *p = strstr(field, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t o = 0;
    for (; *p && *p != ';'; p++)
        if (*p != ' ') {
            assert_true(o + 1 < len);
            out[o++] = *p;
        }
    out[o] = 0;
}

/* unfold - the field without CRLF+WSP folds and spaces inside b= and bh= values */
static void unfold(const char *f, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i] == '\r' && i + 2 < n && f[i + 1] == '\n' && (f[i + 2] == '\t' || f[i + 2] == ' ')) {
            out[o++] = ' ';
            i += 2;
            continue;
        }
        out[o++] = f[i];
    }
    out[o] = 0;
}

static const char MSG[] = "Received: from x by y; Fri, 28 Nov 2026 10:00:00 +0000\r\n"
                          "From: Alice <alice@example.com>\r\n"
                          "To: bob@example.net\r\n"
                          "Subject:  Hello   there \r\n\t folded\r\n"
                          "To: second@example.net\r\n"
                          "\r\n"
                          "Hi  Bob,  \r\n\r\nline two\t\r\n\r\n\r\n";

/* check_signature - sign MSG with the key of type; check the tags, the folding, the body
 * hash and the signature over the data rebuilt here */
static void check_signature(const char *type, const char *alg)
{
    char *path;
    EVP_PKEY *pk = key(type, &path);
    char err[256];
    dkim_skey *k = dkim_skey_load("example.com", "sel", path, err, sizeof err);
    assert_non_null(k);
    unlink(path);
    free(path);
    assert_string_equal(dkim_skey_algorithm(k), alg);
    const char *h[] = {"From", "To", "Subject", "Date"}, *over[] = {"From"};
    dbuf out = {0};
    assert_int_equal(dkim_sign(k, (const uint8_t *)MSG, sizeof MSG - 1, h, 4, over, 1, 1764324000, &out,
                               err, sizeof err), 0);
    const char *f = (const char *)out.data;
    /* folded lines of at most 78 columns, each continuation starting with a tab */
    for (const char *l = f; l < f + out.len;) {
        const char *e = strstr(l, "\r\n");
        assert_non_null(e);
        assert_true(e - l <= 78);
        if (l != f)
            assert_int_equal(*l, '\t');
        l = e + 2;
    }
    assert_memory_equal(f + out.len - 2, "\r\n", 2);
    char *u = calloc(1, out.len + 1);
    unfold(f, out.len - 2, u);
    char v[1024];
    tag(u, "a", v, sizeof v);
    assert_string_equal(v, alg);
    tag(u, "d", v, sizeof v);
    assert_string_equal(v, "example.com");
    tag(u, "t", v, sizeof v);
    assert_string_equal(v, "1764324000");
    tag(u, "h", v, sizeof v);
    /* both To fields (bottom-up), the one From and one more, no Date: there is none */
    assert_string_equal(v, "From:To:To:Subject:From");
    /* bh: SHA-256 of the canonical body */
    tag(u, "bh", v, sizeof v);
    const char *canon_body = "Hi Bob,\r\n\r\nline two\r\n";
    uint8_t md[32];
    unsigned mdlen = 32;
    EVP_Digest(canon_body, strlen(canon_body), md, &mdlen, EVP_sha256(), NULL);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, md, 32);
    assert_string_equal(v, b64);
    /* the signed data: the fields in h= order, then this field with b= empty, no CRLF */
    const char *b = strstr(u, " b=");
    assert_non_null(b);
    dbuf data = {0};
    dbuf_puts(&data, "from:Alice <alice@example.com>\r\n"
                     "to:second@example.net\r\n"
                     "to:bob@example.net\r\n"
                     "subject:Hello there folded\r\n");
    dbuf canon = {0};
    dkim_canon_header(u, (size_t)(b + 3 - u), &canon);   /* "...; b=" */
    dbuf_put(&data, canon.data, canon.len - 2);
    uint8_t sig[1024];
    tag(u, "b", v, sizeof v);
    int siglen = EVP_DecodeBlock(sig, (const unsigned char *)v, (int)strlen(v));
    assert_true(siglen > 0);
    for (const char *e = v + strlen(v); e > v && e[-1] == '='; e--)
        siglen--;   /* EVP_DecodeBlock counts base64 padding as bytes */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok;
    if (!strcmp(type, "RSA")) {
        ok = EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(c, sig, (size_t)siglen, data.data, data.len) == 1;
    } else {
        uint8_t hd[32];
        unsigned hl = 32;
        EVP_Digest(data.data, data.len, hd, &hl, EVP_sha256(), NULL);
        ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(c, sig, (size_t)siglen, hd, sizeof hd) == 1;
    }
    assert_true(ok);
    /* a changed header breaks it */
    data.data[6] ^= 1;
    EVP_MD_CTX_free(c);
    c = EVP_MD_CTX_new();
    if (!strcmp(type, "RSA"))
        assert_int_not_equal(EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pk) == 1 &&
                                 EVP_DigestVerify(c, sig, (size_t)siglen, data.data, data.len) == 1,
                             1);
    EVP_MD_CTX_free(c);
    free(u);
    dbuf_free(&data);
    dbuf_free(&canon);
    dbuf_free(&out);
    dkim_skey_free(k);
    EVP_PKEY_free(pk);
}

static void test_sign_rsa(void **state)
{
    (void)state;
    check_signature("RSA", "rsa-sha256");
}

static void test_sign_ed25519(void **state)
{
    (void)state;
    check_signature("ED25519", "ed25519-sha256");
}

static void test_key_errors(void **state)
{
    (void)state;
    char err[256], path[] = "/tmp/sluice-dkim-XXXXXX";
    assert_null(dkim_skey_load("example.com", "s", "/nonexistent/key.pem", err, sizeof err));
    assert_non_null(strstr(err, "cannot read"));
    int fd = mkstemp(path);
    assert_int_equal(write(fd, "garbage\n", 8), 8);
    close(fd);
    assert_null(dkim_skey_load("example.com", "s", path, err, sizeof err));
    assert_non_null(strstr(err, "not a PEM private key"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_header),
        cmocka_unit_test(test_canon_body),
        cmocka_unit_test(test_sign_rsa),
        cmocka_unit_test(test_sign_ed25519),
        cmocka_unit_test(test_key_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
