/* classify_rules.c - the rules-file parser: one rule per line, validated, compiled.
 *
 * Called by classifier_new (the shipped rules), classifier_load and classifier_load_text.
 * The format (the full description is docs/classify.md and the head of data/classify.rules):
 *
 *     CLASS PROVIDER CONDITION...        # comment
 *
 * CLASS is a class name (reply_class_name) or "tag" (names the provider, decides nothing);
 * PROVIDER a tag [a-z0-9][a-z0-9._-]* or "-"; each CONDITION is KEY=VALUE or KEY!=VALUE
 * with KEY one of code, enh, stage, closed, text; a text value is /PCRE2/ with optional
 * flags (c: case-sensitive; caseless is the default).  All conditions must hold; a rule
 * needs at least one.  Blank lines and lines starting with '#' are skipped.
 *
 * A file loads whole or not at all: on the first error nothing of it is kept and err says
 * "NAME:LINE: what" (for a regex, PCRE2's message and the offset in the pattern).
 * Ownership: rules own their id, condition arrays and compiled regexes (cl_rule_clear);
 * provider tags and literals are interned in the classifier. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify_int.h"

#define LIT_SET_MAX 48

/* The cursor over one line. */
typedef struct lexer {
    const char *s;
    size_t i, n;
} lexer;

/* lex_word - the next blank-separated word; 0 at the end of the line or at a comment */
static int lex_word(lexer *x, const char **w, size_t *wl)
{
    while (x->i < x->n && (x->s[x->i] == ' ' || x->s[x->i] == '\t'))
        x->i++;
    if (x->i >= x->n || x->s[x->i] == '#')
        return 0;
    size_t b = x->i;
    while (x->i < x->n && x->s[x->i] != ' ' && x->s[x->i] != '\t')
        x->i++;
    *w = x->s + b;
    *wl = x->i - b;
    return 1;
}

/* say - format the "what" of an error into err; returns -1 */
static int say(char *err, int errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *err, int errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen > 0)
        vsnprintf(err, (size_t)errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* cl_provider_intern - the classifier's copy of a provider tag */
const char *cl_provider_intern(classifier *c, const char *s, size_t n)
{
    for (int i = 0; i < c->nproviders; i++)
        if (strlen(c->providers[i]) == n && memcmp(c->providers[i], s, n) == 0)
            return c->providers[i];
    c->providers = xrealloc(c->providers, sizeof *c->providers * (size_t)(c->nproviders + 1));
    return c->providers[c->nproviders++] = xstrndup(s, n);
}

/* splittable - whether cutting re at its top-level '|' keeps its meaning: no inline
 * options (they reach across alternatives), back references or \\Q quoting */
static int splittable(const char *re, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (re[i] == '\\') {
            char c = re[++i];
            if ((c >= '0' && c <= '9') || c == 'g' || c == 'k' || c == 'Q')
                return 0;
        } else if (re[i] == '(' && re[i + 1] == '?' && i + 2 < len &&
                   !strchr(":=!<", re[i + 2])) {
            return 0;
        } else if (re[i] == '(' && re[i + 1] == '*') {
            return 0;
        }
    }
    return 1;
}

/* split_top - the starts of the top-level alternatives of re (cuts[n] = len + 1); count */
static int split_top(const char *re, size_t len, size_t *cuts)
{
    int n = 0, depth = 0, in_class = 0;
    cuts[n++] = 0;
    for (size_t i = 0; i < len; i++) {
        if (re[i] == '\\') {
            i++;
        } else if (in_class) {
            in_class = re[i] != ']';
        } else if (re[i] == '[') {
            in_class = 1;
            i += i + 1 < len && re[i + 1] == '^';
            i += i + 1 < len && re[i + 1] == ']';
        } else if (re[i] == '(') {
            depth++;
        } else if (re[i] == ')') {
            depth--;
        } else if (re[i] == '|' && depth == 0) {
            if (n == CL_PIECES_MAX)
                return 1;
            cuts[n++] = i + 1;
        }
    }
    cuts[n] = len + 1;
    return n;
}

/* piece_compile - one alternative and its literals */
static int piece_compile(classifier *c, cl_piece *p, const char *re, size_t len, int caseless,
                         char *err, int errlen)
{
    int ec;
    PCRE2_SIZE off;
    p->re = pcre2_compile((PCRE2_SPTR)re, len, caseless ? PCRE2_CASELESS : 0, &ec, &off, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return say(err, errlen, "bad regex at offset %zu: %s", (size_t)off, (char *)msg);
    }
    (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);    /* interpreted when no JIT */
    char *lit[LIT_SET_MAX];
    int nl = cl_lit_extract(re, len, lit, LIT_SET_MAX);
    p->lits = nl ? xmalloc(sizeof *p->lits * (size_t)nl) : NULL;
    for (int i = 0; i < nl; i++) {
        p->lits[i] = cl_lits_intern(&c->lits, lit[i], strlen(lit[i]));
        free(lit[i]);
    }
    p->nlits = nl;
    return 0;
}

/* cl_text_compile - compile a text condition's regex (whole first: its errors are the
 * user's), then as pieces when it splits safely */
int cl_text_compile(classifier *c, cl_cond *k, const char *re, size_t len, int caseless,
                    char *err, int errlen)
{
    size_t cuts[CL_PIECES_MAX + 1];
    k->kind = CL_TEXT;
    k->pieces = xcalloc(1, sizeof *k->pieces);
    k->npieces = 1;
    if (piece_compile(c, &k->pieces[0], re, len, caseless, err, errlen) < 0)
        return -1;
    int n = splittable(re, len) ? split_top(re, len, cuts) : 1;
    if (n < 2)
        return 0;
    cl_piece whole = k->pieces[0];
    cl_piece *parts = xcalloc((size_t)n, sizeof *parts);
    for (int i = 0; i < n; i++) {
        if (piece_compile(c, &parts[i], re + cuts[i], cuts[i + 1] - 1 - cuts[i], caseless, err,
                          errlen) < 0) {
            for (int j = 0; j < i; j++) {       /* cannot happen when the whole compiled: */
                pcre2_code_free(parts[j].re);   /* keep the whole regex then */
                free(parts[j].lits);
            }
            free(parts);
            return 0;
        }
    }
    pcre2_code_free(whole.re);
    free(whole.lits);
    free(k->pieces);
    k->pieces = parts;
    k->npieces = n;
    return 0;
}

/* regex_end - the index of the '/' closing a regex that starts after s[b-1] ('\' escapes,
 * a '/' inside [...] does not close); n when there is none */
static size_t regex_end(const char *s, size_t b, size_t n)
{
    int in_class = 0;
    for (size_t i = b; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '[' && !in_class) {
            in_class = 1;
            if (i + 1 < n && s[i + 1] == '^')
                i++;
            if (i + 1 < n && s[i + 1] == ']')
                i++;
        } else if (s[i] == ']')
            in_class = 0;
        else if (s[i] == '/' && !in_class)
            return i;
    }
    return n;
}

/* parse_text - "/regex/flags" at the cursor into k */
static int parse_text(classifier *c, lexer *x, cl_cond *k, char *err, int errlen)
{
    if (x->i >= x->n || x->s[x->i] != '/')
        return say(err, errlen, "text needs a /regex/ value");
    size_t b = x->i + 1, e = regex_end(x->s, b, x->n);
    if (e >= x->n)
        return say(err, errlen, "unterminated regex (no closing '/')");
    int caseless = 1;
    for (x->i = e + 1; x->i < x->n && x->s[x->i] != ' ' && x->s[x->i] != '\t'; x->i++) {
        if (x->s[x->i] == 'c')
            caseless = 0;
        else if (x->s[x->i] != 'i')
            return say(err, errlen, "unknown regex flag '%c' (flags: c = case-sensitive)",
                       x->s[x->i]);
    }
    if (e == b)
        return say(err, errlen, "empty regex");
    return cl_text_compile(c, k, x->s + b, e - b, caseless, err, errlen);
}

/* parse_value - a non-text value into k */
static int parse_value(const char *key, size_t kl, const char *v, size_t vl, cl_cond *k,
                       char *err, int errlen)
{
    static const struct {
        const char *key;
        enum cl_kind kind;
        int (*parse)(const char *, size_t, cl_cond *);
        const char *want;
    } tab[] = {
        {"code", CL_CODE, cl_parse_codes, "421, 4xx, 45x or 450-459, comma-separated"},
        {"enh", CL_ENH, cl_parse_enhs, "4.7.28, 4.7.*, *.7.1, 4.7.500-699 or none"},
        {"stage", CL_STAGE, cl_parse_stages,
         "connect, greeting, ehlo, starttls, mail, rcpt, data, eom or quit"},
        {"closed", CL_CLOSED, cl_parse_closed, "yes or no"},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (strlen(tab[i].key) != kl || memcmp(tab[i].key, key, kl) != 0)
            continue;
        k->kind = tab[i].kind;
        if (vl == 0 || tab[i].parse(v, vl, k) < 0)
            return say(err, errlen, "bad %s value '%.*s' (expected %s)", tab[i].key, (int)vl, v,
                       tab[i].want);
        return 0;
    }
    return say(err, errlen, "unknown key '%.*s' (keys: code enh stage closed text)", (int)kl, key);
}

/* parse_cond - one KEY=VALUE / KEY!=VALUE at the cursor into k */
static int parse_cond(classifier *c, lexer *x, cl_cond *k, char *err, int errlen)
{
    size_t b = x->i;
    while (x->i < x->n && (isalpha((unsigned char)x->s[x->i]) || x->s[x->i] == '_'))
        x->i++;
    const char *key = x->s + b;
    size_t kl = x->i - b;
    if (x->i < x->n && x->s[x->i] == '!') {
        k->neg = 1;
        x->i++;
    }
    if (kl == 0 || x->i >= x->n || x->s[x->i] != '=') {
        size_t e = b;
        while (e < x->n && x->s[e] != ' ' && x->s[e] != '\t')
            e++;
        return say(err, errlen, "expected KEY=VALUE or KEY!=VALUE, got '%.*s'", (int)(e - b),
                   x->s + b);
    }
    x->i++;
    if (kl == 4 && memcmp(key, "text", 4) == 0)
        return parse_text(c, x, k, err, errlen);
    size_t vb = x->i;
    while (x->i < x->n && x->s[x->i] != ' ' && x->s[x->i] != '\t')
        x->i++;
    return parse_value(key, kl, x->s + vb, x->i - vb, k, err, errlen);
}

/* parse_class - the class word (or "tag") */
static int parse_class(const char *w, size_t wl, cl_rule *r, char *err, int errlen)
{
    char name[40];
    if (wl < sizeof name) {
        memcpy(name, w, wl);
        name[wl] = 0;
        if (!strcmp(name, "tag"))
            return r->cls = CL_CLASS_TAG, 0;
        if ((r->cls = reply_class_parse(name)) >= 0)
            return 0;
    }
    return say(err, errlen, "unknown class '%.*s' (classes: greylisting too_many_connections "
               "rate_limited reputation authentication overloaded_or_maintenance mailbox "
               "permanent other, or tag)", (int)wl, w);
}

/* parse_provider - the provider word: '-' or a tag */
static int parse_provider(classifier *c, const char *w, size_t wl, cl_rule *r, char *err,
                          int errlen)
{
    if (wl == 1 && w[0] == '-')
        return 0;
    int ok = wl <= 32 && (isalnum((unsigned char)w[0]));
    for (size_t i = 0; ok && i < wl; i++)
        ok = (isalnum((unsigned char)w[i]) && !isupper((unsigned char)w[i])) || w[i] == '.' ||
             w[i] == '_' || w[i] == '-';
    if (!ok)
        return say(err, errlen, "bad provider '%.*s' (a lowercase tag like gmail, or - for none)",
                   (int)wl, w);
    r->provider = cl_provider_intern(c, w, wl);
    return 0;
}

/* cond_cost - the order conditions are checked in: cheap kinds first */
static int cond_cost(const void *a, const void *b)
{
    const cl_cond *x = a, *y = b;
    return (x->kind > y->kind) - (x->kind < y->kind);
}

/* parse_conds - the conditions after the provider */
static int parse_conds(classifier *c, lexer *x, cl_rule *r, char *err, int errlen)
{
    const char *w;
    size_t wl;
    while (lex_word(x, &w, &wl)) {
        x->i = (size_t)(w - x->s);
        r->conds = xrealloc(r->conds, sizeof *r->conds * (size_t)(r->nconds + 1));
        cl_cond *k = &r->conds[r->nconds++];
        memset(k, 0, sizeof *k);
        if (parse_cond(c, x, k, err, errlen) < 0)
            return -1;
        if (x->i < x->n && x->s[x->i] != ' ' && x->s[x->i] != '\t')
            return say(err, errlen, "a blank must follow a condition");
        r->code_explicit |= k->kind == CL_CODE && !k->neg;
    }
    if (!r->nconds)
        return say(err, errlen, "a rule needs at least one condition");
    qsort(r->conds, (size_t)r->nconds, sizeof *r->conds, cond_cost);
    return 0;
}

/* parse_line - one line into r; 1 a rule, 0 nothing (blank or comment), -1 error */
static int parse_line(classifier *c, const char *s, size_t n, cl_rule *r, char *err, int errlen)
{
    lexer x = {s, 0, n};
    const char *w;
    size_t wl;
    memset(r, 0, sizeof *r);
    if (!lex_word(&x, &w, &wl))
        return 0;
    if (parse_class(w, wl, r, err, errlen) < 0)
        return -1;
    if (!lex_word(&x, &w, &wl))
        return say(err, errlen, "missing provider (a tag, or - for none) and conditions");
    if (parse_provider(c, w, wl, r, err, errlen) < 0)
        return -1;
    if (r->cls == CL_CLASS_TAG && !r->provider)
        return say(err, errlen, "a tag rule needs a provider");
    return parse_conds(c, &x, r, err, errlen) < 0 ? -1 : 1;
}

/* cl_rule_clear - free what a rule owns */
void cl_rule_clear(cl_rule *r)
{
    for (int i = 0; i < r->nconds; i++) {
        free(r->conds[i].codes);
        free(r->conds[i].enhs);
        for (int p = 0; p < r->conds[i].npieces; p++) {
            pcre2_code_free(r->conds[i].pieces[p].re);
            free(r->conds[i].pieces[p].lits);
        }
        free(r->conds[i].pieces);
    }
    free(r->conds);
    free(r->id);
    memset(r, 0, sizeof *r);
}

/* rules_push - append a rule (moved) */
static void rules_push(cl_rules *rs, cl_rule *r)
{
    XGROW(rs->v, rs->n, rs->cap, 64);
    rs->v[rs->n++] = *r;
}

/* rules_drop - free rules [from, n) and forget them */
static void rules_drop(cl_rules *rs, int from)
{
    while (rs->n > from)
        cl_rule_clear(&rs->v[--rs->n]);
}

/* cl_rules_parse - parse a rules text into rules appended to into (all or none) */
int cl_rules_parse(classifier *c, cl_rules *into, const char *text, size_t len,
                   const char *name, char *err, int errlen)
{
    int first = into->n, line = 0;
    for (size_t b = 0; b < len; line++) {
        const char *nl = memchr(text + b, '\n', len - b);
        size_t e = nl ? (size_t)(nl - text) : len, n = e - b;
        char what[400];
        cl_rule r = {0};
        if (n && text[b + n - 1] == '\r')
            n--;
        int got = memchr(text + b, 0, n) ? say(what, sizeof what, "NUL byte in the line")
                                         : parse_line(c, text + b, n, &r, what, sizeof what);
        if (got < 0) {
            cl_rule_clear(&r);
            rules_drop(into, first);
            return say(err, errlen, "%s:%d: %s", name, line + 1, what);
        }
        if (got > 0) {
            r.id = xasprintf("%s:%d", name, line + 1);
            rules_push(into, &r);
        }
        b = e + 1;
    }
    return 0;
}
