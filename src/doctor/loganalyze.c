/* loganalyze.c - the analyzer's life cycle and the per-line step: parse the line, classify
 * its reply (through a cache: the same reply recurs thousands of times), count it for its
 * destination and for the whole log, hand it to the message timelines (loganalyze_msg.c);
 * at the end, verdicts (loganalyze_verdict.c) and the order of destinations. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

loganalyzer *la_new(const classifier *cls, const la_opts *opts)
{
    loganalyzer *la = xcalloc(1, sizeof *la);
    la->cls = cls;
    if (opts)
        la->o = *opts;
    if (la->o.timeline_cap <= 0)
        la->o.timeline_cap = 50;
    if (la->o.timeline_budget <= 0)
        la->o.timeline_budget = 1000000;
    lp_ctx_init(&la->ctx, (int64_t)time(NULL), la->o.year);
    la->dests = hmap_new();
    la->msgs = hmap_new();
    la->ccache = hmap_new();
    la->strs = hmap_new();
    la->sum.classifier = cls != NULL;
    return la;
}

/* dest_free - one destination */
static void dest_free(void *p)
{
    la_dest_int *d = p;
    for (int c = 0; c < LC_NCATS; c++) {
        for (int k = 0; k < LA_EX_PER_CAT; k++)
            free(d->ex[c][k]);
        free(d->first_text[c]);
    }
    for (int i = 0; i < 2; i++) {
        free(d->pair[i][0]);
        free(d->pair[i][1]);
    }
    for (int i = 0; i < d->nprov; i++)
        free(d->prov[i].key);
    for (int i = 0; i < d->ncodes; i++)
        free(d->codes[i].key);
    for (int i = 0; i < d->nenhs; i++)
        free(d->enhs[i].key);
    for (int i = 0; i < d->nev; i++)
        free(d->ev[i]);
    free(d->ev);
    free(d->ex_sent);
    free(d->series.m);
    la_sample_free(d->ivals);
    la_sample_free(d->pass);
    free(d->why);
    free(d->advice);
    free(d->domain);
    free(d);
}

/* msg_free - one message */
static void msg_free(void *p)
{
    la_msg *m = p;
    for (int i = 0; i < m->nrs; i++) {
        free(m->rs[i].addr);
        free(m->rs[i].ex_line);
    }
    for (int i = 0; i < m->npend; i++)
        free(m->pend[i].line);
    for (int i = 0; i < m->n; i++)
        free((char *)m->ring[i].reply);
    free(m->rs);
    free(m->ring);
    free(m->qid);
    free(m);
}

void la_free(loganalyzer *la)
{
    if (!la)
        return;
    for (size_t i = 0; i < la->nmv; i++)
        msg_free(la->mv[i]);
    hmap_free(la->msgs, NULL);
    hmap_free(la->dests, dest_free);
    hmap_free(la->ccache, free);
    hmap_free(la->strs, free);
    for (int i = 0; i < 3; i++)
        free(la->unrec[i]);
    free(la->global.m);
    free(la->dv);
    free(la->mv);
    free(la);
}

la_dest_int *la_dest_get(loganalyzer *la, const char *domain)
{
    la_dest_int *d = hmap_get(la->dests, domain);
    if (d)
        return d;
    d = xcalloc(1, sizeof *d);
    d->domain = xstrdup(domain);
    d->pub.domain = d->domain;
    d->pub.peak_concurrency = -1;
    d->ivals = la_sample_new();
    d->pass = la_sample_new();
    hmap_put(la->dests, domain, d);
    XGROW(la->dv, la->ndv, la->capdv, 64);
    la->dv[la->ndv++] = d;
    return d;
}

const char *la_intern(loganalyzer *la, const char *s)
{
    char *v = hmap_get(la->strs, s);
    if (!v) {
        v = xstrdup(s);
        hmap_put(la->strs, s, v);
    }
    return v;
}

char *la_line_copy(const loganalyzer *la)
{
    size_t n = la->linelen;
    while (n && (la->line[n - 1] == '\n' || la->line[n - 1] == '\r'))
        n--;
    char *s = xmalloc((n > LA_LINE_MAX ? LA_LINE_MAX : n) + 1);
    lp_copy(s, LA_LINE_MAX + 1, la->line, n);
    return s;
}

/* explicit_grey - the text names greylisting */
static int explicit_grey(const char *t)
{
    size_t n = strlen(t);
    return lp_ci_find(t, n, "greylist") || lp_ci_find(t, n, "graylist") ||
           lp_ci_find(t, n, "grey-list") || lp_ci_find(t, n, "grey list") || lp_ci_find(t, n, "postgrey");
}

/* classify_reply - the classifier's (or the fallback's) answer for a reply */
static void classify_reply(loganalyzer *la, const lp_reply *r, la_class *out)
{
    if (!la->cls) {
        out->cat = r->code >= 500 || r->enh[0] == '5' ? RC_PERMANENT : RC_OTHER;
        return;
    }
    classify_input in = {r->code, r->enh, r->text, r->stage, r->closed};
    classify_result res;
    classify(la->cls, &in, &res);
    out->cat = (int)res.cls;
    out->provider = res.provider;
}

void la_classify(loganalyzer *la, const lp_reply *r, la_class *out)
{
    memset(out, 0, sizeof *out);
    if (r->fail != LF_REPLY) {
        out->cat = lp_fail_cat(r->fail);
        return;
    }
    char key[400];
    snprintf(key, sizeof key, "%d|%s|%d|%.300s", r->code, r->enh, r->stage, r->text);
    la_class *c = hmap_get(la->ccache, key);
    if (!c) {
        if (la->ccache_n >= 20000) {
            hmap_free(la->ccache, free);
            la->ccache = hmap_new();
            la->ccache_n = 0;
        }
        c = xcalloc(1, sizeof *c);
        classify_reply(la, r, c);
        int temp = r->code ? r->code < 500 : r->enh[0] != '5';
        c->soft = temp && (c->cat == RC_GREYLISTING || c->cat == RC_OTHER);
        c->explicit_grey = explicit_grey(r->text);
        hmap_put(la->ccache, key, c);
        la->ccache_n++;
    }
    *out = *c;
}

/* domain_of - the lower-case domain of an address, or of a relay host (last two labels) */
static void domain_of(const char *rcpt, size_t n, const logrec *rec, char *out, size_t cap)
{
    const char *at = n ? memrchr(rcpt, '@', n) : NULL;
    const char *s;
    size_t k;
    if (at) {
        s = at + 1;
        k = (size_t)(rcpt + n - s);
    } else if (rec->relay[0] && strcmp(rec->relay, "none") && rec->relay[0] != '[') {
        s = rec->relay;
        k = strlen(s);
        int dots = 0;
        for (size_t i = k; i-- > 0;)
            if (s[i] == '.' && ++dots == 2) {
                s += i + 1;
                k -= i + 1;
                break;
            }
    } else {
        s = n ? "(no domain)" : "(unknown)";
        k = strlen(s);
    }
    while (k && s[k - 1] == '.')
        k--;
    if (!k || k >= cap)
        k = k >= cap ? cap - 1 : 0;
    for (size_t i = 0; i < k; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[k] = 0;
    if (!k)
        snprintf(out, cap, "(unknown)");
}

/* count_codes - a failure's reply code for d and for the whole log */
static void count_codes(loganalyzer *la, la_dest_int *d, int code, char enh0)
{
    if (code == 421) {
        d->pub.n421++;
        la->sum.n421++;
    }
    if ((code >= 400 && code < 500) || (!code && enh0 == '4')) {
        d->pub.n4xx++;
        la->sum.n4xx++;
    }
    if (code >= 500)
        d->pub.n5xx++;
}

/* keep_line - line (owned) as evidence of category cat for d, or free it */
static void keep_line(la_dest_int *d, int cat, char *line)
{
    for (int k = 0; k < LA_EX_PER_CAT; k++)
        if (!d->ex[cat][k]) {
            d->ex[cat][k] = line;
            return;
        }
    free(line);
}

/* count_failure - a failed attempt's class, codes and evidence for d */
static void count_failure(loganalyzer *la, la_dest_int *d, const logrec *rec, const la_class *cl)
{
    const lp_reply *r = &rec->r;
    count_codes(la, d, r->code, r->enh[0]);
    if (cl->soft && cl->cat == RC_OTHER && r->fail == LF_REPLY)
        d->soft_unexplained++;
    d->explicit_grey += cl->explicit_grey;
    if (cl->provider)
        la_tally_add(d->prov, &d->nprov, cl->cat, cl->provider);
    la_codes_of(d, cl->cat, r);
    if (!d->ex[cl->cat][LA_EX_PER_CAT - 1])
        keep_line(d, cl->cat, la_line_copy(la));
    if (!d->first_text[cl->cat] && r->text[0])
        d->first_text[cl->cat] = xstrdup(r->text);
}

void la_pending_flush(loganalyzer *la, la_msg *m, la_dest_int *d)
{
    for (int i = 0; i < m->npend; i++) {
        la_pending *p = &m->pend[i];
        la_dest_int *to = d ? d : la_dest_get(la, p->domain);
        to->pub.hostreply_by[p->cat]++;
        count_codes(la, to, p->code, p->enh0);
        if (p->line)
            keep_line(to, p->cat, p->line);
        p->line = NULL;
    }
    m->npend = 0;
}

/* conn_key - a connection's identity when the log shows one */
static void conn_key(const logrec *rec, char *key, size_t n)
{
    key[0] = 0;
    if (rec->conn[0])
        snprintf(key, n, "%s", rec->conn);
    else if (rec->pid >= 0 && (rec->fmt == LPF_POSTFIX || rec->fmt == LPF_SENDMAIL))
        snprintf(key, n, "%.30s[%ld]", rec->prog, rec->pid);
}

/* count_attempt - one recipient's attempt for d and for the whole log */
static void count_attempt(loganalyzer *la, la_dest_int *d, const logrec *rec, const la_class *cl)
{
    la_dest *p = &d->pub;
    if (rec->r.suspended) {
        p->suspended++;
        la->sum.suspended++;
        return;
    }
    p->attempts++;
    la->sum.attempts++;
    if (rec->has_time) {
        if (!p->first_us || rec->t_us < p->first_us)
            p->first_us = rec->t_us;
        if (rec->t_us > p->last_us)
            p->last_us = rec->t_us;
        la_minutes_add(&d->series, rec->t_us, rec);
        la_minutes_add(&la->global, rec->t_us, rec);
    }
    if (rec->status == LS_SENT) {
        p->delivered++;
        la->sum.delivered++;
        if (!d->ex_sent)
            d->ex_sent = la_line_copy(la);
    } else if (rec->status == LS_DEFERRED) {
        p->deferred++;
        la->sum.deferred++;
        p->deferred_by[cl->cat]++;
        la->sum.deferred_by[cl->cat]++;
    } else if (rec->status == LS_EXPIRED) {
        p->expired++;
        la->sum.expired++;
        p->bounced_by[cl->cat]++;
    } else {
        p->bounced++;
        la->sum.bounced++;
        p->bounced_by[cl->cat]++;
    }
    if (rec->status != LS_SENT)
        count_failure(la, d, rec, cl);
    char key[64];
    conn_key(rec, key, sizeof key);
    if (key[0] && rec->has_time)
        la_conn_seen(d, key, rec->t_us);
}

/* next_rcpt - the next comma-separated recipient of rec (n = its length), or NULL */
static const char *next_rcpt(const char *s, size_t *n)
{
    if (!*s)
        return NULL;
    const char *c = strchr(s, ',');
    *n = c ? (size_t)(c - s) : strlen(s);
    return s;
}

/* on_delivery - an outcome for one or more recipients */
static void on_delivery(loganalyzer *la, logrec *rec)
{
    if (rec->local || rec->status == LS_NONE) {
        la->sum.local += rec->local;
        return;
    }
    la_class cl = {.cat = -1};
    if (rec->status != LS_SENT)
        la_classify(la, &rec->r, &cl);
    char dom[256];
    size_t n = 0;
    const char *r = next_rcpt(rec->rcpt, &n);
    do {
        domain_of(r ? r : "", r ? n : 0, rec, dom, sizeof dom);
        la_dest_int *d = la_dest_get(la, dom);
        count_attempt(la, d, rec, &cl);
        if (rec->qid[0]) {
            char addr[LP_ADDR_MAX];
            lp_copy(addr, sizeof addr, r ? r : "", r ? n : 0);
            la_msg_event(la, rec, addr, d, &cl);
        }
        if (r)
            r = r[n] ? next_rcpt(r + n + 1, &n) : NULL;
    } while (r);
}

/* pend - hold a host reply until the message's recipients are known */
static void pend(loganalyzer *la, la_msg *m, const logrec *rec, const la_class *cl, const char *domain)
{
    if (m->npend == LA_PENDING)
        return;
    la_pending *p = &m->pend[m->npend++];
    p->cat = cl->cat;
    p->code = rec->r.code;
    p->enh0 = rec->r.enh[0];
    p->domain = la_intern(la, domain);
    p->line = m->npend == 1 ? la_line_copy(la) : NULL;
}

/* on_hostreply - one MX's failure: evidence for the message's destination */
static void on_hostreply(loganalyzer *la, logrec *rec)
{
    la_class cl;
    la_classify(la, &rec->r, &cl);
    la_msg *m = rec->qid[0] ? la_msg_get(la, rec) : NULL;
    char dom[256];
    domain_of(rec->rcpt, strlen(rec->rcpt), rec, dom, sizeof dom);
    if (m && !m->nrs) {
        pend(la, m, rec, &cl, dom);
        la_msg_event(la, rec, "", NULL, &cl);
        return;
    }
    la_dest_int *d = m ? m->rs[0].d : la_dest_get(la, dom);
    d->pub.hostreply_by[cl.cat]++;
    count_failure(la, d, rec, &cl);
    if (m)
        la_msg_event(la, rec, "", d, &cl);
}

/* on_inbound - this host refusing or greylisting mail it receives */
static void on_inbound(loganalyzer *la, const logrec *rec)
{
    la->sum.inbound++;
    if (rec->fmt == LPF_POSTGREY) {
        if (rec->status == LS_DEFERRED) {
            la->sum.inbound_greylisted++;
            la->sum.inbound_by[RC_GREYLISTING]++;
        } else {
            la->sum.inbound_grey_passed++;
        }
        return;
    }
    la_class cl;
    la_classify(la, &rec->r, &cl);
    if (cl.explicit_grey && cl.cat == RC_OTHER)
        cl.cat = RC_GREYLISTING;
    la->sum.inbound_by[cl.cat]++;
}

/* remember_unrecognised - keep the first few for the report */
static void remember_unrecognised(loganalyzer *la)
{
    la->sum.unrecognised++;
    for (int i = 0; i < 3; i++)
        if (!la->unrec[i]) {
            la->unrec[i] = la_line_copy(la);
            la->sum.nunrecognised_examples = i + 1;
            la->sum.unrecognised_examples = (const char *const *)la->unrec;
            return;
        }
}

void la_feed_line(loganalyzer *la, const char *line, size_t len)
{
    logrec rec;
    if (la->finished)
        return;
    la->line = line;
    la->linelen = len;
    la->sum.lines++;
    enum lp_kind k = lp_parse(&la->ctx, line, len, &rec);
    if (k == LK_UNRECOGNISED) {
        remember_unrecognised(la);
        return;
    }
    if (k == LK_IGNORED) {
        la->sum.ignored++;
        return;
    }
    la->sum.by_format[rec.fmt]++;
    if (rec.has_time) {
        if (!la->sum.first_us || rec.t_us < la->sum.first_us)
            la->sum.first_us = rec.t_us;
        if (rec.t_us > la->sum.last_us)
            la->sum.last_us = rec.t_us;
    }
    if (k == LK_DELIVERY)
        on_delivery(la, &rec);
    else if (k == LK_HOSTREPLY)
        on_hostreply(la, &rec);
    else if (k == LK_INBOUND)
        on_inbound(la, &rec);
    else if (k == LK_DONE && rec.qid[0]) {
        la_msg *m = hmap_get(la->msgs, rec.qid);
        if (m)
            m->done = 1;
    }
}

/* dest_order - failing destinations first, most failures first, then most attempts */
static int dest_order(const void *a, const void *b)
{
    const la_dest *x = &(*(la_dest_int *const *)a)->pub, *y = &(*(la_dest_int *const *)b)->pub;
    long fx = x->deferred + x->bounced + x->expired, fy = y->deferred + y->bounced + y->expired;
    if (fx != fy)
        return fx < fy ? 1 : -1;
    if (x->attempts != y->attempts)
        return x->attempts < y->attempts ? 1 : -1;
    return strcmp(x->domain, y->domain);
}

void la_finish(loganalyzer *la)
{
    if (la->finished)
        return;
    la->finished = 1;
    la_msgs_finish(la);
    for (size_t i = 0; i < la->ndv; i++) {
        la_dest_int *d = la->dv[i];
        la_sample_stat(d->ivals, &d->pub.retry_interval);
        la_sample_stat(d->pass, &d->pub.pass_delay);
        la_rates(d);
        d->pub.peak_concurrency = d->peak ? d->peak : -1;
        la_verdict(la, d);
        la_evidence(la, d);
        la->sum.verdicts[d->pub.verdict]++;
    }
    if (la->ndv > 1)
        qsort(la->dv, la->ndv, sizeof *la->dv, dest_order);
}

size_t la_ndests(const loganalyzer *la)
{
    return la->ndv;
}

const la_dest *la_dest_at(const loganalyzer *la, size_t i)
{
    return i < la->ndv ? &la->dv[i]->pub : NULL;
}

const la_dest *la_dest_find(const loganalyzer *la, const char *domain)
{
    la_dest_int *d = hmap_get(la->dests, domain);
    return d ? &d->pub : NULL;
}

const la_summary *la_get_summary(const loganalyzer *la)
{
    return &la->sum;
}

size_t la_nmessages(const loganalyzer *la)
{
    return la->nmv;
}

const la_message *la_message_at(const loganalyzer *la, size_t i)
{
    return i < la->nmv ? &la->mv[i]->pub : NULL;
}
