/* queueparse_int.h - the queue listing parser's state, shared by queueparse*.c: the message
 * being assembled and the per-format line handlers.  Internal. */
#ifndef SLUICE_QUEUEPARSE_INT_H
#define SLUICE_QUEUEPARSE_INT_H
#include "doctor/queueparse.h"

/* Why a line was not taken. */
enum qp_line_kind { QL_OK, QL_UNRECOGNISED };

struct qparser {
    enum qp_format fmt;
    unsigned allowed;
    int64_t now;
    qp_cb cb;
    void *arg;
    int open;                 /* a message is being assembled */
    qp_msg m;
    char qid[96], sender[512];
    qp_rcpt *rcpts;
    char **addrs, **reasons;  /* owned copies behind rcpts */
    int cap;
    char *reason;             /* the reason in force (Postfix, Sendmail) */
    long messages, unrecognised;
    char *unrec[3];
};

/* queueparse.c */
void qp_begin(qparser *p, const char *qid, size_t qn);
void qp_add_rcpt(qparser *p, const char *addr, size_t n);
void qp_set_reason(qparser *p, const char *s, size_t n);
void qp_flush(qparser *p);
void qp_bad_line(qparser *p, const char *line, size_t len);
/* qp_date - "Www Mmm dd hh:mm[:ss]" (seconds when secs) at s: its length, the time in *t */
size_t qp_date(const char *s, size_t n, int secs, int64_t now, int64_t *t);
/* qp_head - "QID[marks] SIZE DATE SENDER": the parts; 0 when the line is not one */
typedef struct qp_head {
    const char *qid, *marks, *sender;
    size_t qn, mn, sn;
    int64_t size, arrival;
} qp_head;
int qp_parse_head(const char *s, size_t n, const char *marks, int secs, int64_t now, qp_head *h);
/* qp_trim - [*s, *s + *n) without blanks at either end */
void qp_trim(const char **s, size_t *n);
void qp_set_sender(qparser *p, const char *s, size_t n);

/* the formats */
enum qp_line_kind qp_postfix_line(qparser *p, const char *s, size_t n);
enum qp_line_kind qp_exim_line(qparser *p, const char *s, size_t n);
enum qp_line_kind qp_sendmail_line(qparser *p, const char *s, size_t n);
/* qp_sniff_* - does the line look like this format (header or message line)? */
int qp_sniff_postfix(const char *s, size_t n);
int qp_sniff_exim(const char *s, size_t n);
int qp_sniff_sendmail(const char *s, size_t n);

#endif
