/* test_doctor_dkim.c - DKIM key records for `sluice doctor domain` (src/doctor/dkim.h):
 * the record parser on a table of valid and broken records, strict base64, and the keys
 * themselves with keys generated here by OpenSSL: RSA sizes, ed25519 raw keys, bare PKCS#1,
 * revoked and garbage p=, and the comparison with a PEM private key written to a temporary
 * file (the same key, another key, a missing file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/xmalloc.h"
#include "doctor/dkim.h"
#include "test_util_keys.h"

static const struct parse_case {
    const char *rec;
    int ok;
    enum dkim_keytype type;
    int testing, strict, sha1_only, email_ok, revoked;
    const char *err; /* substring when not ok */
} parse_cases[] = {
    {"v=DKIM1; k=rsa; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1; p=", 1, DKIM_K_RSA, 0, 0, 0, 1, 1, NULL},
    {"v=DKIM1;p=;", 1, DKIM_K_RSA, 0, 0, 0, 1, 1, NULL},
    {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 1, DKIM_K_ED25519, 0, 0,
     0, 1, 0, NULL},
    {"v=DKIM1; k=RSA; t=y:s; p=MIIB", 1, DKIM_K_RSA, 1, 1, 0, 1, 0, NULL},
    {"v=DKIM1; t = y ; p = MII B ", 1, DKIM_K_RSA, 1, 0, 0, 1, 0, NULL},
    {"v=DKIM1; h=sha1; p=MIIB", 1, DKIM_K_RSA, 0, 0, 1, 1, 0, NULL},
    {"v=DKIM1; h=sha1:sha256; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1; s=email; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1; s=*; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1; s=tlsrpt; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 0, 0, NULL},
    {"v=DKIM1; k=dsa; p=MIIB", 1, DKIM_K_OTHER, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1; n=a note; x_unknown=1; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM1\r\n\t; p=MIIB", 1, DKIM_K_RSA, 0, 0, 0, 1, 0, NULL},
    {"v=DKIM2; p=MIIB", 0, 0, 0, 0, 0, 0, 0, "not DKIM1"},
    {"p=MIIB; v=DKIM1", 0, 0, 0, 0, 0, 0, 0, "first"},
    {"v=DKIM1; k=rsa", 0, 0, 0, 0, 0, 0, 0, "no p="},
    {"v=DKIM1; p=M!IB", 0, 0, 0, 0, 0, 0, 0, "base64"},
    {"v=DKIM1; p=MIIB; p=MIIB", 0, 0, 0, 0, 0, 0, 0, "twice"},
    {"v=DKIM1;; p=MIIB", 0, 0, 0, 0, 0, 0, 0, "tag name"},
    {"v=DKIM1; 1p=MIIB", 0, 0, 0, 0, 0, 0, 0, "tag name"},
    {"v=DKIM1; p MIIB", 0, 0, 0, 0, 0, 0, 0, "\"=\""},
    {"v=DKIM1; p=MI\xc3\xa9IB", 0, 0, 0, 0, 0, 0, 0, "byte 0xc3"},
    {"", 0, 0, 0, 0, 0, 0, 0, "no tags"},
    {"   ", 0, 0, 0, 0, 0, 0, 0, "no tags"},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        dkim_record r;
        char err[200] = "";
        int rc = dkim_record_parse(c->rec, &r, err, sizeof err);
        if ((rc == 0) != c->ok || (!c->ok && !strstr(err, c->err)))
            fail_msg("\"%s\": rc %d error \"%s\"; want ok=%d error ~\"%s\"", c->rec, rc, err, c->ok,
                     c->err ? c->err : "");
        if (c->ok && (r.keytype != c->type || r.testing != c->testing || r.strict != c->strict ||
                      r.sha1_only != c->sha1_only || r.email_ok != c->email_ok ||
                      (r.p[0] == 0) != c->revoked))
            fail_msg("\"%s\": type %d testing %d strict %d sha1 %d email %d p \"%s\"", c->rec,
                     r.keytype, r.testing, r.strict, r.sha1_only, r.email_ok, r.p);
        dkim_record_clear(&r);
    }
}

static const struct b64_case {
    const char *in;
    const char *out; /* NULL: malformed */
    size_t len;
} b64_cases[] = {
    {"", "", 0},           {"Zg==", "f", 1},        {"Zm8=", "fo", 2},
    {"Zm9v", "foo", 3},    {"Zm9vYg==", "foob", 4}, {"Zm9v\r\n YmFy", "foobar", 6},
    {"Zm9vYg", "foob", 4}, {"Zg=", NULL, 0},        {"Zh==", NULL, 0},
    {"Z", NULL, 0},        {"Zm9v=Zm9v", NULL, 0},  {"Zm9v!", NULL, 0},
    {"===", NULL, 0},
};

static void test_base64(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
        const struct b64_case *c = &b64_cases[i];
        size_t n = 0;
        unsigned char *got = dkim_base64_decode(c->in, &n);
        if (c->out ? !got || n != c->len || memcmp(got, c->out, n) : got != NULL)
            fail_msg("\"%s\": got %s (%zu bytes)", c->in, got ? "data" : "NULL", n);
        free(got);
    }
}

/* b64 - base64 of n bytes (caller frees) */
static char *b64(const unsigned char *p, int n)
{
    char *out = xmalloc((size_t)(4 * ((n + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)out, p, n);
    return out;
}

/* record_for - a key record publishing k: SPKI for RSA (pkcs1: bare RSAPublicKey), raw for
 * ed25519 */
static char *record_for(EVP_PKEY *k, int pkcs1)
{
    unsigned char *der = NULL, raw[32];
    char *p, *rec;
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
        size_t n = sizeof raw;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
        p = b64(raw, (int)n);
        rec = xasprintf("v=DKIM1; k=ed25519; p=%s", p);
    } else {
        int n = pkcs1 ? i2d_PublicKey(k, &der) : i2d_PUBKEY(k, &der);
        assert_true(n > 0);
        p = b64(der, n);
        rec = xasprintf("v=DKIM1; k=rsa; p=%s", p);
        OPENSSL_free(der);
    }
    free(p);
    return rec;
}

/* decode - parse rec and decode its key; the key or NULL, bits and err filled */
static EVP_PKEY *decode(const char *rec, int *bits, char *err, size_t errlen)
{
    dkim_record r;
    assert_int_equal(dkim_record_parse(rec, &r, err, errlen), 0);
    EVP_PKEY *k = dkim_key_decode(&r, bits, err, errlen);
    dkim_record_clear(&r);
    return k;
}

static void test_key_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        size_t bits;
        int pkcs1;
        int want_bits;
        const char *name;
    } cases[] = {
        {"RSA", 1024, 0, 1024, "rsa"},     {"RSA", 2048, 0, 2048, "rsa"},
        {"RSA", 2048, 1, 2048, "rsa"},     {"RSA", 512, 0, 512, "rsa"},
        {"ED25519", 0, 0, 253, "ed25519"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *k = tu_keygen(cases[i].type, cases[i].bits);
        char *rec = record_for(k, cases[i].pkcs1), err[200] = "";
        int bits = 0;
        EVP_PKEY *pub = decode(rec, &bits, err, sizeof err);
        if (!pub)
            fail_msg("%s %zu: %s", cases[i].type, cases[i].bits, err);
        if (bits != cases[i].want_bits && !(cases[i].bits == 0 && bits >= 253))
            fail_msg("%s: %d bits, want %d", cases[i].type, bits, cases[i].want_bits);
        assert_string_equal(dkim_key_type_name(pub), cases[i].name);
        assert_true(dkim_key_same(pub, k));
        EVP_PKEY_free(pub);
        EVP_PKEY_free(k);
        free(rec);
    }
}

static void test_bad_keys(void **state)
{
    (void)state;
    static const struct {
        const char *rec;
        const char *err;
    } cases[] = {
        {"v=DKIM1; p=", "revoked"},
        {"v=DKIM1; k=dsa; p=MIIB", "unknown key type"},
        {"v=DKIM1; p=Zm9vYmFy", "RSA public key"},
        {"v=DKIM1; k=ed25519; p=Zm9vYmFy", "ed25519"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[200] = "";
        int bits;
        EVP_PKEY *k = decode(cases[i].rec, &bits, err, sizeof err);
        if (k || !strstr(err, cases[i].err))
            fail_msg("%s: %s, want error ~%s", cases[i].rec, k ? "decoded" : err, cases[i].err);
    }
}

static void test_match(void **state)
{
    (void)state;
    EVP_PKEY *a = tu_keygen("RSA", 2048), *b = tu_keygen("RSA", 2048), *e = tu_keygen("ED25519", 0);
    char *pa = tu_write_pem(a), *pe = tu_write_pem(e), *rec = record_for(a, 0), *rece = record_for(e, 0),
         err[300];
    int bits;
    EVP_PKEY *pub = decode(rec, &bits, err, sizeof err),
             *pube = decode(rece, &bits, err, sizeof err);
    EVP_PKEY *la = dkim_key_load(pa, err, sizeof err), *le = dkim_key_load(pe, err, sizeof err);
    assert_non_null(la);
    assert_non_null(le);
    assert_true(dkim_key_same(pub, la));
    assert_false(dkim_key_same(pub, b));
    assert_false(dkim_key_same(pub, le));
    assert_true(dkim_key_same(pube, le));
    assert_false(dkim_key_same(pube, la));
    assert_null(dkim_key_load("/nonexistent/key.pem", err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(dkim_key_load("/dev/null", err, sizeof err));
    assert_non_null(strstr(err, "no PEM"));
    unlink(pa);
    unlink(pe);
    free(pa);
    free(pe);
    free(rec);
    free(rece);
    EVP_PKEY_free(la);
    EVP_PKEY_free(le);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(pube);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_base64),
        cmocka_unit_test(test_key_sizes), cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
