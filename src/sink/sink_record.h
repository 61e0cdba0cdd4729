/* sink_record.h - the sink's outputs besides the summary: the --record file (JSON Lines, one
 * object per accepted message and per refusal) and the --store directory (each accepted
 * message as DIR/QUEUEID.eml).
 *
 * Record lines are built in memory and written when 64 KiB have gathered, when
 * sink_record_flush is called (the sink does it every 0.2 s) and at sink_record_close, so
 * the recorder costs one write(2) per many messages.  Every string is written as valid JSON:
 * bytes that are not UTF-8 come out as \u00XX.
 * Ownership: sink_record_open returns a recorder the caller closes with sink_record_close;
 * the structs passed in are only read. */
#ifndef SLUICE_SINK_RECORD_H
#define SLUICE_SINK_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"

typedef struct sink_record sink_record;

/* An accepted message, as recorded. */
typedef struct sink_rec_accept {
    int64_t time_us;              /* wall clock */
    const char *listener, *client_ip, *helo, *sender;
    char *const *rcpts;
    int nrcpt;
    const char *message_id;       /* "" when the message has none */
    int64_t size;
    const char *sha256;           /* hex */
    const char *queue_id;
    int tls;
    uint64_t session;
    const char *stored;           /* path under --store, or NULL */
} sink_rec_accept;

/* A refusal (a 4xx/5xx reply) or a drop (code 0: closed without a reply). */
typedef struct sink_rec_refusal {
    int64_t time_us;
    const char *listener, *client_ip, *helo;
    const char *sender, *rcpt;    /* NULL when not known at that stage */
    const char *stage;
    int code;
    const char *text;             /* "X.Y.Z text" as sent */
    const char *policy;
    uint64_t session;
} sink_rec_refusal;

/* sink_record_open - the record file (appended to; NULL: none) and the store directory
 * (created if missing; NULL: none); NULL with err on failure */
sink_record *sink_record_open(const char *path, const char *store, char *err, size_t errlen);
/* sink_record_active - a record file is being written */
int sink_record_active(const sink_record *r);
void sink_record_accept(sink_record *r, const sink_rec_accept *a);
void sink_record_refusal(sink_record *r, const sink_rec_refusal *f);
/* sink_record_store - write msg to the store as NAME.eml, the path into path; 0 or -1 */
int sink_record_store(sink_record *r, const char *name, const void *msg, size_t len,
                      char *path, size_t pathlen);
/* sink_record_flush - write what has gathered; logs a write error once */
void sink_record_flush(sink_record *r);
/* sink_record_close - flush and close; NULL is a no-op */
void sink_record_close(sink_record *r);

/* sink_json_str - append s as a JSON string (quoted, escaped; invalid UTF-8 as \u00XX) */
void sink_json_str(dbuf *b, const char *s);

#endif
