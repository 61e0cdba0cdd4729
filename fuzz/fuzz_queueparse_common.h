/* fuzz_queueparse_common.h - the body of the queue listing fuzz targets (one per format:
 * fuzz_queueparse_<format>.c defines QP_FUZZ_FORMAT and includes this).  The input is fed
 * line by line to a parser of that format (and, once more, to one that detects the
 * format), into the qshape grid, then the report is built and printed.  Beyond "no crash,
 * no leak": a message handed over has a queue id, at most QP_CHUNK recipients with
 * addresses, an age that is -1 or its arrival's distance from now; the grid's totals add
 * up over the age buckets. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/queueparse.h"
#include "doctor/queueparse_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1741093200

/* on_msg - a message's promises, then into the grid */
static void on_msg(const qp_msg *m, void *arg)
{
    if (!m->qid || !m->sender || m->nrcpt < 0 || m->nrcpt > QP_CHUNK || (unsigned)m->state >= QS_NSTATES)
        abort();
    for (int i = 0; i < m->nrcpt; i++)
        if (!m->rcpts[i].addr || strlen(m->rcpts[i].addr) > 1000)
            abort();
    if (m->fmt != QF_EXIM && m->age_s >= 0 && m->arrival >= 0 && m->age_s != FUZZ_NOW - m->arrival)
        abort();
    qs_add(m, arg);
}

/* run - one parse of the input with format f */
static void run(const char *s, size_t size, enum qp_format f, const classifier *cls, FILE *null)
{
    qshape *sh = qs_new(cls, FUZZ_NOW);
    qparser *p = qp_new(f, 0, FUZZ_NOW, on_msg, sh);
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (s + off)) : size - off;
        qp_line(p, s + off, n);
        off += n + 1;
    }
    qp_end(p);
    qs_finish(sh);
    const qs_dest *t = qs_totals(sh);
    long sum = 0;
    for (int b = 0; b < QS_NBUCKETS; b++)
        sum += t->buckets[b];
    if (sum != t->total)
        abort();
    report *r = report_new("queue", "fuzz");
    qreport_opts o = {5, 10, 600, 3600, 0};
    qreport_build(r, p, sh, "fuzz", &o);
    report_print(r, null, 1);
    report_print(r, null, 0);
    report_free(r);
    qp_free(p);
    qs_free(sh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static classifier *cls;
    static FILE *null;
    if (!null) {
        char err[256];
        cls = classifier_new(err, sizeof err);
        null = fopen("/dev/null", "w");
    }
    run((const char *)data, size, QP_FUZZ_FORMAT, cls, null);
    run((const char *)data, size, QF_AUTO, cls, null);
    return 0;
}
