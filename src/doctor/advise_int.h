/* advise_int.h - what the advise_*.c files share: building items and changes, the current
 * values of parameters in sluice and Postfix, and one entry point per topic, called by
 * advise.c in this order:
 *   advise_retry.c    the retry schedule (greylisting windows, aggressive schedules, lifetime)
 *   advise_dest.c     per destination: concurrency, rate delay, messages per connection,
 *                     recipients per transaction (adv_want)
 *   advise_plan.c     the wants as changes: global settings or a dedicated Postfix transport
 *   advise_misc.c     warm-up, authentication, verdicts no setting fixes, what sluice learned,
 *                     the main.cf lint's fixes
 * Internal to src/doctor/advise*.c. */
#ifndef SLUICE_ADVISE_INT_H
#define SLUICE_ADVISE_INT_H
#include "doctor/advise.h"

/* adv_item_new - a new piece of advice (explanation from fmt; figures start empty) */
adv_item *adv_item_new(advise *a, enum check_status st, const char *id, const char *title, const char *expected,
                       const char *actual, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* adv_evidence - quote a line under it (at most ADV_EVIDENCE) */
void adv_evidence(adv_item *it, const char *line);
void adv_evidencef(adv_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* adv_explain - append a sentence to its explanation */
void adv_explain(adv_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* adv_change_add - a change (replacing an earlier one of the same target and name); the
 * current value and its origin are looked up */
void adv_change_add(advise *a, enum adv_target t, const char *name, const char *value, const char *advice,
                    const char *comment);
/* adv_want_get - the wants of domain (created) */
adv_want *adv_want_get(advise *a, const char *domain);

/* adv_sluice_value - a sluice parameter's value as text (caller frees), *from its origin */
char *adv_sluice_value(const advise_in *in, const char *name, const char **from);
/* adv_sluice_secs - a sluice time parameter in seconds */
long long adv_sluice_secs(const advise_in *in, const char *name);
/* adv_postfix_value - a Postfix parameter's value (caller frees) and origin (static text or
 * "line N" in buf) */
char *adv_postfix_value(const advise_in *in, const char *name, char *from, size_t fromlen);
/* adv_postfix_secs / adv_postfix_int - the value in seconds / as a number; -1 unknown */
long long adv_postfix_secs(const advise_in *in, const char *name);
long long adv_postfix_int(const advise_in *in, const char *name);
/* adv_dur - seconds as "300s", "5m", "1h30m" (for sluice and Postfix: whole units) */
const char *adv_dur(long long secs, char *buf, size_t n);
/* adv_ladder - the first of 1m 2m 3m 4m 5m 7m 10m 15m 20m 30m 45m 1h 90m 2h 3h 4h (then
 * whole hours) at or above secs */
long long adv_ladder(double secs);
/* adv_dest_learned - what sluiced's status says about domain's site (borrowed), or NULL */
json_t *adv_dest_learned(const advise_in *in, const char *domain);
/* adv_learned_text - a one-line summary of a status destination into buf */
const char *adv_learned_text(json_t *d, char *buf, size_t n);
/* adv_shaping - sluice's shaping is on */
int adv_shaping(const advise_in *in);

void advise_retry(advise *a);
void advise_dests(advise *a);
void advise_plan(advise *a);
void advise_pointers(advise *a);
void advise_learned(advise *a);
void advise_lint_changes(advise *a);

#endif
