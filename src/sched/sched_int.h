/* sched_int.h - internals shared by the scheduler's files:
 *   sched.c         intake of messages, the due heap, the timer, flush/hold, status
 *   sched_route.c   recipient domain -> nexthop -> MX lookup -> destination (site)
 *   sched_dest.c    destination queues, sessions, concurrency, rate delay, the pump
 *   sched_result.c  what a recipient's outcome does: delivered, deferred, bounced; logs
 *   dsn.c           RFC 3464 delivery status notifications
 * Not for use outside src/sched/. */
#ifndef SLUICE_SCHED_INT_H
#define SLUICE_SCHED_INT_H
#include "common/hmap.h"
#include "sched/sched.h"
#include "shaping/shape.h"

#define RCPT_SF_INFLIGHT 1   /* qrcpt.sflags: in a job (queued or running) */

/* A routing key (recipient domain or nexthop name + port) and where it leads. */
typedef struct sdomain {
    struct sched *s;
    char *key;                 /* "name:port" or "[host]:port" */
    char *lookup;              /* the name whose MX is looked up; NULL for a literal */
    int port;
    int resolving;
    sched_dest *dest;          /* once resolved */
    int64_t expires_us;
    sched_job *waiting, *waiting_tail;   /* jobs waiting for the lookup */
} sdomain;

/* A sending address (sched_source.c) and its warm-up. */
typedef struct src_addr {
    netaddr a;                 /* port 0 */
    char ip[64];
    int cls;                   /* its class */
    int warm;                  /* an ip_warmup_schedule entry applies */
    long long from_day, target, start;   /* the schedule: UTC days since the epoch */
    double factor;
    int period_days;
    long long day;             /* the UTC day `used` counts */
    uint64_t used;             /* recipients started that day */
    int64_t queued;            /* recipients waiting in its destinations' ready jobs */
    int told;                  /* the cap was logged that day */
    int listed;                /* on a DNS blocklist we watch (daemon/blwatch.c) */
} src_addr;

typedef struct src_class {
    char *name;
    int *addrs;                /* indexes into src_table.addr */
    int n;
    unsigned rr;               /* round-robin start among equals */
} src_class;

typedef struct src_table {
    src_addr *addr;            /* never reallocated after init: destinations point in */
    int naddr;
    src_class *cls;
    int ncls;                  /* 0: no classes, one destination per site */
    int default_cls;
} src_table;

typedef struct idle_sess {
    void *sess;
    int64_t since_us;
    int64_t opened_us;
} idle_sess;

#define RCPT_LIMIT_KEEP_US (24 * 3600 * 1000000LL)

struct sched_dest {
    char *key;
    sched_target t;            /* owns hosts */
    sched_job *ready, *ready_tail;
    uint64_t nready;
    sched_job *running;        /* jobs with the agent, linked through next */
    int nsess, nbusy;          /* sessions open (busy + idle + quitting), busy */
    int nquitting;             /* sessions saying QUIT, still counted until they are gone */
    idle_sess *idle;
    int nidle, idle_cap;
    shape sh;                  /* what the receiver taught us: limits, pauses (sh.conc is the
                                  concurrency limit now) */
    int64_t rate_delay_us;
    int64_t last_close_us;     /* a session to it was last closed (or broke) */
    int close_credit;          /* closes in the second before last_close_us not yet used to
                                  excuse a refused connection (sched_dest_excuse) */
    int est_peak;              /* the most sessions the receiver has had established at once */
    struct hmap *grey;         /* sender \x01 recipient -> int64_t first greylisted (sched_grey.c) */
    void **est;                /* sessions the receiver has talked to past its greeting */
    int nest, est_cap;
    int64_t next_start_us;     /* rate delay: no job starts before this */
    sched_dest *ring_next, *ring_prev;
    int in_ring;
    uint64_t delivered, deferred, bounced;
    int setup_warned;          /* "wants a login or TLS" (530 to MAIL) logged */
    int64_t suspended_until_us; /* our login was refused: no new job before (with or without
                                   shaping, and no detour through a fallback relay) */
    int rcpt_limit;            /* recipients per transaction the receiver takes (learned from
                                  452 4.5.3 after that many were accepted; 0: unknown) */
    int64_t rcpt_limit_us;     /* when it was learned: forgotten after RCPT_LIMIT_KEEP_US */
    int rcpt_one_hits;         /* overflows after a single accepted recipient (a limit of 1
                                  is learned on the second) */
    char *last_reply;
    src_addr *src;             /* the address it sends from (a "SITE via ADDRESS"
                                  destination), or NULL */
    sched_dest *base;          /* with src: the site's own destination */
    sched_dest **via;          /* a site's "via" destinations by address index (made when
                                  first used), or NULL */
};

struct sched {
    struct event_base *base;
    const sl_config *cfg;
    spool *sp;
    sched_agent agent;
    sched_resolver res;
    struct event *timer;
    int64_t timer_at;          /* when the timer is set for, 0 = not set */
    qmsg **heap;               /* due heap: 1-based */
    uint32_t nheap, heapcap;
    hmap *domains;             /* key -> sdomain */
    hmap *dests;               /* key -> sched_dest */
    sched_dest *ring;          /* destinations with ready jobs, round-robin */
    int total_sess;
    int pumping;
    sched_job *failed;         /* routing failures waiting to be applied */
    sched_classify_fn classify;
    sched_queue_fn queue_fn;   /* DSNs into the queue (NULL: spool_add) */
    void *queue_ctx;
    const classifier *cls;
    shape_cfg shcfg;
    json_t *saved;             /* learned values from the state file, by destination */
    char *state_path;          /* QUEUE_DIRECTORY/shaping.json */
    int64_t saved_at_us;
    uint64_t rng;
    sched_counts counts;
    src_table src;             /* smtp_source_classes and warm-up (sched_source.c) */
};

/* sched.c */
void sched_heap_update(sched *s, qmsg *m);
void sched_heap_remove(sched *s, qmsg *m);
void sched_arm_timer(sched *s, int64_t at_us);
uint64_t sched_random(sched *s);

/* sched_route.c */
void sched_route_job(sched *s, sched_job *j, const char *domain);
void sched_route_free(sched *s);

/* sched_state.c - the learned values that survive a restart */
void sched_state_load(sched *s);
void sched_state_save(sched *s);

/* sched_dest.c */
sched_dest *sched_dest_get(sched *s, const char *key, const sched_target *t);
void sched_dest_enqueue(sched *s, sched_dest *d, sched_job *j);
void sched_pump(sched *s);
int64_t sched_dest_housekeeping(sched *s, int64_t now);
void sched_dest_free_all(sched *s);
/* sched_grey.c: sched_grey_first - when the triplet of recipient q of m was first
 * greylisted at d (now, if this is the first time); sched_grey_known - the same without
 * noting it, 0 when unknown; sched_grey_prune - forget old ones; sched_grey_free - all */
int64_t sched_grey_first(sched_dest *d, const qmsg *m, const qrcpt *q, int64_t now);
int64_t sched_grey_known(const sched_dest *d, const qmsg *m, const qrcpt *q);
void sched_grey_prune(sched_dest *d, int64_t now);
void sched_grey_free(sched_dest *d);
/* sched_dest_excuse - 1 when a connection d refused may be the receiver still counting one
 * of ours that has just closed (a close within the last second not yet used as an excuse,
 * while fewer of ours are established than the receiver took at once before); uses it */
int sched_dest_excuse(sched_dest *d, int64_t now);
void sched_job_free(sched_job *j);
/* sched_job_split - move j's recipients from keep on into a new job for the same message
 * (same times; in the message's job list); j keeps the first keep */
sched_job *sched_job_split(sched_job *j, int keep);
/* sched_job_detach - take j out of its message's job list */
void sched_job_detach(sched_job *j);

/* sched_source.c */
int src_table_init(src_table *t, const sl_config *c, char *err, int errlen);
void src_table_free(src_table *t);
/* src_cap - recipients a may start on a UTC day, -1 for no cap (not warming, or warm) */
long long src_cap(const src_addr *a, long long day);
/* sched_source_dest - the destination a job for site d goes to: d itself without
 * classes, else "d via ADDRESS" for the job's class (by its sender) */
sched_dest *sched_source_dest(sched *s, sched_dest *d, const sched_job *j);
/* sched_source_may_start - warm-up: room for n more recipients today from d's address;
 * else 0 with *wake lowered to the next UTC day */
int sched_source_may_start(sched_dest *d, int n, int64_t now, int64_t *wake);
/* sched_source_started - count n recipients started from d's address */
void sched_source_started(sched_dest *d, int n, int64_t now);
/* the "sources" of the status (NULL without classes); the warm-up counts for shaping.json */
json_t *sched_sources_status(sched *s);
json_t *sched_sources_save(sched *s);
void sched_sources_restore(sched *s, json_t *saved);

/* sched_result.c */
void sched_apply_results(sched *s, sched_job *j);
/* sched_fail_job - every recipient of j gets the same result (routing failures); applied
 * later, by sched_flush_failed, so callers iterating over a message are not disturbed */
void sched_fail_job(sched *s, sched_job *j, int code, const char *enh, const char *text);
void sched_flush_failed(sched *s);

/* dsn.c */
typedef struct dsn_rcpt {
    const char *addr;
    const char *status;        /* "5.1.1" */
    const char *remote_mta;    /* host name or NULL */
    const char *diag;          /* "550 5.1.1 <x>: no such user" or NULL */
} dsn_rcpt;
/* dsn_build - a complete notification message (headers and multipart/report body) */
void dsn_build(dbuf *out, const char *myhostname, const char *qid, const char *to,
               int64_t arrival_us, const dsn_rcpt *r, int n, const uint8_t *orig, size_t orig_len,
               int delayed);

#endif
