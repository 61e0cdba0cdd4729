/* sink_record.c - the --record JSON Lines writer and the --store files (see sink_record.h).
 *
 * Line formats (keys always in this order; "time" is seconds since the epoch with
 * microseconds):
 *   {"time":..,"event":"accept","listener":..,"client_ip":..,"helo":..,"mail_from":..,
 *    "rcpts":[..],"message_id":..|null,"size":N,"sha256":"hex","queue_id":..,"tls":bool,
 *    "session":N[,"stored":path]}
 *   {"time":..,"event":"refusal","listener":..,"client_ip":..,"helo":..,"mail_from":..|null,
 *    "rcpt":..|null,"stage":"connect|helo|mail|rcpt|data|eom|other","code":N|null,
 *    "enhanced":"X.Y.Z"|null,"text":..|null,"policy":..,"session":N}
 * A drop is a refusal line with code, enhanced and text null and policy "drop" (or the
 * script rule that dropped).  Files under --store are created with O_EXCL and written whole
 * before the message is acknowledged (no fsync: the sink is a test receiver). */
#include "sink/sink_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"

#define RECORD_FLUSH_AT (64 * 1024)

struct sink_record {
    int fd;              /* -1: no record file */
    char *path;
    char *store;         /* NULL: no store */
    dbuf buf;
    int failed;          /* a write error was logged */
};

/* utf8_len - the length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t want = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    if (!want || want > n || !smtp_utf8_valid(p, want))
        return 0;
    return want;
}

void sink_json_str(dbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    dbuf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t u = c >= 0x80 ? utf8_len(p + i, n - i) : 0;
        if (u) {
            dbuf_put(b, p + i, u);
            i += u;
            continue;
        }
        if (c == '"' || c == '\\') {
            dbuf_putc(b, '\\');
            dbuf_putc(b, c);
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            dbuf_puts(b, esc);
        } else {
            dbuf_putc(b, c);
        }
        i++;
    }
    dbuf_putc(b, '"');
}

/* json_str_or_null - a string, or null for NULL */
static void json_str_or_null(dbuf *b, const char *s)
{
    if (s)
        sink_json_str(b, s);
    else
        dbuf_puts(b, "null");
}

/* put_key - ,"key": (without the comma for the first) */
static void put_key(dbuf *b, const char *key)
{
    dbuf_printf(b, ",\"%s\":", key);
}

/* put_head - {"time":..,"event":..,"listener":..,"client_ip":..,"helo":.. */
static void put_head(dbuf *b, int64_t t, const char *event, const char *listener,
                     const char *ip, const char *helo)
{
    dbuf_printf(b, "{\"time\":%lld.%06lld,\"event\":\"%s\"", (long long)(t / 1000000),
                (long long)(t % 1000000), event);
    put_key(b, "listener");
    sink_json_str(b, listener);
    put_key(b, "client_ip");
    sink_json_str(b, ip);
    put_key(b, "helo");
    sink_json_str(b, helo);
}

sink_record *sink_record_open(const char *path, const char *store, char *err, size_t errlen)
{
    sink_record *r = xcalloc(1, sizeof *r);
    r->fd = -1;
    if (path) {
        r->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (r->fd < 0) {
            snprintf(err, errlen, "--record %s: %s", path, strerror(errno));
            goto fail;
        }
        r->path = xstrdup(path);
    }
    if (store) {
        if (mkdir(store, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "--store %s: %s", store, strerror(errno));
            goto fail;
        }
        r->store = xstrdup(store);
    }
    return r;
fail:
    sink_record_close(r);
    return NULL;
}

int sink_record_active(const sink_record *r)
{
    return r && r->fd >= 0;
}

/* line_done - end the line; write once enough has gathered */
static void line_done(sink_record *r)
{
    dbuf_puts(&r->buf, "}\n");
    if (r->buf.len >= RECORD_FLUSH_AT)
        sink_record_flush(r);
}

void sink_record_accept(sink_record *r, const sink_rec_accept *a)
{
    if (!sink_record_active(r))
        return;
    dbuf *b = &r->buf;
    put_head(b, a->time_us, "accept", a->listener, a->client_ip, a->helo);
    put_key(b, "mail_from");
    sink_json_str(b, a->sender);
    put_key(b, "rcpts");
    dbuf_putc(b, '[');
    for (int i = 0; i < a->nrcpt; i++) {
        if (i)
            dbuf_putc(b, ',');
        sink_json_str(b, a->rcpts[i]);
    }
    dbuf_putc(b, ']');
    put_key(b, "message_id");
    json_str_or_null(b, a->message_id[0] ? a->message_id : NULL);
    dbuf_printf(b, ",\"size\":%lld,\"sha256\":\"%s\"", (long long)a->size, a->sha256);
    put_key(b, "queue_id");
    sink_json_str(b, a->queue_id);
    dbuf_printf(b, ",\"tls\":%s,\"session\":%llu", a->tls ? "true" : "false",
                (unsigned long long)a->session);
    if (a->stored) {
        put_key(b, "stored");
        sink_json_str(b, a->stored);
    }
    line_done(r);
}

/* put_reply - "code", "enhanced" and "text" of a refusal (null for a drop) */
static void put_reply(dbuf *b, int code, const char *text)
{
    if (!code) {
        dbuf_puts(b, ",\"code\":null,\"enhanced\":null,\"text\":null");
        return;
    }
    size_t el = smtp_enhanced_len(text, strlen(text));
    char enh[32] = "";
    if (el && el < sizeof enh)
        memcpy(enh, text, el);
    dbuf_printf(b, ",\"code\":%d", code);
    put_key(b, "enhanced");
    json_str_or_null(b, enh[0] ? enh : NULL);
    put_key(b, "text");
    sink_json_str(b, text);
}

void sink_record_refusal(sink_record *r, const sink_rec_refusal *f)
{
    if (!sink_record_active(r))
        return;
    dbuf *b = &r->buf;
    put_head(b, f->time_us, "refusal", f->listener, f->client_ip, f->helo);
    put_key(b, "mail_from");
    json_str_or_null(b, f->sender);
    put_key(b, "rcpt");
    json_str_or_null(b, f->rcpt);
    put_key(b, "stage");
    sink_json_str(b, f->stage);
    put_reply(b, f->code, f->text);
    put_key(b, "policy");
    sink_json_str(b, f->policy);
    dbuf_printf(b, ",\"session\":%llu", (unsigned long long)f->session);
    line_done(r);
}

/* write_all - write n bytes to fd; 0 or -1 */
static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int sink_record_store(sink_record *r, const char *name, const void *msg, size_t len,
                      char *path, size_t pathlen)
{
    if (!r || !r->store)
        return -1;
    snprintf(path, pathlen, "%s/%s.eml", r->store, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warn(LOG_NOQUEUE, "--store: %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = write_all(fd, msg, len);
    if (close(fd) < 0 || rc < 0) {
        log_warn(LOG_NOQUEUE, "--store: %s: write error", path);
        return -1;
    }
    return 0;
}

void sink_record_flush(sink_record *r)
{
    if (!sink_record_active(r) || !r->buf.len)
        return;
    if (write_all(r->fd, r->buf.data, r->buf.len) < 0 && !r->failed) {
        log_err(LOG_NOQUEUE, "--record %s: %s", r->path, strerror(errno));
        r->failed = 1;
    }
    dbuf_reset(&r->buf);
}

void sink_record_close(sink_record *r)
{
    if (!r)
        return;
    sink_record_flush(r);
    if (r->fd >= 0)
        close(r->fd);
    dbuf_free(&r->buf);
    free(r->path);
    free(r->store);
    free(r);
}
