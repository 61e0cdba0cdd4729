/* spool_record.h - the on-disk record format of the spool (pure encode/decode, no I/O).
 *
 * A segment file is a sequence of records.  Every record is framed so that a torn or damaged
 * one is recognised and the next good one can be found again:
 *
 *   off  size  field
 *   0    4     magic    "SLRC" (0x43524c53 little-endian)
 *   4    1     type     1 SEG, 2 MSG, 3 RCPT, 4 MSGOP
 *   5    1     version  of the payload layout of this type (1)
 *   6    2     reserved 0
 *   8    4     len      payload bytes
 *   12   8     lsn      log sequence number: strictly increasing over the whole spool
 *   20   4     crc      CRC-32C over bytes 4..19 and the payload
 *   24   len   payload
 *   24+len 4   end      "SLND" (0x444e4c53)
 *
 * Integers are little-endian; strings are u32 length + bytes (no NUL).  Payloads:
 *   SEG   u64 segno, i64 created_us                          (first record of each segment)
 *   MSG   u64 qid, i64 arrival_us, u32 flags, str sender, str client_ip, str helo,
 *         str proto, str origin, u32 nrcpt, nrcpt x { str address, u8 state, u16 attempts,
 *         i64 next_attempt_us, str last_reply }, u64 body_len, body bytes
 *   RCPT  u64 qid, u32 index, u8 state, u16 attempts, i64 next_attempt_us, str last_reply
 *   MSGOP u64 qid, u8 op (1 hold, 2 release, 3 delete, 4 delay notice sent)
 * A MSG record carries every recipient's state as of its lsn (a compacted copy folds the
 * later RCPT records in); RCPT and MSGOP records apply when their lsn is greater.
 * Decoders accept trailing payload bytes they do not know (later minor versions append). */
#ifndef SLUICE_SPOOL_RECORD_H
#define SLUICE_SPOOL_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"

#define REC_MAGIC 0x43524c53u
#define REC_END 0x444e4c53u
#define REC_HDR_LEN 24
#define REC_TRAILER_LEN 4
#define REC_OVERHEAD (REC_HDR_LEN + REC_TRAILER_LEN)
#define REC_MAX_PAYLOAD ((uint32_t)1 << 31)

enum rec_type { REC_SEG = 1, REC_MSG = 2, REC_RCPT = 3, REC_MSGOP = 4 };

/* Per-recipient state. */
enum rcpt_state {
    RCPT_PENDING = 0,   /* not tried yet, or due now */
    RCPT_DEFERRED = 1,  /* tried, temporary failure, next_attempt set */
    RCPT_DELIVERED = 2, /* final */
    RCPT_BOUNCED = 3,   /* final: permanent failure or lifetime expired (DSN sent) */
};
#define RCPT_STATE_FINAL(s) ((s) == RCPT_DELIVERED || (s) == RCPT_BOUNCED)

enum msg_flag {
    MSGF_HELD = 1,        /* on hold: not delivered until released */
    MSGF_8BITMIME = 2,
    MSGF_SMTPUTF8 = 4,
    MSGF_LOCAL = 8,       /* submitted by `sluice send`, not SMTP */
    MSGF_BOUNCE = 16,     /* a delivery status notification we generated */
    MSGF_WARNED = 32,     /* the delay notice (delay_warning_time) was sent */
};

enum msgop { MSGOP_HOLD = 1, MSGOP_RELEASE = 2, MSGOP_DELETE = 3, MSGOP_WARNED = 4 };

typedef struct rec_rcpt {
    const char *address; uint32_t address_len;
    uint8_t state;
    uint16_t attempts;
    int64_t next_attempt_us;
    const char *last_reply; uint32_t last_reply_len;
} rec_rcpt;

/* A decoded record.  Strings and the body point into the decoded buffer (not NUL-terminated:
 * each has a length); rcpts is allocated by rec_decode and freed by rec_clear. */
typedef struct rec {
    uint8_t type, version;
    uint64_t lsn;
    uint32_t payload_len;
    /* SEG */
    uint64_t segno;
    int64_t created_us;
    /* MSG, RCPT, MSGOP */
    uint64_t qid;
    int64_t arrival_us;
    uint32_t flags;
    const char *sender, *client_ip, *helo, *proto, *origin;
    uint32_t sender_len, client_ip_len, helo_len, proto_len, origin_len;
    uint32_t nrcpt;
    rec_rcpt *rcpts;
    uint64_t body_len;
    uint64_t body_off;   /* offset of the body from the start of the record */
    const uint8_t *body;
    /* RCPT */
    uint32_t index;
    rec_rcpt rcpt;
    /* MSGOP */
    uint8_t op;
} rec;

/* rec_frame_begin - start a record of type in b: the header with len, lsn and crc left to
 * rec_frame_end.  Returns the offset of the record in b. */
size_t rec_frame_begin(dbuf *b, uint8_t type);
/* rec_frame_end - finish the record started at off: set len and lsn, compute the crc,
 * append the end marker. */
void rec_frame_end(dbuf *b, size_t off, uint64_t lsn);

/* Split framing for MSG: the caller writes [b][body][trailer] with writev, and the crc must
 * cover the body too.  rec_frame_end_split sets len and crc over b's payload + body and
 * returns the 4-byte trailer to write after the body. */
void rec_frame_end_split(dbuf *b, size_t off, uint64_t lsn, const uint8_t *body,
                         size_t body_len, uint8_t trailer[REC_TRAILER_LEN]);

/* Payload builders (after rec_frame_begin).  For MSG the body is appended separately. */
void rec_put_seg(dbuf *b, uint64_t segno, int64_t created_us);
void rec_put_msg_head(dbuf *b, const rec *m);   /* everything up to and including body_len */
void rec_put_rcpt(dbuf *b, uint64_t qid, uint32_t index, const rec_rcpt *r);
void rec_put_msgop(dbuf *b, uint64_t qid, uint8_t op);

enum rec_status {
    REC_OK = 0,
    REC_SHORT = -1,    /* not enough bytes: a torn tail, or read more */
    REC_BADMAGIC = -2,
    REC_BADCRC = -3,
    REC_BADLEN = -4,
    REC_BADPAYLOAD = -5,
    REC_BADVERSION = -6,
};

/* rec_peek - check the frame at p (n bytes available): magic, length, end marker and crc.
 * On REC_OK *total is the record's size.  On REC_SHORT *total is how many bytes are needed
 * (0 when the header itself is incomplete). */
int rec_peek(const uint8_t *p, size_t n, size_t *total);
/* rec_decode - rec_peek, then decode the payload into r (rec_clear it afterwards). */
int rec_decode(const uint8_t *p, size_t n, rec *r, size_t *total);
void rec_clear(rec *r);
/* rec_find_magic - the offset of the next possible record start at or after p, or n */
size_t rec_find_magic(const uint8_t *p, size_t n);
const char *rec_status_text(int status);

#endif
