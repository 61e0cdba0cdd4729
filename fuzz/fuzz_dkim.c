/* fuzz_dkim.c - libFuzzer target for DKIM key records (src/doctor/dkim.h) and the tag-list
 * parser under them (src/doctor/taglist.h): the record parsed, its p= decoded by OpenSSL
 * as RSA or ed25519, and the base64 decoder on its own.  Beyond "no crash" it checks: tag
 * names follow RFC 6376's grammar and values hold no ";" nor outer whitespace; a parsed
 * record's p= holds no whitespace, "revoked" never decodes to a key and a decoded key has a
 * size; base64 output is at most 3/4 of the input and re-encoding it (OpenSSL) gives back
 * the input's characters when the input was canonical. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "common/xmalloc.h"
#include "doctor/dkim.h"
#include "doctor/taglist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_tags - the promises of a parsed tag list */
static void check_tags(const taglist *t)
{
    for (int i = 0; i < t->n; i++) {
        const char *n = t->v[i].name, *v = t->v[i].value;
        size_t vl = strlen(v);
        if (!isalpha((unsigned char)n[0]) || strchr(v, ';') ||
            (vl && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[vl - 1]))))
            abort();
        for (const char *p = n; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                abort();
    }
}

/* check_record - parse as a key record and decode its key */
static void check_record(const char *s)
{
    dkim_record r;
    char err[300];
    if (dkim_record_parse(s, &r, err, sizeof err) < 0)
        return;
    if (!r.p || strpbrk(r.p, " \t\r\n"))
        abort();
    int bits = 0;
    EVP_PKEY *k = dkim_key_decode(&r, &bits, err, sizeof err);
    if (k && (!r.p[0] || bits <= 0))
        abort();
    EVP_PKEY_free(k);
    dkim_record_clear(&r);
}

/* check_base64 - decode, bound the size, round-trip canonical input */
static void check_base64(const char *s)
{
    size_t n = 0, in = strlen(s);
    unsigned char *d = dkim_base64_decode(s, &n);
    if (!d)
        return;
    if (n > in / 4 * 3 + 2)
        abort();
    if (in % 4 == 0 && !strpbrk(s, " \t\r\n")) {
        char *e = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)e, d, (int)n);
        if (strcmp(e, s) != 0)
            abort();
        free(e);
    }
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    taglist t;
    char err[300];
    for (int icase = 0; icase < 2; icase++)
        if (taglist_parse(s, icase, &t, err, sizeof err) == 0) {
            check_tags(&t);
            taglist_clear(&t);
        }
    check_record(s);
    check_base64(s);
    free(s);
    return 0;
}
