/* classify_lit.c - the literal prefilter.  Running a few hundred regexes over every reply
 * would cost tens of microseconds; instead each text condition knows a few literals one of
 * which every match must contain, one pass over the reply finds which indexed literals
 * occur, and a regex runs only when one of its literals did.
 *
 * Called by the rules parser (cl_lit_extract, cl_lits_intern) and by classify()
 * (cl_lits_scan).  Soundness is the invariant: if a regex can match a text, the lowercased
 * text contains one of the literals extracted from it.  So the extractor is conservative:
 * it reads the common PCRE2 syntax (literals, escapes, classes, groups, alternation,
 * quantifiers, lookarounds, inline options), treats anything it does not understand as
 * "no literals known" (the regex then always runs), lowercases ASCII only (PCRE2's
 * caseless matching folds ASCII only without UTF mode; bytes >= 0x80 are kept as they are).
 * A literal shorter than CL_LIT_MIN bytes is not used.
 *
 * The index interns literals (ids are dense, never reused) in chains keyed by a hash of
 * their first CL_LIT_MIN bytes; the scan hashes every position of the text once. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify_int.h"

#define SET_MAX 48            /* more alternatives than this: not worth it */
#define RUN_MAX 128

/* An OR-set of literals: some member occurs in every match.  ok 0: nothing is known. */
typedef struct lset {
    int ok, n;
    char *s[SET_MAX];
} lset;

typedef struct rx {
    const char *p;
    size_t i, n;
    int bad;                  /* syntax the extractor does not follow: give up */
} rx;

/* set_free - free the members */
static void set_free(lset *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->s[i]);
    a->n = a->ok = 0;
}

/* set_score - how good a set is as a filter: its shortest member's length (0: useless) */
static size_t set_score(const lset *a)
{
    if (!a->ok || a->n == 0)
        return 0;
    size_t m = (size_t)-1;
    for (int i = 0; i < a->n; i++) {
        size_t l = strlen(a->s[i]);
        m = l < m ? l : m;
    }
    return m;
}

/* set_keep_best - keep in *best whichever of *best and *cand filters better; free the other */
static void set_keep_best(lset *best, lset *cand)
{
    size_t a = set_score(best), b = set_score(cand);
    if (b > a || (b == a && b && cand->n < best->n)) {
        set_free(best);
        *best = *cand;
    } else {
        set_free(cand);
    }
    cand->n = cand->ok = 0;
}

/* run_flush - the literal run so far as a one-member candidate */
static void run_flush(lset *best, char *run, size_t *rn)
{
    if (*rn) {
        lset c = {.ok = 1, .n = 1};
        c.s[0] = xstrndup(run, *rn);
        set_keep_best(best, &c);
    }
    *rn = 0;
}

/* quant - parse a quantifier at the cursor, if there is one (*had); its minimum count */
static int quant(rx *r, int *had)
{
    *had = 0;
    if (r->i >= r->n)
        return 1;
    char ch = r->p[r->i];
    int min;
    if (ch == '?' || ch == '*' || ch == '+') {
        min = ch == '+';
        r->i++;
    } else if (ch == '{') {
        size_t k = r->i + 1;
        int digits = 0;
        min = 0;
        while (k < r->n && isdigit((unsigned char)r->p[k]) && digits < 6)
            min = min * 10 + (r->p[k++] - '0'), digits++;
        if (!digits || k >= r->n || (r->p[k] != '}' && r->p[k] != ','))
            return 1;                   /* not a quantifier: '{' is a literal, read later */
        while (k < r->n && r->p[k] != '}')
            k++;
        if (k >= r->n)
            return 1;
        r->i = k + 1;
    } else {
        return 1;
    }
    *had = 1;
    if (r->i < r->n && (r->p[r->i] == '?' || r->p[r->i] == '+'))
        r->i++;                         /* lazy or possessive */
    return min;
}

static void parse_alt(rx *r, lset *out);

/* skip_class - past a [...] class */
static void skip_class(rx *r)
{
    r->i++;
    if (r->i < r->n && r->p[r->i] == '^')
        r->i++;
    if (r->i < r->n && r->p[r->i] == ']')
        r->i++;
    while (r->i < r->n && r->p[r->i] != ']') {
        if (r->p[r->i] == '\\')
            r->i++;
        else if (r->p[r->i] == '[' && r->i + 1 < r->n && r->p[r->i + 1] == ':') {
            const char *end = memchr(r->p + r->i + 2, ']', r->n - r->i - 2);
            if (end)
                r->i = (size_t)(end - r->p);
        }
        r->i++;
    }
    if (r->i >= r->n)
        r->bad = 1;
    r->i++;
}

/* escape - an escape at the cursor: 1 with *lit set for a literal byte, 0 for a class or
 * assertion, -1 for what the extractor does not follow */
static int escape(rx *r, char *lit)
{
    if (r->i + 1 >= r->n)
        return -1;
    unsigned char c = (unsigned char)r->p[r->i + 1];
    r->i += 2;
    if (!isalnum(c)) {
        *lit = (char)c;
        return 1;
    }
    if (strchr("dDwWsShHvVRNXbBAzZGKtnrfae", c))
        return 0;
    return -1;                         /* \x \p \Q \k \g \1 ... */
}

/* group_kind - what "(" at the cursor opens: 1 a group (cursor inside), 0 a zero-width
 * item (cursor after it, or inside a lookaround whose contents are then skipped), -1 bad */
static int group_kind(rx *r, int *lookaround)
{
    *lookaround = 0;
    r->i++;
    if (r->i >= r->n || r->p[r->i] != '?')
        return r->i < r->n && r->p[r->i] == '*' ? -1 : 1;
    r->i++;
    if (r->i >= r->n)
        return -1;
    char c = r->p[r->i];
    if (c == ':' || c == '|' || c == '>') {
        r->i++;
        return 1;
    }
    if (c == '=' || c == '!' || (c == '<' && r->i + 1 < r->n &&
                                 (r->p[r->i + 1] == '=' || r->p[r->i + 1] == '!'))) {
        r->i += c == '<' ? 2 : 1;
        *lookaround = 1;
        return 0;
    }
    if (c == '<' || c == 'P' || c == '\'') {             /* named group */
        const char *end = memchr(r->p + r->i, c == '\'' ? '\'' : '>', r->n - r->i);
        if (!end || (c == 'P' && r->p[r->i + 1] != '<'))
            return -1;
        r->i = (size_t)(end - r->p) + 1;
        return 1;
    }
    size_t k = r->i;                   /* inline options (?i) (?-i) (?i:...) */
    while (k < r->n && strchr("imsnJU-", r->p[k]))
        k++;
    if (k == r->i || k >= r->n || (r->p[k] != ')' && r->p[k] != ':'))
        return -1;
    r->i = k + 1;
    return r->p[k] == ':';
}

/* atom_group - a group or lookaround at the cursor into *a (ok 0 for zero-width) */
static void atom_group(rx *r, lset *a)
{
    int look, kind = group_kind(r, &look);
    if (kind < 0) {
        r->bad = 1;
        return;
    }
    if (kind == 0 && !look)
        return;
    parse_alt(r, a);
    if (r->i >= r->n || r->p[r->i] != ')')
        r->bad = 1;
    r->i++;
    if (look)
        set_free(a);
}

/* parse_seq - one branch: the best literal set among its runs and groups */
static void parse_seq(rx *r, lset *best)
{
    char run[RUN_MAX];
    size_t rn = 0;
    best->ok = best->n = 0;
    while (r->i < r->n && !r->bad && r->p[r->i] != '|' && r->p[r->i] != ')') {
        char ch = r->p[r->i], lit = 0;
        int is_lit = 0;
        lset g = {0};
        if (ch == '\\') {
            int e = escape(r, &lit);
            if (e < 0)
                r->bad = 1;
            is_lit = e == 1;
        } else if (ch == '(') {
            atom_group(r, &g);
        } else if (ch == '[') {
            skip_class(r);
        } else if (ch == '.' || ch == '^' || ch == '$') {
            r->i++;
        } else if (ch == '*' || ch == '+' || ch == '?') {
            r->bad = 1;
        } else {
            lit = ch;
            is_lit = 1;
            r->i++;
        }
        int had, min = quant(r, &had);
        if (is_lit && min >= 1)
            run[rn++] = (char)tolower((unsigned char)lit);
        if (!is_lit || had || rn == RUN_MAX)
            run_flush(best, run, &rn);    /* the run cannot continue past this atom */
        if (g.ok && min >= 1)
            set_keep_best(best, &g);
        else
            set_free(&g);
    }
    run_flush(best, run, &rn);
}

/* parse_alt - branches separated by '|': the union of their sets (nothing known when a
 * branch knows nothing) */
static void parse_alt(rx *r, lset *out)
{
    out->ok = 1;
    out->n = 0;
    for (;;) {
        lset b;
        parse_seq(r, &b);
        if (!b.ok || out->n + b.n > SET_MAX)
            out->ok = 0;
        for (int i = 0; i < b.n; i++) {
            if (out->ok)
                out->s[out->n++] = b.s[i];
            else
                free(b.s[i]);
        }
        if (r->i >= r->n || r->p[r->i] != '|' || r->bad)
            break;
        r->i++;
    }
    if (!out->ok)
        set_free(out);
}

/* cl_lit_extract - literals one of which every match contains; count, or 0 when none known */
int cl_lit_extract(const char *re, size_t len, char **out, int max)
{
    rx r = {.p = re, .n = len};
    lset a;
    parse_alt(&r, &a);
    if (r.bad || r.i < r.n || set_score(&a) < CL_LIT_MIN || a.n > max) {
        set_free(&a);
        return 0;
    }
    for (int i = 0; i < a.n; i++)
        out[i] = a.s[i];
    return a.n;
}

/* lit_hash - the bucket of the CL_LIT_MIN bytes at s */
static unsigned lit_hash(const unsigned char *s)
{
    return ((unsigned)s[0] * 31u * 31u + (unsigned)s[1] * 31u + s[2]) % CL_LIT_BUCKETS;
}

/* cl_lits_intern - the id of a literal (added when new); n >= CL_LIT_MIN */
int cl_lits_intern(cl_lits *l, const char *s, size_t n)
{
    if (!l->cap)
        memset(l->head, -1, sizeof l->head);
    unsigned h = lit_hash((const unsigned char *)s);
    for (int id = l->head[h]; id >= 0; id = l->next[id])
        if (l->len[id] == n && memcmp(l->s[id], s, n) == 0)
            return id;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->s = xrealloc(l->s, sizeof *l->s * (size_t)l->cap);
        l->len = xrealloc(l->len, sizeof *l->len * (size_t)l->cap);
        l->next = xrealloc(l->next, sizeof *l->next * (size_t)l->cap);
    }
    int id = l->n++;
    l->s[id] = xstrndup(s, n);
    l->len[id] = n;
    l->next[id] = l->head[h];
    l->head[h] = id;
    return id;
}

/* cl_lits_free - free the index */
void cl_lits_free(cl_lits *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->len);
    free(l->next);
    memset(l, 0, sizeof *l);
}

/* cl_lits_scan - set the bit of every literal that occurs in the lowercased text */
void cl_lits_scan(const cl_lits *l, const char *lower, size_t n, uint64_t *present)
{
    if (!l->n)
        return;
    const unsigned char *t = (const unsigned char *)lower;
    for (size_t i = 0; i + CL_LIT_MIN <= n; i++) {
        for (int id = l->head[lit_hash(t + i)]; id >= 0; id = l->next[id])
            if (l->len[id] <= n - i && memcmp(t + i, l->s[id], l->len[id]) == 0)
                present[id >> 6] |= (uint64_t)1 << (id & 63);
    }
}
