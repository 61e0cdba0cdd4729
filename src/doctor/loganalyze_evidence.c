/* loganalyze_evidence.c - the lines quoted under a destination's verdict: log lines of the
 * deciding class, a deferral and the later delivery of the same recipient (greylisting),
 * the timeline of the recipient refused most often and a delivery in between (rate
 * limiting).  At most LA_EVIDENCE entries per destination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

#define LA_EVIDENCE 8

/* la_evidence_add - a copy of line, once, while there is room */
static void la_evidence_add(la_dest_int *d, const char *line)
{
    if (!line || d->nev >= LA_EVIDENCE)
        return;
    for (int i = 0; i < d->nev; i++)
        if (!strcmp(d->ev[i], line))
            return;
    if (!d->ev)
        d->ev = xcalloc(LA_EVIDENCE, sizeof *d->ev);
    d->ev[d->nev++] = xstrdup(line);
}

/* hms - the time of day of a timeline entry */
static const char *hms(int64_t us, char *buf, size_t n)
{
    char full[40];
    la_time_text(us, full, sizeof full);
    snprintf(buf, n, "%s", full[0] ? full : "?");
    return buf;
}

/* la_timeline_text - one recipient's attempts in one line (caller frees) */
static char *la_timeline_text(const la_msg *m, int rs)
{
    const char *addr = m->rs[rs].addr;
    dbuf b = {0};
    char t[40];
    int shown = 0, total = 0;
    dbuf_printf(&b, "timeline %s <%s>:", m->qid, addr);
    for (int i = 0; i < m->n; i++) {
        const la_attempt *a = &m->ring[i];
        if (a->rcpt != addr)
            continue;
        total++;
        if (shown >= 8)
            continue;
        shown++;
        dbuf_printf(&b, "%s %s %s", shown > 1 ? ";" : "", hms(a->t_us, t, sizeof t),
                    a->suspended ? "suspended" : lp_status_name(a->status));
        if (a->status != LS_SENT && a->reply)
            dbuf_printf(&b, " (%.60s%s)", a->reply, strlen(a->reply) > 60 ? "..." : "");
    }
    if (total > shown)
        dbuf_printf(&b, "; ... %d more", total - shown);
    char *s = xstrdup(dbuf_cstr(&b));
    dbuf_free(&b);
    return s;
}

/* cat_lines - the kept lines of the verdict's categories, most frequent first */
static void cat_lines(la_dest_int *d, enum la_verdict v, int max)
{
    const la_dest *p = &d->pub;
    int used[LC_NCATS] = {0};
    for (int added = 0; added < max;) {
        int best = -1;
        for (int c = 0; c < LC_NCATS; c++) {
            long n = p->deferred_by[c] + p->bounced_by[c] + p->hostreply_by[c];
            if (!used[c] && n && d->ex[c][0] && (v == LV_NONE || la_family(c) == v) &&
                (best < 0 || n > p->deferred_by[best] + p->bounced_by[best] + p->hostreply_by[best]))
                best = c;
        }
        if (best < 0)
            return;
        used[best] = 1;
        for (int k = 0; k < LA_EX_PER_CAT && added < max; k++)
            if (d->ex[best][k]) {
                la_evidence_add(d, d->ex[best][k]);
                added++;
            }
    }
}

/* worst_timeline - the recipient deferred most often */
static void worst_timeline(la_dest_int *d)
{
    if (!d->worst || d->worst_ndef < 2)
        return;
    char *t = la_timeline_text(d->worst, d->worst_rs);
    la_evidence_add(d, t);
    free(t);
}

void la_evidence(loganalyzer *la, la_dest_int *d)
{
    (void)la;
    enum la_verdict v = d->pub.verdict;
    if (v == LV_HEALTHY) {
        la_evidence_add(d, d->ex_sent);
    } else if (v == LV_GREYLISTING) {
        for (int i = 0; i < d->npairs; i++) {
            la_evidence_add(d, d->pair[i][0]);
            la_evidence_add(d, d->pair[i][1]);
        }
        if (!d->npairs) {
            cat_lines(d, LV_GREYLISTING, 2);
            cat_lines(d, LV_UNCLEAR, 2);
        }
        if (d->pub.persistent)
            worst_timeline(d);
    } else if (v == LV_RATE_LIMITING) {
        cat_lines(d, LV_RATE_LIMITING, 2);
        if (!d->nev)
            cat_lines(d, LV_UNCLEAR, 2);
        worst_timeline(d);
        la_evidence_add(d, d->ex_sent);
    } else if (v != LV_NONE) {
        cat_lines(d, v, 3);
        if (v == LV_UNCLEAR)
            worst_timeline(d);
    }
    d->pub.evidence = (const char *const *)d->ev;
    d->pub.nevidence = d->nev;
}
