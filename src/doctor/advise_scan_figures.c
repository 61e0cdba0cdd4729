/* advise_scan_figures.c - the figures doctor advise computes from a destination's events
 * (advise_scan.h), each over the events sorted by time:
 *   accepted concurrency  the most distinct connections with a delivery within 2 s (the log
 *                         analyzer's window for peak concurrency, counting deliveries only)
 *   rate                  deliveries in the hour before the first rate-limit refusal, and
 *                         from that refusal to the destination's last event
 *   messages/connection   Postfix's conn_use of the refusals or lost connections that end
 *                         a connection (the most frequent value, minus one), else a number
 *                         the refusal states, else the most reuse a delivery shows
 *   recipients/transaction the deliveries of the same message on the same connection
 *                         within a second of a "too many recipients" refusal (the fewest) */
#include <stdlib.h>
#include <string.h>

#include "doctor/advise_scan.h"

#define WINDOW_US 2000000LL
#define HOUR_US 3600000000LL
#define MAX_DISTINCT 512

/* distinct_sent - distinct connections among deliveries in ev[from..to] */
static int distinct_sent(const as_event *ev, size_t from, size_t to)
{
    uint32_t seen[MAX_DISTINCT];
    int n = 0;
    for (size_t i = from; i <= to; i++) {
        if (ev[i].kind != AK_SENT || !ev[i].conn)
            continue;
        int dup = 0;
        for (int k = 0; k < n && !dup; k++)
            dup = seen[k] == ev[i].conn;
        if (!dup && n < MAX_DISTINCT)
            seen[n++] = ev[i].conn;
    }
    return n;
}

int as_accepted_concurrency(const as_dest *d)
{
    int best = -1;
    size_t lo = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->ev[i].kind != AK_SENT || !d->ev[i].conn)
            continue;
        while (d->ev[i].t_us - d->ev[lo].t_us > WINDOW_US)
            lo++;
        int c = distinct_sent(d->ev, lo, i);
        if (c > best)
            best = c;
    }
    return best;
}

/* is_rate - a refusal that counts as the destination's rate limit */
static int is_rate(const as_event *e, int soft)
{
    return e->kind == AK_RATE || (soft && e->kind == AK_SOFT);
}

void as_rate_figures(const as_dest *d, int soft, as_rate *out)
{
    memset(out, 0, sizeof *out);
    if (!d->n)
        return;
    out->first_us = d->ev[0].t_us;
    out->last_us = d->ev[d->n - 1].t_us;
    size_t f = 0;
    while (f < d->n && !is_rate(&d->ev[f], soft))
        f++;
    if (f == d->n)
        return;
    int64_t t1 = out->first_refusal_us = d->ev[f].t_us;
    int64_t from = t1 - HOUR_US > out->first_us ? t1 - HOUR_US : out->first_us;
    for (size_t i = 0; i < d->n; i++) {
        const as_event *e = &d->ev[i];
        if (e->t_us >= from && e->t_us < t1)
            out->before_sent += e->kind == AK_SENT;
        if (e->t_us >= t1) {
            out->during_sent += e->kind == AK_SENT;
            out->during_refused += is_rate(e, soft);
        }
    }
    out->before_s = (double)(t1 - from) / 1e6;
    out->during_s = (double)(out->last_us - t1) / 1e6;
}

/* failing_use - the most frequent conn_use of cap refusals (lost connections count when
 * lost is set); *count how often; 0 when none */
static int failing_use(const as_dest *d, int lost, int *count)
{
    int *n = calloc(65536, sizeof *n);
    int best = 0, bestn = 0;
    for (size_t i = 0; n && i < d->n; i++) {
        const as_event *e = &d->ev[i];
        if (!e->conn_use || !(e->kind == AK_CONN_CAP || (lost && e->kind == AK_LOST)))
            continue;
        int c = ++n[e->conn_use];
        if (c > bestn || (c == bestn && e->conn_use < best)) {
            best = e->conn_use;
            bestn = c;
        }
    }
    free(n);
    *count = bestn;
    return best;
}

int as_conn_cap(const as_dest *d, enum as_cap_how *how, int *fail_use, int *max_use)
{
    int mx = 0, n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->ev[i].kind == AK_SENT && d->ev[i].conn_use > mx)
            mx = d->ev[i].conn_use;
    *max_use = mx;
    int fu = failing_use(d, 0, &n);
    if (!fu) {   /* lost connections alone: only when they repeat right after the busiest reuse */
        fu = failing_use(d, 1, &n);
        if (n < 2 || fu != mx + 1)
            fu = 0;
    }
    *fail_use = fu;
    *how = ACH_NONE;
    if (fu > 1) {
        *how = ACH_FAILED_USE;
        return fu - 1;
    }
    if (!d->kinds[AK_CONN_CAP])
        return 0;
    if (d->conn_cap_stated) {
        *how = ACH_STATED;
        return d->conn_cap_stated;
    }
    if (mx > 1) {
        *how = ACH_MOST_REUSED;
        return mx;
    }
    return 0;
}

/* first_at - the index of the first event at or after t */
static size_t first_at(const as_dest *d, int64_t t)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ev[mid].t_us < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* sent_with - deliveries of the same message on the same connection within a second */
static int sent_with(const as_dest *d, const as_event *e)
{
    int n = 0;
    for (size_t i = first_at(d, e->t_us - 1000000); i < d->n && d->ev[i].t_us <= e->t_us + 1000000; i++) {
        const as_event *x = &d->ev[i];
        n += x->kind == AK_SENT && x->qid == e->qid && x->conn == e->conn;
    }
    return n;
}

int as_rcpt_cap(const as_dest *d, int *stated)
{
    int best = 0;
    *stated = d->rcpt_cap_stated;
    for (size_t i = 0; i < d->n; i++) {
        const as_event *e = &d->ev[i];
        if (e->kind != AK_RCPT_CAP || !e->qid || !e->conn)
            continue;
        int n = sent_with(d, e);
        if (n > 0 && (!best || n < best))
            best = n;
    }
    return best;
}
