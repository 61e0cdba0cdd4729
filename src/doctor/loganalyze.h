/* loganalyze.h - what mail logs say about each destination: the analysis behind
 * `sluice doctor logs`, and the API `doctor advise` builds on.
 *
 * Feed it log files (plain or gzip; Postfix, Exim, Sendmail, OpenSMTPD, sluice, KumoMTA,
 * journald JSON, in any mix, detected per line by logparse.h) or single lines; it streams:
 * memory grows with the number of messages and destinations, never with the number of lines,
 * and a message keeps at most the last opts.timeline_cap attempts (all timelines together at
 * most opts.timeline_budget).  la_finish then gives every destination (recipient domain) its
 * counts, its deferrals by class (the reply classifier's classes, or the kind of failure when
 * there was no reply), retry intervals, accepted rates, and a verdict with the reasons and the
 * log lines that show it.
 *
 * Verdicts follow the seed's diagnosis step 5, using the classes and the per-recipient
 * timelines together:
 *   greylisting       - temporary failures whose text is greylisting or unexplained, where
 *                       recipients deferred once or twice were delivered on a retry a minute
 *                       or more later and retries rarely fail again
 *   rate_limiting     - rate-limit replies, or unexplained 4xx that persist across different
 *                       retry intervals (3+ retries, or most retries failing) while other
 *                       deliveries to the same destination get through
 *   too_many_connections, reputation (with the provider's code: "4.7.28", "TSS04", ...),
 *   authentication, overload, mailbox, permanent - by the dominant reply class
 *   network           - connections time out (port 25 blocked or a firewall), are refused,
 *                       unreachable, never greeted, or dropped
 *   dns, tls, local   - lookups, TLS, the sending host's own problems
 *   unclear           - temporary failures that neither the text nor the timelines explain
 *   healthy / none    - no failures / no attempts
 *
 * Usage (doctor advise):
 *   loganalyzer *la = la_new(cls, NULL);                     // cls may be NULL
 *   if (la_feed_file(la, path, err, sizeof err) < 0) ...;    // once per file, "-" = stdin
 *   la_finish(la);
 *   for (size_t i = 0; i < la_ndests(la); i++) {
 *       const la_dest *d = la_dest_at(la, i);   // most failures first
 *       d->verdict, d->why, d->evidence[], d->deferred_by[RC_RATE_LIMITED],
 *       d->retry_interval.median, d->peak_concurrency, d->peak_per_hour ...
 *   }
 *   la_free(la);
 * Everything returned is owned by the analyzer and valid until la_free. */
#ifndef SLUICE_LOGANALYZE_H
#define SLUICE_LOGANALYZE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "doctor/logparse.h"
#include "doctor/report.h"
#include "shaping/classify.h"

enum la_verdict {
    LV_NONE,
    LV_HEALTHY,
    LV_GREYLISTING,
    LV_RATE_LIMITING,
    LV_TOO_MANY_CONNECTIONS,
    LV_REPUTATION,
    LV_AUTHENTICATION,
    LV_OVERLOAD,
    LV_MAILBOX,
    LV_PERMANENT,
    LV_NETWORK,
    LV_DNS,
    LV_TLS,
    LV_LOCAL,
    LV_UNCLEAR,
    LV_NVERDICTS
};

typedef struct la_opts {
    int year;                 /* year of year-less time stamps; 0: from each file's mtime */
    int timeline_cap;         /* attempts kept per message (default 50) */
    long timeline_budget;     /* attempts kept in all timelines (default 1,000,000) */
} la_opts;

/* Durations in seconds; n == 0 when nothing was seen (the others are then 0). */
typedef struct la_stat {
    long n;
    double min, median, p90, max;
} la_stat;

typedef struct la_dest {
    const char *domain;                 /* recipient domain, lower case */
    enum la_verdict verdict;
    enum check_status status;           /* pass, info, warn or fail */
    const char *why;                    /* the facts behind the verdict, one paragraph */
    const char *advice;                 /* what to change, one line ("" when nothing) */
    const char *provider;               /* the classifier's provider tag, or NULL */
    const char *provider_code;          /* the provider's code ("4.7.28", "TSS04"), or NULL */
    const char *top_reply;              /* the most telling reply text, or NULL */
    /* attempts: one per recipient and try; suspended = logged deferrals without a
     * connection (Postfix "delivery temporarily suspended", Exim "retry time not
     * reached"), not counted in attempts */
    long attempts, delivered, deferred, bounced, expired, suspended;
    long deferred_by[LC_NCATS];         /* by lp_cat: reply class or failure kind */
    long bounced_by[LC_NCATS];          /* bounced and expired */
    long hostreply_by[LC_NCATS];        /* one MX's failure before trying the next */
    long n421, n4xx, n5xx;              /* reply codes of failed attempts */
    /* recipients = (queue id, recipient) pairs seen with a queue id */
    long rcpts, first_try_ok, pending, failed;
    long after_retry_ok[4];             /* delivered after 1, 2, 3, 4+ deferrals */
    long grey_pattern;                  /* deferred 1-2 times (greylisting or unexplained
                                           text), then delivered >= 60 s later */
    long persistent;                    /* recipients with 3+ reply deferrals */
    long persistent_varied;             /* ... whose retry intervals differed (x1.5) */
    long first_attempts, first_deferred, retry_attempts, retry_deferred;
    la_stat retry_interval;             /* failed attempt -> next attempt, same recipient */
    la_stat pass_delay;                 /* first deferral -> delivery, same recipient */
    int peak_concurrency;               /* deliveries at once (distinct delivery processes
                                           or sessions within 2 s); -1 when not visible */
    double peak_per_min, peak_per_hour; /* delivered per minute / sliding hour, at most */
    double avg_per_hour;                /* delivered over the destination's span */
    int64_t first_us, last_us;          /* first and last attempt */
    const char *const *evidence;        /* quoted log lines and timeline summaries */
    int nevidence;
} la_dest;

typedef struct la_summary {
    long files, lines, truncated_lines;
    long by_format[LPF_NFORMATS];       /* recognised lines per format */
    long ignored;                       /* lines of programs that are no MTA */
    long unrecognised;
    const char *const *unrecognised_examples;
    int nunrecognised_examples;
    long attempts, delivered, deferred, bounced, expired, suspended, local;
    long n421, n4xx;
    long deferred_by[LC_NCATS];
    long messages;                      /* distinct queue ids with attempts */
    long timeline_dropped;              /* attempts not kept because of the budget */
    long verdicts[LV_NVERDICTS];        /* destinations per verdict */
    long inbound, inbound_by[LC_NCATS];  /* this host refusing mail it receives */
    long inbound_greylisted, inbound_grey_passed;   /* postgrey's decisions */
    int64_t first_us, last_us;
    int classifier;                     /* 1 when replies were classified by the rules */
} la_summary;

/* One line of a time series (width la_series_width). */
typedef struct la_bucket {
    int64_t t_us;
    long attempts, delivered, deferred, bounced, n4xx, n421;
} la_bucket;

/* One entry of a message's timeline; status LS_NONE is a single MX's reply before the MTA
 * tried the next one. */
typedef struct la_attempt {
    int64_t t_us;
    const char *rcpt;                   /* NULL for a host reply */
    const char *relay;
    const char *reply;                  /* a failure's reply or text (cut), NULL for deliveries */
    enum lp_status status;
    int cat;                            /* lp_cat of a failure, -1 for a delivery */
    int code;
    int suspended;
} la_attempt;

typedef struct la_message {
    const char *qid;
    enum lp_format fmt;
    long nattempts;                     /* all attempts seen */
    long ndeferred;
    const la_attempt *att;              /* the last ones kept, oldest first */
    int natt;
} la_message;

typedef struct loganalyzer loganalyzer;

/* la_new - an analyzer; cls (may be NULL: 5xx permanent, 4xx other) must outlive it */
loganalyzer *la_new(const classifier *cls, const la_opts *opts);
void la_free(loganalyzer *la);
/* la_feed_file - every line of path (gzip or plain; "-" reads stdin); 0, or -1 with err */
int la_feed_file(loganalyzer *la, const char *path, char *err, int errlen);
/* la_feed_line - one line (or one multi-line JSON record), raw as in the file */
void la_feed_line(loganalyzer *la, const char *line, size_t len);
/* la_finish - compute verdicts and order destinations; call once, after feeding */
void la_finish(loganalyzer *la);

size_t la_ndests(const loganalyzer *la);
/* la_dest_at - destinations in order: failing first (most failures), then by attempts */
const la_dest *la_dest_at(const loganalyzer *la, size_t i);
/* la_dest_find - a destination by domain, or NULL */
const la_dest *la_dest_find(const loganalyzer *la, const char *domain);
const la_summary *la_get_summary(const loganalyzer *la);

/* la_series - a destination's series (d NULL: all destinations), empty buckets included,
 * over its own span, with the common bucket width; returns the count (caller frees *out) */
size_t la_series(const loganalyzer *la, const la_dest *d, la_bucket **out);
/* la_series_width - the bucket width in seconds (chosen from the whole log's span) */
int64_t la_series_width(const loganalyzer *la);

/* Messages in the order first seen; those with deferrals are the interesting ones. */
size_t la_nmessages(const loganalyzer *la);
const la_message *la_message_at(const loganalyzer *la, size_t i);

const char *la_verdict_name(enum la_verdict v);   /* "rate_limiting" */
const char *la_verdict_title(enum la_verdict v);  /* "rate limiting" */

/* How la_report shows an analysis. */
typedef struct la_report_opts {
    long max_timelines;                 /* message timelines shown (text and data), -1 for all */
    int max_rows;                       /* destinations in the table and detailed, 0 for all */
    const char *const *domains;         /* only these destinations (ndomains 0: all) */
    int ndomains;
} la_report_opts;

/* la_report - the analysis (after la_finish) as checks, tables and data of report r */
void la_report(const loganalyzer *la, report *r, const la_report_opts *ro);

/* JSON forms (documented in docs/doctor.md); the caller owns the result. */
json_t *la_dest_json(const loganalyzer *la, const la_dest *d);
json_t *la_summary_json(const loganalyzer *la);
json_t *la_message_json(const la_message *m);
/* la_jstr - a JSON string of s with invalid UTF-8 bytes replaced by '?' (NULL: null) */
json_t *la_jstr(const char *s);
/* la_dur_text - seconds as "45s", "6m", "6m30s", "4h", "1h20m", "1d", "2d3h" into buf */
const char *la_dur_text(double s, char *buf, size_t n);
/* la_time_text - "2024-04-21 08:45:22" (UTC when the log gave a zone) into buf */
const char *la_time_text(int64_t us, char *buf, size_t n);

#endif
