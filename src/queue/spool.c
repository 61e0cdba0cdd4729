/* spool.c - the spool's loop side: the in-memory index of queued messages (a qid hash and
 * an arrival-ordered list), the per-segment accounting that decides when a segment is dead,
 * and the public API.  Every change is a writer job; its completion runs here, on the loop,
 * through the eventfd the writer signals.  A message is indexed only once durable. */
#include "queue/spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/strpool.h"
#include "common/xmalloc.h"

/* hash_of - bucket of a qid (ids are time-based: mix the bits) */
static uint64_t hash_of(const spool *s, qid_t q)
{
    q ^= q >> 31;
    q *= 0x9e3779b97f4a7c15ULL;
    return (q ^ (q >> 29)) & s->hmask;
}

/* grow_hash - double the buckets when the table is as full as it is large */
static void grow_hash(spool *s)
{
    uint64_t n = (s->hmask + 1) * 2;
    qmsg **t = xcalloc(n, sizeof *t);
    qmsg **old = s->htab;
    uint64_t oldn = s->hmask + 1;
    s->htab = t;
    s->hmask = n - 1;
    for (uint64_t i = 0; i < oldn; i++) {
        for (qmsg *m = old[i], *nx; m; m = nx) {
            nx = m->hnext;
            uint64_t h = hash_of(s, m->qid);
            m->hnext = t[h];
            t[h] = m;
        }
    }
    free(old);
}

qmsg *spool_find(spool *s, qid_t qid)
{
    for (qmsg *m = s->htab[hash_of(s, qid)]; m; m = m->hnext)
        if (m->qid == qid)
            return m;
    return NULL;
}

/* list_link_sorted - put m into the arrival list (usually at the tail) */
static void list_link_sorted(spool *s, qmsg *m)
{
    qmsg *after = s->last;
    while (after && after->qid > m->qid)
        after = after->prev;
    m->prev = after;
    m->next = after ? after->next : s->first;
    if (m->next)
        m->next->prev = m;
    else
        s->last = m;
    if (after)
        after->next = m;
    else
        s->first = m;
}

void spool_index_insert(spool *s, qmsg *m)
{
    if (s->nmsg + 1 > s->hmask + 1)
        grow_hash(s);
    uint64_t h = hash_of(s, m->qid);
    m->hnext = s->htab[h];
    s->htab[h] = m;
    list_link_sorted(s, m);
    s->nmsg++;
    s->nrcpt += m->nrcpt - m->nfinal;
}

void spool_index_remove(spool *s, qmsg *m)
{
    qmsg **pp = &s->htab[hash_of(s, m->qid)];
    while (*pp && *pp != m)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = m->hnext;
    if (m->prev)
        m->prev->next = m->next;
    else
        s->first = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        s->last = m->prev;
    s->nmsg--;
    s->nrcpt -= m->nrcpt - m->nfinal;
}

qmsg *spool_msg_alloc(uint32_t nrcpt, const char *const *addrs, const uint32_t *lens)
{
    size_t bytes = sizeof(qmsg) + sizeof(qrcpt) * nrcpt;
    for (uint32_t i = 0; i < nrcpt; i++)
        bytes += lens[i] + 1;
    qmsg *m = xcalloc(1, bytes);
    m->nrcpt = nrcpt;
    m->rcpts = (qrcpt *)(m + 1);
    char *p = (char *)(m->rcpts + nrcpt);
    for (uint32_t i = 0; i < nrcpt; i++) {
        memcpy(p, addrs[i], lens[i]);
        p[lens[i]] = 0;
        m->rcpts[i].address = p;
        p += lens[i] + 1;
    }
    return m;
}

void spool_msg_free(qmsg *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nrcpt; i++)
        strpool_put(m->rcpts[i].last_reply);
    strpool_put(m->sender);
    free(m->origin);
    free(m);
}

qmsg *spool_first(spool *s)
{
    return s->first;
}

qmsg *spool_next(spool *s, const qmsg *m)
{
    (void)s;
    return m->next;
}

uint64_t spool_count(spool *s)
{
    return s->nmsg;
}

void spool_on_gone(spool *s, spool_gone_cb cb, void *arg)
{
    s->gone_cb = cb;
    s->gone_arg = arg;
}

void spool_on_added(spool *s, spool_gone_cb cb, void *arg)
{
    s->added_cb = cb;
    s->added_arg = arg;
}

/* ---- segments ---- */

seginfo *spool_seg(spool *s, uint64_t segno, int create)
{
    for (size_t i = s->nsegs; i-- > 0;)
        if (s->segs[i].segno == segno)
            return &s->segs[i];
    if (!create)
        return NULL;
    s->segs = xrealloc(s->segs, sizeof *s->segs * (s->nsegs + 1));
    size_t at = s->nsegs;
    while (at > 0 && s->segs[at - 1].segno > segno) {
        s->segs[at] = s->segs[at - 1];
        at--;
    }
    s->segs[at] = (seginfo){.segno = segno, .rfd = -1};
    s->nsegs++;
    return &s->segs[at];
}

void spool_seg_account(spool *s, uint64_t segno, uint64_t seg_size)
{
    seginfo *g = spool_seg(s, segno, 1);
    if (seg_size > g->size) {
        s->bytes_on_disk += seg_size - g->size;
        g->size = seg_size;
    }
}

/* msg_dies - m leaves the index: its segment loses a live message, listeners hear of it */
static void msg_dies(spool *s, qmsg *m)
{
    seginfo *g = spool_seg(s, m->segno, 0);
    if (g) {
        g->live--;
        g->live_bytes -= m->rec_len;
    }
    s->live_bytes -= m->rec_len;
    spool_index_remove(s, m);
    if (s->gone_cb)
        s->gone_cb(s->gone_arg, m);
    spool_msg_free(m);
}

/* ---- jobs ---- */

wjob *spool_job_new(spool *s, enum wjob_kind kind, uint8_t type)
{
    (void)s;
    wjob *j = xcalloc(1, sizeof *j);
    j->kind = kind;
    if (kind != WJ_UNLINK)
        rec_frame_begin(&j->head, type);
    return j;
}

void spool_job_free(wjob *j)
{
    dbuf_free(&j->head);
    dbuf_free(&j->state);
    free(j->body);
    free(j);
}

void spool_job_submit(spool *s, wjob *j)
{
    j->lsn = s->next_lsn++;
    s->pending++;
    writer_enqueue(&s->w, j);
}

/* on_wake - the writer finished a batch: run each job's completion in order */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    spool *s = arg;
    (void)fd;
    (void)what;
    wjob *j = writer_take_done(&s->w);
    while (j) {
        wjob *next = j->next;
        s->pending--;
        if (j->kind != WJ_UNLINK && !j->err)
            spool_seg_account(s, j->segno, j->seg_size);
        if (j->done)
            j->done(s, j);
        spool_job_free(j);
        j = next;
    }
    spool_compact_check(s);
}

/* ---- add ---- */

/* add_done - completion of a new message */
static void add_done(spool *s, wjob *j)
{
    qmsg *m = j->m;
    spool_add_cb cb = (spool_add_cb)j->cb;
    if (j->err) {
        spool_msg_free(m);
        if (cb)
            cb(j->arg, NULL, j->err);
        return;
    }
    m->segno = j->segno;
    m->body_off = j->off + j->head.len;
    m->lsn = j->lsn;
    m->rec_len = j->total;
    seginfo *g = spool_seg(s, m->segno, 1);
    g->live++;
    g->live_bytes += m->rec_len;
    s->live_bytes += m->rec_len;
    spool_index_insert(s, m);
    if (s->added_cb)
        s->added_cb(s->added_arg, m);
    if (cb)
        cb(j->arg, m, 0);
}

/* new_qmsg - the in-memory message for n */
static qmsg *new_qmsg(const spool_new *n)
{
    uint32_t *lens = xcalloc((size_t)n->nrcpt + 1, sizeof *lens);
    for (int i = 0; i < n->nrcpt; i++)
        lens[i] = (uint32_t)strlen(n->rcpts[i]);
    qmsg *m = spool_msg_alloc((uint32_t)n->nrcpt, n->rcpts, lens);
    free(lens);
    m->qid = n->qid ? n->qid : qid_next();
    if (n->qid)
        qid_observe(n->qid);
    m->arrival_us = clock_now_us();
    m->size = n->body_len;
    m->sender = strpool_get(n->sender ? n->sender : "");
    m->origin = n->origin && *n->origin ? xstrdup(n->origin) : NULL;
    m->flags = n->flags;
    return m;
}

/* cstr_len - strlen of a possibly NULL string */
static uint32_t cstr_len(const char *p)
{
    return p ? (uint32_t)strlen(p) : 0;
}

qid_t spool_add(spool *s, spool_new *n, spool_add_cb cb, void *arg)
{
    qmsg *m = new_qmsg(n);
    rec r = {.qid = m->qid, .arrival_us = m->arrival_us, .flags = m->flags,
             .sender = m->sender, .sender_len = cstr_len(m->sender),
             .client_ip = n->client_ip, .client_ip_len = cstr_len(n->client_ip),
             .helo = n->helo, .helo_len = cstr_len(n->helo),
             .proto = n->proto, .proto_len = cstr_len(n->proto),
             .origin = n->origin, .origin_len = cstr_len(n->origin),
             .nrcpt = m->nrcpt, .body_len = n->body_len};
    r.rcpts = xcalloc(m->nrcpt, sizeof *r.rcpts);
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        r.rcpts[i].address = m->rcpts[i].address;
        r.rcpts[i].address_len = cstr_len(m->rcpts[i].address);
    }
    wjob *j = spool_job_new(s, WJ_RECORD, REC_MSG);
    rec_put_msg_head(&j->head, &r);
    free(r.rcpts);
    j->body = n->body ? n->body : xmalloc(1);
    j->body_len = n->body_len;
    n->body = NULL;
    j->m = m;
    j->cb = (void *)cb;
    j->arg = arg;
    j->done = add_done;
    qid_t q = m->qid;
    spool_job_submit(s, j);
    return q;
}

/* ---- updates ---- */

/* update_done - completion of a RCPT or MSGOP record */
static void update_done(spool *s, wjob *j)
{
    spool_cb cb = (spool_cb)j->cb;
    if (j->err)
        log_every_msg(&s->update_err, 10000, SL_ERR, NULL,
                      "spool: an update could not be made durable: %s", strerror(j->err));
    if (cb)
        cb(j->arg, j->err);
}

/* submit_update - queue j with a plain completion */
static void submit_update(spool *s, wjob *j, spool_cb cb, void *arg)
{
    j->cb = (void *)cb;
    j->arg = arg;
    j->done = update_done;
    spool_job_submit(s, j);
}

void spool_set_rcpt(spool *s, qmsg *m, uint32_t idx, uint8_t state, uint16_t attempts,
                    int64_t next_attempt_us, const char *reply, spool_cb cb, void *arg)
{
    qrcpt *r = &m->rcpts[idx];
    int was_final = RCPT_STATE_FINAL(r->state);
    r->state = state;
    r->attempts = attempts;
    r->next_attempt_us = next_attempt_us;
    if (reply) {
        const char *old = r->last_reply;
        r->last_reply = strpool_get(reply);
        strpool_put(old);
    }
    rec_rcpt x = {.state = state, .attempts = attempts, .next_attempt_us = next_attempt_us,
                  .last_reply = r->last_reply, .last_reply_len = cstr_len(r->last_reply)};
    wjob *j = spool_job_new(s, WJ_RECORD, REC_RCPT);
    rec_put_rcpt(&j->head, m->qid, idx, &x);
    j->lazy = 1;   /* a delivery result: lost only with the machine, then retried (spool_writer.c) */
    submit_update(s, j, cb, arg);
    if (!was_final && RCPT_STATE_FINAL(state)) {
        m->nfinal++;
        s->nrcpt--;
        if (m->nfinal == m->nrcpt)
            msg_dies(s, m);
    }
}

/* msgop - queue a MSGOP record for m */
static void msgop(spool *s, qmsg *m, uint8_t op, spool_cb cb, void *arg)
{
    wjob *j = spool_job_new(s, WJ_RECORD, REC_MSGOP);
    rec_put_msgop(&j->head, m->qid, op);
    submit_update(s, j, cb, arg);
}

void spool_hold(spool *s, qmsg *m, spool_cb cb, void *arg)
{
    m->flags |= MSGF_HELD;
    msgop(s, m, MSGOP_HOLD, cb, arg);
}

void spool_release(spool *s, qmsg *m, spool_cb cb, void *arg)
{
    m->flags &= ~(uint32_t)MSGF_HELD;
    msgop(s, m, MSGOP_RELEASE, cb, arg);
}

void spool_mark_warned(spool *s, qmsg *m, spool_cb cb, void *arg)
{
    m->flags |= MSGF_WARNED;
    msgop(s, m, MSGOP_WARNED, cb, arg);
}

void spool_delete(spool *s, qmsg *m, spool_cb cb, void *arg)
{
    msgop(s, m, MSGOP_DELETE, cb, arg);
    msg_dies(s, m);
}

/* ---- reads ---- */

/* seg_rfd - a read descriptor for a segment, opened on first use */
static int seg_rfd(spool *s, uint64_t segno)
{
    seginfo *g = spool_seg(s, segno, 0);
    if (!g)
        return -1;
    if (g->rfd < 0) {
        char *path = spool_seg_path(s->spooldir, segno);
        g->rfd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
    }
    return g->rfd;
}

/* pread_full - n bytes at off into p; 0 or -1 */
static int pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int spool_read_body(spool *s, const qmsg *m, dbuf *out)
{
    int fd = seg_rfd(s, m->segno);
    if (fd < 0)
        return -1;
    dbuf_reserve(out, m->size);
    if (pread_full(fd, out->data + out->len, m->size, m->body_off) < 0)
        return -1;
    out->len += m->size;
    return 0;
}

int spool_read_record(spool *s, const qmsg *m, dbuf *buf, rec *r)
{
    int fd = seg_rfd(s, m->segno);
    uint64_t start = m->body_off - (m->rec_len - m->size - REC_TRAILER_LEN);
    if (fd < 0)
        return -1;
    dbuf_reset(buf);
    dbuf_reserve(buf, m->rec_len);
    if (pread_full(fd, buf->data, m->rec_len, start) < 0)
        return -1;
    buf->len = m->rec_len;
    size_t total;
    return rec_decode(buf->data, buf->len, r, &total) == REC_OK && r->type == REC_MSG ? 0 : -1;
}

uint64_t spool_room(spool *s)
{
    struct statvfs v;
    uint64_t room = UINT64_MAX / 4;
    if (fstatvfs(s->w.dirfd, &v) == 0) {
        room = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    } else if (!s->statvfs_failed) {
        s->statvfs_failed = 1;
        log_warn(NULL, "spool: cannot tell the free space under %s: %s", s->spooldir,
                 strerror(errno));
    }
    room += atomic_load(&s->w.head_room);
    if (spool_spare_ready(&s->w))
        room += s->w.segment_size;
    return room;
}

void spool_get_stats(spool *s, spool_stats *st)
{
    memset(st, 0, sizeof *st);
    st->messages = s->nmsg;
    st->recipients = s->nrcpt;
    st->segments = s->nsegs;
    st->bytes_on_disk = s->bytes_on_disk;
    st->live_bytes = s->live_bytes;
    st->commits = atomic_load(&s->w.commits);
    st->records = atomic_load(&s->w.records);
    st->syncs = atomic_load(&s->w.syncs);
    st->corrupt_regions = s->corrupt_regions;
    st->pending = s->pending;
}

/* ---- open / close ---- */

/* make_dirs - queue_directory and its spool/ and corrupt/ folders */
static int make_dirs(spool *s, char *err, int errlen)
{
    const char *dirs[] = {s->dir, s->spooldir};
    for (int i = 0; i < 2; i++) {
        if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST) {
            snprintf(err, (size_t)errlen, "%s: %s", dirs[i], strerror(errno));
            return -1;
        }
    }
    char *lock = xasprintf("%s/lock", s->spooldir);
    s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock);
    if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, (size_t)errlen, "%s: %s", s->spooldir,
                 errno == EWOULDBLOCK ? "the spool is in use by another sluiced" : strerror(errno));
        return -1;
    }
    return 0;
}

/* on_tick - periodic housekeeping */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    spool_compact_check(arg);
}

spool *spool_open(struct event_base *base, const char *dir, const spool_opts *o, char *err,
                  int errlen)
{
    spool *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->dir = xstrdup(dir);
    s->spooldir = xasprintf("%s/spool", dir);
    s->lockfd = -1;
    s->hmask = 1023;
    s->htab = xcalloc(s->hmask + 1, sizeof *s->htab);
    s->next_lsn = 1;
    if (make_dirs(s, err, errlen) < 0 || spool_recover(s, err, errlen) < 0)
        goto fail;
    uint64_t first = s->nsegs ? s->segs[s->nsegs - 1].segno + 1 : 1;
    if (writer_start(&s->w, s->spooldir, first, o->segment_size, err, errlen) < 0)
        goto fail;
    s->wake = event_new(base, s->w.efd, EV_READ | EV_PERSIST, on_wake, s);
    event_priority_set(s->wake, 0);   /* first in its loop pass where the base has priorities */
    event_add(s->wake, NULL);
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    event_add(s->tick, &(struct timeval){1, 0});
    spool_compact_check(s);
    return s;
fail:
    if (s->lockfd >= 0)
        close(s->lockfd);
    for (qmsg *m = s->first, *nx; m; m = nx) {
        nx = m->next;
        spool_msg_free(m);
    }
    free(s->segs);
    free(s->htab);
    free(s->spooldir);
    free(s->dir);
    free(s);
    return NULL;
}

void spool_close(spool *s)
{
    if (!s)
        return;
    s->closing = 1;
    writer_stop(&s->w);
    /* run the completions of what the writer finished last */
    on_wake(-1, 0, s);
    close(s->w.efd);
    event_free(s->wake);
    event_free(s->tick);
    for (qmsg *m = s->first, *nx; m; m = nx) {
        nx = m->next;
        spool_msg_free(m);
    }
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].rfd >= 0)
            close(s->segs[i].rfd);
    free(s->segs);
    free(s->htab);
    close(s->lockfd);
    free(s->spooldir);
    free(s->dir);
    free(s);
}
