/* spool_record.c - encoding and decoding of spool records (layout in spool_record.h).
 * Decoding never trusts a length: every read is bounds-checked against the payload. */
#include "queue/spool_record.h"

#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/xmalloc.h"

/* le32 / le64 - little-endian loads */
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* set32 / set64 - little-endian stores */
static void set32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void set64(uint8_t *p, uint64_t v)
{
    set32(p, (uint32_t)v);
    set32(p + 4, (uint32_t)(v >> 32));
}

size_t rec_frame_begin(dbuf *b, uint8_t type)
{
    size_t off = b->len;
    dbuf_put_u32(b, REC_MAGIC);
    dbuf_put_u8(b, type);
    dbuf_put_u8(b, 1);
    dbuf_put_u16(b, 0);
    dbuf_put_u32(b, 0);   /* len */
    dbuf_put_u64(b, 0);   /* lsn */
    dbuf_put_u32(b, 0);   /* crc */
    return off;
}

/* frame_seal - fill len and lsn, return the crc over the header part */
static uint32_t frame_seal(dbuf *b, size_t off, uint64_t lsn, uint32_t len)
{
    uint8_t *h = b->data + off;
    set32(h + 8, len);
    set64(h + 12, lsn);
    return crc32c(0, h + 4, 16);
}

void rec_frame_end(dbuf *b, size_t off, uint64_t lsn)
{
    uint32_t len = (uint32_t)(b->len - off - REC_HDR_LEN);
    uint32_t crc = frame_seal(b, off, lsn, len);
    crc = crc32c(crc, b->data + off + REC_HDR_LEN, len);
    set32(b->data + off + 20, crc);
    dbuf_put_u32(b, REC_END);
}

void rec_frame_end_split(dbuf *b, size_t off, uint64_t lsn, const uint8_t *body,
                         size_t body_len, uint8_t trailer[REC_TRAILER_LEN])
{
    size_t head = b->len - off - REC_HDR_LEN;
    uint32_t crc = frame_seal(b, off, lsn, (uint32_t)(head + body_len));
    crc = crc32c(crc, b->data + off + REC_HDR_LEN, head);
    crc = crc32c(crc, body, body_len);
    set32(b->data + off + 20, crc);
    set32(trailer, REC_END);
}

/* put_str_n - a length-prefixed string of n bytes */
static void put_str_n(dbuf *b, const char *s, uint32_t n)
{
    dbuf_put_u32(b, n);
    dbuf_put(b, s, n);
}

void rec_put_seg(dbuf *b, uint64_t segno, int64_t created_us)
{
    dbuf_put_u64(b, segno);
    dbuf_put_u64(b, (uint64_t)created_us);
}

/* put_rcpt_state - the state part shared by MSG and RCPT */
static void put_rcpt_state(dbuf *b, const rec_rcpt *r)
{
    dbuf_put_u8(b, r->state);
    dbuf_put_u16(b, r->attempts);
    dbuf_put_u64(b, (uint64_t)r->next_attempt_us);
    put_str_n(b, r->last_reply, r->last_reply_len);
}

void rec_put_msg_head(dbuf *b, const rec *m)
{
    dbuf_put_u64(b, m->qid);
    dbuf_put_u64(b, (uint64_t)m->arrival_us);
    dbuf_put_u32(b, m->flags);
    put_str_n(b, m->sender, m->sender_len);
    put_str_n(b, m->client_ip, m->client_ip_len);
    put_str_n(b, m->helo, m->helo_len);
    put_str_n(b, m->proto, m->proto_len);
    put_str_n(b, m->origin, m->origin_len);
    dbuf_put_u32(b, m->nrcpt);
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        put_str_n(b, m->rcpts[i].address, m->rcpts[i].address_len);
        put_rcpt_state(b, &m->rcpts[i]);
    }
    dbuf_put_u64(b, m->body_len);
}

void rec_put_rcpt(dbuf *b, uint64_t qid, uint32_t index, const rec_rcpt *r)
{
    dbuf_put_u64(b, qid);
    dbuf_put_u32(b, index);
    put_rcpt_state(b, r);
}

void rec_put_msgop(dbuf *b, uint64_t qid, uint8_t op)
{
    dbuf_put_u64(b, qid);
    dbuf_put_u8(b, op);
}

int rec_peek(const uint8_t *p, size_t n, size_t *total)
{
    *total = 0;
    if (n < REC_HDR_LEN)
        return n >= 4 && le32(p) != REC_MAGIC ? REC_BADMAGIC : REC_SHORT;
    if (le32(p) != REC_MAGIC)
        return REC_BADMAGIC;
    uint32_t len = le32(p + 8);
    if (len > REC_MAX_PAYLOAD || p[6] || p[7])
        return REC_BADLEN;
    size_t need = (size_t)REC_OVERHEAD + len;
    if (n < need) {
        *total = need;
        return REC_SHORT;
    }
    if (le32(p + REC_HDR_LEN + len) != REC_END)
        return REC_BADLEN;
    uint32_t crc = crc32c(0, p + 4, 16);
    crc = crc32c(crc, p + REC_HDR_LEN, len);
    if (crc != le32(p + 20))
        return REC_BADCRC;
    *total = need;
    return REC_OK;
}

/* A bounds-checked reader over one payload. */
typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rd;

/* rd_take - n bytes, or NULL (and bad set) when the payload is shorter */
static const uint8_t *rd_take(rd *r, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->at;
    r->at += n;
    return q;
}

static uint8_t rd_u8(rd *r)
{
    const uint8_t *q = rd_take(r, 1);
    return q ? q[0] : 0;
}

static uint16_t rd_u16(rd *r)
{
    const uint8_t *q = rd_take(r, 2);
    return q ? (uint16_t)(q[0] | q[1] << 8) : 0;
}

static uint32_t rd_u32(rd *r)
{
    const uint8_t *q = rd_take(r, 4);
    return q ? le32(q) : 0;
}

static uint64_t rd_u64(rd *r)
{
    const uint8_t *q = rd_take(r, 8);
    return q ? le64(q) : 0;
}

/* rd_str - a length-prefixed string: pointer and length */
static const char *rd_str(rd *r, uint32_t *len)
{
    *len = rd_u32(r);
    const uint8_t *q = rd_take(r, *len);
    if (!q)
        *len = 0;
    return q ? (const char *)q : "";
}

/* rd_rcpt_state - the state part shared by MSG and RCPT */
static void rd_rcpt_state(rd *r, rec_rcpt *x)
{
    x->state = rd_u8(r);
    x->attempts = rd_u16(r);
    x->next_attempt_us = (int64_t)rd_u64(r);
    x->last_reply = rd_str(r, &x->last_reply_len);
    if (x->state > RCPT_BOUNCED)
        r->bad = 1;
}

/* decode_msg - the MSG payload */
static void decode_msg(rd *r, rec *m)
{
    m->qid = rd_u64(r);
    m->arrival_us = (int64_t)rd_u64(r);
    m->flags = rd_u32(r);
    m->sender = rd_str(r, &m->sender_len);
    m->client_ip = rd_str(r, &m->client_ip_len);
    m->helo = rd_str(r, &m->helo_len);
    m->proto = rd_str(r, &m->proto_len);
    m->origin = rd_str(r, &m->origin_len);
    m->nrcpt = rd_u32(r);
    /* each recipient takes at least 19 bytes: a bound before allocating */
    if (r->bad || m->nrcpt == 0 || m->nrcpt > (r->n - r->at) / 19) {
        r->bad = 1;
        return;
    }
    m->rcpts = xcalloc(m->nrcpt, sizeof *m->rcpts);
    for (uint32_t i = 0; i < m->nrcpt && !r->bad; i++) {
        m->rcpts[i].address = rd_str(r, &m->rcpts[i].address_len);
        rd_rcpt_state(r, &m->rcpts[i]);
    }
    m->body_len = rd_u64(r);
    m->body_off = REC_HDR_LEN + r->at;
    m->body = rd_take(r, m->body_len);
}

/* decode_payload - dispatch on type */
static int decode_payload(rd *r, rec *out)
{
    switch (out->type) {
    case REC_SEG:
        out->segno = rd_u64(r);
        out->created_us = (int64_t)rd_u64(r);
        break;
    case REC_MSG:
        decode_msg(r, out);
        break;
    case REC_RCPT:
        out->qid = rd_u64(r);
        out->index = rd_u32(r);
        rd_rcpt_state(r, &out->rcpt);
        break;
    case REC_MSGOP:
        out->qid = rd_u64(r);
        out->op = rd_u8(r);
        if (out->op < MSGOP_HOLD || out->op > MSGOP_WARNED)
            r->bad = 1;
        break;
    default:
        return REC_BADPAYLOAD;
    }
    return r->bad ? REC_BADPAYLOAD : REC_OK;
}

int rec_decode(const uint8_t *p, size_t n, rec *out, size_t *total)
{
    memset(out, 0, sizeof *out);
    int st = rec_peek(p, n, total);
    if (st != REC_OK)
        return st;
    out->type = p[4];
    out->version = p[5];
    out->payload_len = le32(p + 8);
    out->lsn = le64(p + 12);
    if (out->version != 1)
        return REC_BADVERSION;
    rd r = {p + REC_HDR_LEN, out->payload_len, 0, 0};
    st = decode_payload(&r, out);
    if (st != REC_OK)
        rec_clear(out);
    return st;
}

void rec_clear(rec *r)
{
    free(r->rcpts);
    r->rcpts = NULL;
}

size_t rec_find_magic(const uint8_t *p, size_t n)
{
    static const uint8_t m[4] = {'S', 'L', 'R', 'C'};
    for (size_t i = 0; i + 4 <= n; i++) {
        const uint8_t *q = memchr(p + i, 'S', n - i);
        if (!q)
            return n;
        i = (size_t)(q - p);
        if (i + 4 <= n && memcmp(q, m, 4) == 0)
            return i;
    }
    return n;
}

const char *rec_status_text(int status)
{
    switch (status) {
    case REC_OK: return "ok";
    case REC_SHORT: return "truncated record";
    case REC_BADMAGIC: return "no record magic";
    case REC_BADCRC: return "checksum mismatch";
    case REC_BADLEN: return "bad record length or end marker";
    case REC_BADPAYLOAD: return "malformed payload";
    case REC_BADVERSION: return "unsupported record version";
    default: return "unknown error";
    }
}
