/* advise_plan.c - the destinations' wants (advise_dest.c) as changes.
 * A limit most destinations need (3 or more, and at least half of those in the logs) is set
 * globally: the strictest value (the fewest connections, messages or recipients; the
 * longest delay).  Otherwise, for Postfix, each destination that needs something stricter
 * than what applies now gets its own transport: a master.cf service running smtp (with
 * "-o smtp_connection_reuse_count_limit=N" for a per-connection cap, an smtp(8) setting),
 * TRANSPORT_destination_* in main.cf (queue manager settings belong there), a transport map
 * entry, and transport_maps when main.cf has none.  A rate delay makes Postfix deliver one
 * message at a time to the destination, so a concurrency limit next to it is left out, and
 * the failed cohort limit is raised to 10 as Postfix's documentation asks.  sluice has no
 * per-destination settings: its shaping learns concurrency and rate per destination (with
 * shaping = no, the global values, or shaping = yes); messages per connection and recipients
 * per transaction are global there (the strictest wanted). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/advise_int.h"

enum { K_CONC, K_RATE, K_REUSE, K_RCPT, K_N };

/* The advice ids of the kinds. */
static const char *const kind_id[K_N] = {"concurrency", "rate", "per-connection", "recipients"};
#define COHORT_WHY "with a rate delay one failed connection would stop the destination"

/* want_of - one kind of want */
static int want_of(const adv_want *w, int k)
{
    return k == K_CONC ? w->conc : k == K_RATE ? w->rate_delay_s : k == K_REUSE ? w->reuse : w->rcpt;
}

/* strictest - over the destinations that want kind k: the fewest, or the longest delay */
static int strictest(const advise *a, int k, int *count)
{
    int best = 0;
    *count = 0;
    for (int i = 0; i < a->nwants; i++) {
        int v = want_of(&a->wants[i], k);
        if (!v)
            continue;
        (*count)++;
        if (!best || (k == K_RATE ? v > best : v < best))
            best = v;
    }
    return best;
}

/* is_global - most destinations want kind k */
static int is_global(const advise *a, int count)
{
    return count >= 3 && count * 2 >= a->ndests;
}

/* stricter - v is stricter than the current value cur (-1 unknown; a limit of 0 is none) */
static int stricter(int k, int v, long long cur)
{
    if (k == K_RATE)
        return cur < 0 || v > cur;
    return cur <= 0 || v < cur;
}

/* note_already - the destination's advice says what Postfix has is strict enough */
static void note_already(advise *a, const char *id, const char *name)
{
    for (int i = 0; i < a->nitems; i++)
        if (!strcmp(a->items[i].id, id)) {
            char from[160];
            char *cur = adv_postfix_value(a->in, name, from, sizeof from);
            adv_explain(&a->items[i], "Postfix: %s = %s (%s) is already as strict.", name, cur ? cur : "?", from);
            free(cur);
            return;
        }
}

/* value_text - a kind's value as a setting: a duration for the rate delay, else a number */
static const char *value_text(int k, int v, char *buf, size_t n)
{
    if (k == K_RATE)
        return adv_dur(v, buf, n);
    snprintf(buf, n, "%d", v);
    return buf;
}

/* postfix_global - main.cf settings for the kinds most destinations want */
static void postfix_global(advise *a, const int *best, const int *global)
{
    static const char *const names[K_N] = {"smtp_destination_concurrency_limit", "smtp_destination_rate_delay",
                                           "smtp_connection_reuse_count_limit", "smtp_destination_recipient_limit"};
    const advise_in *in = a->in;
    for (int k = 0; k < K_N; k++) {
        if (!global[k] || (k == K_CONC && global[K_RATE]))
            continue;
        long long cur = k == K_RATE ? adv_postfix_secs(in, names[k]) : adv_postfix_int(in, names[k]);
        char buf[32], comment[120];
        if (!stricter(k, best[k], cur))
            continue;
        snprintf(comment, sizeof comment, "most destinations need it (%s)", kind_id[k]);
        adv_change_add(a, AT_MAIN, names[k], value_text(k, best[k], buf, sizeof buf), kind_id[k], comment);
        if (k == K_RATE && adv_postfix_int(in, "smtp_destination_concurrency_failed_cohort_limit") < 10)
            adv_change_add(a, AT_MAIN, "smtp_destination_concurrency_failed_cohort_limit", "10", kind_id[k],
                           COHORT_WHY);
    }
}

/* transport_name - a master.cf service name for domain, not one of Postfix's own */
static void transport_name(const advise *a, const char *domain, char *out, size_t n)
{
    static const char *const taken[] = {"smtp", "relay", "lmtp", "local", "virtual", "error", "retry", "discard",
                                        "bounce", "defer", "trace", "verify", "flush", "proxymap", "proxywrite",
                                        "showq", "anvil", "scache", "tlsmgr", "pickup", "cleanup", "qmgr",
                                        "rewrite", "postlog", "pipe", "mail", "smtpd", "default", "mx"};
    const char *p = domain;
    size_t k = strcspn(p, ".");
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        if (strlen(taken[i]) == k && !strncmp(p, taken[i], k) && p[k] == '.') {
            p += k + 1;
            k = strcspn(p, ".");
            break;
        }
    size_t o = 0;
    for (size_t i = 0; i < k && o + 6 < n; i++)
        out[o++] = isalnum((unsigned char)p[i]) ? (char)tolower((unsigned char)p[i]) : '_';
    out[o] = 0;
    if (!o || isdigit((unsigned char)out[0]) || advise_change(a, AT_MASTER, out) ||
        (a->in->mc && mastercf_find(a->in->mc, out)))
        snprintf(out + o, n - o, "_out");
}

/* dest_settings - main.cf lines of destination w's transport tr; 1 when any */
static int dest_settings(advise *a, const adv_want *w, const char *tr, const int *global)
{
    static const char *const sfx[K_N] = {"_destination_concurrency_limit", "_destination_rate_delay", NULL,
                                         "_destination_recipient_limit"};
    static const char *const smtp[K_N] = {"smtp_destination_concurrency_limit", "smtp_destination_rate_delay",
                                          NULL, "smtp_destination_recipient_limit"};
    int any = 0;
    for (int k = 0; k < K_N; k++) {
        int v = want_of(w, k);
        if (!sfx[k] || !v || global[k] || (k == K_CONC && w->rate_delay_s))
            continue;
        long long cur = k == K_RATE ? adv_postfix_secs(a->in, smtp[k]) : adv_postfix_int(a->in, smtp[k]);
        char name[200], buf[32], comment[300], id[300];
        snprintf(id, sizeof id, "%s:%s", kind_id[k], w->domain);
        if (!stricter(k, v, cur)) {
            note_already(a, id, smtp[k]);
            continue;
        }
        snprintf(name, sizeof name, "%s%s", tr, sfx[k]);
        snprintf(comment, sizeof comment, "%s only (transport %s)", w->domain, tr);
        adv_change_add(a, AT_MAIN, name, value_text(k, v, buf, sizeof buf), id, comment);
        if (k == K_RATE) {
            snprintf(name, sizeof name, "%s_destination_concurrency_failed_cohort_limit", tr);
            adv_change_add(a, AT_MAIN, name, "10", id, COHORT_WHY);
        }
        any = 1;
    }
    return any;
}

/* dest_transport - a dedicated Postfix transport for w, when it needs anything */
static void dest_transport(advise *a, const adv_want *w, const int *global)
{
    char tr[64], line[300], comment[300], id[300];
    transport_name(a, w->domain, tr, sizeof tr);
    int reuse = w->reuse && !global[K_REUSE] &&
                stricter(K_REUSE, w->reuse, adv_postfix_int(a->in, "smtp_connection_reuse_count_limit"));
    int any = dest_settings(a, w, tr, global);
    if (!any && !reuse)
        return;
    snprintf(id, sizeof id, "transport:%s", w->domain);
    if (reuse)
        snprintf(line, sizeof line, "%-9s unix  -       -       n       -       -       smtp\n"
                                    "    -o smtp_connection_reuse_count_limit=%d", tr, w->reuse);
    else
        snprintf(line, sizeof line, "%-9s unix  -       -       n       -       -       smtp", tr);
    snprintf(comment, sizeof comment, "a transport of its own for %s", w->domain);
    adv_change_add(a, AT_MASTER, tr, line, id, comment);
    snprintf(line, sizeof line, "%-24s %s:", w->domain, tr);
    adv_change_add(a, AT_TRANSPORT, w->domain, line, id, NULL);
    char from[64];
    char *tm = adv_postfix_value(a->in, "transport_maps", from, sizeof from);
    if (!tm || !tm[0])
        adv_change_add(a, AT_MAIN, "transport_maps", "hash:/etc/postfix/transport", id,
                       "the map of per-destination transports (below)");
    free(tm);
}

/* sluice_side - sluice's settings for the wants */
static void sluice_side(advise *a, const int *best, const int *global, const int *count)
{
    static const char *const names[K_N] = {"smtp_destination_concurrency_limit", "smtp_destination_rate_delay",
                                           "smtp_connection_reuse_count_limit", "smtp_destination_recipient_limit"};
    const advise_in *in = a->in;
    for (int k = 0; k < K_N; k++) {
        if (!count[k])
            continue;
        char buf[32];
        if ((k == K_CONC || k == K_RATE) && adv_shaping(in))
            continue;
        if ((k == K_CONC || k == K_RATE) && !global[k]) {
            adv_change_add(a, AT_SLUICE, "shaping", "yes", kind_id[k],
                           "sluice learns each destination's concurrency and rate");
            continue;
        }
        const char *from;
        char *cur = adv_sluice_value(in, names[k], &from);
        long long c = k == K_RATE ? adv_sluice_secs(in, names[k]) : cur ? atoll(cur) : -1;
        free(cur);
        const char *why = k == K_REUSE || k == K_RCPT ? "global in sluice: the strictest any destination needs" : NULL;
        if (stricter(k, best[k], c))
            adv_change_add(a, AT_SLUICE, names[k], value_text(k, best[k], buf, sizeof buf), kind_id[k], why);
    }
}

void advise_plan(advise *a)
{
    int best[K_N], count[K_N], global[K_N];
    for (int k = 0; k < K_N; k++) {
        best[k] = strictest(a, k, &count[k]);
        global[k] = is_global(a, count[k]);
    }
    postfix_global(a, best, global);
    for (int i = 0; i < a->nwants; i++)
        dest_transport(a, &a->wants[i], global);
    sluice_side(a, best, global, count);
}
