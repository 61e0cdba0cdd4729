/* spool_int.h - internals shared by spool.c (index, loop side), spool_writer.c (the writer
 * thread), spool_recover.c (start-up) and spool_compact.c (segment reclamation).
 * Not for use outside src/queue/. */
#ifndef SLUICE_SPOOL_INT_H
#define SLUICE_SPOOL_INT_H
#include <pthread.h>
#include <stdatomic.h>

#include "common/log.h"
#include "queue/spool.h"

enum wjob_kind {
    WJ_RECORD,  /* append head (+ body) as one record */
    WJ_COPY,    /* compaction: append head + the body read from another segment */
    WJ_UNLINK,  /* remove a dead segment (after everything before it is synced) */
};

/* A unit of work for the writer.  Built on the loop, framed/written/synced by the writer,
 * completed on the loop.  The job owns head and body. */
typedef struct wjob {
    struct wjob *next;
    enum wjob_kind kind;
    dbuf head;                 /* record from rec_frame_begin, payload head built */
    uint8_t *body;             /* WJ_RECORD with a body: bytes after head (owned) */
    size_t body_len;
    uint8_t trailer[REC_TRAILER_LEN];
    uint64_t lsn;
    uint64_t src_segno, src_off; /* WJ_COPY: the record to copy; WJ_UNLINK: the segment */
    uint32_t src_len;
    dbuf state;                /* WJ_COPY: u32 flags, then per recipient u8 state,
                                  u16 attempts, i64 next_attempt_us, str last_reply */
    /* results, set by the writer */
    uint64_t segno, off;       /* where the record landed */
    uint32_t total;            /* its size on disk */
    uint64_t seg_size;         /* the segment's size after it */
    int err;                   /* errno, 0 when durable (or, lazy, written) */
    int lazy;                  /* a state update that may wait for the next sync (below) */
    /* completion on the loop */
    void (*done)(spool *s, struct wjob *j);
    void *cb;
    void *arg;
    qmsg *m;
    uint32_t idx;
} wjob;

/* The writer thread's state.  mu guards queue, done, stop; the rest is the thread's own. */
typedef struct writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wjob *queue, *queue_tail;
    wjob *done, *done_tail;
    int stop;
    int efd;                   /* eventfd: wakes the loop when done has jobs */
    int dirfd;                 /* the spool directory, for fsync after create/unlink */
    int fd;                    /* the head segment, or -1 */
    uint64_t segno, size;
    uint64_t next_segno;
    uint64_t segment_size;
    int broken;                /* the head segment had an error: rotate before writing */
    pthread_t prealloc;        /* spool_prealloc.c: prepares a zero-filled spare segment */
    pthread_cond_t spare_cv;
    int spare_ready, spare_failed;   /* under mu */
    int head_prealloc;         /* the head segment is a zero-filled spare (writer thread) */
    int unsynced;              /* lazy records written to the head segment, not yet synced */
    atomic_ullong commits, records, syncs;
    atomic_ullong head_room;   /* zero-filled bytes left in the head segment (spool_room) */
    log_every seg_err, write_err;   /* a full disk fails every record: log now and then */
} writer;

/* The loop's view of one segment. */
typedef struct seginfo {
    uint64_t segno;
    uint64_t size;
    uint64_t live;             /* live messages whose MSG record is here */
    uint64_t live_bytes;
    int rfd;                   /* read descriptor, opened lazily; -1 */
    int unlinking;
} seginfo;

struct spool {
    struct event_base *base;
    struct event *wake;        /* on writer.efd */
    struct event *tick;        /* periodic compaction check */
    char *dir;                 /* queue_directory */
    char *spooldir;            /* queue_directory/spool */
    int lockfd;
    writer w;
    uint64_t next_lsn;
    uint64_t pending;          /* jobs handed to the writer, not completed yet */
    /* index */
    qmsg **htab;
    uint64_t hmask;
    uint64_t nmsg, nrcpt;
    qmsg *first, *last;
    /* segments, ascending segno */
    seginfo *segs;
    size_t nsegs;
    uint64_t bytes_on_disk, live_bytes;
    int compacting;            /* copy jobs in flight */
    int closing;               /* spool_close has begun: queue no new work */
    uint64_t corrupt_regions;
    spool_gone_cb gone_cb, added_cb;
    void *gone_arg, *added_arg;
    int statvfs_failed;        /* spool_room has said so once */
    log_every update_err;      /* failed updates (a full disk): logged now and then */
};

/* spool.c */
void spool_index_insert(spool *s, qmsg *m);
/* spool_index_remove - take m out of the hash and the list (not freed) */
void spool_index_remove(spool *s, qmsg *m);
void spool_msg_free(qmsg *m);
/* spool_msg_alloc - a message with room for nrcpt recipients whose addresses are given
 * (copied into the same allocation); sender and the rest are left to the caller */
qmsg *spool_msg_alloc(uint32_t nrcpt, const char *const *addrs, const uint32_t *lens);
seginfo *spool_seg(spool *s, uint64_t segno, int create);
void spool_seg_account(spool *s, uint64_t segno, uint64_t seg_size);
wjob *spool_job_new(spool *s, enum wjob_kind kind, uint8_t type);
void spool_job_submit(spool *s, wjob *j);
void spool_job_free(wjob *j);

/* spool_prealloc.c */
#define SPOOL_SPARE "spare.tmp"
int spool_prealloc_start(writer *w);
void spool_prealloc_stop(writer *w);
/* spool_take_spare - rename the ready spare to name (in the spool dir); 1 when taken */
int spool_take_spare(writer *w, const char *name);
/* spool_spare_ready - a spare is waiting (so a growing head segment may rotate early) */
int spool_spare_ready(writer *w);

/* spool_writer.c */
int writer_start(writer *w, const char *spooldir, uint64_t first_segno, uint64_t segment_size,
                 char *err, int errlen);
void writer_stop(writer *w);
void writer_enqueue(writer *w, wjob *j);
wjob *writer_take_done(writer *w);
char *spool_seg_path(const char *spooldir, uint64_t segno);

/* spool_recover.c */
int spool_recover(spool *s, char *err, int errlen);

/* spool_compact.c */
void spool_compact_check(spool *s);

#endif
