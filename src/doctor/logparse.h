/* logparse.h - one mail log line to one record, whatever wrote it.  Used by the log analyzer
 * (loganalyze.h) for `sluice doctor logs`, and its reply parser by `doctor queue`.
 *
 * The line's prefix is recognised generally, not per program: an optional "<PRI>", then a
 * time stamp (BSD syslog "Apr  1 08:45:22" with or without fractions or a year, ISO 8601
 * with "T" or a blank, with or without fractions and zone, journald's short-full
 * "Thu 2024-04-25 22:17:59 CEST" and short-unix "1714076279.435045"), RFC 5424
 * ("<22>1 TS HOST APP PROCID MSGID SD MSG"), then "HOST PROG[PID]: " (the host may be
 * missing).  journald's JSON export ({"MESSAGE":..,"SYSLOG_IDENTIFIER":..}) is unwrapped.
 * Postfix's maillog_file uses the syslog layout.  The program name picks the grammar of the
 * rest (postfix..., sluiced, exim/exim4, sendmail/sm-mta, smtpd for OpenSMTPD, postgrey);
 * lines without a prefix (quoted fragments, `journalctl -o cat`) are recognised by their
 * structure alone.  Exim's own main log ("2024-12-25 15:43:28 [pid] ID <flag> ..."), sluice's
 * text and JSON delivery lines and KumoMTA's JSON log records are read too.
 *
 * Queue ids are taken as the program writes them: Postfix short (hex) and long
 * (enable_long_queue_ids) ids, sluice's 12-character ids, Exim's 16- and 23-character
 * message ids, Sendmail's, OpenSMTPD's message id (the high half of the envelope id).
 *
 * Parsing never fails: a line it cannot place is LK_UNRECOGNISED; every field is copied,
 * truncated to its buffer and with control bytes replaced, into the caller's record.  Only
 * JSON lines allocate (jansson, freed before returning).  Postgrey's decisions, Mailman's
 * delivery failures and bare SMTP replies are read too. */
#ifndef SLUICE_LOGPARSE_H
#define SLUICE_LOGPARSE_H
#include <stddef.h>
#include <stdint.h>

#include "shaping/classify.h"

enum lp_format {
    LPF_UNKNOWN,
    LPF_POSTFIX,
    LPF_SLUICE,
    LPF_EXIM,
    LPF_SENDMAIL,
    LPF_OPENSMTPD,
    LPF_KUMOMTA,
    LPF_POSTGREY,
    LPF_MAILMAN,
    LPF_REPLY,                /* a bare SMTP reply ("421 4.7.0 ...") on a line of its own */
    LPF_NFORMATS
};

enum lp_kind {
    LK_UNRECOGNISED,          /* no known structure */
    LK_IGNORED,               /* a syslog line of a program that is no MTA */
    LK_OTHER,                 /* an MTA line with nothing to analyse (arrivals, warnings) */
    LK_DELIVERY,              /* the outcome of one attempt for one or more recipients */
    LK_HOSTREPLY,             /* one host's reply or failure, without an outcome (Postfix's
                                 "host X said" before trying the next MX, Exim's H= lines) */
    LK_INBOUND,               /* this host refusing or greylisting mail it receives */
    LK_DONE                   /* the message left the queue (Postfix "removed", Exim
                                 "Completed") */
};

enum lp_status { LS_NONE, LS_SENT, LS_DEFERRED, LS_BOUNCED, LS_EXPIRED, LS_NSTATUS };

/* What went wrong when there is no SMTP reply (or LF_REPLY when there is one). */
enum lp_fail {
    LF_NONE,
    LF_REPLY,                 /* the server replied: see code, enh, text */
    LF_CONNECT_TIMEOUT,       /* TCP connect timed out */
    LF_REFUSED,               /* TCP connection refused */
    LF_UNREACHABLE,           /* no route to host / network unreachable */
    LF_GREETING_TIMEOUT,      /* connected, but no greeting came (tarpit or silent drop) */
    LF_TIMEOUT,               /* timed out later in the session */
    LF_LOST,                  /* the server closed the connection */
    LF_DNS,                   /* name service errors (MX/A lookups) */
    LF_TLS,                   /* TLS required or failed */
    LF_LOCAL,                 /* a problem of the sending host (configuration, local
                                 delivery agent) */
    LF_RETRY_WAIT,            /* not attempted: the MTA waits (Exim "retry time not reached") */
    LF_OTHER,
    LF_NFAILS
};

/* Categories of failures: the classifier's reply classes (enum reply_class) first, then the
 * failures without a reply.  One index space for counts by class. */
enum lp_cat {
    LC_CONNECT_TIMEOUT = RC_NCLASSES,
    LC_REFUSED,
    LC_UNREACHABLE,
    LC_GREETING_TIMEOUT,
    LC_TIMEOUT,
    LC_LOST,
    LC_DNS,
    LC_TLS,
    LC_LOCAL,
    LC_NCATS
};

#define LP_QID_MAX 48
#define LP_ADDR_MAX 512       /* Sendmail may list several recipients in one to= */
#define LP_HOST_MAX 256
#define LP_TEXT_MAX 1024

typedef struct lp_reply {
    int code;                 /* the SMTP reply code, or 0 */
    char enh[16];             /* "4.7.0" or "" */
    int stage;                /* enum classify_stage; CS_ANY when unknown */
    int closed;               /* the server closed with it: 1, 0, -1 unknown */
    enum lp_fail fail;        /* LF_REPLY when code or enh is set */
    int suspended;            /* Postfix "delivery temporarily suspended: ..." */
    char text[LP_TEXT_MAX];   /* the reply from its code on, or the failure text */
} lp_reply;

typedef struct logrec {
    enum lp_format fmt;
    enum lp_kind kind;
    enum lp_status status;
    int has_time;
    int64_t t_us;             /* microseconds since the epoch: UTC when the line gives a zone,
                                 else the wall-clock time as written */
    char prog[48];            /* "postfix/smtp", "exim", "" when unknown */
    long pid;                 /* -1 when unknown */
    char conn[40];            /* a connection id when the format has one, else "" */
    char qid[LP_QID_MAX];     /* "" when the line has none */
    char rcpt[LP_ADDR_MAX];   /* recipient(s), comma-separated, without <>; "" when none */
    int nrcpt;
    char relay[LP_HOST_MAX];  /* the host name used, "none", or "" */
    char relay_ip[64];
    double delay_s;           /* the MTA's total delay, -1 when not given */
    int local;                /* a local delivery (mailbox, pipe, LMTP): no remote site */
    lp_reply r;
} logrec;

/* Time stamps without a year get the year that puts them at most a day after ref. */
typedef struct lp_ctx {
    int64_t ref_s;            /* reference time (a file's mtime, or now), seconds */
    int year;                 /* fixed year for year-less stamps, or 0 to use ref_s */
} lp_ctx;

/* lp_ctx_init - a context with reference time ref_s and an optional fixed year */
void lp_ctx_init(lp_ctx *c, int64_t ref_s, int year);

/* lp_parse - parse one line (len bytes, no newline needed; NULs allowed) into out */
enum lp_kind lp_parse(const lp_ctx *c, const char *line, size_t len, logrec *out);

/* lp_reply_parse - a delivery status or reason text into code, enh, stage and failure kind:
 * Postfix's "host H[ip] said: 421 4.7.0 ... (in reply to RCPT TO command)", "refused to talk
 * to me: ...", "connect to H[ip]:25: Connection timed out", "delivery temporarily suspended:
 * ...", Sendmail's "Deferred: 421 ...", Exim's "SMTP error from remote mail server after
 * RCPT TO:<a>: 451 ...", plain "451 4.7.1 ..." */
void lp_reply_parse(const char *s, size_t n, lp_reply *r);

/* Reading files line by line (plain or gzip, "-" for stdin). */
#define LP_MAXLINE 65536
typedef void (*lp_line_fn)(void *arg, const char *line, size_t len);
typedef struct lp_read_info {
    void (*before)(void *arg, int64_t mtime);   /* called once before the first line, or NULL */
    int64_t mtime;                              /* the file's mtime (now for a pipe) */
    long cut;                                   /* lines longer than LP_MAXLINE, cut */
} lp_read_info;
/* lp_read_lines - fn for every line of path (with its newline); 0, or -1 with err */
int lp_read_lines(const char *path, lp_line_fn fn, void *arg, lp_read_info *info, char *err, int errlen);

/* lp_fail_cat - the category of a reply-less failure (LF_REPLY/LF_NONE: RC_OTHER) */
int lp_fail_cat(enum lp_fail f);
/* lp_cat_name - "greylisting" ... "other", "connect_timeout" ... "local" */
const char *lp_cat_name(int cat);
/* lp_cat_parse - a category name to its index, or -1 */
int lp_cat_parse(const char *name);

const char *lp_format_name(enum lp_format f);
const char *lp_kind_name(enum lp_kind k);
const char *lp_status_name(enum lp_status s);
const char *lp_fail_name(enum lp_fail f);

#endif
