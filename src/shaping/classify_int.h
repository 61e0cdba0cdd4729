/* classify_int.h - the classifier's insides, shared by src/shaping/classify*.c only (and by
 * the classifier's tests and fuzzers, which may reach into them).
 *
 * The files:
 *   classify.c          the API: building a classifier, the decision order of classify()
 *   classify_rules.c    the rules-file parser (format in docs/classify.md), with line errors
 *   classify_value.c    condition values: reply codes, enhanced codes, stages, closed
 *   classify_lit.c      the literal prefilter: literals every match of a regex contains,
 *                       and the index that finds which of them occur in a text
 *   classify_norm.c     input normalisation (wrappers, codes inside the text, continuations)
 *   classify_fallback.c what decides when no rule matches: RFC 3463 and wording families
 *   classify_hint.c     retry_hint_parse
 *   classify_shipped.c  (generated at build time from data/classify.rules) the shipped rules
 *
 * Invariants: a classifier is immutable once built or loaded, so classify() only reads it
 * (several threads may classify with one classifier); every regex is compiled (and JIT
 * compiled when the platform allows) at load time; a text condition is its regex split at
 * the top-level '|' only when that cannot change what it matches; a piece's literal list is
 * sound: when the piece matches a text, the lowercased text contains one of the literals. */
#define CL_PIECES_MAX 64
#ifndef SLUICE_CLASSIFY_INT_H
#define SLUICE_CLASSIFY_INT_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "shaping/classify.h"

#define CL_TEXT_MAX_BYTES 4096     /* longer texts are cut (on a byte boundary) */
#define CL_CLASS_TAG RC_NCLASSES   /* a "tag" rule: names the provider, decides nothing */
#define CL_LIT_MIN 3               /* shorter literals are not worth indexing */
#define CL_LIT_BUCKETS 1024

/* An inclusive range of numbers. */
typedef struct cl_range {
    int lo, hi;
} cl_range;

/* An enhanced status code pattern: class, subject, detail, each a range. */
typedef struct cl_enh {
    cl_range part[3];
} cl_enh;

enum cl_kind { CL_CODE, CL_ENH, CL_STAGE, CL_CLOSED, CL_TEXT };

/* One alternative of a text condition, with its literals (nlits 0: no prefilter). */
typedef struct cl_piece {
    pcre2_code *re;
    int *lits, nlits;
} cl_piece;

/* One condition of a rule ("key=value" or "key!=value"). */
typedef struct cl_cond {
    enum cl_kind kind;
    int neg;                  /* "!=": the condition holds when the value does not match */
    int n;                    /* CL_CODE: codes; CL_ENH: enhs */
    cl_range *codes;
    cl_enh *enhs;
    int enh_none;             /* CL_ENH: "none" (no enhanced code) is one of the values */
    unsigned stages;          /* CL_STAGE: bit (1 << stage) per stage */
    int closed;               /* CL_CLOSED: 1 yes, 0 no */
    struct cl_piece *pieces;  /* CL_TEXT: the regex, split at its top-level '|' when that */
    int npieces;              /* cannot change its meaning; the condition holds when one does */
} cl_cond;

/* One rule: a class (or CL_CLASS_TAG), a provider tag, conditions (cheap kinds first). */
typedef struct cl_rule {
    int cls;
    const char *provider;     /* interned in the classifier; NULL: none */
    char *id;                 /* "FILE:LINE" or "fallback:..." */
    cl_cond *conds;
    int nconds;
    int code_explicit;        /* has a positive code condition: may apply to 2xx/3xx/5xx */
} cl_rule;

typedef struct cl_rules {
    cl_rule *v;
    int n, cap;
} cl_rules;

/* The literal index: interned lowercase literals, chained by a hash of their first bytes. */
typedef struct cl_lits {
    char **s;
    size_t *len;
    int *next;
    int n, cap;
    int head[CL_LIT_BUCKETS];
} cl_lits;

struct classifier {
    cl_rules user;            /* administrators' files, in load order */
    cl_rules shipped;         /* data/classify.rules */
    cl_rules fallback;        /* the wording families of classify_fallback.c */
    cl_lits lits;
    char **providers;         /* interned provider tags */
    int nproviders;
    pcre2_match_context *mctx;  /* match limits: reply texts come from strangers */
    int no_prefilter;         /* tests: run every regex (checks the prefilter is sound) */
};

/* The reply as classify() sees it (classify_norm.c). */
typedef struct cl_norm {
    int code;                 /* 0: unknown */
    int ecls, esubj, edet;    /* the enhanced code; ecls 0: none */
    int dsn_cls, dsn_subj, dsn_det;  /* a log line's dsn=, used when nothing else gives one */
    int stage, closed;
    size_t len;
    char enh[16];
    char text[CL_TEXT_MAX_BYTES + 1];
} cl_norm;

/* What the per-call matching state holds (classify.c). */
typedef struct cl_ctx {
    const classifier *c;
    const cl_norm *n;
    const uint64_t *present;  /* literal ids found in the text */
    pcre2_match_data *md;     /* created on the first regex run */
} cl_ctx;

/* classify_norm.c */
void cl_normalize(const classify_input *in, cl_norm *out);
/* cl_enh_parse - "4.7.28" at s (n bytes, exactly) into parts; 0, or -1 when not one */
int cl_enh_parse(const char *s, size_t n, int part[3]);

/* classify_rules.c */
/* cl_rules_parse - parse a rules text into rules appended to into (all or none);
 * 0, or -1 with "NAME:LINE: what" in err */
int cl_rules_parse(classifier *c, cl_rules *into, const char *text, size_t len,
                   const char *name, char *err, int errlen);
/* cl_rule_clear - free what a rule owns */
void cl_rule_clear(cl_rule *r);
/* cl_text_compile - compile a regex for a text condition (flags "c": case-sensitive) and
 * fill its literals; 0, or -1 with the PCRE2 message and offset in err */
int cl_text_compile(classifier *c, cl_cond *k, const char *re, size_t len, int caseless,
                    char *err, int errlen);
/* cl_provider_intern - the classifier's copy of a provider tag */
const char *cl_provider_intern(classifier *c, const char *s, size_t n);

/* classify_value.c */
int cl_parse_codes(const char *s, size_t n, cl_cond *k);
int cl_parse_enhs(const char *s, size_t n, cl_cond *k);
int cl_parse_stages(const char *s, size_t n, cl_cond *k);
int cl_parse_closed(const char *s, size_t n, cl_cond *k);
/* cl_value_match - whether a cheap (non-text) condition's value matches the reply */
int cl_value_match(const cl_cond *k, const cl_norm *n);

/* classify_lit.c */
/* cl_lit_extract - literals one of which every match of the regex contains (lowercased,
 * at least CL_LIT_MIN bytes); the count (0: none known), each malloc'd into out[] */
int cl_lit_extract(const char *re, size_t len, char **out, int max);
/* cl_lits_intern - the id of a literal in the index (added when new) */
int cl_lits_intern(cl_lits *l, const char *s, size_t n);
void cl_lits_free(cl_lits *l);
/* cl_lits_scan - set the bit of every indexed literal that occurs in the lowercased text */
void cl_lits_scan(const cl_lits *l, const char *lower, size_t n, uint64_t *present);

/* classify.c */
/* cl_rule_match - whether every condition of a rule holds for the reply */
int cl_rule_match(cl_ctx *x, const cl_rule *r);

/* classify_fallback.c */
/* cl_fallback_build - compile the wording families into c->fallback; 0 or -1 with err */
int cl_fallback_build(classifier *c, char *err, int errlen);
/* cl_fallback - decide without rules: out->cls and out->rule (static strings) */
void cl_fallback(cl_ctx *x, classify_result *out);

/* classify_shipped.c (generated) */
extern const unsigned char classify_shipped_rules[];
extern const size_t classify_shipped_rules_len;

#endif
