/* spool_compact.c - reclaiming disk: dead segments are unlinked, and live messages left in
 * the oldest segment are copied forward so it can die too.
 *
 * Segments die strictly oldest first: a segment may hold RCPT records of live messages whose
 * MSG record is in an older segment, so removing it while an older one still has live
 * messages could bring a delivered recipient back to life after a restart.  Once every
 * segment up to S has no live MSG record, no live message has any record at or before S.
 *
 * Copying (compaction) starts when the files hold more than twice the live data plus two
 * segments' worth: each live MSG record of the oldest segment is rewritten at the head with
 * its current recipient states folded in (a WJ_COPY job: the writer reads and verifies the old
 * record and writes the new one).  The copy gets a new lsn, so at recovery it supersedes the
 * old record and older RCPT records, while updates made after the copy still apply. */
#include "queue/spool_int.h"

#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* unlink_done - the writer removed a segment */
static void unlink_done(spool *s, wjob *j)
{
    seginfo *g = spool_seg(s, j->src_segno, 0);
    if (!g)
        return;
    if (j->err) {
        log_warn(NULL, "spool: cannot remove segment %016llx: %s", (unsigned long long)g->segno,
                 strerror(j->err));
        g->unlinking = 0;
        return;
    }
    s->bytes_on_disk -= g->size;
    size_t i = (size_t)(g - s->segs);
    memmove(&s->segs[i], &s->segs[i + 1], sizeof *s->segs * (s->nsegs - i - 1));
    s->nsegs--;
}

/* copy_done - a live message was rewritten at the head */
static void copy_done(spool *s, wjob *j)
{
    s->compacting--;
    qmsg *m = spool_find(s, (qid_t)(uintptr_t)j->arg);
    if (j->err) {
        log_warn(NULL, "spool: compaction could not copy a message: %s", strerror(j->err));
        return;
    }
    if (!m || m != j->m || m->segno != j->src_segno)
        return;   /* it died (or moved) meanwhile: the copy is dead weight */
    seginfo *old = spool_seg(s, m->segno, 0), *now = spool_seg(s, j->segno, 1);
    if (old) {
        old->live--;
        old->live_bytes -= m->rec_len;
    }
    s->live_bytes -= m->rec_len;
    m->segno = j->segno;
    m->body_off = j->off + j->head.len;
    m->lsn = j->lsn;
    m->rec_len = j->total;
    now->live++;
    now->live_bytes += m->rec_len;
    s->live_bytes += m->rec_len;
}

/* state_vector - flags and recipient states of m, as compose_copy reads them */
static void state_vector(const qmsg *m, dbuf *b)
{
    dbuf_put(b, &m->flags, 4);
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        const qrcpt *r = &m->rcpts[i];
        uint32_t len = r->last_reply ? (uint32_t)strlen(r->last_reply) : 0;
        dbuf_put(b, &r->state, 1);
        dbuf_put(b, &r->attempts, 2);
        dbuf_put(b, &r->next_attempt_us, 8);
        dbuf_put(b, &len, 4);
        dbuf_put(b, r->last_reply, len);
    }
}

/* copy_forward - queue a WJ_COPY for every live message of segment g */
static void copy_forward(spool *s, seginfo *g)
{
    uint64_t n = 0;
    for (qmsg *m = s->first; m; m = m->next) {
        if (m->segno != g->segno)
            continue;
        wjob *j = spool_job_new(s, WJ_COPY, REC_MSG);
        j->src_segno = m->segno;
        j->src_len = m->rec_len;
        j->src_off = m->body_off - (m->rec_len - m->size - REC_TRAILER_LEN);
        state_vector(m, &j->state);
        j->m = m;
        j->arg = (void *)(uintptr_t)m->qid;
        j->done = copy_done;
        s->compacting++;
        n++;
        spool_job_submit(s, j);
    }
    log_info(NULL, "spool: compacting segment %016llx: copying %llu live messages forward",
             (unsigned long long)g->segno, (unsigned long long)n);
}

void spool_compact_check(spool *s)
{
    if (s->closing || s->nsegs < 2)
        return;
    uint64_t newest = s->segs[s->nsegs - 1].segno;
    size_t i = 0;
    for (; i < s->nsegs && s->segs[i].segno < newest && s->segs[i].live == 0; i++) {
        seginfo *g = &s->segs[i];
        if (g->unlinking)
            continue;
        g->unlinking = 1;
        if (g->rfd >= 0) {
            close(g->rfd);
            g->rfd = -1;
        }
        wjob *j = spool_job_new(s, WJ_UNLINK, 0);
        j->src_segno = g->segno;
        j->done = unlink_done;
        spool_job_submit(s, j);
    }
    if (i >= s->nsegs || s->segs[i].segno >= newest || s->compacting)
        return;
    uint64_t seg_size = s->w.segment_size;
    if (s->bytes_on_disk > 2 * s->live_bytes + 2 * seg_size)
        copy_forward(s, &s->segs[i]);
}
