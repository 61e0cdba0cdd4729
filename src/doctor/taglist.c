/* taglist.c - the tag=value list parser of DKIM, DMARC, MTA-STS and TLS-RPT records
 * (taglist.h).  Grammar (RFC 6376 3.2): tag-spec *(";" tag-spec) [";"], each
 * [WS] name [WS] "=" [WS] value [WS]; a name is ALPHA *(ALPHA / DIGIT / "_"); a value is
 * visible ASCII except ";" with whitespace only between its characters.  A name may occur
 * once.  Input is hostile DNS data: every byte is checked, nothing is trusted to be ASCII. */
#include "doctor/taglist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

/* is_ws - folding whitespace as it survives in a TXT record */
static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_alpha - ASCII letter */
static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* skip_ws - past whitespace */
static const char *skip_ws(const char *p)
{
    while (is_ws((unsigned char)*p))
        p++;
    return p;
}

/* name_end - past a tag name at p (p itself when there is none) */
static const char *name_end(const char *p)
{
    if (!is_alpha((unsigned char)*p))
        return p;
    p++;
    while (is_alpha((unsigned char)*p) || (*p >= '0' && *p <= '9') || *p == '_')
        p++;
    return p;
}

/* value_end - past a value (up to ";" or the end); NULL at a byte no value may hold */
static const char *value_end(const char *p, unsigned char *bad)
{
    for (; *p && *p != ';'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!is_ws(c) && (c < 0x21 || c > 0x7e)) {
            *bad = c;
            return NULL;
        }
    }
    return p;
}

/* add - append one tag, -1 when its name is already there */
static int add(taglist *t, const char *name, size_t nlen, const char *val, size_t vlen, int icase)
{
    for (int i = 0; i < t->n; i++) {
        const char *o = t->v[i].name;
        if (strlen(o) == nlen && (icase ? strncasecmp(o, name, nlen) : strncmp(o, name, nlen)) == 0)
            return -1;
    }
    t->v = xrealloc(t->v, sizeof *t->v * (size_t)(t->n + 1));
    t->v[t->n].name = xstrndup(name, nlen);
    t->v[t->n].value = xstrndup(val, vlen);
    t->n++;
    return 0;
}

/* parse_one - one tag-spec at *pp; 0 and *pp past it (at ";" or the end), or -1 with err */
static int parse_one(const char **pp, int icase, taglist *out, char *err, size_t errlen)
{
    const char *name = skip_ws(*pp), *ne = name_end(name);
    if (ne == name) {
        snprintf(err, errlen, "a tag name was expected at \"%.20s\"", name);
        return -1;
    }
    const char *p = skip_ws(ne);
    if (*p != '=') {
        snprintf(err, errlen, "\"=\" expected after tag %.*s", (int)(ne - name), name);
        return -1;
    }
    unsigned char bad = 0;
    const char *val = skip_ws(p + 1), *ve = value_end(val, &bad);
    if (!ve) {
        snprintf(err, errlen, "byte 0x%02x in the value of tag %.*s", bad, (int)(ne - name), name);
        return -1;
    }
    const char *end = ve;
    while (end > val && is_ws((unsigned char)end[-1]))
        end--;
    if (add(out, name, (size_t)(ne - name), val, (size_t)(end - val), icase) < 0) {
        snprintf(err, errlen, "tag %.*s appears twice", (int)(ne - name), name);
        return -1;
    }
    *pp = ve;
    return 0;
}

int taglist_parse(const char *s, int icase, taglist *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = s;
    for (;;) {
        if (!*skip_ws(p)) {
            if (out->n > 0)
                return 0;
            snprintf(err, errlen, "no tags");
            return -1;
        }
        if (parse_one(&p, icase, out, err, errlen) < 0) {
            taglist_clear(out);
            return -1;
        }
        if (!*p)
            return 0;
        p++; /* the ";" */
    }
}

const char *taglist_get(const taglist *t, const char *name, int icase)
{
    for (int i = 0; i < t->n; i++)
        if ((icase ? strcasecmp(t->v[i].name, name) : strcmp(t->v[i].name, name)) == 0)
            return t->v[i].value;
    return NULL;
}

void taglist_clear(taglist *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].value);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}
