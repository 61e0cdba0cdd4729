/* classify.c - the classifier's API (classify.h) and the order a decision is made in.
 *
 * Called by the scheduler's shaping, `sluice classify` and `sluice doctor`.  For one reply:
 *  1. the input is normalised (classify_norm.c) and its text lowercased once;
 *  2. one pass finds which indexed literals the text holds (classify_lit.c), so a rule's
 *     regex runs only when it can match;
 *  3. the rules are tried in order, the administrators' files first (in load order), then
 *     the shipped ones; the first rule whose conditions all hold decides.  A rule applies
 *     to a 5xx (and a 2xx/3xx) reply only when it has a positive code= condition: every
 *     other 5xx is permanent.  "tag" rules never decide; the first that matches names the
 *     provider when the deciding rule names none;
 *  4. when no rule decides, the fallback does (classify_fallback.c);
 *  5. the retry hint comes from the text alone (classify_hint.c).
 * Ownership: a classifier owns everything it holds; results point into it (rule ids,
 * provider tags) or at static strings, valid while it lives.  classify() never writes to
 * the classifier; it allocates only PCRE2 match data (and a bitset when there are more
 * than 4096 literals), freed before it returns. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify_int.h"

#define RULES_FILE_MAX (16u << 20)
#define SMALL_WORDS 64

static const char *const class_names[RC_NCLASSES] = {
    "greylisting", "too_many_connections", "rate_limited", "reputation", "authentication",
    "overloaded_or_maintenance", "mailbox", "permanent", "other",
};

/* reply_class_name - the name of a class ("other" for values out of range) */
const char *reply_class_name(enum reply_class c)
{
    return (int)c >= 0 && c < RC_NCLASSES ? class_names[c] : "other";
}

/* reply_class_parse - a class name ("overloaded" also names overloaded_or_maintenance) */
int reply_class_parse(const char *name)
{
    for (int i = 0; i < RC_NCLASSES; i++)
        if (!strcmp(name, class_names[i]))
            return i;
    return strcmp(name, "overloaded") ? -1 : RC_OVERLOADED;
}

/* rules_free - free a rule list */
static void rules_free(cl_rules *rs)
{
    for (int i = 0; i < rs->n; i++)
        cl_rule_clear(&rs->v[i]);
    free(rs->v);
}

/* classifier_free - free a classifier; NULL is a no-op */
void classifier_free(classifier *c)
{
    if (!c)
        return;
    rules_free(&c->user);
    rules_free(&c->shipped);
    rules_free(&c->fallback);
    cl_lits_free(&c->lits);
    for (int i = 0; i < c->nproviders; i++)
        free(c->providers[i]);
    free(c->providers);
    pcre2_match_context_free(c->mctx);
    free(c);
}

/* classifier_new - a classifier with the fallback families and the shipped rules */
classifier *classifier_new(char *err, int errlen)
{
    classifier *c = xcalloc(1, sizeof *c);
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->mctx)
        goto fail;
    pcre2_set_match_limit(c->mctx, 100000);     /* a stranger's text against our regexes */
    pcre2_set_depth_limit(c->mctx, 2000);
    if (cl_fallback_build(c, err, errlen) < 0 ||
        cl_rules_parse(c, &c->shipped, (const char *)classify_shipped_rules,
                       classify_shipped_rules_len, "classify.rules", err, errlen) < 0)
        goto fail;
    return c;
fail:
    if (!c->mctx && err && errlen > 0)
        snprintf(err, (size_t)errlen, "out of memory");
    classifier_free(c);
    return NULL;
}

/* classifier_load_text - add rules from text named name (before the shipped ones) */
int classifier_load_text(classifier *c, const char *text, const char *name, char *err,
                         int errlen)
{
    return cl_rules_parse(c, &c->user, text, strlen(text), name, err, errlen);
}

/* read_file - a whole file into a malloc'd, NUL-terminated buffer; NULL with errno */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && cap < RULES_FILE_MAX)
            buf = xrealloc(buf, (cap *= 2) + 1);
        else if (n == cap)
            break;
    }
    int bad = ferror(f) ? errno : n >= RULES_FILE_MAX ? EFBIG : 0;
    fclose(f);
    if (bad) {
        free(buf);
        errno = bad;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* classifier_load - add an administrator's rules file (before the shipped rules) */
int classifier_load(classifier *c, const char *path, char *err, int errlen)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = cl_rules_parse(c, &c->user, text, len, path, err, errlen);
    free(text);
    return rc;
}

/* any_present - whether one of a piece's literals is in the text */
static int any_present(const cl_ctx *x, const cl_piece *p)
{
    for (int i = 0; i < p->nlits; i++)
        if (x->present[p->lits[i] >> 6] >> (p->lits[i] & 63) & 1)
            return 1;
    return 0;
}

/* text_holds - whether one piece of a text condition matches (match errors count as no) */
static int text_holds(cl_ctx *x, const cl_cond *k)
{
    for (int i = 0; i < k->npieces; i++) {
        const cl_piece *p = &k->pieces[i];
        if (p->nlits && !x->c->no_prefilter && !any_present(x, p))
            continue;
        if (!x->md && !(x->md = pcre2_match_data_create(1, NULL)))
            return 0;
        if (pcre2_match(p->re, (PCRE2_SPTR)x->n->text, x->n->len, 0, 0, x->md, x->c->mctx) >= 0)
            return 1;
    }
    return 0;
}

/* cl_rule_match - whether every condition of a rule holds for the reply */
int cl_rule_match(cl_ctx *x, const cl_rule *r)
{
    int digit = x->n->code ? x->n->code / 100 : x->n->ecls;
    if (digit && digit != 4 && !r->code_explicit)
        return 0;
    for (int i = 0; i < r->nconds; i++) {
        const cl_cond *k = &r->conds[i];
        int ok = k->kind == CL_TEXT ? text_holds(x, k) != k->neg : cl_value_match(k, x->n);
        if (!ok)
            return 0;
    }
    return 1;
}

/* find_rule - the deciding rule (NULL: none) and the first matching tag's provider */
static const cl_rule *find_rule(cl_ctx *x, const char **tag)
{
    const cl_rules *sets[2] = {&x->c->user, &x->c->shipped};
    const cl_rule *hit = NULL;
    *tag = NULL;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < sets[s]->n; i++) {
            const cl_rule *r = &sets[s]->v[i];
            int is_tag = r->cls == CL_CLASS_TAG;
            if ((is_tag ? *tag != NULL : hit != NULL) || !cl_rule_match(x, r))
                continue;
            if (is_tag)
                *tag = r->provider;
            else
                hit = r;
            if (hit && (hit->provider || *tag))
                return hit;
        }
    }
    return hit;
}

/* lower_copy - the text lowercased (ASCII) */
static void lower_copy(const cl_norm *n, char *out)
{
    for (size_t i = 0; i < n->len; i++)
        out[i] = (char)tolower((unsigned char)n->text[i]);
    out[n->len] = 0;
}

/* decide - the rules, then the fallback */
static void decide(cl_ctx *x, classify_result *out)
{
    const char *tag;
    const cl_rule *hit = find_rule(x, &tag);
    if (hit) {
        out->cls = (enum reply_class)hit->cls;
        out->rule = hit->id;
        out->provider = hit->provider ? hit->provider : tag;
    } else {
        cl_fallback(x, out);
        out->provider = tag;
    }
}

/* classify_seen_as - classify, and say what the reply was understood as */
void classify_seen_as(const classifier *c, const classify_input *in, classify_result *out,
                      classify_seen *seen)
{
    static const classify_input empty = {0, NULL, NULL, CS_ANY, -1};
    cl_norm n;
    char lower[CL_TEXT_MAX_BYTES + 1];
    uint64_t small[SMALL_WORDS] = {0}, *present = small;
    cl_normalize(in ? in : &empty, &n);
    out->retry_hint_s = retry_hint_parse(n.text);
    if (c) {
        size_t words = (size_t)(c->lits.n + 63) / 64;
        if (words > SMALL_WORDS)
            present = xcalloc(words, sizeof *present);
        lower_copy(&n, lower);
        cl_lits_scan(&c->lits, lower, n.len, present);
        cl_ctx x = {c, &n, present, NULL};
        decide(&x, out);
        pcre2_match_data_free(x.md);
    } else {
        int digit = n.code ? n.code / 100 : n.ecls;
        out->cls = digit == 5 ? RC_PERMANENT : RC_OTHER;
        out->rule = "fallback:no-classifier";
        out->provider = NULL;
    }
    if (present != small)
        free(present);
    if (seen) {
        seen->code = n.code;
        memcpy(seen->enh, n.enh, sizeof seen->enh);
        seen->stage = n.stage;
        seen->closed = n.closed;
    }
}

/* classify - decide; never fails */
void classify(const classifier *c, const classify_input *in, classify_result *out)
{
    classify_seen_as(c, in, out, NULL);
}
