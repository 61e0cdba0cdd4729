/* queueparse_shape.c - the qshape grid of `doctor queue`: every recipient counted for its
 * domain in the bucket of its message's age, its delay reason parsed (lp_reply_parse) and
 * classified (the reply classifier, cached by text; failures without a reply by kind), the
 * most frequent reasons kept per domain (at most QS_NTEXTS distinct texts each). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/xmalloc.h"
#include "doctor/queueparse.h"

static const int edges_min[QS_NBUCKETS - 1] = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
static const char *const labels[QS_NBUCKETS] = {"0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80-160m",
                                               "160-320m", "320-640m", "640-1280m", "1280m+"};

typedef struct qs_class {
    int cat;
    const char *provider;
} qs_class;

struct qshape {
    const classifier *cls;
    int64_t now;
    hmap *dests, *cache;
    qs_dest **dv, total;
    size_t n, cap;
    long messages, ncache;
};

qshape *qs_new(const classifier *cls, int64_t now)
{
    qshape *s = xcalloc(1, sizeof *s);
    s->cls = cls;
    s->now = now;
    s->dests = hmap_new();
    s->cache = hmap_new();
    s->total.domain = "TOTAL";
    s->total.oldest_s = -1;
    s->total.top_cat = -1;
    return s;
}

/* dest_clear - the texts of a row */
static void dest_clear(qs_dest *d)
{
    for (int i = 0; i < d->ntexts; i++)
        free(d->texts[i].text);
}

/* dest_free - one row */
static void dest_free(void *p)
{
    qs_dest *d = p;
    dest_clear(d);
    free((char *)d->domain);
    free(d);
}

void qs_free(qshape *s)
{
    if (!s)
        return;
    hmap_free(s->dests, dest_free);
    hmap_free(s->cache, free);
    dest_clear(&s->total);
    free(s->dv);
    free(s);
}

const char *qs_bucket_label(int i)
{
    return i >= 0 && i < QS_NBUCKETS ? labels[i] : "?";
}

int qs_bucket_of(int64_t age_s)
{
    int b = 0;
    while (b < QS_NBUCKETS - 1 && age_s >= (int64_t)edges_min[b] * 60)
        b++;
    return b;
}

/* dest_get - the row of a domain */
static qs_dest *dest_get(qshape *s, const char *addr)
{
    const char *at = strrchr(addr, '@');
    char dom[256];
    snprintf(dom, sizeof dom, "%s", at && at[1] ? at + 1 : "(local)");
    for (char *c = dom; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    qs_dest *d = hmap_get(s->dests, dom);
    if (d)
        return d;
    d = xcalloc(1, sizeof *d);
    d->domain = xstrdup(dom);
    d->oldest_s = -1;
    d->top_cat = -1;
    hmap_put(s->dests, dom, d);
    XGROW(s->dv, s->n, s->cap, 64);
    s->dv[s->n++] = d;
    return d;
}

/* classify_reason - the class of a reason text (cached) */
static qs_class classify_reason(qshape *s, const char *reason, lp_reply *r)
{
    lp_reply_parse(reason, strlen(reason), r);
    qs_class out = {lp_fail_cat(r->fail), NULL};
    if (r->fail != LF_REPLY)
        return out;
    qs_class *c = hmap_get(s->cache, reason);
    if (c)
        return *c;
    if (s->cls) {
        classify_input in = {r->code, r->enh, r->text, r->stage, r->closed};
        classify_result res;
        classify(s->cls, &in, &res);
        out.cat = (int)res.cls;
        out.provider = res.provider;
    } else {
        out.cat = r->code >= 500 ? RC_PERMANENT : RC_OTHER;
    }
    if (s->ncache++ > 20000) {
        hmap_free(s->cache, free);
        s->cache = hmap_new();
        s->ncache = 0;
    }
    c = xmalloc(sizeof *c);
    *c = out;
    hmap_put(s->cache, reason, c);
    return out;
}

/* blank_addresses - "<user@example.com>" -> "<>", so reasons group across recipients */
static void blank_addresses(char *t)
{
    char *o = t;
    for (char *p = t; *p;) {
        char *gt = *p == '<' ? strchr(p, '>') : NULL;
        if (gt && memchr(p, '@', (size_t)(gt - p))) {
            *o++ = '<';
            *o++ = '>';
            p = gt + 1;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
}

/* tally_text - count a reason text for d */
static void tally_text(qs_dest *d, const char *text, int cat)
{
    char t[300];
    snprintf(t, sizeof t, "%s", text);
    blank_addresses(t);
    for (int i = 0; i < d->ntexts; i++)
        if (d->texts[i].cat == cat && !strcmp(d->texts[i].text, t)) {
            d->texts[i].n++;
            return;
        }
    if (d->ntexts < QS_NTEXTS) {
        d->texts[d->ntexts].text = xstrdup(t);
        d->texts[d->ntexts].cat = cat;
        d->texts[d->ntexts++].n = 1;
    }
}

/* count - one recipient into a row */
static void count(qs_dest *d, const qp_msg *m, int b, const char *reason, const qs_class *c, int code)
{
    d->total++;
    d->buckets[b]++;
    d->active += m->state == QS_ACTIVE;
    d->deferred += m->state == QS_DEFERRED;
    d->hold += m->state == QS_HOLD;
    if (m->age_s > d->oldest_s)
        d->oldest_s = m->age_s;
    if (!reason) {
        d->no_reason++;
        return;
    }
    d->by_cat[c->cat]++;
    d->n421 += code == 421;
    tally_text(d, reason, c->cat);
    if (c->provider && !d->provider)
        d->provider = c->provider;
}

void qs_add(const qp_msg *m, void *shape)
{
    qshape *s = shape;
    s->messages += m->chunk == 0;
    int64_t age = m->age_s >= 0 ? m->age_s : m->arrival >= 0 ? s->now - m->arrival : -1;
    int b = qs_bucket_of(age < 0 ? 0 : age);
    qp_msg copy = *m;
    copy.age_s = age;
    for (int i = 0; i < m->nrcpt; i++) {
        const char *why = m->rcpts[i].reason && m->rcpts[i].reason[0] ? m->rcpts[i].reason : NULL;
        lp_reply r = {0};
        qs_class c = {RC_OTHER, NULL};
        if (why)
            c = classify_reason(s, why, &r);
        count(dest_get(s, m->rcpts[i].addr), &copy, b, why, &c, r.code);
        count(&s->total, &copy, b, why, &c, r.code);
    }
}

/* pick_top - the most frequent class and its most frequent text */
static void pick_top(qs_dest *d)
{
    long best = 0;
    for (int c = 0; c < LC_NCATS; c++)
        if (d->by_cat[c] > best) {
            best = d->by_cat[c];
            d->top_cat = c;
        }
    long bt = 0;
    for (int i = 0; i < d->ntexts; i++)
        if (d->texts[i].cat == d->top_cat && d->texts[i].n > bt) {
            bt = d->texts[i].n;
            d->top_text = d->texts[i].text;
        }
}

/* by_total - most recipients first, then name */
static int by_total(const void *a, const void *b)
{
    const qs_dest *x = *(qs_dest *const *)a, *y = *(qs_dest *const *)b;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->domain, y->domain);
}

void qs_finish(qshape *s)
{
    for (size_t i = 0; i < s->n; i++)
        pick_top(s->dv[i]);
    pick_top(&s->total);
    if (s->n > 1)
        qsort(s->dv, s->n, sizeof *s->dv, by_total);
}

size_t qs_ndests(const qshape *s)
{
    return s->n;
}

const qs_dest *qs_dest_at(const qshape *s, size_t i)
{
    return i < s->n ? s->dv[i] : NULL;
}

const qs_dest *qs_totals(const qshape *s)
{
    return &s->total;
}

long qs_messages(const qshape *s)
{
    return s->messages;
}
