/* smtpc_report.c - the owner's callbacks, always run from the loop: the protocol code queues
 * a report (an event with its reply, or a finished transaction) and activates one event;
 * its handler calls the owner.  So no callback ever runs inside smtpc_connect, smtpc_send or
 * smtpc_quit, and the protocol code never sees the connection freed under its feet.
 *
 * Invariants:
 *  - Reports are delivered in the order they were queued: a transaction's done callback
 *    comes before the CLOSED event of the connection it was lost with.
 *  - While a callback runs, c->in_cb is set: smtpc_free then only marks the connection dead
 *    (dropping the socket and the queued reports at once), and it is freed here when the
 *    callback returns.  Nothing is delivered to a dead connection's owner.
 * Ownership: a queued event's reply belongs to the queue and is freed after its callback;
 * a transaction's results belong to the transaction (smtpc_txn_clear). */
#include <string.h>

#include "client/smtpc_int.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* push - queue a report and make sure the handler runs */
static void push(smtpc *c, const smtpc_report *rp)
{
    if (c->nrep == SMTPC_REPORTS)
        panic("smtpc: %s: report queue overflow", c->peer);
    c->rep[c->nrep++] = *rp;
    event_active(c->report_ev, EV_TIMEOUT, 1);
}

void smtpc_report_event(smtpc *c, enum smtpc_event ev, smtpc_reply *r)
{
    smtpc_report rp = {0};
    rp.ev = ev;
    rp.r = *r;
    memset(r, 0, sizeof *r);
    if (!rp.r.text)
        rp.r.text = xstrdup("");   /* the owner may print it */
    if (c->dead) {
        smtpc_reply_clear(&rp.r);
        return;
    }
    push(c, &rp);
}

void smtpc_report_txn(smtpc *c)
{
    smtpc_report rp = {0};
    rp.is_txn = 1;
    rp.t = c->t;
    rp.done = c->done;
    rp.done_arg = c->done_arg;
    c->t = NULL;
    c->done = NULL;
    c->done_arg = NULL;
    if (!c->dead)
        push(c, &rp);
}

/* pop - take the oldest report off the queue */
static smtpc_report pop(smtpc *c)
{
    smtpc_report rp = c->rep[0];
    c->nrep--;
    memmove(&c->rep[0], &c->rep[1], (size_t)c->nrep * sizeof c->rep[0]);
    return rp;
}

/* deliver - call the owner for one report */
static void deliver(smtpc *c, smtpc_report *rp)
{
    if (rp->is_txn) {
        c->txn_open = 0;
        if (rp->done)
            rp->done(rp->done_arg, c, rp->t);
        return;
    }
    if (c->cb)
        c->cb(c->arg, c, rp->ev, &rp->r);
    smtpc_reply_clear(&rp->r);
}

/* on_report - deliver everything queued; free the connection if a callback asked to */
static void on_report(evutil_socket_t fd, short what, void *arg)
{
    smtpc *c = arg;
    c->in_cb = 1;
    while (!c->dead && c->nrep > 0) {
        smtpc_report rp = pop(c);
        deliver(c, &rp);
    }
    c->in_cb = 0;
    if (c->dead)
        smtpc_destroy(c);
}

void smtpc_report_init(smtpc *c)
{
    c->report_ev = event_new(c->base, -1, 0, on_report, c);
}

void smtpc_report_clear(smtpc *c)
{
    for (int i = 0; i < c->nrep; i++)
        if (!c->rep[i].is_txn)
            smtpc_reply_clear(&c->rep[i].r);
    c->nrep = 0;
}
