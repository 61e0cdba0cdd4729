/* spool.h - the durable queue: an append-only log of records in segment files, written by
 * one writer thread with group commit, indexed in memory by the event-loop thread.
 *
 * The index (qmsg, qrcpt) belongs to the loop thread; the writer thread touches only byte
 * buffers and files.  Every change (new message, recipient state, hold/release/delete) is a
 * record appended to the log; its callback runs on the loop once that record is on stable
 * storage.  A message enters the index only when its MSG record is durable.
 * Files: DIR/spool/seg-<16 hex>.log, DIR/spool/lock, DIR/corrupt/ (damaged data set aside).
 * The write/sync order is written down at the top of spool_writer.c. */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H
#include <event2/event.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "common/qid.h"
#include "queue/spool_record.h"

typedef struct spool spool;

/* One recipient of a queued message. */
typedef struct qrcpt {
    char *address;             /* in the message's own allocation */
    const char *last_reply;    /* interned (strpool); NULL until an attempt said something */
    int64_t next_attempt_us;   /* RCPT_DEFERRED: when to try again */
    uint16_t attempts;
    uint8_t state;             /* enum rcpt_state */
    uint8_t sflags;            /* the scheduler's own bits (not stored) */
    uint32_t grey_s;           /* scheduler: first greylisted, seconds after arrival + 1;
                                  0 never (not stored) */
} qrcpt;

/* A queued message: the envelope and where its record lives.  Owned by the spool.  One
 * allocation holds the message, its recipients and their addresses (a queue of a million
 * recipients must stay small: see bench/bench_memory.c); sender and replies are interned. */
typedef struct qmsg {
    qid_t qid;
    int64_t arrival_us;
    uint64_t size;             /* body bytes */
    const char *sender;        /* interned (strpool) */
    char *origin;              /* where a local submission came from (maildrop file), or NULL */
    qrcpt *rcpts;
    uint32_t nrcpt;
    uint32_t nfinal;           /* recipients delivered or bounced */
    uint32_t flags;            /* enum msg_flag */
    uint64_t segno;            /* the MSG record: segment, offset of the body, lsn */
    uint64_t body_off;
    uint64_t lsn;
    uint32_t rec_len;
    int64_t due_us;            /* scheduler: when its next recipient is due (heap key) */
    uint32_t heap_idx;         /* scheduler: 1-based position in the due heap, 0 = none */
    struct sched_job *jobs;    /* scheduler: its jobs queued or in flight */
    struct qmsg *prev, *next;  /* arrival order */
    struct qmsg *hnext;        /* qid hash chain */
} qmsg;

typedef struct spool_opts {
    uint64_t segment_size;     /* rotate segments at this size (spool_segment_size) */
} spool_opts;

/* A message to add; the spool copies the strings and takes ownership of body. */
typedef struct spool_new {
    const char *sender;
    const char *const *rcpts;
    int nrcpt;
    uint32_t flags;
    const char *client_ip, *helo, *proto, *origin;
    qid_t qid;                 /* 0: assign a new one */
    uint8_t *body;             /* malloc'd; freed by the spool */
    size_t body_len;
} spool_new;

/* Completion of an add: m is the indexed message, or NULL when it could not be made durable
 * (err is then an errno value).  Runs on the loop thread. */
typedef void (*spool_add_cb)(void *arg, qmsg *m, int err);
/* Completion of an update: err 0 when durable. */
typedef void (*spool_cb)(void *arg, int err);

/* spool_open - lock DIR, recover the index from the log (damaged data to DIR/corrupt/),
 * start the writer thread.  NULL with err filled on failure. */
spool *spool_open(struct event_base *base, const char *dir, const spool_opts *o, char *err,
                  int errlen);
/* spool_close - finish queued writes, stop the writer, free the index */
void spool_close(spool *s);

/* spool_add - append a new message; returns its queue id at once, cb when durable */
qid_t spool_add(spool *s, spool_new *n, spool_add_cb cb, void *arg);
/* spool_set_rcpt - record a recipient's new state (cb may be NULL).  When the last recipient
 * becomes final the message leaves the index after this call returns to the loop: do not
 * touch m after the callback of the final update. */
void spool_set_rcpt(spool *s, qmsg *m, uint32_t idx, uint8_t state, uint16_t attempts,
                    int64_t next_attempt_us, const char *reply, spool_cb cb, void *arg);
/* spool_hold / spool_release - put a message on hold or take it off (durable) */
void spool_hold(spool *s, qmsg *m, spool_cb cb, void *arg);
void spool_release(spool *s, qmsg *m, spool_cb cb, void *arg);
/* spool_mark_warned - record that the delay notice was sent (durable) */
void spool_mark_warned(spool *s, qmsg *m, spool_cb cb, void *arg);
/* spool_delete - remove a message from the queue (durable; m is freed at once) */
void spool_delete(spool *s, qmsg *m, spool_cb cb, void *arg);

qmsg *spool_find(spool *s, qid_t qid);
qmsg *spool_first(spool *s);
qmsg *spool_next(spool *s, const qmsg *m);
uint64_t spool_count(spool *s);

/* spool_read_body - the message body (pread from its segment) appended to out; 0 or -1 */
int spool_read_body(spool *s, const qmsg *m, dbuf *out);
/* spool_read_record - the decoded MSG record of m (client_ip, helo, proto, origin): raw
 * bytes in buf, decoded into r (rec_clear it); 0 or -1 */
int spool_read_record(spool *s, const qmsg *m, dbuf *buf, rec *r);

/* A listener told when messages leave the index (delivered, bounced, deleted), so the
 * scheduler can drop its own data.  Called just before m is freed. */
typedef void (*spool_gone_cb)(void *arg, qmsg *m);
void spool_on_gone(spool *s, spool_gone_cb cb, void *arg);
/* A listener told of every message that enters the index (durable), before the adder's own
 * callback runs: the scheduler takes new mail from here. */
void spool_on_added(spool *s, spool_gone_cb cb, void *arg);

/* spool_room - bytes new records can still take: the free space of the spool's file system
 * (fstatvfs: a third of a microsecond, so at every call, as Postfix's smtpd does at every
 * MAIL) plus the zero-filled room left in the head segment and in a ready spare, which that
 * free space no longer shows.  When the file system cannot tell, a large number: a write
 * would then be the judge. */
uint64_t spool_room(spool *s);

/* Statistics for status pages and benches. */
typedef struct spool_stats {
    uint64_t messages, recipients;
    uint64_t segments, bytes_on_disk, live_bytes;
    uint64_t commits, records, syncs;   /* since start: batches, records, fdatasyncs */
    uint64_t corrupt_regions;           /* found at recovery */
    uint64_t pending;                   /* writes queued and not yet durable */
} spool_stats;
void spool_get_stats(spool *s, spool_stats *st);

#endif
