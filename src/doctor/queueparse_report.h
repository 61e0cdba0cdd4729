/* queueparse_report.h - `doctor queue`'s report from a parsed listing and its grid
 * (queueparse_report.c); thresholds are documented in docs/doctor.md. */
#ifndef SLUICE_QUEUEPARSE_REPORT_H
#define SLUICE_QUEUEPARSE_REPORT_H
#include "doctor/queueparse.h"
#include "doctor/report.h"

typedef struct qreport_opts {
    long warn_size, fail_size;        /* messages in the queue */
    int64_t warn_age_s, fail_age_s;   /* the oldest recipient */
    int max_rows;                     /* grid rows and destination checks in text, 0: all */
} qreport_opts;

/* qreport_build - checks, grid and data for a listing read from source */
void qreport_build(report *r, const qparser *p, const qshape *s, const char *source, const qreport_opts *o);

#endif
