/* dkim.c - DKIM key record parsing (dkim.h): the tag list, then the meaning of v, k, h, s,
 * t and p per RFC 6376 3.6.1.  Unknown tags are ignored as the RFC says.  The record is
 * hostile DNS data; nothing here allocates in proportion to anything but its length. */
#include "doctor/dkim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

/* list_has - the colon-separated list (whitespace around items allowed) holds item */
static int list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ':')
            p++;
        const char *s = p;
        while (*p && *p != ':' && *p != ' ' && *p != '\t')
            p++;
        if ((size_t)(p - s) == n && strncasecmp(s, item, n) == 0)
            return 1;
    }
    return 0;
}

/* strip_ws - a copy of s without whitespace */
static char *strip_ws(const char *s)
{
    char *o = xmalloc(strlen(s) + 1), *q = o;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            *q++ = *s;
    *q = 0;
    return o;
}

/* b64_value - the 6-bit value of a base64 character, -1 for any other */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

unsigned char *dkim_base64_decode(const char *s, size_t *len)
{
    char *t = strip_ws(s);
    size_t n = strlen(t), pad = 0;
    while (pad < 2 && n > pad && t[n - 1 - pad] == '=')
        pad++;
    unsigned char *out = xmalloc(n / 4 * 3 + 3);
    size_t o = 0, bits = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n - pad; i++) {
        int v = b64_value((unsigned char)t[i]);
        if (v < 0)
            goto fail;
        acc = acc << 6 | (uint32_t)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if ((n % 4 != 0 && pad) || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
        goto fail;
    free(t);
    *len = o;
    return out;
fail:
    free(t);
    free(out);
    return NULL;
}

/* check_version - v=, when present, must be the first tag and exactly "DKIM1" */
static int check_version(dkim_record *r, char *err, size_t errlen)
{
    const char *v = taglist_get(&r->tags, "v", 0);
    r->has_version = v != NULL;
    if (!v)
        return 0;
    if (strcmp(r->tags.v[0].name, "v") != 0) {
        snprintf(err, errlen, "v= must be the first tag");
        return -1;
    }
    if (strcmp(v, "DKIM1") != 0) {
        snprintf(err, errlen, "v=%.20s is not DKIM1", v);
        return -1;
    }
    return 0;
}

/* read_key - k= and p= */
static int read_key(dkim_record *r, char *err, size_t errlen)
{
    const char *k = taglist_get(&r->tags, "k", 0), *p = taglist_get(&r->tags, "p", 0);
    r->k = k ? k : "rsa";
    r->keytype = !strcasecmp(r->k, "rsa")       ? DKIM_K_RSA
                 : !strcasecmp(r->k, "ed25519") ? DKIM_K_ED25519
                                                : DKIM_K_OTHER;
    if (!p) {
        snprintf(err, errlen, "no p= tag (the public key)");
        return -1;
    }
    r->p = strip_ws(p);
    size_t n;
    unsigned char *der = r->p[0] ? dkim_base64_decode(r->p, &n) : NULL;
    if (r->p[0] && !der) {
        snprintf(err, errlen, "p= is not valid base64");
        return -1;
    }
    free(der);
    return 0;
}

/* read_flags - h=, s= and t= */
static void read_flags(dkim_record *r)
{
    r->h = taglist_get(&r->tags, "h", 0);
    r->s = taglist_get(&r->tags, "s", 0);
    r->t = taglist_get(&r->tags, "t", 0);
    r->testing = r->t && list_has(r->t, "y");
    r->strict = r->t && list_has(r->t, "s");
    r->sha1_only = r->h && list_has(r->h, "sha1") && !list_has(r->h, "sha256");
    r->email_ok = !r->s || list_has(r->s, "*") || list_has(r->s, "email");
}

int dkim_record_parse(const char *txt, dkim_record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (taglist_parse(txt, 0, &out->tags, err, errlen) < 0)
        return -1;
    if (check_version(out, err, errlen) < 0 || read_key(out, err, errlen) < 0) {
        dkim_record_clear(out);
        return -1;
    }
    read_flags(out);
    return 0;
}

void dkim_record_clear(dkim_record *r)
{
    taglist_clear(&r->tags);
    free(r->p);
    memset(r, 0, sizeof *r);
}
