/* classify_value.c - the values of the cheap rule conditions, parsed and matched: reply
 * codes, enhanced codes, stages and whether the server closed.
 *
 * Called by the rules parser (classify_rules.c) and by rule matching (classify.c).
 * Value syntax (docs/classify.md): lists separated by commas, no blanks;
 *   code   421 | 4xx | 45x | 450-459          (100..599; 'x' only at the end)
 *   enh    4.7.28 | 4.7.* | *.7.1 | 4.7.500-699 | none   (three parts: '*', N or N-M; the
 *          class part is 2, 4, 5 or '*'; "none": the reply has no enhanced code)
 *   stage  connect greeting ehlo starttls mail rcpt data eom quit (helo = ehlo,
 *          body = dot = eom)
 *   closed yes | no
 * A parse function returns 0, or -1 when the value is bad (the parser words the error).
 * Lists are stored in the condition with malloc'd arrays the condition owns. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "shaping/classify_int.h"

static const char *const stage_names[] = {"connect", "greeting", "ehlo", "starttls", "mail",
                                          "rcpt", "data", "eom", "quit"};

/* classify_stage_name - the name of a stage ("any" for CS_ANY and unknown values) */
const char *classify_stage_name(int stage)
{
    return stage >= CS_CONNECT && stage <= CS_QUIT ? stage_names[stage] : "any";
}

/* classify_stage_parse - a stage name (or an alias) to its value; CS_ANY - 1 when unknown */
int classify_stage_parse(const char *name)
{
    static const struct { const char *alias; int st; } aliases[] = {
        {"helo", CS_EHLO}, {"lhlo", CS_EHLO}, {"body", CS_BODY}, {"dot", CS_BODY},
        {"banner", CS_GREETING}, {"any", CS_ANY},
    };
    for (int i = CS_CONNECT; i <= CS_QUIT; i++)
        if (!strcasecmp(name, stage_names[i]))
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(name, aliases[i].alias))
            return aliases[i].st;
    return CS_ANY - 1;
}

/* next_item - the next comma-separated item of s[0,n) from *pos; its length, 0 at the end */
static size_t next_item(const char *s, size_t n, size_t *pos, const char **item)
{
    if (*pos > n)
        return 0;
    size_t b = *pos, e = b;
    while (e < n && s[e] != ',')
        e++;
    *item = s + b;
    *pos = e + 1;
    return e - b ? e - b : (size_t)-1;     /* an empty item is an error */
}

/* number - digits s[0,n) as an int (at most 4 digits); -1 when not */
static int number(const char *s, size_t n)
{
    int v = 0;
    if (n == 0 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* code_item - "421", "4xx", "45x" or "450-459" into a range; -1 when bad */
static int code_item(const char *s, size_t n, cl_range *r)
{
    const char *dash = memchr(s, '-', n);
    if (dash) {
        r->lo = number(s, (size_t)(dash - s));
        r->hi = number(dash + 1, n - (size_t)(dash - s) - 1);
    } else if (n == 3) {
        size_t d = 0;
        while (d < 3 && isdigit((unsigned char)s[d]))
            d++;
        for (size_t k = d; k < 3; k++)
            if (s[k] != 'x' && s[k] != 'X')
                return -1;
        if (d == 0)
            return -1;
        int base = number(s, d), scale = d == 1 ? 100 : d == 2 ? 10 : 1;
        r->lo = base * scale;
        r->hi = r->lo + scale - 1;
    } else {
        return -1;
    }
    return r->lo >= 100 && r->hi <= 599 && r->lo <= r->hi ? 0 : -1;
}

/* cl_parse_codes - a code list into k->codes */
int cl_parse_codes(const char *s, size_t n, cl_cond *k)
{
    size_t pos = 0, len;
    const char *it;
    while ((len = next_item(s, n, &pos, &it)) != 0) {
        cl_range r;
        if (len == (size_t)-1 || code_item(it, len, &r) < 0)
            return -1;
        k->codes = xrealloc(k->codes, sizeof *k->codes * (size_t)(k->n + 1));
        k->codes[k->n++] = r;
    }
    return k->n ? 0 : -1;
}

/* enh_part - one part of an enhanced code pattern: '*', N or N-M (max digits) */
static int enh_part(const char *s, size_t n, int max, cl_range *r)
{
    if (n == 1 && s[0] == '*') {
        r->lo = 0;
        r->hi = max;
        return 0;
    }
    const char *dash = memchr(s, '-', n);
    size_t a = dash ? (size_t)(dash - s) : n;
    r->lo = number(s, a);
    r->hi = dash ? number(dash + 1, n - a - 1) : r->lo;
    return r->lo >= 0 && r->hi >= r->lo && r->hi <= max ? 0 : -1;
}

/* enh_item - "4.7.*" and the like into a pattern */
static int enh_item(const char *s, size_t n, cl_enh *e)
{
    size_t b = 0;
    for (int p = 0; p < 3; p++) {
        size_t d = b;
        while (d < n && s[d] != '.')
            d++;
        if ((p < 2) != (d < n) || enh_part(s + b, d - b, p ? 999 : 9, &e->part[p]) < 0)
            return -1;
        b = d + 1;
    }
    const cl_range *c = &e->part[0];
    if (c->lo == c->hi && c->lo != 2 && c->lo != 4 && c->lo != 5)
        return -1;
    return 0;
}

/* cl_parse_enhs - an enhanced code pattern list into k->enhs (and k->enh_none) */
int cl_parse_enhs(const char *s, size_t n, cl_cond *k)
{
    size_t pos = 0, len;
    const char *it;
    int any = 0;
    while ((len = next_item(s, n, &pos, &it)) != 0) {
        cl_enh e;
        any = 1;
        if (len == 4 && !strncasecmp(it, "none", 4)) {
            k->enh_none = 1;
            continue;
        }
        if (len == (size_t)-1 || enh_item(it, len, &e) < 0)
            return -1;
        k->enhs = xrealloc(k->enhs, sizeof *k->enhs * (size_t)(k->n + 1));
        k->enhs[k->n++] = e;
    }
    return any ? 0 : -1;
}

/* cl_parse_stages - a stage list into k->stages */
int cl_parse_stages(const char *s, size_t n, cl_cond *k)
{
    size_t pos = 0, len;
    const char *it;
    while ((len = next_item(s, n, &pos, &it)) != 0) {
        char name[16];
        if (len == (size_t)-1 || len >= sizeof name)
            return -1;
        memcpy(name, it, len);
        name[len] = 0;
        int st = classify_stage_parse(name);
        if (st < CS_CONNECT)
            return -1;
        k->stages |= 1u << st;
    }
    return k->stages ? 0 : -1;
}

/* cl_parse_closed - yes/no (also true/false, 1/0) into k->closed */
int cl_parse_closed(const char *s, size_t n, cl_cond *k)
{
    static const char *const yes[] = {"yes", "true", "1"}, *const no[] = {"no", "false", "0"};
    for (int i = 0; i < 3; i++) {
        if (n == strlen(yes[i]) && !strncasecmp(s, yes[i], n))
            return k->closed = 1, 0;
        if (n == strlen(no[i]) && !strncasecmp(s, no[i], n))
            return k->closed = 0, 0;
    }
    return -1;
}

/* in_range - lo <= v <= hi */
static int in_range(const cl_range *r, int v)
{
    return v >= r->lo && v <= r->hi;
}

/* enh_match - whether the reply's enhanced code fits one of the patterns */
static int enh_match(const cl_cond *k, const cl_norm *n)
{
    if (!n->ecls)
        return k->enh_none;
    for (int i = 0; i < k->n; i++) {
        const cl_enh *e = &k->enhs[i];
        if (in_range(&e->part[0], n->ecls) && in_range(&e->part[1], n->esubj) &&
            in_range(&e->part[2], n->edet))
            return 1;
    }
    return 0;
}

/* value_holds - the condition's value matches, before negation (unknown stage or
 * closing matches nothing) */
static int value_holds(const cl_cond *k, const cl_norm *n)
{
    switch (k->kind) {
    case CL_CODE:
        for (int i = 0; i < k->n; i++)
            if (in_range(&k->codes[i], n->code))
                return 1;
        return 0;
    case CL_ENH:
        return enh_match(k, n);
    case CL_STAGE:
        return n->stage >= CS_CONNECT && (k->stages >> n->stage & 1u);
    case CL_CLOSED:
        return n->closed >= 0 && n->closed == k->closed;
    case CL_TEXT:
        break;
    }
    return 0;
}

/* cl_value_match - whether a cheap (non-text) condition holds for the reply */
int cl_value_match(const cl_cond *k, const cl_norm *n)
{
    return value_holds(k, n) != k->neg;
}
