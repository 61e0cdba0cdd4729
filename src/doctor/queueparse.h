/* queueparse.h - mail queue listings to messages, for `sluice doctor queue`.  Formats, told
 * apart by their headers and line shapes (or named by the caller):
 *   QF_JSON      `postqueue -j` (Postfix >= 3.1) and `sluice queue list --json`: one object per
 *                line, {"queue_name","queue_id","arrival_time","message_size","forced_expire",
 *                "sender","recipients":[{"address","delay_reason"}]}
 *   QF_POSTFIX   `postqueue -p` / `mailq` text: "QID[*!#] SIZE Www Mmm dd hh:mm:ss SENDER", then
 *                "(reason)" lines (right-aligned; one per change of reason) and recipients;
 *                '*' active, '!' hold, '#' forced to expire; short and long queue ids
 *   QF_EXIM      `exim -bp`: "AGE SIZE ID <sender> [*** frozen ***]", recipients indented,
 *                "D " before delivered ones; no reasons
 *   QF_SENDMAIL  Sendmail `mailq`: "QID[*X-?] SIZE Www Mmm dd hh:mm <sender>", "(Deferred: ...)"
 *                or "8BITMIME   (reason)" lines, recipients; queue headers and totals
 * Times without a year (Postfix, Sendmail) are local time, in the latest year that puts them
 * before now (plus a day).  The parser holds one message at a time: memory does not grow with
 * the queue; a message with more than QP_CHUNK recipients is handed over in chunks. */
#ifndef SLUICE_QUEUEPARSE_H
#define SLUICE_QUEUEPARSE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "doctor/logparse.h"

enum qp_format { QF_AUTO, QF_JSON, QF_POSTFIX, QF_EXIM, QF_SENDMAIL, QF_NFORMATS };
enum qp_state { QS_ACTIVE, QS_DEFERRED, QS_HOLD, QS_INCOMING, QS_UNKNOWN, QS_NSTATES };

#define QP_CHUNK 1000

typedef struct qp_rcpt {
    const char *addr;
    const char *reason;       /* the delay reason, or NULL */
} qp_rcpt;

/* One message (or one chunk of its recipients); valid during the callback only. */
typedef struct qp_msg {
    const char *qid;
    enum qp_format fmt;
    enum qp_state state;
    int frozen;               /* Exim "*** frozen ***" (also counted as QS_HOLD) */
    int forced_expire;
    int64_t arrival;          /* seconds since the epoch, -1 when unknown */
    int64_t age_s;            /* seconds in the queue, -1 when unknown */
    int64_t size;             /* bytes, -1 when unknown */
    const char *sender;
    const qp_rcpt *rcpts;
    int nrcpt;
    int chunk;                /* 0 for the first chunk of a message, then 1, 2, ... */
} qp_msg;

typedef void (*qp_cb)(const qp_msg *m, void *arg);
typedef struct qparser qparser;

/* qp_new - a parser of format f (QF_AUTO: detect; allowed limits detection to a bit mask
 * of 1 << format, 0 for all); now is the time ages are taken against */
qparser *qp_new(enum qp_format f, unsigned allowed, int64_t now, qp_cb cb, void *arg);
void qp_free(qparser *p);
/* qp_line - one line of the listing (newline optional) */
void qp_line(qparser *p, const char *line, size_t len);
/* qp_json - one message object (the sluice control socket hands these over directly) */
void qp_json(qparser *p, json_t *o);
/* qp_end - the listing ended: hand over the last message */
void qp_end(qparser *p);
enum qp_format qp_detected(const qparser *p);
long qp_messages(const qparser *p);
/* qp_unrecognised - lines that fit no part of the format; the first ones are kept */
long qp_unrecognised(const qparser *p);
const char *qp_unrecognised_example(const qparser *p, int i);   /* i < 3, or NULL */
const char *qp_format_name(enum qp_format f);
const char *qp_state_name(enum qp_state s);

/* Sources when no file is given (queueparse_source.c). */
/* qsrc_find - the path of the executable name in PATH, /usr/sbin, /usr/bin, ...; NULL */
const char *qsrc_find(const char *name, char *buf, size_t n);
/* qsrc_run - run argv (argv[0] a path, stdin /dev/null) feeding its output to p, killing it
 * after timeout_ms; 0 when it exited with status 0, else -1 with the reason in err */
int qsrc_run(char *const argv[], int64_t timeout_ms, qparser *p, char *err, size_t errlen);
/* qsrc_sluice - the running sluiced's queue (control socket "list"); 0, 1 when the daemon
 * is not reachable, -1 when the listing failed (err says why) */
int qsrc_sluice(const char *queue_directory, int64_t timeout_ms, qparser *p, char *err, size_t errlen);

/* The qshape grid: recipients by destination (recipient domain) and time in the queue, with
 * the delay reasons classified (lp_cat: the classifier's reply classes, or the failure kind
 * when there was no reply).  Buckets: 0-5m 5-10m 10-20m ... 640-1280m 1280m+ (qshape's). */
#define QS_NBUCKETS 10
#define QS_NTEXTS 12

typedef struct qs_text {
    char *text;               /* a reason, with recipient addresses blanked */
    int cat;
    long n;
} qs_text;

typedef struct qs_dest {
    const char *domain;       /* "TOTAL" for the totals row */
    long total, buckets[QS_NBUCKETS];
    long by_cat[LC_NCATS];    /* recipients by the class of their reason */
    long no_reason, n421;
    long active, deferred, hold;
    int64_t oldest_s;         /* -1 when no age is known */
    int top_cat;              /* the most frequent reason class, -1 when no reasons */
    const char *top_text;     /* the most frequent reason of that class */
    const char *provider;     /* the classifier's provider tag for it, or NULL */
    qs_text texts[QS_NTEXTS];
    int ntexts;
} qs_dest;

typedef struct qshape qshape;

/* qs_new - an empty grid; cls (may be NULL) classifies reasons; now for ages */
qshape *qs_new(const classifier *cls, int64_t now);
void qs_free(qshape *s);
/* qs_add - one message (or chunk) from the parser; usable as a qp_cb */
void qs_add(const qp_msg *m, void *shape);
/* qs_finish - order destinations by recipients (most first) and pick top reasons */
void qs_finish(qshape *s);
size_t qs_ndests(const qshape *s);
const qs_dest *qs_dest_at(const qshape *s, size_t i);
const qs_dest *qs_totals(const qshape *s);
long qs_messages(const qshape *s);
const char *qs_bucket_label(int i);
/* qs_bucket_of - the bucket of an age in seconds */
int qs_bucket_of(int64_t age_s);

#endif
