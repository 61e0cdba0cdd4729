/* dkim_sign.c - DKIM-Signature fields (RFC 6376 5): keys, the body hash, the header hash
 * and the signature; rsa-sha256 (RSASSA-PKCS1-v1_5) or ed25519-sha256 (RFC 8463: Ed25519
 * over the SHA-256 digest of the header data). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/pem_nopass.h"
#include "common/xmalloc.h"
#include "dkim/dkim.h"
#include "smtp/rfc5322.h"

#define FOLD_AT 76   /* fold the field's lines before this column */

struct dkim_skey {
    EVP_PKEY *pkey;
    char *domain, *selector;
    int ed25519;
    int bits;
};

dkim_skey *dkim_skey_load(const char *domain, const char *selector, const char *path, char *err,
                        int errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, (size_t)errlen, "%s: cannot read: %m", path);
        return NULL;
    }
    EVP_PKEY *p = PEM_read_PrivateKey(f, NULL, pem_no_passphrase, NULL);
    fclose(f);
    if (!p) {
        snprintf(err, (size_t)errlen, "%s: not a PEM private key (or one with a passphrase)", path);
        return NULL;
    }
    int id = EVP_PKEY_get_base_id(p), bits = EVP_PKEY_get_bits(p);
    if (EVP_PKEY_get_size(p) <= 0) {
        snprintf(err, (size_t)errlen, "%s: the key's signature size is unknown", path);
        EVP_PKEY_free(p);
        return NULL;
    }
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
        snprintf(err, (size_t)errlen, "%s: neither an RSA nor an Ed25519 key", path);
        EVP_PKEY_free(p);
        return NULL;
    }
    if (id == EVP_PKEY_RSA && bits < 1024) {
        snprintf(err, (size_t)errlen, "%s: RSA key of %d bits: at least 1024 needed (RFC 8301)", path,
                 bits);
        EVP_PKEY_free(p);
        return NULL;
    }
    dkim_skey *k = xcalloc(1, sizeof *k);
    *k = (dkim_skey){.pkey = p, .domain = xstrdup(domain), .selector = xstrdup(selector),
                    .ed25519 = id == EVP_PKEY_ED25519, .bits = id == EVP_PKEY_ED25519 ? 256 : bits};
    return k;
}

void dkim_skey_free(dkim_skey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k->domain);
    free(k->selector);
    free(k);
}

const char *dkim_skey_domain(const dkim_skey *k)
{
    return k->domain;
}

const char *dkim_skey_selector(const dkim_skey *k)
{
    return k->selector;
}

const char *dkim_skey_algorithm(const dkim_skey *k)
{
    return k->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

int dkim_skey_bits(const dkim_skey *k)
{
    return k->bits;
}

/* base64 - b64 of n bytes as a NUL-terminated string (caller frees) */
static char *base64(const uint8_t *p, size_t n)
{
    char *s = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

/* Where a field is being built: the current line's length decides the folds. */
typedef struct folder {
    dbuf *b;
    size_t col;
} folder;

/* put_word - w, folded onto a new line first when it would pass FOLD_AT; sp: a space
 * before it when it stays on the line */
static void put_word(folder *f, const char *w, size_t n, int sp)
{
    if (f->col + sp + n > FOLD_AT && f->col > 1) {
        dbuf_put(f->b, "\r\n\t", 3);
        f->col = 1;
        sp = 0;
    }
    if (sp)
        dbuf_putc(f->b, ' ');
    dbuf_put(f->b, w, n);
    f->col += (size_t)sp + n;
}

/* put_b64 - a base64 value after its tag: as much as fits on this line, then whole lines */
static void put_b64(folder *f, const char *v)
{
    size_t n = strlen(v);
    while (n > 0) {
        if (f->col >= FOLD_AT) {
            dbuf_put(f->b, "\r\n\t", 3);
            f->col = 1;
        }
        size_t room = FOLD_AT - f->col, k = n < room ? n : room;
        dbuf_put(f->b, v, k);
        f->col += k;
        v += k;
        n -= k;
    }
}

/* Header fields of a message, in order. */
typedef struct fields {
    rfc5322_field *v;
    int n;
    size_t body;      /* offset of the body */
} fields;

/* read_fields - the header fields of msg and where the body starts */
static void read_fields(const uint8_t *msg, size_t len, fields *fs)
{
    rfc5322_iter it;
    rfc5322_field f;
    int cap = 0;
    fs->v = NULL;
    fs->n = 0;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f)) {
        if (fs->n == cap) {
            cap = cap ? 2 * cap : 32;
            fs->v = xrealloc(fs->v, sizeof *fs->v * (size_t)cap);
        }
        fs->v[fs->n++] = f;
    }
    fs->body = it.body;
}

/* name_eq - the field's name is name (any case) */
static int name_eq(const rfc5322_field *f, const char *name)
{
    return strlen(name) == f->name_len && strncasecmp(f->name, name, f->name_len) == 0;
}

/* sign_all - every instance of name not signed yet, bottom-up (RFC 6376 5.4.2), into the
 * h= list and the signed data */
static void sign_all(const fields *fs, char *used, const char *name, dbuf *h, dbuf *data)
{
    for (int i = fs->n - 1; i >= 0; i--) {
        if (used[i] || !name_eq(&fs->v[i], name))
            continue;
        used[i] = 1;
        dbuf_printf(h, "%s%s", h->len ? ":" : "", name);
        dkim_canon_header(fs->v[i].raw, fs->v[i].raw_len, data);
    }
}

/* select_fields - the h= list into h (names, ':'-separated, for the tag) and the canonical
 * fields it covers into data: the instances of hdrs, then of over (an oversigned field is
 * a signed one) and each of over once more, which stands for no instance */
static void select_fields(const fields *fs, const char *const *hdrs, int nhdrs,
                          const char *const *over, int nover, dbuf *h, dbuf *data)
{
    char *used = xcalloc((size_t)fs->n + 1, 1);
    for (int k = 0; k < nhdrs; k++)
        sign_all(fs, used, hdrs[k], h, data);
    for (int k = 0; k < nover; k++) {
        sign_all(fs, used, over[k], h, data);
        dbuf_printf(h, "%s%s", h->len ? ":" : "", over[k]);
    }
    free(used);
}

/* sha256 - the digest of n bytes into md (32 bytes) */
static void sha256(const void *p, size_t n, uint8_t md[32])
{
    unsigned int len = 32;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
}

/* sign_data - the signature of data with k into sig (EVP_PKEY_get_size bytes); its length
 * or 0 */
static size_t sign_data(const dkim_skey *k, const uint8_t *data, size_t n, uint8_t *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = (size_t)EVP_PKEY_get_size(k->pkey);
    uint8_t md[32];
    int ok;
    if (k->ed25519) {   /* RFC 8463: PureEdDSA over the SHA-256 of the data */
        sha256(data, n, md);
        ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, md, sizeof md) == 1;
    } else {
        ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, data, n) == 1;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? siglen : 0;
}

/* put_h - the h= tag, folded at its colons */
static void put_h(folder *f, const dbuf *h)
{
    const char *p = (const char *)h->data, *end = p + h->len;
    int first = 1;
    while (p < end) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        size_t n = (size_t)((c ? c : end) - p) + (c != NULL);
        if (first) {
            char tag[128];
            int t = snprintf(tag, sizeof tag, "h=%.*s", (int)n, p);
            put_word(f, tag, t < (int)sizeof tag ? (size_t)t : sizeof tag - 1, 1);
        } else {
            put_word(f, p, n, 0);
        }
        first = 0;
        p += n;
    }
    put_word(f, ";", 1, 0);
}

int dkim_sign(const dkim_skey *k, const uint8_t *msg, size_t len, const char *const *hdrs, int nhdrs,
              const char *const *oversign, int noversign, int64_t now, dbuf *out, char *err,
              int errlen)
{
    fields fs;
    read_fields(msg, len, &fs);
    dbuf canon = {0}, h = {0}, data = {0}, field = {0};
    dkim_canon_body(msg + fs.body, fs.body <= len ? len - fs.body : 0, &canon);
    uint8_t bh[32];
    sha256(canon.data ? canon.data : (const uint8_t *)"", canon.len, bh);
    select_fields(&fs, hdrs, nhdrs, oversign, noversign, &h, &data);
    folder f = {&field, 0};
    char tag[512];
    snprintf(tag, sizeof tag, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;", dkim_skey_algorithm(k));
    put_word(&f, tag, strlen(tag), 0);
    snprintf(tag, sizeof tag, "d=%s;", k->domain);
    put_word(&f, tag, strlen(tag), 1);
    snprintf(tag, sizeof tag, "s=%s;", k->selector);
    put_word(&f, tag, strlen(tag), 1);
    snprintf(tag, sizeof tag, "t=%lld;", (long long)now);
    put_word(&f, tag, strlen(tag), 1);
    put_h(&f, &h);
    char *b64 = base64(bh, sizeof bh);
    put_word(&f, "bh=", 3, 1);
    put_b64(&f, b64);
    put_word(&f, ";", 1, 0);
    free(b64);
    put_word(&f, "b=", 2, 1);
    /* what is signed: the fields, then this one as it stands, with "b=" empty */
    dkim_canon_header((const char *)field.data, field.len, &data);
    data.len -= 2;           /* without the final CRLF (RFC 6376 3.7) */
    uint8_t *sig = xmalloc((size_t)EVP_PKEY_get_size(k->pkey) + 1);
    size_t siglen = sign_data(k, data.data, data.len, sig);
    int rc = -1;
    if (siglen) {
        b64 = base64(sig, siglen);
        put_b64(&f, b64);
        free(b64);
        dbuf_put(&field, "\r\n", 2);
        dbuf_put(out, field.data, field.len);
        rc = 0;
    } else {
        snprintf(err, (size_t)errlen, "signing with the key of %s (selector %s) failed", k->domain,
                 k->selector);
    }
    free(sig);
    free(fs.v);
    dbuf_free(&canon);
    dbuf_free(&h);
    dbuf_free(&data);
    dbuf_free(&field);
    return rc;
}
