/* fuzz_smtp_reply.c - libFuzzer target for the SMTP reply parser (smtp_reply_parse) and the
 * line walker the EHLO parser uses.  The input is read as a stream of replies, the way the
 * client reads a server.  Beyond "no crash", for every reply parsed it checks: the length
 * used is within the input and ends with LF; the code is 200..599; the enhanced code is
 * empty or a valid one of the reply's class; the text is NUL-terminated, within its cap,
 * free of control bytes and of blanks at either end; a small cap gives a prefix of the full
 * text; parsing the reply alone gives the same result; proper prefixes are incomplete (0);
 * and the line walker sees as many lines as the reply has LFs.  Seeds: real replies from
 * providers and MTAs, wrapped the way they send long texts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/smtpc.h"
#include "client/smtpc_int.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_text - the text's promises */
static void check_text(const smtpc_reply *r, size_t cap)
{
    if (!r->text)
        abort();
    size_t n = strlen(r->text);
    if (n > cap)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)r->text[i];
        if (ch < 0x20 || ch == 0x7f)
            abort();
    }
    if (n && (r->text[0] == ' ' || r->text[n - 1] == ' '))
        abort();
}

/* check_reply - one parsed reply of n bytes at p */
static void check_reply(const char *p, size_t n, const smtpc_reply *r)
{
    if (p[n - 1] != '\n' || r->code < 200 || r->code > 599)
        abort();
    size_t e = strlen(r->enh);
    if (e && (smtp_enhanced_len(r->enh, e) != e || r->enh[0] != '0' + r->code / 100))
        abort();
    check_text(r, 4096);
    smtpc_reply small, alone;
    size_t cap = n % 37 + 1;
    if (smtp_reply_parse(p, n, &small, cap) != (int)n)
        abort();
    check_text(&small, cap);
    if (strncmp(small.text, r->text, strlen(small.text)) != 0 || small.code != r->code)
        abort();
    smtpc_reply_clear(&small);
    if (smtp_reply_parse(p, n, &alone, 0) != (int)n || strcmp(alone.text, r->text) != 0 ||
        strcmp(alone.enh, r->enh) != 0)
        abort();
    smtpc_reply_clear(&alone);
    size_t cuts[3] = {n - 1, n / 2, 1};
    for (int i = 0; i < 3; i++)
        if (cuts[i] < n && smtp_reply_parse(p, cuts[i], &alone, 0) != 0)
            abort();
}

/* check_lines - the walker sees one line per LF */
static void check_lines(const char *p, size_t n)
{
    size_t off = 0, len, lines = 0, lfs = 0;
    const char *t;
    while (smtpc_reply_line(p, n, &off, &t, &len)) {
        if (t < p || t + len > p + n)
            abort();
        lines++;
    }
    for (size_t i = 0; i < n; i++)
        lfs += p[i] == '\n';
    if (lines != lfs)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    for (;;) {
        smtpc_reply r;
        int n = smtp_reply_parse(p, left, &r, 0);
        if (n < -1 || n > (int)left)
            abort();
        if (n <= 0) {
            if (r.text)
                abort();
            break;
        }
        check_reply(p, (size_t)n, &r);
        check_lines(p, (size_t)n);
        smtpc_reply_clear(&r);
        p += n;
        left -= (size_t)n;
    }
    return 0;
}
