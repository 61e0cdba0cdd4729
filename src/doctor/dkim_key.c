/* dkim_key.c - DKIM public keys with OpenSSL 3 (dkim.h): decode the p= of a key record,
 * size it, load a local PEM key, compare the two.  Errors come from OpenSSL's queue, which
 * is cleared after each call so one failure never shows up in the next message. */
#include "doctor/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/pem_nopass.h"

/* decode_rsa - SubjectPublicKeyInfo first (what RFC 6376 publishes), bare PKCS#1 second */
static EVP_PKEY *decode_rsa(const unsigned char *der, size_t n)
{
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)n);
    if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || p != der + n)) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    if (!k) {
        p = der;
        k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
        if (k && p != der + n) {
            EVP_PKEY_free(k);
            k = NULL;
        }
    }
    return k;
}

/* decode_ed25519 - RFC 8463: the 32 raw bytes of the key, base64 */
static EVP_PKEY *decode_ed25519(const unsigned char *der, size_t n)
{
    if (n != 32)
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n);
}

EVP_PKEY *dkim_key_decode(const dkim_record *r, int *bits, char *err, size_t errlen)
{
    if (!r->p || !r->p[0]) {
        snprintf(err, errlen, "the key is revoked (empty p=)");
        return NULL;
    }
    if (r->keytype == DKIM_K_OTHER) {
        snprintf(err, errlen, "unknown key type k=%.20s", r->k);
        return NULL;
    }
    size_t n;
    unsigned char *der = dkim_base64_decode(r->p, &n);
    EVP_PKEY *k = NULL;
    if (der)
        k = r->keytype == DKIM_K_RSA ? decode_rsa(der, n) : decode_ed25519(der, n);
    free(der);
    ERR_clear_error();
    if (!k) {
        snprintf(err, errlen, "p= does not hold an %s public key",
                 r->keytype == DKIM_K_RSA ? "RSA" : "ed25519 (32 bytes)");
        return NULL;
    }
    *bits = EVP_PKEY_get_bits(k);
    return k;
}

EVP_PKEY *dkim_key_load(const char *path, char *err, size_t errlen)
{
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        ERR_clear_error();
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, pem_no_passphrase, NULL);
    if (!k && BIO_reset(b) == 0)
        k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (!k)
        snprintf(err, errlen, "%s holds no PEM private or public key (or it is encrypted)", path);
    return k;
}

int dkim_key_same(const EVP_PKEY *published, const EVP_PKEY *local)
{
    int r = EVP_PKEY_eq(published, local) == 1;
    ERR_clear_error();
    return r;
}

const char *dkim_key_type_name(const EVP_PKEY *k)
{
    int id = EVP_PKEY_get_base_id(k);
    return id == EVP_PKEY_RSA ? "rsa" : id == EVP_PKEY_ED25519 ? "ed25519" : "other";
}
