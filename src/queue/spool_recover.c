/* spool_recover.c - rebuild the index from the segment files at start-up.
 * Pass 1 reads every segment in order: MSG records enter the index (a later copy of the
 * same queue id, written by compaction, replaces an earlier one); RCPT and MSGOP records
 * are collected.  Pass 2 applies each collected update whose lsn is newer than the MSG
 * record it refers to.  Messages whose recipients are all final, or that were deleted, are
 * dropped.  A region that is not a valid record is copied to corrupt/ and logged: in the
 * middle of a segment it is damage; at the end it is a write that was never acknowledged
 * (torn by a crash) and the segment is cut back to its last valid record. */
#include "queue/spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strpool.h"
#include "common/xmalloc.h"

/* A collected RCPT or MSGOP record. */
typedef struct upd {
    uint64_t qid, lsn;
    uint8_t type, op, state;
    uint16_t attempts;
    uint32_t index;
    int64_t next_attempt_us;
    char *reply;
} upd;

typedef struct scan scan;
typedef void (*aside_fn)(spool *s, uint64_t segno, uint64_t off, const uint8_t *p, size_t n,
                         const char *why, enum sl_level level);

struct scan {
    spool *s;
    aside_fn aside;   /* set_aside; a fuzzer puts a no-op here */
    upd *u;
    size_t nu, cap;
    uint64_t max_lsn, max_qid;
    uint64_t nrecords;
};

/* list_segments - the segment numbers in spooldir, ascending */
static uint64_t *list_segments(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    uint64_t *v = NULL;
    *n = 0;
    if (!d)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long segno;
        char tail[8];
        if (strlen(e->d_name) != 24 || sscanf(e->d_name, "seg-%16llx%7s", &segno, tail) != 2 ||
            strcmp(tail, ".log") != 0)
            continue;
        v = xrealloc(v, sizeof *v * (*n + 1));
        v[(*n)++] = segno;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)   /* few files: insertion sort */
        for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
            uint64_t t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return v;
}

/* set_aside - copy a damaged region to DIR/corrupt/ so nothing is silently dropped */
static void set_aside(spool *s, uint64_t segno, uint64_t off, const uint8_t *p, size_t n,
                      const char *why, enum sl_level level)
{
    char *cdir = xasprintf("%s/corrupt", s->dir);
    mkdir(cdir, 0700);
    char *path = xasprintf("%s/seg-%016llx-at-%llu.bin", cdir, (unsigned long long)segno,
                           (unsigned long long)off);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, p, n) == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    log_msg(level, NULL, "spool: segment %016llx offset %llu: %zu bytes: %s; %s %s",
            (unsigned long long)segno, (unsigned long long)off, n, why,
            ok ? "copied to" : "COULD NOT be copied to", path);
    s->corrupt_regions++;
    free(path);
    free(cdir);
}

/* msg_from_rec - a qmsg from a decoded MSG record at off in segno */
static qmsg *msg_from_rec(const rec *r, uint64_t segno, uint64_t off, size_t total)
{
    const char **addrs = xcalloc(r->nrcpt, sizeof *addrs);
    uint32_t *lens = xcalloc(r->nrcpt, sizeof *lens);
    for (uint32_t i = 0; i < r->nrcpt; i++) {
        addrs[i] = r->rcpts[i].address;
        lens[i] = r->rcpts[i].address_len;
    }
    qmsg *m = spool_msg_alloc(r->nrcpt, addrs, lens);
    free(addrs);
    free(lens);
    m->qid = r->qid;
    m->arrival_us = r->arrival_us;
    m->size = r->body_len;
    char *sender = xstrndup(r->sender, r->sender_len);
    m->sender = strpool_get(sender);
    free(sender);
    m->origin = r->origin_len ? xstrndup(r->origin, r->origin_len) : NULL;
    m->flags = r->flags;
    for (uint32_t i = 0; i < r->nrcpt; i++) {
        const rec_rcpt *x = &r->rcpts[i];
        qrcpt *q = &m->rcpts[i];
        if (x->last_reply_len) {
            char *t = xstrndup(x->last_reply, x->last_reply_len);
            q->last_reply = strpool_get(t);
            free(t);
        }
        q->state = x->state;
        q->attempts = x->attempts;
        q->next_attempt_us = x->next_attempt_us;
        if (RCPT_STATE_FINAL(q->state))
            m->nfinal++;
    }
    m->segno = segno;
    m->body_off = off + r->body_off;
    m->lsn = r->lsn;
    m->rec_len = (uint32_t)total;
    return m;
}

/* take_msg - index a MSG record unless a newer copy of it is already there */
static void take_msg(scan *sc, const rec *r, uint64_t segno, uint64_t off, size_t total)
{
    spool *s = sc->s;
    qmsg *old = spool_find(s, r->qid);
    if (old && old->lsn >= r->lsn)
        return;
    qmsg *m = msg_from_rec(r, segno, off, total);
    if (old) {   /* the newer copy (written by compaction) replaces the older one */
        spool_index_remove(s, old);
        spool_msg_free(old);
    }
    spool_index_insert(s, m);
}

/* take_update - remember a RCPT or MSGOP record for pass 2 */
static void take_update(scan *sc, const rec *r)
{
    XGROW(sc->u, sc->nu, sc->cap, 256);
    upd *u = &sc->u[sc->nu++];
    memset(u, 0, sizeof *u);
    u->qid = r->qid;
    u->lsn = r->lsn;
    u->type = r->type;
    u->op = r->op;
    if (r->type == REC_RCPT) {
        u->index = r->index;
        u->state = r->rcpt.state;
        u->attempts = r->rcpt.attempts;
        u->next_attempt_us = r->rcpt.next_attempt_us;
        if (r->rcpt.last_reply_len)
            u->reply = xstrndup(r->rcpt.last_reply, r->rcpt.last_reply_len);
    }
}

/* take_record - one valid record */
static void take_record(scan *sc, const rec *r, uint64_t segno, uint64_t off, size_t total)
{
    sc->nrecords++;
    if (r->lsn > sc->max_lsn)
        sc->max_lsn = r->lsn;
    if (r->type == REC_SEG) {
        if (r->segno != segno)
            log_warn(NULL, "spool: segment file %016llx says it is segment %016llx",
                     (unsigned long long)segno, (unsigned long long)r->segno);
        return;
    }
    if (r->qid > sc->max_qid)
        sc->max_qid = r->qid;
    if (r->type == REC_MSG)
        take_msg(sc, r, segno, off, total);
    else
        take_update(sc, r);
}

/* next_valid - offset of the next record that checks out after a bad one at off, or n */
static size_t next_valid(const uint8_t *p, size_t n, size_t off)
{
    size_t at = off + 1;
    while (at < n) {
        at += rec_find_magic(p + at, n - at);
        size_t total;
        if (at < n && rec_peek(p + at, n - at, &total) == REC_OK)
            return at;
        at++;
    }
    return n;
}

/* all_zero - n bytes of zeros */
static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* scan_bytes - walk the records of one segment image; returns the valid length */
static size_t scan_bytes(scan *sc, uint64_t segno, const uint8_t *p, size_t n)
{
    size_t off = 0, valid_end = 0;
    while (off < n) {
        rec r;
        size_t total;
        int st = rec_decode(p + off, n - off, &r, &total);
        if (st == REC_OK) {
            take_record(sc, &r, segno, off, total);
            rec_clear(&r);
            off += total;
            valid_end = off;
            continue;
        }
        if (st == REC_BADPAYLOAD || st == REC_BADVERSION) {   /* framed but not understood */
            sc->aside(sc->s, segno, off, p + off, total, rec_status_text(st), SL_ERR);
            off += total;
            valid_end = off;
            continue;
        }
        size_t next = next_valid(p, n, off);
        if (next == n && all_zero(p + off, n - off))
            break;   /* unused space of a preallocated segment: not a record at all */
        if (next == n) {
            sc->aside(sc->s, segno, off, p + off, n - off,
                      "incomplete record at the end (a write that was never acknowledged)",
                      SL_NOTICE);
            break;
        }
        sc->aside(sc->s, segno, off, p + off, next - off, rec_status_text(st), SL_ERR);
        off = next;
        valid_end = off;
    }
    return valid_end;
}

/* scan_segment - map one segment, scan it, cut a torn tail; 0 or -1 */
static int scan_segment(scan *sc, uint64_t segno, char *err, int errlen)
{
    spool *s = sc->s;
    char *path = spool_seg_path(s->spooldir, segno);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    int rc = -1;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, (size_t)errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    size_t n = (size_t)st.st_size, valid = 0;
    if (n > 0) {
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, (size_t)errlen, "%s: mmap: %s", path, strerror(errno));
            goto out;
        }
        valid = scan_bytes(sc, segno, p, n);
        munmap(p, n);
    }
    if (valid < n && (ftruncate(fd, (off_t)valid) < 0 || fsync(fd) < 0))
        log_warn(NULL, "spool: cannot cut %s back to %zu bytes: %s", path, valid, strerror(errno));
    seginfo *g = spool_seg(s, segno, 1);
    g->size = valid;
    s->bytes_on_disk += valid;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* apply_update - one collected record onto the index */
static void apply_update(spool *s, const upd *u)
{
    qmsg *m = spool_find(s, u->qid);
    if (!m || u->lsn <= m->lsn)
        return;
    if (u->type == REC_MSGOP) {
        if (u->op == MSGOP_HOLD)
            m->flags |= MSGF_HELD;
        else if (u->op == MSGOP_RELEASE)
            m->flags &= ~(uint32_t)MSGF_HELD;
        else if (u->op == MSGOP_WARNED)
            m->flags |= MSGF_WARNED;
        else
            m->nfinal = m->nrcpt + 1;   /* deleted: marked dead for prune() */
        return;
    }
    if (u->index >= m->nrcpt || m->nfinal > m->nrcpt)
        return;
    qrcpt *q = &m->rcpts[u->index];
    if (!RCPT_STATE_FINAL(q->state) && RCPT_STATE_FINAL(u->state))
        m->nfinal++;
    else if (RCPT_STATE_FINAL(q->state) && !RCPT_STATE_FINAL(u->state))
        m->nfinal--;
    q->state = u->state;
    q->attempts = u->attempts;
    q->next_attempt_us = u->next_attempt_us;
    if (u->reply) {
        const char *old = q->last_reply;
        q->last_reply = strpool_get(u->reply);
        strpool_put(old);
    }
}

/* prune - drop dead messages, then count what lives, per segment and in all */
static void prune(spool *s)
{
    for (qmsg *m = s->first, *nx; m; m = nx) {
        nx = m->next;
        if (m->nfinal >= m->nrcpt) {
            spool_index_remove(s, m);
            spool_msg_free(m);
        }
    }
    s->nmsg = s->nrcpt = 0;
    for (qmsg *m = s->first; m; m = m->next) {
        s->nmsg++;
        s->nrcpt += m->nrcpt - m->nfinal;
        seginfo *g = spool_seg(s, m->segno, 1);
        g->live++;
        g->live_bytes += m->rec_len;
        s->live_bytes += m->rec_len;
    }
}

int spool_recover(spool *s, char *err, int errlen)
{
    size_t nseg;
    uint64_t *segnos = list_segments(s->spooldir, &nseg);
    scan sc = {.s = s, .aside = set_aside};
    int rc = 0;
    for (size_t i = 0; i < nseg && rc == 0; i++)
        rc = scan_segment(&sc, segnos[i], err, errlen);
    for (size_t i = 0; i < sc.nu; i++) {
        if (rc == 0)
            apply_update(s, &sc.u[i]);
        free(sc.u[i].reply);
    }
    free(sc.u);
    free(segnos);
    if (rc < 0)
        return -1;
    prune(s);
    s->next_lsn = sc.max_lsn + 1;
    qid_observe(sc.max_qid);
    log_info(NULL, "spool: recovered %llu messages (%llu recipients pending) from %zu segments, "
             "%llu records; %llu damaged regions set aside",
             (unsigned long long)s->nmsg, (unsigned long long)s->nrcpt, nseg,
             (unsigned long long)sc.nrecords, (unsigned long long)s->corrupt_regions);
    return 0;
}
