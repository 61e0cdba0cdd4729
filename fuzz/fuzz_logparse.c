/* fuzz_logparse.c - libFuzzer target for the mail log line parser (lp_parse), the reply
 * text parser (lp_reply_parse) and the log analyzer fed the input line by line (with tiny
 * timeline limits so the ring and the budget are exercised), then its verdicts, report and
 * JSON.  Beyond "no crash, no leak", every record must keep its promises: strings
 * NUL-terminated inside their buffers and free of control bytes, kinds, formats and
 * statuses in range, a delivery has an outcome, a reply code is 200..599 and an enhanced
 * code starts with 2, 4 or 5.  Seeds: lines of every format and prefix. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/loganalyze.h"
#include "doctor/logparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_str - a field's promises */
static void check_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

/* check_reply - a reply's promises */
static void check_reply(const lp_reply *r)
{
    check_str(r->text, sizeof r->text);
    check_str(r->enh, sizeof r->enh);
    if (r->code && (r->code < 200 || r->code > 599))
        abort();
    if (r->enh[0] && r->enh[0] != '2' && r->enh[0] != '4' && r->enh[0] != '5')
        abort();
    if ((unsigned)r->fail >= LF_NFAILS || r->stage < CS_ANY || r->stage > CS_QUIT)
        abort();
}

/* check_rec - a record's promises */
static void check_rec(const logrec *r, enum lp_kind k)
{
    if (k != r->kind || (unsigned)k > LK_DONE || (unsigned)r->fmt >= LPF_NFORMATS || (unsigned)r->status >= LS_NSTATUS)
        abort();
    if (k == LK_DELIVERY && r->status == LS_NONE)
        abort();
    check_str(r->prog, sizeof r->prog);
    check_str(r->conn, sizeof r->conn);
    check_str(r->qid, sizeof r->qid);
    check_str(r->rcpt, sizeof r->rcpt);
    check_str(r->relay, sizeof r->relay);
    check_str(r->relay_ip, sizeof r->relay_ip);
    check_reply(&r->r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static classifier *cls;
    static FILE *null;
    if (!cls) {
        char err[256];
        cls = classifier_new(err, sizeof err);
        null = fopen("/dev/null", "w");
    }
    const char *s = (const char *)data;
    lp_ctx ctx;
    lp_ctx_init(&ctx, 1750000000, 0);
    logrec rec;
    check_rec(&rec, lp_parse(&ctx, s, size, &rec));
    lp_reply r;
    lp_reply_parse(s, size, &r);
    check_reply(&r);
    loganalyzer *la = la_new(cls, &(la_opts){.timeline_cap = 4, .timeline_budget = 64});
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (s + off)) : size - off;
        check_rec(&rec, lp_parse(&ctx, s + off, n, &rec));
        la_feed_line(la, s + off, n);
        off += n + 1;
    }
    la_finish(la);
    report *rep = report_new("logs", "fuzz");
    la_report_opts ro = {-1, 0, NULL, 0};
    la_report(la, rep, &ro);
    report_print(rep, null, 1);
    report_print(rep, null, 0);
    report_free(rep);
    la_free(la);
    return 0;
}
