/* loganalyze_stats.c - the running figures of a destination, each in bounded memory: a
 * deterministic sample of durations (exact min and max, at most LA_SAMPLES values), events
 * per minute (only minutes that had any, kept sorted), recent connections (for the peak
 * concurrency), accepted rates, and small tallies of provider tags and provider codes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

la_sample *la_sample_new(void)
{
    la_sample *s = xcalloc(1, sizeof *s);
    s->rnd = 2463534242u;
    return s;
}

void la_sample_free(la_sample *s)
{
    if (s)
        free(s->v);
    free(s);
}

void la_sample_add(la_sample *s, double v)
{
    if (!s->seen || v < s->min)
        s->min = v;
    if (!s->seen || v > s->max)
        s->max = v;
    s->seen++;
    if (s->n < LA_SAMPLES) {
        XGROW(s->v, s->n, s->cap, 16);
        s->v[s->n++] = v;
        return;
    }
    s->rnd ^= s->rnd << 13;   /* xorshift: the same sample on every run */
    s->rnd ^= s->rnd >> 17;
    s->rnd ^= s->rnd << 5;
    long j = (long)(s->rnd % (uint32_t)s->seen);
    if (j < LA_SAMPLES)
        s->v[j] = v;
}

/* cmp_double - for qsort */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void la_sample_stat(const la_sample *s, la_stat *out)
{
    memset(out, 0, sizeof *out);
    if (!s->seen)
        return;
    double *v = xmalloc((size_t)s->n * sizeof *v);
    memcpy(v, s->v, (size_t)s->n * sizeof *v);
    qsort(v, (size_t)s->n, sizeof *v, cmp_double);
    out->n = s->seen;
    out->min = s->min;
    out->max = s->max;
    out->median = v[(s->n - 1) / 2];
    out->p90 = v[(s->n * 9) / 10 < s->n ? (s->n * 9) / 10 : s->n - 1];
    free(v);
}

/* minute_at - the entry for minute (inserted in order when new) */
static la_minute *minute_at(la_minutes *m, int64_t min)
{
    if (m->n && m->m[m->n - 1].min == min)
        return &m->m[m->n - 1];
    size_t lo = 0, hi = m->n;
    if (m->n && m->m[m->n - 1].min < min) {
        lo = m->n;
    } else {
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (m->m[mid].min < min)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < m->n && m->m[lo].min == min)
            return &m->m[lo];
    }
    XGROW(m->m, m->n, m->cap, 16);
    memmove(&m->m[lo + 1], &m->m[lo], (m->n - lo) * sizeof *m->m);
    m->n++;
    memset(&m->m[lo], 0, sizeof m->m[lo]);
    m->m[lo].min = min;
    return &m->m[lo];
}

void la_minutes_add(la_minutes *m, int64_t t_us, const logrec *rec)
{
    int64_t min = t_us >= 0 ? t_us / 60000000 : (t_us - 59999999) / 60000000;
    la_minute *e = minute_at(m, min);
    e->att++;
    if (rec->status == LS_SENT)
        e->sent++;
    else if (rec->status == LS_DEFERRED)
        e->def++;
    else
        e->bnc++;
    if (rec->status != LS_SENT) {
        int c = rec->r.code;
        e->n4xx += (c >= 400 && c < 500) || (!c && rec->r.enh[0] == '4');
        e->n421 += c == 421;
    }
}

void la_conn_seen(la_dest_int *d, const char *key, int64_t t_us)
{
    const int64_t window = 2000000;
    int k = 0, found = 0;
    for (int i = 0; i < d->nconns; i++) {
        la_conn *c = &d->conns[i];
        if (t_us - c->t > window || c->t - t_us > window)
            continue;   /* dropped: out of the window */
        if (!strcmp(c->key, key)) {
            c->t = t_us;
            found = 1;
        }
        d->conns[k++] = *c;
    }
    d->nconns = k;
    if (!found && d->nconns < LA_CONNS) {
        snprintf(d->conns[d->nconns].key, sizeof d->conns[0].key, "%s", key);
        d->conns[d->nconns++].t = t_us;
    }
    if (d->nconns > d->peak)
        d->peak = d->nconns;
}

void la_rates(la_dest_int *d)
{
    la_dest *p = &d->pub;
    const la_minutes *m = &d->series;
    long window = 0;
    size_t lo = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->m[i].sent > p->peak_per_min)
            p->peak_per_min = m->m[i].sent;
        window += m->m[i].sent;
        while (m->m[lo].min <= m->m[i].min - 60)
            window -= m->m[lo++].sent;
        if (window > p->peak_per_hour)
            p->peak_per_hour = (double)window;
    }
    double span = (double)(p->last_us - p->first_us) / 1e6;
    if (span < 60)
        span = 60;
    p->avg_per_hour = (double)p->delivered * 3600.0 / span;
}

void la_tally_add(la_tally *t, int *n, int cat, const char *token)
{
    char key[96];
    snprintf(key, sizeof key, "%d|%s", cat, token);
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].key, key)) {
            t[i].n++;
            return;
        }
    if (*n < LA_TALLY) {
        t[*n].key = xstrdup(key);
        t[(*n)++].n = 1;
    }
}

const char *la_tally_best(const la_tally *t, int n, const int *cats, int ncats)
{
    const la_tally *best = NULL;
    for (int i = 0; i < n; i++) {
        int cat = atoi(t[i].key);
        for (int k = 0; k < ncats; k++)
            if (cat == cats[k] && (!best || t[i].n > best->n))
                best = &t[i];
    }
    return best ? strchr(best->key, '|') + 1 : NULL;
}

/* bracket_token - "[TSS04]", "(S3140)", "[RL000010]": letters then digits, enclosed */
static size_t bracket_token(const char *s, char *out, size_t cap)
{
    char close = s[0] == '[' ? ']' : s[0] == '(' ? ')' : 0;
    if (!close)
        return 0;
    size_t i = 1, letters = 0, digits = 0;
    while (isupper((unsigned char)s[i]) && letters < 8)
        i++, letters++;
    while (isdigit((unsigned char)s[i]) && digits < 10)
        i++, digits++;
    if (!letters || !digits || s[i] != close || i - 1 >= cap)
        return 0;
    memcpy(out, s + 1, i - 1);
    out[i - 1] = 0;
    return i;
}

void la_codes_of(la_dest_int *d, int cat, const lp_reply *r)
{
    if (r->enh[0] && strcmp(r->enh + 1, ".0.0") != 0)
        la_tally_add(d->enhs, &d->nenhs, cat, r->enh);
    char tok[24];
    for (const char *s = r->text; *s; s++)
        if (bracket_token(s, tok, sizeof tok)) {
            la_tally_add(d->codes, &d->ncodes, cat, tok);
            return;
        }
}
