/* fuzz_classify_rules.c - libFuzzer target for the classifier's rules-file parser
 * (cl_rules_parse) and the literal prefilter it builds.  The input is a rules file.  Beyond
 * "no crash, no leak", it checks: a failed load says "fuzz:LINE: ..." and keeps no rule; a
 * successful one keeps one rule per rule line with ids "fuzz:LINE"; and the prefilter's
 * invariant on every regex piece: whenever the regex matches a probe text (fixed replies,
 * the input's own lines, each literal of the piece), the lowercased probe holds one of the
 * piece's literals; finally classify() decides the same with and without the prefilter.
 * Seeds: the shipped rules, small rule files using every key, broken lines. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify.h"
#include "shaping/classify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const probes[] = {
    "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to user complaints",
    "450 4.2.0 <a@b>: Recipient address rejected: Greylisted, see http://postgrey/help",
    "452 4.2.2 Mailbox full", "421 Too many concurrent SMTP connections; please try again later.",
    "451 4.7.650 The mail server [1.2.3.4] has been temporarily rate limited due to IP reputation",
    "", "a", "ABC abc 123 !@# \xc3\xa9\xff",
};

/* bare - a classifier without the shipped rules (building those per input is too slow) */
static classifier *bare(void)
{
    classifier *c = xcalloc(1, sizeof *c);
    c->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(c->mctx, 100000);
    return c;
}

/* check_piece - the prefilter invariant for one piece on one text */
static void check_piece(const classifier *c, const cl_piece *p, const char *t, size_t n,
                        pcre2_match_data *md)
{
    if (!p->nlits || pcre2_match(p->re, (PCRE2_SPTR)t, n, 0, 0, md, c->mctx) < 0)
        return;
    char *low = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)t[i]);
    low[n] = 0;
    int found = 0;
    for (int i = 0; i < p->nlits && !found; i++) {
        const char *s = c->lits.s[p->lits[i]];
        found = memmem(low, n, s, c->lits.len[p->lits[i]]) != NULL;
    }
    free(low);
    if (!found)
        abort();                   /* a match without any of the literals: unsound */
}

/* check_all - every piece of every rule on the text */
static void check_all(const classifier *c, const char *t, size_t n, pcre2_match_data *md)
{
    for (int r = 0; r < c->user.n; r++)
        for (int k = 0; k < c->user.v[r].nconds; k++)
            for (int p = 0; p < c->user.v[r].conds[k].npieces; p++)
                check_piece(c, &c->user.v[r].conds[k].pieces[p], t, n, md);
}

/* same_decision - the prefilter must not change a decision */
static void same_decision(classifier *c, const char *t)
{
    classify_input in = {(int)(strlen(t) % 3) ? 451 : 0, NULL, t, CS_ANY, -1};
    classify_result a, b;
    c->no_prefilter = 0;
    classify(c, &in, &a);
    c->no_prefilter = 1;
    classify(c, &in, &b);
    c->no_prefilter = 0;
    if (a.cls != b.cls || strcmp(a.rule, b.rule))
        abort();
}

/* probe_lines - check with each line of the input as a text */
static void probe_lines(classifier *c, const char *text, size_t size, pcre2_match_data *md)
{
    for (size_t b = 0; b < size;) {
        const char *nl = memchr(text + b, '\n', size - b);
        size_t e = nl ? (size_t)(nl - text) : size;
        char *line = xstrndup(text + b, e - b);
        check_all(c, line, strlen(line), md);
        same_decision(c, line);
        free(line);
        b = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    classifier *c = bare();
    char err[512];
    const char *text = (const char *)data;
    int rc = cl_rules_parse(c, &c->user, text, size, "fuzz", err, sizeof err);
    if (rc < 0 && (strncmp(err, "fuzz:", 5) != 0 || c->user.n != 0))
        abort();
    if (rc == 0) {
        for (int i = 0; i < c->user.n; i++)
            if (strncmp(c->user.v[i].id, "fuzz:", 5) != 0 || c->user.v[i].nconds < 1)
                abort();
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            check_all(c, probes[i], strlen(probes[i]), md);
            same_decision(c, probes[i]);
        }
        for (int i = 0; i < c->lits.n; i++)
            check_all(c, c->lits.s[i], c->lits.len[i], md);
        probe_lines(c, text, size, md);
        pcre2_match_data_free(md);
    }
    classifier_free(c);
    return 0;
}
