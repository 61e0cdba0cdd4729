/* control.c - the daemon side of the control socket (protocol in control_proto.h).
 * Each client connection is a small state machine: read a request line, run it, write the
 * response; a submit first waits for its message bytes, and answers only once the message
 * is durable.  A long listing is written in slices, resumed as the client drains them, so
 * one slow reader cannot make the daemon buffer the whole queue. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/control_proto.h"
#include "daemon/sluiced.h"
#include "smtp/smtp_cmd.h"

struct ctl_server {
    sluiced *d;
    struct evconnlistener *lis;
    char *path;
    struct ctl_conn *conns;
};

enum conn_state { CTL_REQUEST, CTL_BODY, CTL_BUSY, CTL_LISTING, CTL_DOOMED };

typedef struct ctl_conn {
    ctl_server *srv;
    struct bufferevent *bev;
    struct ctl_conn *next;
    enum conn_state state;
    uid_t uid;
    int privileged;
    json_t *req;               /* a submit waiting for its bytes */
    size_t need;
    qid_t *list;               /* a listing in progress: the ids, and where we are */
    size_t nlist, at, count;
    int pending;               /* spool callbacks outstanding for this request */
    int closing;               /* the client went away while a callback was pending */
    int reading;               /* on_read is running (it goes on with the next request) */
    json_t *result;            /* accumulated answer of a multi-message change */
    int out_full;              /* requests wait: CTL_OUT_HIGH bytes of answers unread */
} ctl_conn;

#define CTL_OUT_HIGH (1 << 20)

char *ctl_socket_path(const char *queue_directory)
{
    return xasprintf("%s/%s", queue_directory, CTL_SOCKET_NAME);
}

/* conn_free - drop a connection (or mark it, when a spool callback still refers to it) */
static void conn_free(ctl_conn *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    if (c->pending) {
        c->closing = 1;
        return;
    }
    if (c->srv) {
        ctl_conn **pp = &c->srv->conns;
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp)
            *pp = c->next;
    }
    json_decref(c->req);
    json_decref(c->result);
    free(c->list);
    free(c);
}

/* send_json - write one response line (steals j) */
static void send_json(ctl_conn *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (c->bev && s) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        evbuffer_add(out, s, strlen(s));
        evbuffer_add(out, "\n", 1);
    }
    free(s);
}

/* send_error - {"ok":false,"error":..,"exit":code} */
static void send_error(ctl_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_error(ctl_conn *c, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!smtp_utf8_valid((const unsigned char *)msg, strlen(msg)))   /* JSON takes nothing else */
        for (char *p = msg; *p; p++)   /* (a parser's "near '...'" quoting the request, a cut) */
            if ((unsigned char)*p > 0x7f)
                *p = '?';
    send_json(c, json_pack("{s:b,s:s,s:i}", "ok", 0, "error", msg, "exit", code));
}

/* queue_name - Postfix's queue names for where a message stands */
static const char *queue_name(const qmsg *m)
{
    if (m->flags & MSGF_HELD)
        return "hold";
    for (uint32_t i = 0; i < m->nrcpt; i++)
        if (m->rcpts[i].state == RCPT_DEFERRED)
            return "deferred";
    return "active";
}

/* rcpt_state_name - for show */
static const char *rcpt_state_name(uint8_t st)
{
    static const char *const names[] = {"pending", "deferred", "delivered", "bounced"};
    return st <= RCPT_BOUNCED ? names[st] : "unknown";
}

/* msg_json - one message in the format of `postqueue -j` (plus next_attempt_time) */
static json_t *msg_json(const qmsg *m)
{
    char qs[QID_LEN + 1];
    json_t *rcpts = json_array();
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        const qrcpt *r = &m->rcpts[i];
        if (RCPT_STATE_FINAL(r->state))
            continue;
        json_t *o = json_pack("{s:s}", "address", r->address);
        if (r->state == RCPT_DEFERRED) {
            json_object_set_new(o, "delay_reason", json_string(r->last_reply ? r->last_reply : ""));
            json_object_set_new(o, "next_attempt_time",
                                json_integer(r->next_attempt_us / 1000000));
        }
        json_array_append_new(rcpts, o);
    }
    return json_pack("{s:s,s:s,s:I,s:I,s:b,s:s,s:o}", "queue_name", queue_name(m), "queue_id",
                     qid_format(m->qid, qs), "arrival_time", (json_int_t)(m->arrival_us / 1000000),
                     "message_size", (json_int_t)m->size, "forced_expire", 0, "sender", m->sender,
                     "recipients", rcpts);
}

static void on_read(struct bufferevent *bev, void *arg);

/* resume - the request is answered: on to the requests that came meanwhile (a client may
 * send several at once), unless on_read is running and does so itself */
static void resume(ctl_conn *c)
{
    c->state = CTL_REQUEST;
    if (!c->reading)
        on_read(c->bev, c);
}

/* list_more - write the next slice of a listing; finish with the summary line */
static void list_more(ctl_conn *c)
{
    sluiced *d = c->srv->d;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (c->at < c->nlist && evbuffer_get_length(out) < 1024 * 1024) {
        qmsg *m = spool_find(d->sp, c->list[c->at++]);
        if (!m)
            continue;
        send_json(c, msg_json(m));
        c->count++;
    }
    if (c->at < c->nlist)
        return;
    send_json(c, json_pack("{s:b,s:I}", "ok", 1, "count", (json_int_t)c->count));
    free(c->list);
    c->list = NULL;
    resume(c);
}

/* cmd_list - snapshot the ids, then stream */
static void cmd_list(ctl_conn *c, json_t *req)
{
    (void)req;
    spool *sp = c->srv->d->sp;
    c->nlist = spool_count(sp);
    c->list = xcalloc(c->nlist + 1, sizeof *c->list);
    size_t n = 0;
    for (qmsg *m = spool_first(sp); m && n < c->nlist; m = spool_next(sp, m))
        c->list[n++] = m->qid;
    c->nlist = n;
    c->at = c->count = 0;
    c->state = CTL_LISTING;
    list_more(c);
}

/* find_msg - the message named by req's "id", or NULL after sending an error */
static qmsg *find_msg(ctl_conn *c, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    qid_t q;
    if (!id || qid_parse(id, &q) < 0) {
        send_error(c, 64, "not a queue id: %s", id ? id : "(none)");
        return NULL;
    }
    qmsg *m = spool_find(c->srv->d->sp, q);
    if (!m)
        send_error(c, 67, "%s: no such message in the queue", id);
    return m;
}

/* why_waiting - what the last reply meant and what that means for this recipient */
static void why_waiting(const sluiced *d, const qrcpt *r, json_t *o)
{
    if (!d->cls || !r->last_reply || r->state != RCPT_DEFERRED)
        return;
    classify_input in = {.text = r->last_reply, .stage = CS_ANY, .closed = -1};
    classify_result cr;
    classify(d->cls, &in, &cr);
    static const char *const meaning[RC_NCLASSES] = {
        [RC_GREYLISTING] = "greylisted: retried once the greylist window has passed (the window its destination learned, or while unknown the probe 15 s, x1.5 ...), not on the exponential schedule",
        [RC_TOO_MANY_CONNECTIONS] = "the receiver refused another connection: concurrency lowered, retried soon",
        [RC_RATE_LIMITED] = "rate limited: sent when the destination's learned rate allows",
        [RC_REPUTATION] = "refused for our reputation: the destination is paused for a long backoff",
        [RC_AUTHENTICATION] = "refused for authentication (SPF/DKIM/DMARC/rDNS): fix the records; retried on schedule",
        [RC_OVERLOADED] = "the receiver is overloaded or in maintenance: the destination backs off",
        [RC_MAILBOX] = "the recipient's mailbox is not available: retried on schedule",
        [RC_PERMANENT] = "a permanent refusal",
        [RC_OTHER] = "a temporary failure: retried on the exponential schedule",
    };
    json_object_set_new(o, "class", json_string(reply_class_name(cr.cls)));
    json_object_set_new(o, "rule", json_string(cr.rule ? cr.rule : ""));
    if (cr.provider)
        json_object_set_new(o, "provider", json_string(cr.provider));
    if (cr.retry_hint_s >= 0)
        json_object_set_new(o, "retry_hint_seconds", json_integer(cr.retry_hint_s));
    json_object_set_new(o, "why", json_string(meaning[cr.cls]));
}

/* rcpt_detail - one recipient for show */
static json_t *rcpt_detail(const sluiced *d, const qrcpt *r)
{
    json_t *o = json_pack("{s:s,s:s,s:i}", "address", r->address, "state",
                          rcpt_state_name(r->state), "attempts", r->attempts);
    if (r->last_reply)
        json_object_set_new(o, "last_reply", json_string(r->last_reply));
    why_waiting(d, r, o);
    if (r->state == RCPT_DEFERRED || (r->state == RCPT_PENDING && r->next_attempt_us))
        json_object_set_new(o, "next_attempt_time", json_integer(r->next_attempt_us / 1000000));
    return o;
}

/* cmd_show - the envelope, where it came from and every recipient's state */
static void cmd_show(ctl_conn *c, json_t *req)
{
    qmsg *m = find_msg(c, req);
    if (!m)
        return;
    json_t *o = msg_json(m);
    json_t *rcpts = json_array();
    for (uint32_t i = 0; i < m->nrcpt; i++)
        json_array_append_new(rcpts, rcpt_detail(c->srv->d, &m->rcpts[i]));
    json_object_set_new(o, "recipients", rcpts);
    json_object_set_new(o, "held", json_boolean(m->flags & MSGF_HELD));
    json_object_set_new(o, "local", json_boolean(m->flags & MSGF_LOCAL));
    dbuf raw = {0};
    rec r;
    if (spool_read_record(c->srv->d->sp, m, &raw, &r) == 0) {
        json_object_set_new(o, "client_ip", json_stringn(r.client_ip, r.client_ip_len));
        json_object_set_new(o, "helo", json_stringn(r.helo, r.helo_len));
        json_object_set_new(o, "protocol", json_stringn(r.proto, r.proto_len));
        rec_clear(&r);
    }
    dbuf_free(&raw);
    send_json(c, json_pack("{s:b,s:o}", "ok", 1, "message", o));
}

/* cmd_body - the message itself, raw */
static void cmd_body(ctl_conn *c, json_t *req)
{
    qmsg *m = find_msg(c, req);
    if (!m)
        return;
    dbuf b = {0};
    if (spool_read_body(c->srv->d->sp, m, &b) < 0) {
        dbuf_free(&b);
        send_error(c, 74, "cannot read the message from the spool: %s", strerror(errno));
        return;
    }
    send_json(c, json_pack("{s:b,s:I}", "ok", 1, "size", (json_int_t)b.len));
    evbuffer_add(bufferevent_get_output(c->bev), b.data, b.len);
    dbuf_free(&b);
}

/* change_done - a hold/release/delete record is durable; answer when all are */
static void change_done(void *arg, int err)
{
    ctl_conn *c = arg;
    if (err)
        json_object_set_new(c->result, "error", json_string(strerror(err)));
    if (--c->pending > 0)
        return;
    if (c->closing) {
        conn_free(c);
        return;
    }
    json_t *r = c->result;
    c->result = NULL;
    if (json_object_get(r, "error"))
        json_object_set_new(r, "ok", json_false());
    send_json(c, r);
    resume(c);
}

/* apply_change - one hold/release/delete on m; returns 1 when a record was queued */
static int apply_change(ctl_conn *c, const char *cmd, qmsg *m)
{
    spool *sp = c->srv->d->sp;
    char qs[QID_LEN + 1];
    qid_format(m->qid, qs);
    if (!strcmp(cmd, "hold")) {
        if (m->flags & MSGF_HELD)
            return 0;
        spool_hold(sp, m, change_done, c);
        sched_hold(c->srv->d->sched, m);
        log_info(qs, "placed on hold by uid=%ld", (long)c->uid);
    } else if (!strcmp(cmd, "release")) {
        if (!(m->flags & MSGF_HELD))
            return 0;
        spool_release(sp, m, change_done, c);
        sched_add(c->srv->d->sched, m);
        log_info(qs, "released from hold by uid=%ld", (long)c->uid);
    } else {
        log_info(qs, "removed by uid=%ld", (long)c->uid);
        spool_delete(sp, m, change_done, c);
    }
    return 1;
}

/* cmd_change - hold, release or delete the listed ids, or all */
static void cmd_change(ctl_conn *c, json_t *req, const char *cmd)
{
    spool *sp = c->srv->d->sp;
    json_t *ids = json_object_get(req, "ids"), *missing = json_array();
    size_t n = 0;
    c->pending = 1;   /* held until every change is queued */
    c->result = json_pack("{s:b,s:i,s:o}", "ok", 1, "count", 0, "missing", missing);
    c->state = CTL_BUSY;
    if (json_is_true(json_object_get(req, "all"))) {
        for (qmsg *m = spool_first(sp), *nx; m; m = nx) {
            nx = spool_next(sp, m);
            if (apply_change(c, cmd, m)) {
                c->pending++;
                n++;
            }
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        qid_t q;
        const char *id = json_string_value(v);
        qmsg *m = id && qid_parse(id, &q) == 0 ? spool_find(sp, q) : NULL;
        if (!m) {
            json_array_append_new(missing, json_string(id ? id : "?"));
        } else if (apply_change(c, cmd, m)) {
            c->pending++;
            n++;
        }
    }
    json_object_set_new(c->result, "count", json_integer((json_int_t)n));
    change_done(c, 0);
}

/* cmd_flush - make every deferred recipient due now */
static void cmd_flush(ctl_conn *c, json_t *req)
{
    (void)req;
    uint64_t n = sched_flush(c->srv->d->sched);
    log_info(NULL, "queue flush requested by uid=%ld: %llu deferred recipients due now",
             (long)c->uid, (unsigned long long)n);
    send_json(c, json_pack("{s:b,s:I}", "ok", 1, "count", (json_int_t)n));
}

/* submit_done - the spool's answer to a submit */
static void submit_done(void *arg, qmsg *m, int err)
{
    ctl_conn *c = arg;
    c->pending--;
    if (c->closing) {
        conn_free(c);
        return;
    }
    char qs[QID_LEN + 1];
    if (!m)
        send_error(c, 75, "the message could not be queued: %s", strerror(err));
    else
        send_json(c, json_pack("{s:b,s:s}", "ok", 1, "queue_id", qid_format(m->qid, qs)));
    bufferevent_enable(c->bev, EV_READ);
    resume(c);
}

/* strings_of - a JSON array of strings as a vector (the strings stay in the array) */
static const char **strings_of(json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    const char **v = xcalloc((size_t)*n + 1, sizeof *v);
    for (int i = 0; i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, (size_t)i));
        if (!v[i] || !*v[i]) {
            free(v);
            return NULL;
        }
    }
    return v;
}

/* run_submit - the message bytes are here: into cleanup */
static void run_submit(ctl_conn *c, const uint8_t *msg, size_t len)
{
    sluiced *d = c->srv->d;
    json_t *req = c->req;
    int n;
    const char **rcpts = strings_of(json_object_get(req, "rcpts"), &n);
    const char *sender = json_string_value(json_object_get(req, "sender"));
    if (!rcpts || n == 0 || !sender) {
        free(rcpts);
        send_error(c, 64, "submit needs a sender and at least one recipient");
        c->state = CTL_REQUEST;
        return;
    }
    const char *bad = smtp_path_safe(sender) ? NULL : sender;
    for (int i = 0; i < n && !bad; i++)
        bad = smtp_path_safe(rcpts[i]) ? NULL : rcpts[i];
    if (bad) {   /* it would go into MAIL FROM:<...> / RCPT TO:<...> as it is */
        send_error(c, 65, "bad address (a control character, a blank or an angle bracket): %s", bad);
        free(rcpts);
        c->state = CTL_REQUEST;
        return;
    }
    if (d->stopping) {   /* not queued: the client puts it in the maildrop for the next start */
        free(rcpts);
        send_json(c, json_pack("{s:b,s:s,s:i,s:b}", "ok", 0, "error", "sluiced is stopping", "exit", 75,
                               "stopping", 1));
        c->state = CTL_REQUEST;
        return;
    }
    cleanup_in in = {.sender = sender, .rcpts = rcpts, .nrcpt = n, .msg = msg, .len = len,
                     .local = 1, .uid = (long)c->uid,
                     .fullname = json_string_value(json_object_get(req, "fullname")),
                     .origin = NULL,   /* the maildrop's alone: a client's could make the next */
                                       /* start skip (and delete) someone's maildrop file */
                     .flags = (uint32_t)json_integer_value(json_object_get(req, "flags")) &
                              (MSGF_8BITMIME | MSGF_SMTPUTF8)};
    c->pending++;
    c->state = CTL_BUSY;
    bufferevent_disable(c->bev, EV_READ);
    cleanup_submit(d, &in, submit_done, c);
    free(rcpts);
}

/* cmd_submit - check the size, then wait for the message bytes */
static void cmd_submit(ctl_conn *c, json_t *req)
{
    json_int_t size = json_integer_value(json_object_get(req, "size"));
    if (!json_is_integer(json_object_get(req, "size")) || size < 0) {
        send_error(c, 64, "submit needs a size");
        return;
    }
    if (size > c->srv->d->cfg->message_size_limit) {
        send_error(c, 65, "message too large: %lld bytes, message_size_limit is %lld", (long long)size,
                   (long long)c->srv->d->cfg->message_size_limit);
        c->need = (size_t)size;   /* swallow the bytes */
        c->req = NULL;
        c->state = CTL_BODY;
        return;
    }
    c->req = json_incref(req);
    c->need = (size_t)size;
    c->state = CTL_BODY;
}

typedef struct command {
    const char *name;
    int privileged;
    void (*run)(ctl_conn *c, json_t *req);
} command;

static void cmd_ping(ctl_conn *c, json_t *req)
{
    (void)req;
    send_json(c, json_pack("{s:b,s:i,s:s,s:s}", "ok", 1, "pid", (int)getpid(), "version",
                           SLUICE_VERSION, "queue_directory", c->srv->d->cfg->queue_directory));
}

/* cmd_status - the scheduler's destinations and counters */
static void cmd_status(ctl_conn *c, json_t *req)
{
    (void)req;
    spool_stats st;
    spool_get_stats(c->srv->d->sp, &st);
    json_t *o = sched_status(c->srv->d->sched);
    json_object_set_new(o, "queue", json_pack("{s:I,s:I,s:I,s:I}", "messages", (json_int_t)st.messages,
                                              "recipients", (json_int_t)st.recipients, "segments",
                                              (json_int_t)st.segments, "bytes_on_disk",
                                              (json_int_t)st.bytes_on_disk));
    if (c->srv->d->bl)
        json_object_set_new(o, "blocklists", blwatch_status(c->srv->d->bl));
    send_json(c, json_pack("{s:b,s:o}", "ok", 1, "status", o));
}

static void cmd_hold(ctl_conn *c, json_t *req) { cmd_change(c, req, "hold"); }
static void cmd_release(ctl_conn *c, json_t *req) { cmd_change(c, req, "release"); }
static void cmd_delete(ctl_conn *c, json_t *req) { cmd_change(c, req, "delete"); }

static const command commands[] = {
    {"ping", 0, cmd_ping},       {"submit", 0, cmd_submit}, {"list", 0, cmd_list},
    {"show", 1, cmd_show},       {"body", 1, cmd_body},     {"delete", 1, cmd_delete},
    {"hold", 1, cmd_hold},       {"release", 1, cmd_release}, {"flush", 1, cmd_flush},
    {"status", 0, cmd_status},
};

/* run_request - parse and dispatch one request line */
static void run_request(ctl_conn *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr);
    const char *name = json_string_value(json_object_get(req, "cmd"));
    if (!req || !name) {
        send_error(c, 64, "bad request: %s", req ? "no cmd" : jerr.text);
        json_decref(req);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        if (commands[i].privileged && !c->privileged)
            send_error(c, 77, "%s: permission denied (needs root or the mail owner)", name);
        else
            commands[i].run(c, req);
        json_decref(req);
        return;
    }
    send_error(c, 64, "unknown command: %s", name);
    json_decref(req);
}

/* read_requests - requests and message bytes as they arrive */
static void read_requests(ctl_conn *c, struct bufferevent *bev)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (c->state == CTL_BODY) {
            if (c->req && evbuffer_get_length(in) < c->need)
                return;
            if (!c->req) {   /* refused: discard as it comes, never held */
                size_t have = evbuffer_get_length(in), take = have < c->need ? have : c->need;
                evbuffer_drain(in, take);
                c->need -= take;
                if (c->need)
                    return;
                c->state = CTL_REQUEST;
                continue;
            }
            uint8_t *msg = evbuffer_pullup(in, (ssize_t)c->need);
            run_submit(c, msg ? msg : (uint8_t *)"", c->need);
            evbuffer_drain(in, c->need);
            json_decref(c->req);
            c->req = NULL;
            continue;
        }
        if (c->state != CTL_REQUEST)
            return;
        if (evbuffer_get_length(bufferevent_get_output(bev)) > CTL_OUT_HIGH) {
            c->out_full = 1;   /* the client does not read its answers: wait (on_write), */
            bufferevent_disable(bev, EV_READ);   /* its requests held by the kernel */
            return;
        }
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line) {
            if (evbuffer_get_length(in) > CTL_MAX_LINE) {
                send_error(c, 64, "request line too long");
                bufferevent_disable(bev, EV_READ);
                c->state = CTL_DOOMED;   /* closed once the error is out (on_write) */
            }
            return;
        }
        run_request(c, line, len);
        free(line);
    }
}

/* on_read - read_requests, marked as running (see resume) */
static void on_read(struct bufferevent *bev, void *arg)
{
    ctl_conn *c = arg;
    c->reading = 1;
    read_requests(c, bev);
    c->reading = 0;
}

/* on_write - the output drained: continue a listing */
static void on_write(struct bufferevent *bev, void *arg)
{
    ctl_conn *c = arg;
    (void)bev;
    if (c->state == CTL_LISTING)
        list_more(c);
    else if (c->state == CTL_DOOMED)
        conn_free(c);
    else if (c->out_full && c->state == CTL_REQUEST) {
        c->out_full = 0;   /* the answers went out: the requests waiting behind them */
        bufferevent_enable(c->bev, EV_READ);
        resume(c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(arg);
}

/* on_accept - a new client: note its uid */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    ctl_server *srv = arg;
    (void)l;
    (void)sa;
    (void)salen;
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        close(fd);
        return;
    }
    ctl_conn *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->uid = cred.uid;
    c->privileged = cred.uid == 0 || cred.uid == srv->d->owner_uid;
    c->bev = bufferevent_socket_new(srv->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = srv->conns;
    srv->conns = c;
}

ctl_server *ctl_start(sluiced *d, char *err, int errlen)
{
    ctl_server *srv = xcalloc(1, sizeof *srv);
    srv->d = d;
    srv->path = ctl_socket_path(d->cfg->queue_directory);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(srv->path) >= sizeof sun.sun_path) {
        snprintf(err, (size_t)errlen, "%s: path too long for a socket", srv->path);
        goto fail;
    }
    strcpy(sun.sun_path, srv->path);
    unlink(srv->path);   /* the spool lock is ours, so a leftover socket is stale */
    srv->lis = evconnlistener_new_bind(d->base, on_accept, srv,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                       (struct sockaddr *)&sun, (int)sizeof sun);
    if (!srv->lis) {
        snprintf(err, (size_t)errlen, "%s: %s", srv->path, strerror(errno));
        goto fail;
    }
    chmod(srv->path, 0666);
    return srv;
fail:
    free(srv->path);
    free(srv);
    return NULL;
}

void ctl_stop(ctl_server *srv)
{
    if (!srv)
        return;
    evconnlistener_free(srv->lis);
    unlink(srv->path);
    while (srv->conns) {   /* one waiting for the spool is freed by its callback */
        ctl_conn *c = srv->conns;
        srv->conns = c->next;
        c->srv = NULL;
        conn_free(c);
    }
    free(srv->path);
    free(srv);
}
