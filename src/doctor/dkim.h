/* dkim.h - DKIM key records (RFC 6376 3.6.1, RFC 8463 for ed25519): the TXT record at
 * SELECTOR._domainkey.DOMAIN parsed into its tags (dkim.c), its public key decoded and
 * sized with OpenSSL, and compared with a local private key (dkim_key.c).
 * Used by `sluice doctor domain`, the unit tests and fuzz/fuzz_dkim.c. */
#ifndef SLUICE_DOCTOR_DKIM_H
#define SLUICE_DOCTOR_DKIM_H
#include <stddef.h>
#include <openssl/types.h>

#include "doctor/taglist.h"

enum dkim_keytype { DKIM_K_RSA, DKIM_K_ED25519, DKIM_K_OTHER };

/* A parsed key record.  Strings point into tags (owned by the record). */
typedef struct dkim_record {
    taglist tags;
    int has_version;           /* v= present (it must then be first and "DKIM1") */
    enum dkim_keytype keytype; /* k=, "rsa" when absent */
    const char *k;             /* k= as written, or "rsa" */
    const char *h;             /* h= acceptable hashes ("sha256:sha1"), NULL: all */
    const char *s;             /* s= service types, NULL: "*" */
    const char *t;             /* t= flags, NULL: none */
    char *p;                   /* p= with whitespace removed (owned); "" when revoked */
    int testing;               /* t= has "y" */
    int strict;                /* t= has "s" (no subdomains in i=) */
    int sha1_only;             /* h= lists sha1 and not sha256 */
    int email_ok;              /* s= allows email ("*" or "email") */
} dkim_record;

/* dkim_record_parse - parse a key record; 0, or -1 with a one-line reason in err (tag-list
 * syntax, v= not first or not DKIM1, no p=, p= not base64).  The caller clears out. */
int dkim_record_parse(const char *txt, dkim_record *out, char *err, size_t errlen);
void dkim_record_clear(dkim_record *r);

/* dkim_base64_decode - strict base64 (whitespace skipped, "=" padding only at the end);
 * a new buffer of *len bytes the caller frees, or NULL when malformed */
unsigned char *dkim_base64_decode(const char *s, size_t *len);

/* dkim_key_decode - the record's public key (RSA: SubjectPublicKeyInfo or bare PKCS#1
 * RSAPublicKey DER; ed25519: 32 raw bytes) with its size in bits; NULL with err when the
 * record is revoked, of an unknown type, or its key does not decode.  Caller frees with
 * EVP_PKEY_free. */
EVP_PKEY *dkim_key_decode(const dkim_record *r, int *bits, char *err, size_t errlen);
/* dkim_key_load - a PEM private key (or, failing that, a PEM public key) from path; NULL
 * with err */
EVP_PKEY *dkim_key_load(const char *path, char *err, size_t errlen);
/* dkim_key_same - 1 when both hold the same public key, else 0 */
int dkim_key_same(const EVP_PKEY *published, const EVP_PKEY *local);
/* dkim_key_type_name - "rsa", "ed25519" or "other" */
const char *dkim_key_type_name(const EVP_PKEY *k);

#endif
