/* ratemodel.h - learning a receiver's message-rate limit from what it accepted and refused.
 *
 * Receivers limit "N messages per W seconds" (a sliding or fixed window), and say only
 * "421 rate limit exceeded".  The model keeps the times of the messages this destination
 * accepted, and for each candidate window W on a ladder (1 s .. 1 h) two numbers:
 *   A(W) = the most messages ever accepted within one W (so N >= A(W) if W is the window)
 *   R(W) = the fewest messages within W at any refusal (so N <= R(W))
 * A candidate stays plausible while A(W) <= R(W).  The model enforces the smallest plausible
 * window, allowing a new delivery only while accepted-within-W plus in-flight stays below
 * A(W): that reproduces the receiver's own window, so once learned it is neither throttled
 * nor slower than it must be.  A wrong (too short) guess is refuted by the next refusal and
 * costs one 421; the wait it caused is never longer than the true window.  After a quiet
 * time the model probes one message higher (A(W)+1), the additive step, and backs off its
 * probing interval when the probe is refused.  Before any refusal it allows everything.
 * When no candidate stays plausible (the receiver changed its limit, or counts things we do
 * not see), the model forgets A and R and learns again from the next refusals.
 * Times are microseconds from src/common/clock.h. */
#ifndef SLUICE_RATEMODEL_H
#define SLUICE_RATEMODEL_H
#include <stdint.h>

#define RM_NWIN 14

typedef struct ratemodel {
    int64_t *t;                /* accepted times, ring buffer */
    uint32_t cap, head, n;
    uint32_t accepted_max[RM_NWIN];   /* A(W) */
    uint32_t refused_min[RM_NWIN];    /* R(W); UINT32_MAX before any refusal */
    uint32_t bonus;            /* additive probe above A(W) of the enforced window */
    int64_t quiet_since_us;    /* last refusal */
    int64_t probe_every_us;    /* quiet time before the next +1 probe */
    uint32_t refusals;
} ratemodel;

extern const int64_t rm_windows_us[RM_NWIN];

void rm_init(ratemodel *m);
void rm_free(ratemodel *m);
/* rm_accepted - a message was accepted at now */
void rm_accepted(ratemodel *m, int64_t now);
/* rm_refused - a rate-limit refusal at now (the refused message not counted; inflight:
 * other deliveries under way, which the receiver may already count) */
void rm_refused(ratemodel *m, int64_t now, uint32_t inflight);
/* rm_window - index of the enforced window, or -1 when nothing is enforced */
int rm_window(const ratemodel *m);
/* rm_allowed_at - the earliest time a new delivery may start, with inflight deliveries
 * already started and not yet answered (now when it may start now) */
int64_t rm_allowed_at(const ratemodel *m, int64_t now, uint32_t inflight);
/* rm_limit - the enforced limit as N messages per W microseconds; 0 when none */
uint32_t rm_limit(const ratemodel *m, int64_t *window_us);
/* rm_count_since - messages accepted at or after since (as far as the ring remembers) */
uint32_t rm_count_since(const ratemodel *m, int64_t since);
/* rm_tick - the additive probe: after probe_every_us without a refusal, allow one more */
void rm_tick(ratemodel *m, int64_t now);
/* rm_set - restore a learned limit (from the state file): N per window */
void rm_set(ratemodel *m, uint32_t n, int64_t window_us, int64_t now);

#endif
