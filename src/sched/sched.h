/* sched.h - the scheduler: which recipient goes where, when, and how many at once.
 *
 * It takes every queued message from the spool, routes each recipient (transport_maps,
 * relayhost, MX), groups recipients by destination "site" (the set of MX hosts, so the
 * many domains one provider hosts share one set of limits), and starts deliveries within
 * each destination's concurrency limit, rate delay and recipient limit, and a global cap
 * on connections, round-robin across destinations so one slow site holds back no other.
 * Results come back per recipient: delivered, bounced (a DSN to the sender) or deferred
 * (exponential backoff between minimal_ and maximal_backoff_time with jitter, until
 * maximal_queue_lifetime).  Every attempt is logged like Postfix's smtp lines.
 *
 * How deliveries happen is the agent's business (a function table: the real one is
 * src/agent, tests use a fake); how a name resolves is the resolver's (DNS, or a fake).
 * Time comes from src/common/clock.h: tests run days of retries with a fake clock and
 * sched_run_due().  Everything runs on the loop thread. */
#ifndef SLUICE_SCHED_H
#define SLUICE_SCHED_H
#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "config/config.h"
#include "dns/dns.h"
#include "queue/spool.h"
#include "shaping/classify.h"

typedef struct sched sched;
typedef struct sched_dest sched_dest;

/* One recipient's outcome, as the agent reports it. */
typedef struct sched_result {
    int code;                  /* the SMTP reply code, 0 when there was no reply */
    char enh[16];              /* "5.1.1" or "" */
    char *text;                /* reply text (malloc'd, owned by the job) */
    int stage;                 /* enum smtpc_stage: where it happened */
    int closed;                /* the server closed the connection with it */
} sched_result;

/* A delivery job: some recipients of one message, to one destination. */
typedef struct sched_job {
    qmsg *m;                   /* NULL when the message was deleted meanwhile */
    qid_t qid;
    char *sender;              /* copies, valid for the job's life */
    char **rcpts;
    uint32_t *idx;             /* the recipients' indexes in m */
    int n;
    uint32_t flags;            /* the message's flags (8BITMIME, SMTPUTF8) */
    sched_dest *dest;
    int64_t t_due_us, t_queued_us, t_started_us;
    struct sched_job *next;    /* in its destination's queue */
    struct sched_job *mnext;   /* in its message's list */
    void *sess;                /* the session running it (scheduler's note) */
    /* filled by the agent before sched_job_done */
    sched_result *res;         /* n results, allocated by the scheduler */
    char relay[320];           /* "host[ip]:port", or "none" */
    int64_t conn_us, xfer_us;  /* connection set-up (0 when reused) and transmission */
    int rcpt_ok;               /* RCPTs the server accepted in the transaction */
} sched_job;

/* What the agent needs to know about a destination. */
typedef struct sched_target {
    int literal;               /* 1: [host]:port, no MX */
    char **hosts;              /* MX hosts in order (or the one host) */
    int nhosts;
    int port;
    const char *tls_level;     /* none, may, encrypt, verify */
    const netaddr *source;     /* the address to send from (smtp_source_classes), or NULL:
                                  smtp_bind_address; connections use its family only */
    const char *name;          /* the destination key, for logs */
} sched_target;

/* The delivery agent.  open: start a session (connection) to d; returns the agent's
 * handle.  run: run job j on that session (the agent queues it until connected) and later
 * call sched_job_done.  close: end a session politely; no callbacks for it afterwards. */
typedef struct sched_agent {
    void *ctx;
    void *(*open)(void *ctx, sched_dest *d, const sched_target *t);
    void (*run)(void *ctx, void *sess, sched_job *j);
    void (*close)(void *ctx, void *sess);
} sched_agent;

/* The resolver: MX lookups for routing (the agent resolves host addresses itself). */
typedef struct sched_resolver {
    void *ctx;
    void (*mx)(void *ctx, const char *domain, dns_mx_cb cb, void *arg);
} sched_resolver;

/* sched_new - a scheduler over spool sp (which it registers with for "message gone") */
/* sched_source_listed - our sending address sa is (listed 1) or is no longer (0) on a
 * DNS blocklist: while it is, its class's mail goes from the class's other addresses (the
 * mail waiting for it moves to them), unless every address of the class is listed */
void sched_source_listed(sched *s, const struct sockaddr *sa, int listed);
/* sched_sources_check - smtp_source_classes, smtp_source_class_maps,
 * smtp_source_default_class and ip_warmup_schedule make sense together; 0, or -1 with err */
int sched_sources_check(const sl_config *c, char *err, int errlen);
sched *sched_new(struct event_base *base, const sl_config *cfg, spool *sp,
                 const sched_agent *agent, const sched_resolver *res);
/* The reply classifier as a function (src/shaping/classify.c's classify() in the daemon;
 * tests may give their own). */
typedef void (*sched_classify_fn)(const classifier *c, const classify_input *in, classify_result *out);
/* sched_set_classifier - what reads the receivers' replies (shaping); fn NULL: a plain
 * Postfix-like schedule for every deferral.  Set before the first delivery. */
void sched_set_classifier(sched *s, sched_classify_fn fn, const classifier *c);
/* How the notifications the scheduler writes (DSNs) enter the queue: spool_add by default;
 * the daemon passes them through DKIM signing (daemon/cleanup.c).  The function takes the
 * body (malloc'd) and calls cb like spool_add. */
typedef void (*sched_queue_fn)(void *ctx, spool_new *n, spool_add_cb cb, void *arg);
/* sched_set_queue_fn - set it (fn NULL: spool_add) */
void sched_set_queue_fn(sched *s, sched_queue_fn fn, void *ctx);
/* sched_free - close every session; jobs in flight are abandoned (their recipients stay
 * as they are in the spool and are tried again after a restart) */
void sched_free(sched *s);

/* sched_add - a message entered the queue (new, recovered, or released from hold) */
void sched_add(sched *s, qmsg *m);
/* sched_hold - a message was put on hold: take its waiting recipients out */
void sched_hold(sched *s, qmsg *m);
/* sched_flush - every deferred recipient is due now */
uint64_t sched_flush(sched *s);
/* sched_run_due - do everything due by now (the timer calls it; tests too) */
void sched_run_due(sched *s);

/* Agent callbacks.  sched_job_done: j's results are filled; alive says what became of the
 * session: 1 it can take another job, 0 it is gone, 2 it is saying QUIT (the receiver still
 * counts it, so the scheduler does too, until sched_sess_gone).  sched_sess_gone: an idle
 * session closed or broke, or a quitting one finished closing. */
void sched_job_done(sched *s, void *sess, sched_job *j, int alive);
void sched_sess_gone(sched *s, sched_dest *d, void *sess);

/* sched_dest_expects_refusals - recipients at d are being refused at RCPT lately
 * (greylisting): the agent holds DATA until one is accepted */
int sched_dest_expects_refusals(const sched_dest *d);

/* sched_status - destinations and counters as JSON (caller decrefs) */
json_t *sched_status(sched *s);

/* Counters, for tests and benches. */
typedef struct sched_counts {
    uint64_t delivered, bounced, deferred, expired, dsn_sent, double_bounces;
    uint64_t jobs_started, sessions_opened, sessions_now, dests;
} sched_counts;
void sched_get_counts(sched *s, sched_counts *c);

#endif
