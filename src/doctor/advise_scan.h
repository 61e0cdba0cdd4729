/* advise_scan.h - the facts `doctor advise` needs from mail logs beyond the log analyzer's
 * (loganalyze.h): per destination (recipient domain, as the analyzer names them), every
 * delivery outcome with its time, connection (a delivery process or session), Postfix's
 * conn_use and what kind of refusal it was, told apart more finely than the reply classes:
 * a per-connection message cap ("max message per connection", "too many messages in this
 * session") or a per-transaction recipient cap ("452 4.5.3 Too many recipients") is not a
 * destination's rate limit, nor is one mailbox "receiving mail too quickly".  From those:
 * the most deliveries that succeeded at once, the accepted rate before and during rate
 * limiting, messages per connection and recipients per transaction the receiver took.
 * Also the sender domains seen (for `doctor domain`) and an address quoted by reputation
 * refusals (for `doctor ip`).  Lines are parsed with logparse.h, files read with its reader;
 * a pretty-printed multi-line JSON record is not joined here (the analyzer joins it). */
#ifndef SLUICE_ADVISE_SCAN_H
#define SLUICE_ADVISE_SCAN_H
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "doctor/logparse.h"

enum as_kind {
    AK_SENT,            /* delivered */
    AK_GREY,            /* greylisting */
    AK_TMC,             /* too many connections */
    AK_RATE,            /* the destination's rate limit */
    AK_SOFT,            /* a 4xx reply the classifier could not explain */
    AK_CONN_CAP,        /* messages per connection */
    AK_RCPT_CAP,        /* recipients per transaction */
    AK_MAILBOX_RATE,    /* one mailbox receiving too fast */
    AK_LOST,            /* the connection was lost (no reply) */
    AK_REPUTATION,
    AK_AUTH,
    AK_OTHER,
    AK_NKINDS
};

typedef struct as_event {
    int64_t t_us;
    uint32_t conn;      /* connection id (1..), 0 when the log shows none */
    uint32_t qid;       /* a hash of the queue id, 0 when none */
    uint16_t conn_use;  /* Postfix conn_use=N, 0 when not logged */
    uint8_t kind;       /* enum as_kind */
    uint8_t status;     /* enum lp_status */
} as_event;

#define AS_LINES 2

typedef struct as_dest {
    char *domain;
    as_event *ev;       /* sorted by time after as_finish */
    size_t n, cap;
    long kinds[AK_NKINDS];
    char *line[AK_NKINDS][AS_LINES];   /* the first raw lines of each kind */
    int conn_cap_stated, rcpt_cap_stated; /* a number the cap replies state, 0 none */
    char provider[32];  /* the classifier's provider tag of its cap/rate replies */
    char reputation_ip[64]; /* an address a reputation refusal names */
} as_dest;

typedef struct advise_scan advise_scan;

/* as_new - a scan; cls (may be NULL) classifies replies; year as la_opts.year (0: mtime) */
advise_scan *as_new(const classifier *cls, int year);
void as_free(advise_scan *s);
/* as_feed_file - every line of path (plain or gzip, "-" stdin); 0 or -1 with err */
int as_feed_file(advise_scan *s, const char *path, char *err, int errlen);
/* as_feed_line - one line */
void as_feed_line(advise_scan *s, const char *line, size_t len);
/* as_finish - sort each destination's events by time; call once after feeding */
void as_finish(advise_scan *s);
const as_dest *as_dest_find(const advise_scan *s, const char *domain);
/* as_sender_domain - the most frequent sender domain (from=<...>, Exim's <=), or NULL */
const char *as_sender_domain(const advise_scan *s);
/* as_events_dropped - events not kept (the memory bound) */
long as_events_dropped(const advise_scan *s);

/* Figures, each documented in docs/doctor.md ("doctor advise"). */
/* as_accepted_concurrency - the most connections that delivered within 2 s, -1 unknown */
int as_accepted_concurrency(const as_dest *d);

typedef struct as_rate {
    int64_t first_refusal_us;    /* the first rate-limit refusal (0: none) */
    int64_t first_us, last_us;   /* the destination's first and last event */
    long before_sent;            /* deliveries in the hour before the first refusal */
    double before_s;             /* ... over this many seconds */
    long during_sent, during_refused;  /* from the first refusal to the last event */
    double during_s;
} as_rate;
/* as_rate_figures - the rate figures; soft counts unexplained 4xx as rate refusals */
void as_rate_figures(const as_dest *d, int soft, as_rate *out);

enum as_cap_how { ACH_NONE, ACH_FAILED_USE, ACH_STATED, ACH_MOST_REUSED };
/* as_conn_cap - messages per connection the receiver takes (0 unknown), and how known */
int as_conn_cap(const as_dest *d, enum as_cap_how *how, int *fail_use, int *max_use);
/* as_rcpt_cap - recipients the receiver took in a transaction that hit its cap (0 unknown) */
int as_rcpt_cap(const as_dest *d, int *stated);

const char *as_kind_name(enum as_kind k);

#endif
