/* fuzz_classify_reply.c - libFuzzer target for classify() with the shipped rules: input
 * normalisation, the rules, the fallback and retry_hint_parse on whatever a server or a log
 * may hold.  Input layout: 2 bytes reply code (big-endian, taken mod 1000), 1 byte stage,
 * 1 byte closed, then the enhanced code up to the first '\n', then the text.  Beyond "no
 * crash", it checks: the class is in range and the rule named; the hint is -1 or within
 * 0..7 days and equals retry_hint_parse of the normalised text; what was understood is a
 * code 0 or 200..599 and an enhanced code that is empty or valid and of the code's class;
 * the normalised text has no control bytes, no blank runs or blanks at its ends and fits its
 * cap; a 5xx is permanent; and the prefilter does not change the decision.
 * Seeds: real replies (the held-out set and corpus-style texts) in this layout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify.h"
#include "shaping/classify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static classifier *shipped;

/* check_norm - the normalised reply's promises */
static void check_norm(const classify_input *in)
{
    cl_norm n;
    cl_normalize(in, &n);
    if (n.len > CL_TEXT_MAX_BYTES || strlen(n.text) != n.len)
        abort();
    for (size_t i = 0; i < n.len; i++) {
        unsigned char ch = (unsigned char)n.text[i];
        if (ch < 0x20 || ch == 0x7f || (ch == ' ' && (i == 0 || i + 1 == n.len || n.text[i + 1] == ' ')))
            abort();
    }
    if (n.code && (n.code < 200 || n.code > 599))
        abort();
    int part[3];
    if (n.enh[0] && (cl_enh_parse(n.enh, strlen(n.enh), part) < 0 ||
                     (n.code && part[0] != n.code / 100)))
        abort();
    if (retry_hint_parse(n.text) != retry_hint_parse(n.text))
        abort();
}

/* check_result - the decision's promises */
static void check_result(const classify_input *in, const classify_result *r,
                         const classify_seen *s)
{
    if ((int)r->cls < 0 || r->cls >= RC_NCLASSES || !r->rule || !r->rule[0])
        abort();
    if (r->retry_hint_s < -1 || r->retry_hint_s > 7 * 86400)
        abort();
    if (s->code / 100 == 5 && r->cls != RC_PERMANENT)
        abort();
    cl_norm n;
    cl_normalize(in, &n);
    if (retry_hint_parse(n.text) != r->retry_hint_s || n.code != s->code || strcmp(n.enh, s->enh))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shipped) {
        char err[512];
        if (!(shipped = classifier_new(err, sizeof err)))
            abort();
    }
    if (size < 4 || size > 8192)
        return 0;
    classify_input in = {(data[0] << 8 | data[1]) % 1000, NULL, NULL, data[2] % 11 - 2,
                         data[3] % 3 - 1};
    const char *rest = (const char *)data + 4, *nl = memchr(rest, '\n', size - 4);
    char *enh = xstrndup(rest, nl ? (size_t)(nl - rest) : 0);
    char *text = nl ? xstrndup(nl + 1, size - 4 - (size_t)(nl + 1 - rest)) : xstrndup(rest, size - 4);
    in.enh = enh;
    in.text = text;
    check_norm(&in);
    classify_result a, b;
    classify_seen s;
    classify_seen_as(shipped, &in, &a, &s);
    check_result(&in, &a, &s);
    shipped->no_prefilter = 1;
    classify(shipped, &in, &b);
    shipped->no_prefilter = 0;
    if (a.cls != b.cls || strcmp(a.rule, b.rule) || a.provider != b.provider)
        abort();
    free(enh);
    free(text);
    return 0;
}
