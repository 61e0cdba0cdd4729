/* loganalyze_msg.c - messages by queue id: each recipient's history (attempts, deferrals,
 * the interval before each retry, when it was delivered) for the greylisting and
 * rate-limiting signatures, and the ring of the message's last attempts (its timeline).
 * A queue id seen again after the message left the queue (Postfix "removed", Exim
 * "Completed") starts a new message: Postfix reuses short ids. */
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

la_msg *la_msg_get(loganalyzer *la, const logrec *rec)
{
    la_msg *m = hmap_get(la->msgs, rec->qid);
    if (m && !m->done)
        return m;
    m = xcalloc(1, sizeof *m);
    m->qid = xstrdup(rec->qid);
    m->pub.qid = m->qid;
    m->pub.fmt = rec->fmt;
    m->cap = la->o.timeline_cap;
    hmap_put(la->msgs, rec->qid, m);
    XGROW(la->mv, la->nmv, la->capmv, 256);
    la->mv[la->nmv++] = m;
    return m;
}

/* rs_get - the index of recipient addr of m */
static int rs_get(la_msg *m, const char *addr, la_dest_int *d)
{
    for (int i = 0; i < m->nrs; i++)
        if (!strcmp(m->rs[i].addr, addr))
            return i;
    XGROW(m->rs, m->nrs, m->caprs, 2);
    la_rstate *r = &m->rs[m->nrs];
    memset(r, 0, sizeof *r);
    r->addr = xstrdup(addr);
    r->d = d;
    r->last = LS_NONE;
    return m->nrs++;
}

/* timeline_add - the event into m's ring of last attempts */
static void timeline_add(loganalyzer *la, la_msg *m, const logrec *rec, const char *rcpt, const la_class *cl)
{
    m->pub.nattempts += rec->kind == LK_DELIVERY;
    m->pub.ndeferred += rec->status == LS_DEFERRED;
    la_attempt *a;
    if (m->n < m->cap) {
        if (la->kept >= la->o.timeline_budget) {
            la->sum.timeline_dropped++;
            return;
        }
        if (!m->ring || (m->n & (m->n - 1)) == 0)   /* grow at powers of two */
            m->ring = xrealloc(m->ring, (size_t)(m->n ? m->n * 2 : 1) * sizeof *m->ring);
        a = &m->ring[m->n++];
        la->kept++;
    } else {
        a = &m->ring[m->head];
        m->head = (m->head + 1) % m->cap;
        free((char *)a->reply);
    }
    a->t_us = rec->t_us;
    a->rcpt = rcpt;
    a->relay = rec->relay[0] ? la_intern(la, rec->relay) : NULL;
    a->reply = rec->r.text[0] && rec->status != LS_SENT ? xstrndup(rec->r.text, LA_REPLY_MAX) : NULL;
    a->status = rec->kind == LK_HOSTREPLY ? LS_NONE : rec->status;
    a->cat = rec->status == LS_SENT ? -1 : cl->cat;
    a->code = rec->r.code;
    a->suspended = rec->r.suspended;
}

/* on_deferred - a recipient's deferral */
static void on_deferred(loganalyzer *la, la_msg *m, int i, const logrec *rec, const la_class *cl)
{
    la_rstate *r = &m->rs[i];
    la_dest_int *d = r->d;
    r->ndef++;
    if (rec->r.fail == LF_REPLY) {
        r->ndef_reply++;
        r->nsoft += cl->soft;
    } else {
        r->ndef_net++;
    }
    if (r->ndef == 1) {
        r->first_def_t = rec->t_us;
        if (d->npairs < 2 && d->holders < LA_HOLDERS) {
            r->ex_line = la_line_copy(la);
            d->holders++;
        }
    }
    if (r->ndef_reply == 3 && !r->persistent) {
        r->persistent = 1;
        d->pub.persistent++;
    }
    if (r->ndef > d->worst_ndef) {
        d->worst = m;
        d->worst_rs = i;
        d->worst_ndef = r->ndef;
    }
}

/* on_sent - a recipient's delivery: first try, or after deferrals (greylisting's signature) */
static void on_sent(loganalyzer *la, la_rstate *r, const logrec *rec)
{
    la_dest_int *d = r->d;
    if (!r->ndef) {
        d->pub.first_try_ok++;
        return;
    }
    d->pub.after_retry_ok[r->ndef < 4 ? r->ndef - 1 : 3]++;
    double pass = (double)(rec->t_us - r->first_def_t) / 1e6;
    la_sample_add(d->pass, pass);
    if (r->ndef_reply >= 1 && r->ndef_reply <= 2 && !r->ndef_net && r->nsoft == r->ndef_reply && pass >= 60)
        d->pub.grey_pattern++;
    if (r->ex_line && d->npairs < 2) {
        d->pair[d->npairs][0] = r->ex_line;
        d->pair[d->npairs++][1] = la_line_copy(la);
        r->ex_line = NULL;
        d->holders--;
    }
}

/* on_attempt - a recipient's attempt: first or retry, and the interval before a retry */
static void on_attempt(loganalyzer *la, la_msg *m, int i, const logrec *rec, const la_class *cl)
{
    la_rstate *r = &m->rs[i];
    la_dest *p = &r->d->pub;
    int deferred = rec->status == LS_DEFERRED;
    if (!r->natt) {
        p->first_attempts++;
        p->first_deferred += deferred;
        r->first_t = rec->t_us;
    } else {
        p->retry_attempts++;
        p->retry_deferred += deferred;
        if (r->last == LS_DEFERRED && rec->t_us >= r->last_t) {
            int64_t ival = rec->t_us - r->last_t;
            la_sample_add(r->d->ivals, (double)ival / 1e6);
            if (r->last_ival && (ival * 2 > r->last_ival * 3 || ival * 3 < r->last_ival * 2))
                r->varied = 1;
            r->last_ival = ival;
        }
    }
    r->natt++;
    if (deferred)
        on_deferred(la, m, i, rec, cl);
    else if (rec->status == LS_SENT)
        on_sent(la, r, rec);
    r->last = rec->status;
    r->last_t = rec->t_us;
}

void la_msg_event(loganalyzer *la, const logrec *rec, const char *rcpt, la_dest_int *d, const la_class *cl)
{
    la_msg *m = la_msg_get(la, rec);
    if (rec->kind == LK_HOSTREPLY || !rcpt[0]) {
        timeline_add(la, m, rec, NULL, cl);
        return;
    }
    int i = rs_get(m, rcpt, d);
    if (m->npend)
        la_pending_flush(la, m, d);
    if (!rec->r.suspended)
        on_attempt(la, m, i, rec, cl);
    timeline_add(la, m, rec, m->rs[i].addr, cl);
}

/* linearize - the ring oldest first */
static void linearize(la_msg *m)
{
    if (m->n == m->cap && m->head) {
        la_attempt *v = xmalloc((size_t)m->n * sizeof *v);
        for (int k = 0; k < m->n; k++)
            v[k] = m->ring[(m->head + k) % m->n];
        free(m->ring);
        m->ring = v;
        m->head = 0;
    }
    m->pub.att = m->ring;
    m->pub.natt = m->n;
}

/* rstate_finish - a recipient's final state into its destination's counts */
static void rstate_finish(la_rstate *r)
{
    la_dest *p = &r->d->pub;
    p->rcpts++;
    p->pending += r->last == LS_DEFERRED;
    p->failed += r->last == LS_BOUNCED || r->last == LS_EXPIRED;
    p->persistent_varied += r->persistent && r->varied;
    if (r->ex_line) {
        free(r->ex_line);
        r->ex_line = NULL;
        r->d->holders--;
    }
}

void la_msgs_finish(loganalyzer *la)
{
    for (size_t i = 0; i < la->nmv; i++) {
        la_msg *m = la->mv[i];
        linearize(m);
        la_pending_flush(la, m, NULL);   /* host replies of messages without an outcome line */
        for (int k = 0; k < m->nrs; k++)
            rstate_finish(&m->rs[k]);
        la->sum.messages += m->pub.nattempts > 0;
    }
}
