/* advise_dest.c - per destination, what the receiver allowed and the limit to set (adv_want):
 *   concurrency      too_many_connections refusals (3 or more, or 5% of the attempts, or the
 *                    verdict): the most connections that delivered at once (advise_scan),
 *                    else the peak seen minus one, else the seed's 2
 *   rate delay       rate-limit refusals (unexplained 4xx too when the verdict is rate
 *                    limiting): 3600 / the deliveries per hour the receiver accepted while
 *                    it was refusing (3 or more over 10 minutes or more), else in the hour
 *                    before its first refusal, else its busiest hour; at least 1s
 *   per connection   per-connection cap refusals or lost connections at a repeated conn_use:
 *                    as advise_scan counts them, else the provider's published cap (Yahoo,
 *                    AOL: 20), else 10
 *   per transaction  "too many recipients": the recipients that got in, else the number the
 *                    reply states, else 10 (what the seed's Fix 2 meant)
 * A per-mailbox rate refusal (Gmail's 4.2.1) asks for nothing: it is one recipient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "doctor/advise_int.h"

/* tmc_count - too_many_connections refusals of d (deliveries and single hosts) */
static long tmc_count(const la_dest *d)
{
    return d->deferred_by[RC_TOO_MANY_CONNECTIONS] + d->hostreply_by[RC_TOO_MANY_CONNECTIONS] +
           d->bounced_by[RC_TOO_MANY_CONNECTIONS];
}

/* first_line - the first raw line of kind k of sd, else of the analyzer's evidence */
static void kind_lines(adv_item *it, const as_dest *sd, enum as_kind k, const la_dest *d)
{
    int n = 0;
    for (int i = 0; sd && i < AS_LINES; i++)
        if (sd->line[k][i]) {
            adv_evidence(it, sd->line[k][i]);
            n++;
        }
    for (int i = 0; !n && i < d->nevidence && i < 2; i++)
        adv_evidence(it, d->evidence[i]);
}

/* learned_note - what sluice does for this itself, and what its status says */
static void learned_note(advise *a, adv_item *it, const la_dest *d, const char *what)
{
    if (!adv_shaping(a->in)) {
        adv_explain(it, "sluice would learn %s by itself, but shaping is off (shaping = no).", what);
        return;
    }
    adv_explain(it, "sluice learns %s for each destination by itself (shaping = yes): nothing to set there.", what);
    json_t *st = adv_dest_learned(a->in, d->domain);
    char buf[300];
    if (st) {
        adv_evidencef(it, "sluiced status for %s: %s", json_string_value(json_object_get(st, "destination")),
                      adv_learned_text(st, buf, sizeof buf));
        json_object_set(it->figures, "sluice_learned", st);
    }
}

/* concurrency - too many connections */
static void concurrency(advise *a, const la_dest *d, const as_dest *sd)
{
    long n = tmc_count(d);
    if (!n || (d->verdict != LV_TOO_MANY_CONNECTIONS && n < 3 && n * 20 < d->attempts))
        return;
    int acc = sd ? as_accepted_concurrency(sd) : -1, peak = d->peak_concurrency;
    int s = acc >= 1 && (peak < 0 || acc < peak) ? acc : peak >= 2 ? peak - 1 : 2;
    const char *how = acc >= 1 && (peak < 0 || acc < peak) ? "the most connections that delivered at once"
                      : peak >= 2                          ? "one less than the peak seen"
                                                           : "the seed's Fix 2 (the logs show no concurrency)";
    char id[300], exp[64], act[120];
    snprintf(id, sizeof id, "concurrency:%s", d->domain);
    snprintf(exp, sizeof exp, "at most %d connection(s) at once", s);
    snprintf(act, sizeof act, "%ld too-many-connections refusal(s); peak %d, %d delivered at once", n, peak, acc);
    adv_item *it = adv_item_new(a, CK_WARN, id, "Concurrency per destination", exp, act,
                                "%s refuses connections beyond its limit; %d is %s.", d->domain, s, how);
    kind_lines(it, sd, AK_TMC, d);
    adv_evidencef(it, "%s: %ld attempts; peak concurrency %d (delivery processes within 2 s); at most %d "
                      "delivered within 2 s",
                  d->domain, d->attempts, peak, acc);
    json_object_set_new(it->figures, "refusals", json_integer(n));
    json_object_set_new(it->figures, "peak_concurrency", json_integer(peak));
    json_object_set_new(it->figures, "accepted_concurrency", json_integer(acc));
    json_object_set_new(it->figures, "suggested", json_integer(s));
    learned_note(a, it, d, "the concurrency");
    adv_want_get(a, d->domain)->conc = s;
}

/* rate_delay_of - the delay from the rate figures; *how says which figure */
static int rate_delay_of(const la_dest *d, const as_rate *r, double *per_hour, const char **how)
{
    double ph = 0;
    if (r->during_sent >= 3 && r->during_s >= 600) {
        ph = (double)r->during_sent * 3600.0 / r->during_s;
        *how = "while it was refusing";
    } else if (r->before_sent >= 1) {
        ph = (double)r->before_sent * 3600.0 / (r->before_s > 60 ? r->before_s : 60);
        *how = "before its first refusal";
    } else if (d->peak_per_hour > 0) {
        ph = d->peak_per_hour;
        *how = "in its busiest hour";
    } else {
        *how = "nothing was delivered: the seed's Fix 2";
        *per_hour = 0;
        return 1;
    }
    *per_hour = ph;
    int s = (int)ceil(3600.0 / ph - 1e-9);
    return s < 1 ? 1 : s;
}

/* rate - rate limiting */
static void rate(advise *a, const la_dest *d, const as_dest *sd)
{
    int soft = d->verdict == LV_RATE_LIMITING;
    if (!sd || (!sd->kinds[AK_RATE] && !(soft && sd->kinds[AK_SOFT])))
        return;
    as_rate r;
    as_rate_figures(sd, soft && !sd->kinds[AK_RATE], &r);
    double ph = 0;
    const char *how = "";
    int s = rate_delay_of(d, &r, &ph, &how);
    char id[300], exp[64], act[160], t1[32], t2[32];
    snprintf(id, sizeof id, "rate:%s", d->domain);
    snprintf(exp, sizeof exp, "one delivery every %ds or more", s);
    snprintf(act, sizeof act, "%ld rate-limit refusal(s); %.1f deliveries an hour accepted %s", r.during_refused, ph,
             how);
    adv_item *it = adv_item_new(a, CK_WARN, id, "Rate delay per destination", exp, act,
                                "%s limits how fast it accepts mail; it took %.1f an hour %s, so one delivery every "
                                "%ds (3600 / %.1f, rounded up) stays under it.",
                                d->domain, ph, how, s, ph);
    kind_lines(it, sd, sd->kinds[AK_RATE] ? AK_RATE : AK_SOFT, d);
    adv_evidencef(it, "%s: %ld delivered in the %s before the first refusal; %ld delivered and %ld refused in the %s "
                      "after it",
                  d->domain, r.before_sent, la_dur_text(r.before_s, t1, sizeof t1), r.during_sent, r.during_refused,
                  la_dur_text(r.during_s, t2, sizeof t2));
    json_object_set_new(it->figures, "before_sent", json_integer(r.before_sent));
    json_object_set_new(it->figures, "before_s", json_real(r.before_s));
    json_object_set_new(it->figures, "during_sent", json_integer(r.during_sent));
    json_object_set_new(it->figures, "during_refused", json_integer(r.during_refused));
    json_object_set_new(it->figures, "during_s", json_real(r.during_s));
    json_object_set_new(it->figures, "accepted_per_hour", json_real(ph));
    json_object_set_new(it->figures, "suggested_delay_s", json_integer(s));
    learned_note(a, it, d, "the rate (rate_probe_time probes it upwards)");
    adv_want_get(a, d->domain)->rate_delay_s = s;
}

/* provider_cap - a provider's published messages-per-connection cap, or 0 */
static int provider_cap(const char *provider)
{
    return !strcmp(provider, "yahoo") || !strcmp(provider, "aol") ? 20 : 0;
}

/* per_connection - a cap on messages per connection */
static void per_connection(advise *a, const la_dest *d, const as_dest *sd)
{
    enum as_cap_how how = ACH_NONE;
    int fail_use = 0, max_use = 0;
    int n = sd ? as_conn_cap(sd, &how, &fail_use, &max_use) : 0;
    if (!sd || (!sd->kinds[AK_CONN_CAP] && how != ACH_FAILED_USE))
        return;
    const char *why = how == ACH_FAILED_USE  ? "the connection failed at its next message (conn_use)"
                      : how == ACH_STATED    ? "the number the refusals state"
                      : how == ACH_MOST_REUSED ? "the most messages one connection carried"
                                               : "";
    if (!n) {
        n = provider_cap(sd->provider);
        why = n ? "the provider's published cap" : "a cautious start (the log does not show the cap)";
        n = n ? n : 10;
    }
    char id[300], exp[64], act[160];
    snprintf(id, sizeof id, "per-connection:%s", d->domain);
    snprintf(exp, sizeof exp, "at most %d message(s) per connection", n);
    snprintf(act, sizeof act, "%ld per-connection refusal(s), %ld lost connection(s); most reuse seen %d",
             sd->kinds[AK_CONN_CAP], sd->kinds[AK_LOST], max_use);
    adv_item *it = adv_item_new(a, CK_WARN, id, "Messages per connection", exp, act,
                                "%s takes a limited number of messages per connection and then refuses or drops "
                                "the connection (Yahoo: 20); %d is %s.  Mail refused that way waits a whole retry.",
                                d->domain, n, why);
    kind_lines(it, sd, sd->kinds[AK_CONN_CAP] ? AK_CONN_CAP : AK_LOST, d);
    json_object_set_new(it->figures, "refusals", json_integer(sd->kinds[AK_CONN_CAP]));
    json_object_set_new(it->figures, "lost", json_integer(sd->kinds[AK_LOST]));
    json_object_set_new(it->figures, "failed_conn_use", json_integer(fail_use));
    json_object_set_new(it->figures, "max_conn_use", json_integer(max_use));
    json_object_set_new(it->figures, "suggested", json_integer(n));
    adv_want_get(a, d->domain)->reuse = n;
}

/* per_transaction - a cap on recipients per transaction */
static void per_transaction(advise *a, const la_dest *d, const as_dest *sd)
{
    if (!sd || !sd->kinds[AK_RCPT_CAP])
        return;
    int stated = 0, got = as_rcpt_cap(sd, &stated);
    int n = got ? got : stated ? stated : 10;
    const char *why = got ? "the recipients that got in before the refusal" : stated ? "the number the refusal states"
                                                                                    : "what the seed's Fix 2 meant";
    char id[300], exp[64], act[120];
    snprintf(id, sizeof id, "recipients:%s", d->domain);
    snprintf(exp, sizeof exp, "at most %d recipient(s) per transaction", n);
    snprintf(act, sizeof act, "%ld too-many-recipients refusal(s)", sd->kinds[AK_RCPT_CAP]);
    adv_item *it = adv_item_new(a, CK_WARN, id, "Recipients per transaction", exp, act,
                                "%s refuses recipients beyond its per-message limit; the rest wait a retry. %d is %s.",
                                d->domain, n, why);
    kind_lines(it, sd, AK_RCPT_CAP, d);
    json_object_set_new(it->figures, "refusals", json_integer(sd->kinds[AK_RCPT_CAP]));
    json_object_set_new(it->figures, "accepted", json_integer(got));
    json_object_set_new(it->figures, "stated", json_integer(stated));
    json_object_set_new(it->figures, "suggested", json_integer(n));
    adv_want_get(a, d->domain)->rcpt = n;
}

/* mailbox_rate - one mailbox refusing: no setting */
static void mailbox_rate(advise *a, const la_dest *d, const as_dest *sd)
{
    if (!sd || !sd->kinds[AK_MAILBOX_RATE])
        return;
    char id[300], act[64];
    snprintf(id, sizeof id, "mailbox-rate:%s", d->domain);
    snprintf(act, sizeof act, "%ld refusal(s)", sd->kinds[AK_MAILBOX_RATE]);
    adv_item *it = adv_item_new(a, CK_INFO, id, "One mailbox receiving too fast", "no per-recipient refusals", act,
                                "these refusals are about one recipient's mailbox (e.g. Gmail's 4.2.1 \"receiving "
                                "mail too quickly\"), not your rate to %s: no setting helps; spread mail to that "
                                "recipient over time",
                                d->domain);
    kind_lines(it, sd, AK_MAILBOX_RATE, d);
}

void advise_dests(advise *a)
{
    const loganalyzer *la = a->in->la;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        const as_dest *sd = as_dest_find(a->in->scan, d->domain);
        concurrency(a, d, sd);
        rate(a, d, sd);
        per_connection(a, d, sd);
        per_transaction(a, d, sd);
        mailbox_rate(a, d, sd);
    }
}
