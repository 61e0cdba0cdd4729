/* shape.h - adapting to one destination (site x source address) from its replies.
 * The scheduler asks shape_may_start before each delivery and reports every outcome; the
 * classifier says what each refusal means, and this decides what to do about it:
 *   greylisting           the recipient comes back after the greylist window (learned from
 *                         this destination: probing 15 s, 30 s, ... up to about 6 min, or the
 *                         reply's hint); the destination is not slowed
 *   (start)               initial_destination_concurrency sessions, one more per message
 *                         delivered with all busy, until smtp_destination_concurrency_limit
 *   too_many_connections  concurrency down to what the receiver accepted (multiplicative
 *                         decrease), back up by one after a quiet time (additive increase);
 *                         the learned limit survives restarts
 *   rate_limited          the message rate learned as N per W (ratemodel.h) and enforced;
 *                         repeated refusals pause the destination; probing up one at a time
 *   reputation            the destination pauses for this source for a long backoff, an
 *                         alert is logged, and a fallback relay is used when configured
 *   overloaded            destination-wide backoff with jitter, growing with consecutive
 *                         failures (greeting failures count)
 *   mailbox, other        the recipient's own retry schedule (exponential)
 *   authentication        the recipient's own schedule, and an alert (fix SPF/DKIM/DMARC/PTR)
 *   permanent             bounce now
 * Every decision is logged with its reason and the rule that classified the reply, and the
 * last few are kept for `sluice status`. */
#ifndef SLUICE_SHAPE_H
#define SLUICE_SHAPE_H
#include <jansson.h>
#include <stdint.h>

#include "shaping/classify.h"
#include "shaping/ratemodel.h"

/* What the configuration says (all times in microseconds). */
typedef struct shape_cfg {
    int enabled;               /* shaping = yes */
    int conc_max;              /* smtp_destination_concurrency_limit */
    int conc_initial;          /* initial_destination_concurrency */
    int64_t conc_probe_us;     /* concurrency_probe_time */
    int64_t rate_probe_us;     /* rate_probe_time */
    int64_t grey_min_us, grey_max_us;         /* greylist_min/max_retry_time */
    int64_t overload_min_us, overload_max_us; /* overload_(max_)backoff_time */
    int64_t rep_min_us, rep_max_us;           /* reputation_(max_)backoff_time */
} shape_cfg;

enum shape_scope { SCOPE_RECIPIENT, SCOPE_DESTINATION };

/* The decision about one refused recipient. */
typedef struct shape_verdict {
    enum shape_scope scope;
    int64_t retry_at_us;       /* when the recipient should be tried again; 0: its own
                                  exponential schedule decides */
    int use_fallback;          /* reputation pause: route through the fallback relay */
} shape_verdict;

#define SHAPE_NDEC 8

typedef struct shape {
    const shape_cfg *cfg;
    const char *name;          /* the destination key, for logs */
    int conc;                  /* concurrency limit now */
    int conc_learned;          /* the most sessions the receiver took without refusing (0: ?) */
    int64_t conc_quiet_since_us, conc_probe_every_us;
    int conc_probing;          /* conc was raised by a probe that is not yet confirmed */
    ratemodel rate;
    int64_t paused_until_us;
    enum reply_class pause_class;
    int streak;                /* consecutive overload / reputation refusals */
    int rate_strikes;          /* rate refusals the learned model did not foresee */
    int64_t rate_changed_us;   /* when the rate model last changed its mind */
    int64_t grey_lo_us, grey_hi_us;   /* the greylist window lies in (lo, hi]; hi 0: unknown */
    int64_t last_grey_us;      /* the last greylisting seen */
    uint64_t counts[RC_NCLASSES];
    uint64_t accepted;
    char *last_reply, *last_rule;
    enum reply_class last_class;
    struct { int64_t t; char text[200]; } dec[SHAPE_NDEC];
    int ndec;
} shape;

void shape_init(shape *sh, const shape_cfg *cfg, const char *name);
/* shape_class_name - the class's name (as the classifier spells it) */
const char *shape_class_name(enum reply_class c);
void shape_free(shape *sh);

/* shape_may_start - 1 when a new delivery may start now (inflight: deliveries started and
 * not answered); else 0 and *wake is when to look again */
int shape_may_start(shape *sh, int64_t now, uint32_t inflight, int64_t *wake);
/* shape_accepted - a message was accepted (end of data 2xx); busy: sessions delivering at
 * that moment, this one included; saturated: every session the destination may have was busy */
void shape_accepted(shape *sh, int64_t now, int busy, int saturated);
/* shape_engaged - the receiver talked past its greeting (it is up) */
void shape_engaged(shape *sh);
/* shape_greylist_passed - a recipient greylisted first at first_us went through now */
void shape_greylist_passed(shape *sh, int64_t first_us, int64_t now);
/* shape_refused - a 4xx (or no reply) for a recipient: update the destination once per
 * job (dest_done: 0 on the job's first recipient with this reply) and decide its retry.
 * open_sessions: sessions still open to the destination (after a burst of refusals, the
 * ones left are what the receiver accepted at once); inflight: other deliveries under
 * way there (a receiver's rate count may include them); grey_first_us: when this
 * recipient was first greylisted (0: never); started_us: when the delivery began (a refusal
 * of a delivery begun before the last thing learned does not count against the model);
 * last_close_us: when a session to the destination was last closed (a receiver still
 * counting it may refuse the next one: that says nothing about its limit) */
void shape_refused(shape *sh, const classify_result *cr, const char *reply, int stage, int dest_done,
                   int open_sessions, int inflight, int64_t grey_first_us, int64_t started_us,
                   int64_t last_close_us, int64_t now, shape_verdict *v);
/* shape_greylisting - recipients here were greylisted within the last hour: refusals at
 * RCPT are to be expected (the client then holds DATA until a recipient is accepted) */
int shape_greylisting(const shape *sh, int64_t now);
/* shape_tick - additive increase after quiet times */
void shape_tick(shape *sh, int64_t now);
/* shape_state - "normal", "throttled", "paused" or "backoff" */
const char *shape_state(const shape *sh, int64_t now);
/* shape_json - status: limits, learned values, counts by class, recent decisions */
json_t *shape_json(const shape *sh, int64_t now);
/* shape_save / shape_restore - the learned values that survive a restart */
json_t *shape_save(const shape *sh);
void shape_restore(shape *sh, json_t *saved, int64_t now);

#endif
