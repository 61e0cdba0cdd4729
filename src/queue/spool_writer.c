/* spool_writer.c - the writer thread: appends records to the head segment and makes them
 * durable with group commit.  The event loop never waits on the disk: it queues jobs here
 * and is woken (eventfd) when a batch is on stable storage.
 *
 * Order of operations, which is what makes a 250 reply safe:
 *   1. take every queued job (the batch: all messages that arrived during the last sync);
 *   2. frame each record (length, lsn, CRC-32C, end marker) and pwritev them after the end
 *      of the head segment;
 *   3. fdatasync the segment (data and its new size) - one sync for the whole batch;
 *   4. only then report the jobs done; the loop indexes the messages and sends the 250s.
 * A new segment is created with O_EXCL (or is the zero-filled spare of spool_prealloc.c,
 * renamed into place), its SEG record written and fdatasync'd, and the spool directory
 * fsync'd, before any record in it is written.  So a record is either fully
 * on disk and covered by a sync before its client hears 250, or it is a torn tail that
 * recovery recognises (bad CRC or no end marker) and sets aside.
 * Dead segments are unlinked only after the batch that precedes the unlink request is
 * synced (jobs run in FIFO order), then the directory is fsync'd.
 * On a write or sync error the segment is cut back to its last synced size, the batch's
 * records fail (their clients get 4xx and retry) and the next record opens a new segment.
 *
 * Lazy records: a recipient's delivery result (delivered, deferred, bounced) needs no sync
 * of its own.  A batch of nothing but lazy records is written (step 2) and reported done
 * without step 3; the next batch that needs a sync covers it, and so does a sync at most
 * LAZY_SYNC_MS later, at a rotation and at stop.  A SIGKILLed daemon loses nothing (the
 * page cache keeps the write); a crash of the machine may lose the tail of the results,
 * and recovery then sees those recipients still pending: they are delivered again (a
 * duplicate, as when the receiver's 250 arrives just before a crash), never lost.  The
 * write order stays append-only, so an unsynced region is always the tail recovery
 * already treats as torn. */
#include "queue/spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define MAX_IOV 1024
#define LAZY_SYNC_MS 1000   /* the longest lazy records stay unsynced */

/* A batch of writes not yet synced. */
typedef struct pending {
    struct iovec iov[MAX_IOV];
    int niov;
    uint64_t bytes;
    wjob *jobs[MAX_IOV];       /* each job takes 1..3 iovecs, so at most MAX_IOV jobs */
    int njobs;
    int need_sync;             /* a job in it is not lazy */
} pending;

char *spool_seg_path(const char *spooldir, uint64_t segno)
{
    return xasprintf("%s/seg-%016llx.log", spooldir, (unsigned long long)segno);
}

/* write_all - pwritev the pending vectors at off, resuming after short writes; 0 or -1 */
static int write_all(int fd, struct iovec *iov, int niov, uint64_t off)
{
    while (niov > 0) {
        ssize_t n = pwritev(fd, iov, niov, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (uint64_t)n;
        while (niov > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* sync_head - make lazy writes to the head segment durable; 0 or -1 */
static int sync_head(writer *w)
{
    if (!w->unsynced || w->fd < 0)
        return 0;
    if (fdatasync(w->fd) < 0)
        return -1;
    w->unsynced = 0;
    atomic_fetch_add(&w->syncs, 1);
    return 0;
}

/* publish_room - tell the loop how much preallocated space the head segment has left */
static void publish_room(writer *w)
{
    int usable = w->fd >= 0 && w->head_prealloc && !w->broken && w->size < w->segment_size;
    atomic_store(&w->head_room, usable ? w->segment_size - w->size : 0);
}

/* flush - write what is pending and sync it unless every job is lazy; set each job's result */
static void flush(writer *w, pending *p)
{
    if (p->njobs == 0)
        return;
    int err = 0;
    int sync = p->need_sync;
    if (write_all(w->fd, p->iov, p->niov, w->size) < 0 || (sync && fdatasync(w->fd) < 0)) {
        err = errno ? errno : EIO;
        log_every_msg(&w->write_err, 10000, SL_ERR, NULL,
                      "spool: writing segment %016llx failed: %s; cutting it back to %llu bytes",
                      (unsigned long long)w->segno, strerror(err), (unsigned long long)w->size);
        if (ftruncate(w->fd, (off_t)w->size) < 0 || fdatasync(w->fd) < 0)
            log_err(NULL, "spool: cannot cut back segment %016llx: %s", (unsigned long long)w->segno,
                    strerror(errno));
        w->broken = 1;
    } else {
        w->size += p->bytes;
        if (sync) {
            w->unsynced = 0;
            atomic_fetch_add(&w->syncs, 1);
        } else {
            w->unsynced = 1;
        }
    }
    for (int i = 0; i < p->njobs; i++) {
        p->jobs[i]->err = err;
        p->jobs[i]->seg_size = w->size;
    }
    publish_room(w);
    p->niov = p->njobs = p->need_sync = 0;
    p->bytes = 0;
}

/* drop_failed - remove a segment whose SEG record could not be made durable (a full disk):
 * it holds nothing, and a disk-full spell must not leave a file behind per refused message */
static void drop_failed(writer *w, uint64_t segno)
{
    char *path = spool_seg_path(".", segno);
    if (unlinkat(w->dirfd, path + 2, 0) < 0 && errno != ENOENT)
        log_warn(NULL, "spool: cannot remove the failed segment %s: %s", path + 2, strerror(errno));
    free(path);
}

/* rotate - close the head segment and start a new one (durably created); 0 or -1 */
static int rotate(writer *w)
{
    if (w->fd >= 0) {
        if (sync_head(w) < 0)
            log_warn(NULL, "spool: syncing segment %016llx before leaving it failed: %s",
                     (unsigned long long)w->segno, strerror(errno));
        close(w->fd);
    }
    w->fd = -1;
    w->unsynced = 0;
    publish_room(w);
    uint64_t segno = w->next_segno++;
    char *path = spool_seg_path(".", segno);
    int spare = spool_take_spare(w, path + 2);   /* a zero-filled one, when ready */
    int fd = openat(w->dirfd, path + 2, O_WRONLY | O_CLOEXEC | (spare ? 0 : O_CREAT | O_EXCL), 0600);
    free(path);
    if (fd < 0)
        return -1;
    dbuf b = {0};
    size_t off = rec_frame_begin(&b, REC_SEG);
    rec_put_seg(&b, segno, clock_now_us());
    rec_frame_end(&b, off, 0);
    int rc = write_all(fd, &(struct iovec){b.data, b.len}, 1, 0);
    if (rc == 0)
        rc = fdatasync(fd);
    if (rc == 0)
        rc = fsync(w->dirfd);
    if (rc < 0) {
        int e = errno;
        close(fd);
        dbuf_free(&b);
        drop_failed(w, segno);
        errno = e;
        return -1;
    }
    w->fd = fd;
    w->segno = segno;
    w->size = b.len;
    w->broken = 0;
    w->head_prealloc = spare;
    publish_room(w);
    dbuf_free(&b);
    return 0;
}

/* read_at - n bytes at off of segment segno into buf; 0 or -1 */
static int read_at(writer *w, uint64_t segno, uint64_t off, uint8_t *buf, size_t n)
{
    char *path = spool_seg_path(".", segno);
    int fd = openat(w->dirfd, path + 2, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            int e = r == 0 ? EIO : errno;
            close(fd);
            errno = e;
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

/* apply_state - overwrite the flags and recipient states of r from a WJ_COPY state vector */
static int apply_state(rec *r, const dbuf *st)
{
    const uint8_t *p = st->data, *end = st->data + st->len;
    if (end - p < 4)
        return -1;
    memcpy(&r->flags, p, 4);
    p += 4;
    for (uint32_t i = 0; i < r->nrcpt; i++) {
        if (end - p < 15)
            return -1;
        rec_rcpt *x = &r->rcpts[i];
        x->state = p[0];
        memcpy(&x->attempts, p + 1, 2);
        memcpy(&x->next_attempt_us, p + 3, 8);
        memcpy(&x->last_reply_len, p + 11, 4);
        p += 15;
        if ((size_t)(end - p) < x->last_reply_len)
            return -1;
        x->last_reply = (const char *)p;
        p += x->last_reply_len;
    }
    return 0;
}

/* compose_copy - WJ_COPY: read and verify the old record, rebuild it with the current state
 * into head + body; 0 or -1 (errno set) */
static int compose_copy(writer *w, wjob *j)
{
    uint8_t *raw = xmalloc(j->src_len);
    rec r;
    size_t total;
    int rc = -1;
    if (read_at(w, j->src_segno, j->src_off, raw, j->src_len) < 0)
        goto out;
    if (rec_decode(raw, j->src_len, &r, &total) != REC_OK || r.type != REC_MSG ||
        apply_state(&r, &j->state) < 0) {
        rec_clear(&r);
        errno = EIO;
        goto out;
    }
    rec_put_msg_head(&j->head, &r);
    j->body_len = r.body_len;
    j->body = xmalloc(r.body_len ? r.body_len : 1);
    memcpy(j->body, r.body, r.body_len);
    rec_clear(&r);
    rc = 0;
out:
    free(raw);
    return rc;
}

/* frame - finish the record of j; returns its size on disk */
static uint32_t frame(wjob *j)
{
    if (j->kind == WJ_COPY || j->body) {
        rec_frame_end_split(&j->head, 0, j->lsn, j->body, j->body_len, j->trailer);
        return (uint32_t)(j->head.len + j->body_len + REC_TRAILER_LEN);
    }
    rec_frame_end(&j->head, 0, j->lsn);
    return (uint32_t)j->head.len;
}

/* add_record - frame j and queue its bytes in p, rotating first when the segment is full */
static void add_record(writer *w, pending *p, wjob *j)
{
    if (j->kind == WJ_COPY && compose_copy(w, j) < 0) {
        j->err = errno;
        return;
    }
    uint32_t total = frame(j);
    int full = w->fd >= 0 && w->size + p->bytes > 4096 &&
               w->size + p->bytes + total > w->segment_size;
    if (w->fd >= 0 && !w->head_prealloc && !w->broken && !full && spool_spare_ready(w))
        full = 1;   /* move from a growing segment to a preallocated one as soon as possible */
    if (w->fd < 0 || w->broken || full || p->niov + 3 > MAX_IOV) {
        flush(w, p);
        if ((w->fd < 0 || w->broken || full) && rotate(w) < 0) {
            j->err = errno;
            log_every_msg(&w->seg_err, 10000, SL_ERR, NULL, "spool: cannot start a new segment: %s",
                          strerror(j->err));
            return;
        }
    }
    j->segno = w->segno;
    j->off = w->size + p->bytes;
    j->total = total;
    p->iov[p->niov++] = (struct iovec){j->head.data, j->head.len};
    if (j->kind == WJ_COPY || j->body) {
        if (j->body_len)
            p->iov[p->niov++] = (struct iovec){j->body, j->body_len};
        p->iov[p->niov++] = (struct iovec){j->trailer, REC_TRAILER_LEN};
    }
    p->jobs[p->njobs++] = j;
    p->need_sync |= !j->lazy;
    p->bytes += total;
    atomic_fetch_add(&w->records, 1);
}

/* unlink_dead - remove the segments named by WJ_UNLINK jobs, then sync the directory */
static void unlink_dead(writer *w, wjob *batch)
{
    int any = 0;
    for (wjob *j = batch; j; j = j->next) {
        if (j->kind != WJ_UNLINK)
            continue;
        char *path = spool_seg_path(".", j->src_segno);
        if (unlinkat(w->dirfd, path + 2, 0) < 0 && errno != ENOENT)
            j->err = errno;
        free(path);
        any = 1;
    }
    if (any && fsync(w->dirfd) < 0)
        log_warn(NULL, "spool: fsync of the spool directory failed: %s", strerror(errno));
}

/* run_batch - write, sync and unlink for one batch of jobs */
static void run_batch(writer *w, wjob *batch)
{
    pending *p = xmalloc(sizeof *p);
    p->niov = p->njobs = p->need_sync = 0;
    p->bytes = 0;
    for (wjob *j = batch; j; j = j->next)
        if (j->kind != WJ_UNLINK)
            add_record(w, p, j);
        else
            p->need_sync = 1;   /* what came before an unlink is durable first */
    flush(w, p);
    free(p);
    unlink_dead(w, batch);
    atomic_fetch_add(&w->commits, 1);
}

/* deadline_in - now + ms on the clock of pthread_cond_timedwait, in ts */
static const struct timespec *deadline_in(long ms, struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += ms % 1000 * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return ts;
}

/* writer_main - the thread: wait for jobs, run them as one batch, hand them back */
static void *writer_main(void *arg)
{
    writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->queue && !w->stop && !w->unsynced)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->queue && !w->stop && w->unsynced)   /* lazy writes: sync them before long */
            pthread_cond_timedwait(&w->cv, &w->mu, deadline_in(LAZY_SYNC_MS, &(struct timespec){0}));
        wjob *batch = w->queue;
        w->queue = w->queue_tail = NULL;
        int stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (!batch) {
            if (sync_head(w) < 0)
                log_err(NULL, "spool: syncing segment %016llx failed: %s", (unsigned long long)w->segno,
                        strerror(errno));
            if (stop)
                break;
            continue;
        }
        run_batch(w, batch);
        pthread_mutex_lock(&w->mu);
        wjob *tail = batch;
        while (tail->next)
            tail = tail->next;
        if (w->done_tail)
            w->done_tail->next = batch;
        else
            w->done = batch;
        w->done_tail = tail;
        pthread_mutex_unlock(&w->mu);
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof one);
        (void)n;
    }
    return NULL;
}

int writer_start(writer *w, const char *spooldir, uint64_t first_segno, uint64_t segment_size,
                 char *err, int errlen)
{
    w->fd = -1;
    w->next_segno = first_segno;
    w->segment_size = segment_size;
    w->dirfd = open(spooldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->dirfd < 0 || w->efd < 0) {
        snprintf(err, (size_t)errlen, "%s: %s", spooldir, strerror(errno));
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (spool_prealloc_start(w) < 0) {
        snprintf(err, (size_t)errlen, "cannot start the spool preallocation thread");
        return -1;
    }
    if (rotate(w) < 0) {
        if (errno != ENOSPC && errno != EDQUOT) {
            snprintf(err, (size_t)errlen, "%s: cannot create a segment: %s", spooldir,
                     strerror(errno));
            return -1;
        }
        /* a full disk: start all the same, so that deliveries can free space; the first
         * record tries again (and fails with 4xx for new mail until there is room) */
        log_warn(NULL, "spool: %s: no room for a new segment (%s): new mail waits for space",
                 spooldir, strerror(errno));
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, (size_t)errlen, "cannot start the spool writer thread");
        return -1;
    }
    return 0;
}

void writer_stop(writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    spool_prealloc_stop(w);   /* a finished spare stays for the next start */
    if (w->fd >= 0)
        close(w->fd);
    close(w->dirfd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

void writer_enqueue(writer *w, wjob *j)
{
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->queue_tail)
        w->queue_tail->next = j;
    else
        w->queue = j;
    w->queue_tail = j;
    pthread_mutex_unlock(&w->mu);
    /* signalled after the unlock: the woken writer does not block on the mutex we hold
     * (with nobody waiting - the writer busy syncing - the signal costs no system call) */
    pthread_cond_signal(&w->cv);
}

/* writer_take_done - the finished jobs, in order (the eventfd is drained; it is closed by
 * the owner after writer_stop and a last writer_take_done) */
wjob *writer_take_done(writer *w)
{
    uint64_t v;
    ssize_t n = read(w->efd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&w->mu);
    wjob *d = w->done;
    w->done = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    return d;
}
