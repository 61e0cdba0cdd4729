/* test_smtpc_script.c - the outbound SMTP client against a scripted server: a thread with a
 * blocking socket on 127.0.0.1 that plays a list of steps (send this, expect that line,
 * stay silent, close, reset, stop reading ...) and records every byte it receives, so the
 * tests check precisely what went over the wire and how the client takes misbehaviour:
 * pipelined and lock-step conversations byte for byte, dot-stuffing across chunk
 * boundaries, 421s and closes at every stage, resets, every timeout, HELO fallback, replies
 * in pieces, TLS handshake failure, envelope-only transactions (no DATA, RSET) and what an
 * observer sees.  The client runs on this thread's event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/smtpc.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "test_util_smtp.h"

#define WAIT_MS 8000   /* the longest any step may take before the test fails */

/* ---- time and the loop ---- */

static struct event_base *base;
static struct event *tick;

/* run_for - run the loop for ms */
static void run_for(int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
}

/* ---- the scripted server ---- */

enum op { SEND, LINE, UNTIL, SILENT, SLEEP, CLOSE, RESET, READN, HOLD, END };

typedef struct step {
    enum op op;
    const char *s;
    long n;
} step;

typedef struct script {
    int lfd, fd, port;
    const step *steps;
    pthread_t th;
    int stop[2];           /* the test ends a HOLD (and any wait) by writing here */
    dbuf got;              /* every byte received */
    size_t pos;            /* how far the steps have consumed got */
    char err[512];         /* the first thing that went wrong */
} script;

/* sc_fail - remember the first error */
static void sc_fail(script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sc_fail(script *s, const char *fmt, ...)
{
    va_list ap;
    if (s->err[0])
        return;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

/* sc_wait - wait up to ms for input on fd (1), the stop pipe when stoppable (-1), or
 * nothing (0).  Only HOLD and the final drain are stoppable: a step that expects data
 * must get it, however early the test has seen what it waited for. */
static int sc_wait(script *s, int fd, int ms, int stoppable)
{
    struct pollfd p[2] = {{fd, POLLIN, 0}, {s->stop[0], POLLIN, 0}};
    int r = poll(p, stoppable ? 2 : 1, ms);
    if (r > 0 && stoppable && (p[1].revents & POLLIN))
        return -1;
    return r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

/* sc_read - read what is there into got; 1 data, 0 EOF or error, -1 stopped or timed out */
static int sc_read(script *s, int ms, int stoppable)
{
    char buf[65536];
    if (sc_wait(s, s->fd, ms, stoppable) <= 0)
        return -1;
    ssize_t n = recv(s->fd, buf, sizeof buf, 0);
    if (n <= 0)
        return 0;
    dbuf_put(&s->got, buf, (size_t)n);
    return 1;
}

/* find - the offset just past needle in got from pos, or 0 */
static size_t find(script *s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = s->pos; i + n <= s->got.len; i++)
        if (memcmp(s->got.data + i, needle, n) == 0)
            return i + n;
    return 0;
}

/* sc_until - read until needle has arrived; consume through it */
static int sc_until(script *s, const char *needle)
{
    size_t end;
    while ((end = find(s, needle)) == 0)
        if (sc_read(s, WAIT_MS, 0) <= 0) {
            sc_fail(s, "waiting for \"%s\": connection ended or timed out", needle);
            return -1;
        }
    s->pos = end;
    return 0;
}

/* sc_line - read one line and compare it with want (NULL: any) */
static int sc_line(script *s, const char *want)
{
    size_t start = s->pos;
    if (sc_until(s, "\n") < 0)
        return -1;
    size_t n = s->pos - start;
    if (want && (n != strlen(want) || memcmp(s->got.data + start, want, n) != 0)) {
        sc_fail(s, "want line \"%s\", got \"%.*s\"", want, (int)n, s->got.data + start);
        return -1;
    }
    return 0;
}

/* sc_silent - nothing may arrive for ms */
static int sc_silent(script *s, long ms)
{
    if (s->got.len > s->pos || sc_wait(s, s->fd, (int)ms, 0) == 1) {
        sc_read(s, 0, 0);
        sc_fail(s, "unexpected data: \"%.*s\"", (int)(s->got.len - s->pos),
                s->got.data + s->pos);
        return -1;
    }
    return 0;
}

/* sc_readn - read n more bytes */
static int sc_readn(script *s, long n)
{
    while (s->got.len < s->pos + (size_t)n)
        if (sc_read(s, WAIT_MS, 0) <= 0) {
            sc_fail(s, "reading %ld bytes: connection ended", n);
            return -1;
        }
    s->pos += (size_t)n;
    return 0;
}

/* sc_close - close, with an RST when reset */
static void sc_close(script *s, int reset)
{
    if (s->fd < 0)
        return;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(s->fd);
    s->fd = -1;
}

/* sc_step - play one step; -1 ends the script */
static int sc_step(script *s, const step *st)
{
    switch (st->op) {
    case SEND:
        if (send(s->fd, st->s, strlen(st->s), MSG_NOSIGNAL) != (ssize_t)strlen(st->s))
            sc_fail(s, "send \"%s\": %s", st->s, strerror(errno));
        return 0;
    case LINE:
        return sc_line(s, st->s);
    case UNTIL:
        return sc_until(s, st->s);
    case SILENT:
        return sc_silent(s, st->n);
    case SLEEP:
        usleep((useconds_t)st->n * 1000);
        return 0;
    case CLOSE:
    case RESET:
        sc_close(s, st->op == RESET);
        return 0;
    case READN:
        return sc_readn(s, st->n);
    case HOLD:
        sc_wait(s, -1, WAIT_MS * 2, 1);
        return 0;
    case END:
        return -1;
    }
    return -1;
}

/* sc_main - accept one connection, play the steps, then read until the client closes */
static void *sc_main(void *arg)
{
    script *s = arg;
    if (sc_wait(s, s->lfd, WAIT_MS, 1) != 1) {
        sc_fail(s, "no connection");
        return NULL;
    }
    s->fd = accept(s->lfd, NULL, NULL);
    for (const step *st = s->steps; s->fd >= 0 && sc_step(s, st) == 0; st++)
        ;
    while (s->fd >= 0 && sc_read(s, WAIT_MS, 1) > 0)
        ;
    sc_close(s, 0);
    return NULL;
}

/* sc_listen - a listening socket on 127.0.0.1 with an ephemeral port */
static int sc_listen(int backlog, int rcvbuf, int *port)
{
    struct sockaddr_in sin = {0};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* script_start - a server thread playing steps; rcvbuf > 0 shrinks its receive buffer */
static script *script_start(const step *steps, int rcvbuf)
{
    script *s = xcalloc(1, sizeof *s);
    s->steps = steps;
    s->fd = -1;
    s->lfd = sc_listen(8, rcvbuf, &s->port);
    assert_int_equal(pipe(s->stop), 0);
    assert_int_equal(pthread_create(&s->th, NULL, sc_main, s), 0);
    return s;
}

/* script_end - stop the thread, check it had no complaint, keep the transcript */
static void script_end(script *s)
{
    (void)!write(s->stop[1], "x", 1);
    pthread_join(s->th, NULL);
    if (s->err[0])
        fail_msg("server script: %s", s->err);
}

/* script_free - release the server */
static void script_free(script *s)
{
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    dbuf_free(&s->got);
    free(s);
}

/* script_done - script_end, then script_free */
static void script_done(script *s)
{
    script_end(s);
    script_free(s);
}

/* expect_got - the server received exactly want */
static void expect_got(script *s, const char *want, size_t wantlen)
{
    if (s->got.len == wantlen && (!wantlen || memcmp(s->got.data, want, wantlen) == 0))
        return;
    size_t i = 0;
    while (i < s->got.len && i < wantlen && s->got.data[i] == (uint8_t)want[i])
        i++;
    size_t from = i > 40 ? i - 40 : 0;
    fail_msg("transcript differs at byte %zu of %zu (want %zu): got \"%.*s\" want \"%.*s\"", i,
             s->got.len, wantlen, (int)(s->got.len - from < 80 ? s->got.len - from : 80),
             s->got.data + from, (int)(wantlen - from < 80 ? wantlen - from : 80), want + from);
}

/* ---- the client side ---- */

typedef struct rec {
    smtpc *c;
    int ready, failed, closed, txns, events;
    enum smtpc_event last_ev;
    smtpc_reply last;      /* the last event's reply (copied) */
    int free_in_event;     /* smtpc_free from inside the event callback */
} rec;

static rec R;
static smtpc_opts O;

/* copy_reply - an owned copy of a reply */
static void copy_reply(smtpc_reply *dst, const smtpc_reply *src)
{
    *dst = *src;
    dst->text = src->text ? xstrdup(src->text) : NULL;
}

/* on_event - record the event */
static void on_event(void *arg, smtpc *c, enum smtpc_event ev, const smtpc_reply *r)
{
    rec *rc = arg;
    rc->events++;
    rc->last_ev = ev;
    rc->ready += ev == SMTPC_EV_READY;
    rc->failed += ev == SMTPC_EV_FAILED;
    rc->closed += ev == SMTPC_EV_CLOSED;
    smtpc_reply_clear(&rc->last);
    copy_reply(&rc->last, r);
    if (ev != SMTPC_EV_READY && rc->free_in_event) {
        smtpc_free(c);
        rc->c = NULL;
    }
}

/* on_done - count finished transactions */
static void on_done(void *arg, smtpc *c, smtpc_txn *t)
{
    ((rec *)arg)->txns++;
}

/* connect_to - a client connection to the script's port */
static smtpc *connect_to(script *s)
{
    netaddr a = test_addr("127.0.0.1", s->port);
    R.c = smtpc_connect(base, &a, "mx.test", &O, on_event, &R);
    assert_non_null(R.c);
    return R.c;
}

/* txn_init - a transaction from sender, a NULL-ended recipient list and a body */
static void txn_init(smtpc_txn *t, const char *const *rcpts, const char *body)
{
    memset(t, 0, sizeof *t);
    t->sender = "s@x.test";
    t->rcpts = rcpts;
    while (rcpts[t->nrcpt])
        t->nrcpt++;
    t->body = (const uint8_t *)body;
    t->body_len = strlen(body);
}

/* send_wait - run the transaction to its end */
static void send_wait(smtpc_txn *t)
{
    int before = R.txns;
    assert_int_equal(smtpc_send(R.c, t, on_done, &R), 0);
    WAIT_FOR(R.txns > before);
}

/* start_ready - a script playing steps, and a client connected to it, READY */
static script *start_ready(const step *steps)
{
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.ready);
    return s;
}

/* quit_wait - QUIT and wait for CLOSED */
static void quit_wait(void)
{
    smtpc_quit(R.c);
    WAIT_FOR(R.closed);
}

/* setup - a fresh loop and record for each test */
static int setup(void **state)
{
    base = event_base_new();
    tick = tick_start(base);
    memset(&R, 0, sizeof R);
    memset(&O, 0, sizeof O);
    O.helo_name = "client.test";
    return 0;
}

/* teardown - free what the test left */
static int teardown(void **state)
{
    smtpc_free(R.c);
    smtpc_reply_clear(&R.last);
    event_free(tick);
    event_base_free(base);
    return 0;
}

/* ---- conversations, byte for byte ---- */

static const char *const two_rcpts[] = {"a@y.test", "b@y.test", NULL};
static const char *const one_rcpt[] = {"a@y.test", NULL};

#define GREET "220 mx.test ESMTP\r\n"
#define EHLO_LINE "EHLO client.test\r\n"
#define EHLO_PIPE "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000000\r\n250 8BITMIME\r\n"
#define EHLO_PLAIN "250-mx.test\r\n250 8BITMIME\r\n"

/* Pieces of step lists.  HELLO: the greeting and EHLO; HELLO_PIPE, HELLO_PLAIN: and an EHLO
 * reply with PIPELINING or without; TO_BODY: pipelined MAIL, two RCPTs and DATA, all
 * accepted, the body next; MAIL_OK: lock-step MAIL accepted; LOCKSTEP_OK: a lock-step
 * transaction to a@y.test, accepted; BYE: QUIT answered, the end; STALL: hold the
 * connection, answer nothing, until the test ends; HANG_UP: close, the end. */
#define HELLO {SEND, GREET, 0}, {LINE, EHLO_LINE, 0}
#define HELLO_PIPE HELLO, {SEND, EHLO_PIPE, 0}
#define HELLO_PLAIN HELLO, {SEND, EHLO_PLAIN, 0}
#define TO_BODY {UNTIL, "DATA\r\n", 0}, {SEND, "250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n", 0}
#define MAIL_OK {LINE, "MAIL FROM:<s@x.test>\r\n", 0}, {SEND, "250 Ok\r\n", 0}
#define LOCKSTEP_OK                                                                     \
    MAIL_OK, {LINE, "RCPT TO:<a@y.test>\r\n", 0}, {SEND, "250 Ok\r\n", 0},              \
        {LINE, "DATA\r\n", 0}, {SEND, "354 go\r\n", 0}, {UNTIL, "\r\n.\r\n", 0},        \
        {SEND, "250 Ok\r\n", 0}
#define BYE {LINE, "QUIT\r\n", 0}, {SEND, "221 Bye\r\n", 0}, {END, NULL, 0}
#define STALL {HOLD, NULL, 0}, {END, NULL, 0}
#define HANG_UP {CLOSE, NULL, 0}, {END, NULL, 0}

/* big_body - a body of about want bytes whose 64 KB chunk boundaries fall in turn between
 * "\r\n" and a line starting with ".", between "\r" and "\n.\r\n", and between "\r\n"
 * and a line starting with ".." */
static char *big_body(size_t want)
{
    static const char *const after[] = {".dot at a boundary\r\n", "\n.\r\n", "..two dots\r\n"};
    dbuf b = {0};
    size_t boundary = 65536;
    for (int k = 0; b.len < want; k++, boundary += 65536) {
        while (boundary - b.len > 200) {
            dbuf_puts(&b, ".a line that starts with a dot, and some more text to fill it\r\n");
            dbuf_puts(&b, "plain line of text that is not special at all, just filler!!\r\n");
        }
        size_t room = boundary - b.len, end = k % 3 == 1 ? 1 : 2;
        for (size_t i = 0; i < room - end; i++)
            dbuf_putc(&b, 'x');
        dbuf_put(&b, "\r\n", end);   /* the boundary is right after this */
        dbuf_puts(&b, after[k % 3]);
    }
    dbuf_puts(&b, ".\r\n");
    return (char *)dbuf_steal(&b, NULL);
}

/* test_pipelined_bytes - MAIL, RCPTs and DATA leave before any reply; the body is
 * dot-stuffed right across chunk boundaries; the server gets exactly this */
static void test_pipelined_bytes(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {UNTIL, "DATA\r\n", 0},   /* every command before a single reply */
        {SEND, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 2.0.0 Ok: queued as ABC\r\n", 0},
        {LINE, "QUIT\r\n", 0},
        {SEND, "221 2.0.0 Bye\r\n", 0},
        HANG_UP,
    };
    char *body = big_body(600000);
    script *s = start_ready(steps);
    const smtpc_features *f = smtpc_features_of(R.c);
    assert_true(f->pipelining && f->eightbitmime && f->esmtp);
    assert_int_equal(f->size_limit, 100000000);
    smtpc_txn t;
    txn_init(&t, two_rcpts, body);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    assert_int_equal(t.conn_lost, 0);
    expect_reply(&t.mail, 250, "2.1.0", "Ok", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[0], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.data, 250, "2.0.0", "queued as ABC", SMTPC_ST_BODY, 0);
    quit_wait();
    expect_reply(&R.last, 221, "2.0.0", "Bye", SMTPC_ST_QUIT, 1);
    script_end(s);
    dbuf want = {0};
    dbuf_printf(&want, EHLO_LINE "MAIL FROM:<s@x.test> SIZE=%zu\r\nRCPT TO:<a@y.test>\r\n"
                                 "RCPT TO:<b@y.test>\r\nDATA\r\n",
                strlen(body));
    ref_stuff(&want, body, strlen(body));
    dbuf_puts(&want, ".\r\nQUIT\r\n");
    expect_got(s, (char *)want.data, want.len);
    dbuf_free(&want);
    script_free(s);
    smtpc_txn_clear(&t);
    free(body);
}

/* test_bdat_bytes - PIPELINING and CHUNKING offered: MAIL, the RCPTs and "BDAT n LAST" with
 * the raw body (no dot-stuffing, no final ".") leave before any reply; nobody accepted: the
 * BDAT's refusal, and RSET before the next transaction; a body over SMTPC_BDAT_MAX, or the
 * owner's no_chunking, goes with DATA */
static void test_bdat_bytes(void **state)
{
#define EHLO_CHUNK "250-mx.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
    static const step steps[] = {
        HELLO, {SEND, EHLO_CHUNK, 0},
        {UNTIL, "tail\r\n", 0},   /* the body's last line: everything before a reply */
        {SEND, "250 Ok\r\n250 Ok\r\n250 Ok\r\n250 2.0.0 Ok: queued as B1\r\n", 0},
        {UNTIL, "x\r\n", 0},
        {SEND, "250 Ok\r\n550 5.1.1 no\r\n554 5.5.1 Error: no valid recipients\r\n", 0},
        {UNTIL, "DATA\r\n", 0},   /* the big body: RSET first, then DATA */
        {SEND, "250 Ok\r\n250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 Ok: big\r\n", 0},
        BYE,
    };
    static const char body[] = ".dot\r\n\r\n.\r\ntail\r\n";
    script *s = start_ready(steps);
    assert_true(smtpc_features_of(R.c)->chunking);
    smtpc_txn t;
    txn_init(&t, two_rcpts, body);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_reply(&t.data, 250, "2.0.0", "queued as B1", SMTPC_ST_BODY, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 550, "5.1.1", "no", SMTPC_ST_RCPT, 0);
    expect_reply(&t.data, 554, "5.5.1", "no valid recipients", SMTPC_ST_BODY, 0);
    smtpc_txn_clear(&t);
    char *big = big_body(SMTPC_BDAT_MAX + 1000);
    txn_init(&t, two_rcpts, big);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    smtpc_txn_clear(&t);
    quit_wait();
    script_end(s);
    dbuf want = {0};
    dbuf_printf(&want, EHLO_LINE "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\n"
                                 "BDAT %zu LAST\r\n%s"
                                 "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nBDAT 3 LAST\r\nx\r\n"
                                 "RSET\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\n"
                                 "RCPT TO:<b@y.test>\r\nDATA\r\n",
                sizeof body - 1, body);
    ref_stuff(&want, big, strlen(big));
    dbuf_puts(&want, ".\r\nQUIT\r\n");
    expect_got(s, (char *)want.data, want.len);
    dbuf_free(&want);
    script_free(s);
    free(big);

    /* the owner turned it off */
    static const step steps2[] = {
        HELLO, {SEND, EHLO_CHUNK, 0}, TO_BODY, {UNTIL, "\r\n.\r\n", 0}, {SEND, "250 Ok\r\n", 0}, BYE,
    };
    smtpc_free(R.c);
    smtpc_reply_clear(&R.last);
    memset(&R, 0, sizeof R);
    O.no_chunking = 1;
    s = start_ready(steps2);
    txn_init(&t, two_rcpts, "y\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    smtpc_txn_clear(&t);
    quit_wait();
    script_end(s);
    static const char want2[] = EHLO_LINE "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\n"
                                          "RCPT TO:<b@y.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n";
    expect_got(s, want2, sizeof want2 - 1);
    script_free(s);
#undef EHLO_CHUNK
}

/* test_lockstep_bytes - without PIPELINING every command waits for its reply; a body
 * without a final CRLF gets one before the "." */
static void test_lockstep_bytes(void **state)
{
    static const step steps[] = {
        HELLO_PLAIN,
        {LINE, "MAIL FROM:<s@x.test>\r\n", 0},
        {SILENT, NULL, 150},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SILENT, NULL, 150},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "RCPT TO:<b@y.test>\r\n", 0},
        {SILENT, NULL, 150},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "DATA\r\n", 0},
        {SILENT, NULL, 150},
        {SEND, "354 go ahead\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 queued\r\n", 0},
        {LINE, "QUIT\r\n", 0},
        {SEND, "221 Bye\r\n", 0},
        HANG_UP,
    };
    script *s = start_ready(steps);
    assert_false(smtpc_features_of(R.c)->pipelining);
    smtpc_txn t;
    txn_init(&t, two_rcpts, "Subject: x\r\n\r\n.hidden\r\nno final line end");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_reply(&t.data, 250, "", "queued", SMTPC_ST_BODY, 0);
    quit_wait();
    script_end(s);
    static const char want[] =
        EHLO_LINE "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
        "Subject: x\r\n\r\n..hidden\r\nno final line end\r\n.\r\nQUIT\r\n";
    expect_got(s, want, sizeof want - 1);
    script_free(s);
    smtpc_txn_clear(&t);
}

/* test_helo_fallback - EHLO refused with 5xx: HELO, no extensions, lock-step */
static void test_helo_fallback(void **state)
{
    static const step steps[] = {
        HELLO,
        {SEND, "502 5.5.2 Error: command not recognized\r\n", 0},
        {LINE, "HELO client.test\r\n", 0},
        {SEND, "250 mx.test\r\n", 0},
        LOCKSTEP_OK,
        BYE,
    };
    script *s = start_ready(steps);
    const smtpc_features *f = smtpc_features_of(R.c);
    assert_false(f->esmtp || f->pipelining || f->eightbitmime);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "x\r\n");
    t.body_8bit = 1;   /* no 8BITMIME: sent as it is, without BODY= */
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    quit_wait();
    script_end(s);
    static const char want[] = EHLO_LINE "HELO client.test\r\nMAIL FROM:<s@x.test>\r\n"
                                         "RCPT TO:<a@y.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";
    expect_got(s, want, sizeof want - 1);
    script_free(s);
    smtpc_txn_clear(&t);
}

/* test_reply_pieces - a multi-line EHLO reply in pieces, capabilities in any case; the
 * MAIL parameters follow (SIZE without a number, 8BITMIME, SMTPUTF8) */
static void test_reply_pieces(void **state)
{
    static const step steps[] = {
        {SEND, "220-mx.test first line\r\n", 0},
        {SLEEP, NULL, 50},
        {SEND, "220 second line\r\n", 0},
        {LINE, EHLO_LINE, 0},
        {SEND, "250-mx.test\r\n250-pipe", 0},
        {SLEEP, NULL, 50},
        {SEND, "lining\r\n250-Size\r\n25", 0},
        {SLEEP, NULL, 50},
        {SEND, "0-8bitMIME\r\n250-smtputf8\r\n250 enhancedstatuscodes\r\n", 0},
        {UNTIL, "DATA\r\n", 0},
        {SEND, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        BYE,
    };
    script *s = start_ready(steps);
    const smtpc_features *f = smtpc_features_of(R.c);
    assert_true(f->pipelining && f->eightbitmime && f->smtputf8 && f->enhancedstatuscodes);
    assert_int_equal(f->size_limit, 0);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "8bit \xc3\xa9\r\n");
    t.body_8bit = t.smtputf8 = 1;
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    quit_wait();
    script_end(s);
    static const char want[] =
        EHLO_LINE "MAIL FROM:<s@x.test> SIZE=9 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<a@y.test>\r\n"
        "DATA\r\n8bit \xc3\xa9\r\n.\r\nQUIT\r\n";
    expect_got(s, want, sizeof want - 1);
    script_free(s);
    smtpc_txn_clear(&t);
}

/* ---- refusals ---- */

/* test_all_refused_lockstep - no DATA when nobody was accepted; RSET before the next */
static void test_all_refused_lockstep(void **state)
{
    static const step steps[] = {
        HELLO_PLAIN,
        MAIL_OK,
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SEND, "550 5.1.1 <a@y.test>: Recipient address rejected\r\n", 0},
        {LINE, "RCPT TO:<b@y.test>\r\n", 0},
        {SEND, "450 4.2.0 <b@y.test>: Greylisted\r\n", 0},
        {LINE, "RSET\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        LOCKSTEP_OK,
        MAIL_OK,   /* a clean end: no RSET */
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "DATA\r\n", 0},
        {SEND, "354 go\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "550 5.7.1 spam\r\n", 0},
        MAIL_OK,   /* end of data refused: still clean */
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "DATA\r\n", 0},
        {SEND, "451 4.3.0 try later\r\n", 0},
        {LINE, "RSET\r\n", 0},   /* DATA refused: the transaction is open */
        {SEND, "250 Ok\r\n", 0},
        LOCKSTEP_OK,
        BYE,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, two_rcpts, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    assert_int_equal(t.conn_lost, 0);
    expect_reply(&t.rcpt[0], 550, "5.1.1", "Recipient address rejected", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 450, "4.2.0", "Greylisted", SMTPC_ST_RCPT, 0);
    assert_int_equal(t.data.code, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 550, "5.7.1", "spam", SMTPC_ST_BODY, 0);
    expect_reply(&t.data, 550, "5.7.1", "spam", SMTPC_ST_BODY, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 451, "4.3.0", "try later", SMTPC_ST_DATA, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    smtpc_txn_clear(&t);
    quit_wait();
    script_done(s);
}

/* test_pipelined_354_nobody - pipelined DATA gets 354 though every RCPT was refused: a
 * lone "." and no delivery; then DATA refused after accepted RCPTs: nobody delivered */
static void test_pipelined_354_nobody(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {UNTIL, "DATA\r\n", 0},
        {SEND, "250 Ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n354 go\r\n", 0},
        {LINE, ".\r\n", 0},
        {SILENT, NULL, 100},
        {SEND, "554 5.5.1 Error: no valid recipients\r\n", 0},
        {UNTIL, "DATA\r\n", 0},
        {SEND, "250 Ok\r\n250 Ok\r\n550 5.1.1 no\r\n554 5.3.0 DATA refused\r\n", 0},
        {UNTIL, "DATA\r\n", 0},
        {SEND, "250 Ok\r\n250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        BYE,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, two_rcpts, "body\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 550, "5.1.1", "no", SMTPC_ST_RCPT, 0);
    expect_reply(&t.data, 554, "5.5.1", "no valid recipients", SMTPC_ST_BODY, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, two_rcpts, "body\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 554, "5.3.0", "DATA refused", SMTPC_ST_DATA, 0);
    expect_reply(&t.rcpt[1], 550, "5.1.1", "no", SMTPC_ST_RCPT, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, two_rcpts, "body\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    smtpc_txn_clear(&t);
    quit_wait();
    script_end(s);
    static const char want[] =
        EHLO_LINE "MAIL FROM:<s@x.test> SIZE=6\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\n"
        "DATA\r\n.\r\n"
        "MAIL FROM:<s@x.test> SIZE=6\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
        "RSET\r\nMAIL FROM:<s@x.test> SIZE=6\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\n"
        "DATA\r\nbody\r\n.\r\nQUIT\r\n";
    expect_got(s, want, sizeof want - 1);
    script_free(s);
}

/* test_mail_refused_pipelined - MAIL refused: every recipient gets MAIL's reply, not the
 * 503s that follow; nothing more is sent */
static void test_mail_refused_pipelined(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {UNTIL, "DATA\r\n", 0},
        {SEND, "553 5.7.1 <s@x.test>: Sender address rejected\r\n503 5.5.1 need MAIL\r\n"
               "503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n", 0},
        BYE,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, two_rcpts, "body\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.mail, 553, "5.7.1", "Sender address rejected", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[0], 553, "5.7.1", "Sender address rejected", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[1], 553, "5.7.1", "Sender address rejected", SMTPC_ST_MAIL, 0);
    smtpc_txn_clear(&t);
    quit_wait();
    script_done(s);
}

/* test_local_refusals - over SIZE: 552 5.3.4; SMTPUTF8 needed, not offered: 550 5.6.7;
 * neither is sent */
static void test_local_refusals(void **state)
{
    static const step steps[] = {
        HELLO,
        {SEND, "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n", 0},
        BYE,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, two_rcpts, "this body is longer than ten bytes\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    assert_int_equal(t.conn_lost, 0);
    expect_reply(&t.rcpt[0], 552, "5.3.4", "exceeds size limit 10", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[1], 552, "5.3.4", "exceeds size limit 10", SMTPC_ST_MAIL, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "short\r\n");
    t.smtputf8 = 1;
    send_wait(&t);
    expect_reply(&t.rcpt[0], 550, "5.6.7", "SMTPUTF8 is required", SMTPC_ST_MAIL, 0);
    smtpc_txn_clear(&t);
    quit_wait();
    script_end(s);
    expect_got(s, EHLO_LINE "QUIT\r\n", strlen(EHLO_LINE "QUIT\r\n"));
    script_free(s);
}

/* test_rset_refused - RSET refused: the session is in an unknown state, so the
 * transaction fails with code 0 and the connection is given up */
static void test_rset_refused(void **state)
{
    static const step steps[] = {
        HELLO_PLAIN,
        MAIL_OK,
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SEND, "550 5.1.1 no\r\n", 0},
        {LINE, "RSET\r\n", 0},
        {SEND, "500 5.5.2 what?\r\n", 0},
        {END, NULL, 0},
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.conn_lost, 1);
    expect_reply(&t.rcpt[0], 0, "4.5.0", "mx.test[127.0.0.1] refused RSET: 500 what?",
                 SMTPC_ST_MAIL, 1);
    WAIT_FOR(R.closed);
    smtpc_txn_clear(&t);
    script_done(s);
}

/* ---- envelope-only transactions and the observer ---- */

/* A step the observer saw: its kind, the command line or the reply's code and stage. */
typedef struct seen_step {
    enum smtpc_step step;
    int code;
    enum smtpc_stage stage;
    char text[64];
} seen_step;

static seen_step seen[32];
static int nseen;

/* on_observe - keep the steps, as the doctor's probe does */
static void on_observe(void *arg, const smtpc *c, const smtpc_step_info *si)
{
    assert_ptr_equal(c, R.c);
    if (nseen == (int)(sizeof seen / sizeof seen[0]))
        return;
    seen_step *st = &seen[nseen++];
    memset(st, 0, sizeof *st);
    st->step = si->step;
    if (si->step == SMTPC_STEP_COMMAND)
        snprintf(st->text, sizeof st->text, "%s", si->line);
    if (si->step == SMTPC_STEP_REPLY) {
        st->code = si->reply->code;
        st->stage = si->reply->stage;
        snprintf(st->text, sizeof st->text, "%.*s", (int)si->rawlen, si->raw);
    }
}

/* expect_seen - step i was this (line: the command, or the start of the raw reply) */
static void expect_seen(int i, enum smtpc_step kind, int code, enum smtpc_stage stage,
                        const char *text)
{
    if (i >= nseen)
        fail_msg("step %d not seen (%d steps)", i, nseen);
    const seen_step *st = &seen[i];
    if (st->step != kind || st->code != code || (code && st->stage != stage) ||
        strncmp(st->text, text, strlen(text)) != 0)
        fail_msg("step %d: got %d %d stage %d \"%s\"; want %d %d stage %d \"%s\"", i,
                 (int)st->step, st->code, (int)st->stage, st->text, (int)kind, code,
                 (int)stage, text);
}

/* test_envelope_pipelined - MAIL (no SIZE: there is no message) and both RCPTs in one
 * write, no DATA; RSET once the answers are in; the RCPT replies are the results; the
 * observer saw every step in order */
static void test_envelope_pipelined(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {UNTIL, "RCPT TO:<b@y.test>\r\n", 0},
        {SILENT, NULL, 150},   /* no DATA follows */
        {SEND, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <b@y.test>: User unknown\r\n", 0},
        {LINE, "RSET\r\n", 0},
        {SEND, "250 2.0.0 Ok\r\n", 0},
        {LINE, "QUIT\r\n", 0},
        {SEND, "221 2.0.0 Bye\r\n", 0},
        {END, NULL, 0},
    };
    nseen = 0;
    script *s = script_start(steps, 0);
    connect_to(s);
    smtpc_observe(R.c, on_observe, NULL);
    WAIT_FOR(R.ready);
    assert_null(smtpc_tls_ssl(R.c));
    smtpc_txn t;
    txn_init(&t, two_rcpts, "");
    t.envelope_only = 1;
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    assert_int_equal(t.conn_lost, 0);
    assert_int_equal(t.data.code, 0);
    expect_reply(&t.mail, 250, "2.1.0", "Ok", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[0], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 550, "5.1.1", "User unknown", SMTPC_ST_RCPT, 0);
    quit_wait();
    script_end(s);
    static const char want[] = EHLO_LINE "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\n"
                                         "RCPT TO:<b@y.test>\r\nRSET\r\nQUIT\r\n";
    expect_got(s, want, sizeof want - 1);
    expect_seen(0, SMTPC_STEP_CONNECTED, 0, 0, "");
    expect_seen(1, SMTPC_STEP_REPLY, 220, SMTPC_ST_GREETING, GREET);
    expect_seen(2, SMTPC_STEP_COMMAND, 0, 0, "EHLO client.test");
    expect_seen(3, SMTPC_STEP_REPLY, 250, SMTPC_ST_EHLO, "250-mx.test\r\n250-PIPELINING");
    expect_seen(4, SMTPC_STEP_COMMAND, 0, 0, "MAIL FROM:<s@x.test>");
    expect_seen(5, SMTPC_STEP_COMMAND, 0, 0, "RCPT TO:<a@y.test>");
    expect_seen(6, SMTPC_STEP_COMMAND, 0, 0, "RCPT TO:<b@y.test>");
    expect_seen(7, SMTPC_STEP_REPLY, 250, SMTPC_ST_MAIL, "250 2.1.0");
    expect_seen(8, SMTPC_STEP_REPLY, 250, SMTPC_ST_RCPT, "250 2.1.5");
    expect_seen(9, SMTPC_STEP_REPLY, 550, SMTPC_ST_RCPT, "550 5.1.1");
    expect_seen(10, SMTPC_STEP_COMMAND, 0, 0, "RSET");
    expect_seen(11, SMTPC_STEP_REPLY, 250, SMTPC_ST_MAIL, "250 2.0.0");
    expect_seen(12, SMTPC_STEP_COMMAND, 0, 0, "QUIT");
    expect_seen(13, SMTPC_STEP_REPLY, 221, SMTPC_ST_QUIT, "221");
    assert_int_equal(nseen, 14);
    script_free(s);
    smtpc_txn_clear(&t);
}

/* test_envelope_lockstep - without PIPELINING: MAIL alone (no recipient), then RSET; a
 * refused MAIL with a recipient: no RCPT, RSET; an ordinary transaction still follows */
static void test_envelope_lockstep(void **state)
{
    static const step steps[] = {
        HELLO_PLAIN,
        {LINE, "MAIL FROM:<>\r\n", 0},
        {SEND, "250 2.1.0 Ok\r\n", 0},
        {LINE, "RSET\r\n", 0},
        {SEND, "250 2.0.0 Ok\r\n", 0},
        {LINE, "MAIL FROM:<>\r\n", 0},
        {SEND, "553 5.7.1 <>: Sender address rejected\r\n", 0},
        {LINE, "RSET\r\n", 0},
        {SEND, "250 2.0.0 Ok\r\n", 0},
        LOCKSTEP_OK,
        BYE,
    };
    static const char *const none[] = {NULL};
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, none, "");
    t.sender = "";
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), -1);   /* no recipient, not envelope */
    t.envelope_only = 1;
    send_wait(&t);
    expect_reply(&t.mail, 250, "2.1.0", "Ok", SMTPC_ST_MAIL, 0);
    assert_int_equal(t.accepted, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "");
    t.sender = "";
    t.envelope_only = 1;
    send_wait(&t);
    expect_reply(&t.mail, 553, "5.7.1", "Sender address rejected", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[0], 553, "5.7.1", "Sender address rejected", SMTPC_ST_MAIL, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, one_rcpt, "x\r\n");
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    quit_wait();
    script_done(s);
    smtpc_txn_clear(&t);
}

/* test_envelope_rset_lost - the server closes instead of answering the closing RSET: the
 * RCPT answers stand, the transaction is marked lost, the connection CLOSED */
static void test_envelope_rset_lost(void **state)
{
    static const step steps[] = {
        HELLO_PLAIN,
        MAIL_OK,
        {LINE, "RCPT TO:<a@y.test>\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        {LINE, "RSET\r\n", 0},
        HANG_UP,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "");
    t.envelope_only = 1;
    send_wait(&t);
    assert_int_equal(t.conn_lost, 1);
    expect_reply(&t.rcpt[0], 250, "", "Ok", SMTPC_ST_RCPT, 0);
    WAIT_FOR(R.closed);
    script_done(s);
    smtpc_txn_clear(&t);
}

/* ---- greeting ---- */

/* test_greeting_421 - "the receiver refuses this IP": FAILED with the 421, no QUIT */
static void test_greeting_421(void **state)
{
    static const step steps[] = {
        {SEND, "421 4.7.0 mx.test Error: too many connections from 127.0.0.1\r\n", 0},
        {SLEEP, NULL, 100},
        HANG_UP,
    };
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 421, "4.7.0", "too many connections", SMTPC_ST_GREETING, 1);
    script_end(s);
    expect_got(s, "", 0);
    assert_int_equal(R.events, 1);
    script_free(s);
}

/* test_greeting_554 - a refusing banner: QUIT politely, then FAILED with the banner */
static void test_greeting_554(void **state)
{
    static const step steps[] = {
        {SEND, "554 5.7.1 No SMTP service here\r\n", 0},
        BYE,
    };
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 554, "5.7.1", "No SMTP service", SMTPC_ST_GREETING, 0);
    script_end(s);
    expect_got(s, "QUIT\r\n", 6);
    script_free(s);
}

/* test_ehlo_421 - 421 to EHLO: FAILED, closed */
static void test_ehlo_421(void **state)
{
    static const step steps[] = {
        HELLO,
        {SEND, "421 4.3.2 shutting down\r\n", 0},
        HANG_UP,
    };
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 421, "4.3.2", "shutting down", SMTPC_ST_EHLO, 1);
    script_done(s);
}

/* ---- the server closes in the middle ---- */

/* run_txn - connect to the script and run one two-recipient transaction to its end */
static void run_txn(script *s, smtpc_txn *t, const char *body)
{
    connect_to(s);
    WAIT_FOR(R.ready);
    txn_init(t, two_rcpts, body);
    send_wait(t);
}

/* expect_lost - both recipients got the reply, the transaction lost its connection, and
 * CLOSED came after the transaction */
static void expect_lost(smtpc_txn *t, int code, const char *enh, const char *text,
                        enum smtpc_stage stage)
{
    assert_int_equal(t->accepted, 0);
    assert_int_equal(t->conn_lost, 1);
    expect_reply(&t->rcpt[0], code, enh, text, stage, 1);
    expect_reply(&t->rcpt[1], code, enh, text, stage, 1);
    WAIT_FOR(R.closed);
    expect_reply(&R.last, code, enh, text, stage, 1);
}

/* A reply a case wants: code, enhanced code, a piece of the text, stage, closed. */
typedef struct want_reply {
    int code;
    const char *enh, *text;
    enum smtpc_stage stage;
    int closed;
} want_reply;

/* The server ends the connection in the middle of a two-recipient transaction. */
typedef struct lost_case {
    const step *steps;
    int big;                   /* a 16 MB body (else "x\r\n") */
    want_reply lost;           /* both recipients' reply and CLOSED's (closed is 1) */
    want_reply mail, data;     /* MAIL's and DATA's replies, checked when .text is set */
    int no_data;               /* DATA never had a reply: code 0 */
} lost_case;

/* 421 to MAIL (lock-step) */
static const step l_421_mail[] = {
    HELLO_PLAIN,
    {LINE, "MAIL FROM:<s@x.test>\r\n", 0},
    {SEND, "421 4.7.0 Too many messages, closing\r\n", 0},
    HANG_UP,
};
/* pipelined: the first RCPT accepted, then 421: both get the 421 */
static const step l_421_rcpt[] = {
    HELLO_PIPE,
    {UNTIL, "DATA\r\n", 0},
    {SEND, "250 Ok\r\n250 Ok\r\n421 4.4.5 Too many connections\r\n", 0},
    HANG_UP,
};
/* 421 to the end of data: nobody delivered */
static const step l_421_after_data[] = {
    HELLO_PIPE,
    TO_BODY,
    {UNTIL, "\r\n.\r\n", 0},
    {SEND, "421 4.3.0 Error: queue file write error\r\n", 0},
    HANG_UP,
};
/* the server reads part of a 16 MB body, says 421 and closes */
static const step l_421_mid_body[] = {
    HELLO_PIPE,
    TO_BODY,
    {READN, NULL, 10000},
    {SEND, "421 4.4.2 mx.test Error: timeout exceeded\r\n", 0},
    {SLEEP, NULL, 500},   /* the client reads it while writing, long before the close */
    HANG_UP,
};
/* a 5xx in the middle of the body (not closing): no delivery, the client gives the
 * connection up */
static const step l_refused_mid_body[] = {
    HELLO_PIPE,
    TO_BODY,
    {READN, NULL, 10000},
    {SEND, "554 5.6.0 Message content rejected\r\n", 0},
    {END, NULL, 0},
};
/* a reset while the body is being written */
static const step l_reset_mid_body[] = {
    HELLO_PIPE,
    TO_BODY,
    {READN, NULL, 10000},
    {RESET, NULL, 0},
    {END, NULL, 0},
};
/* the server closes without a word after the RCPTs */
static const step l_eof_at_rcpt[] = {
    HELLO_PLAIN,
    MAIL_OK,
    {LINE, "RCPT TO:<a@y.test>\r\n", 0},
    {SEND, "250 Ok\r\n", 0},
    {LINE, "RCPT TO:<b@y.test>\r\n", 0},
    HANG_UP,
};

static const lost_case lost_cases[] = {
    {l_421_mail, 0, {421, "4.7.0", "Too many messages", SMTPC_ST_MAIL, 1},
     {421, "4.7.0", "Too many messages", SMTPC_ST_MAIL, 1}, {0}, 1},
    {l_421_rcpt, 0, {421, "4.4.5", "Too many connections", SMTPC_ST_RCPT, 1},
     {250, "", "Ok", SMTPC_ST_MAIL, 0}, {0}, 1},
    {l_421_after_data, 0,
     {421, "4.3.0", "queue file write error", SMTPC_ST_BODY, 1}, {0},
     {421, "4.3.0", "queue file write error", SMTPC_ST_BODY, 1}, 0},
    {l_421_mid_body, 1, {421, "4.4.2", "timeout exceeded", SMTPC_ST_BODY, 1},
     {0}, {421, "4.4.2", "timeout exceeded", SMTPC_ST_BODY, 1}, 0},
    {l_refused_mid_body, 1,
     {554, "5.6.0", "content rejected", SMTPC_ST_BODY, 1}, {0}, {0}, 0},
    {l_reset_mid_body, 1,
     {0, "4.4.2", "lost connection with mx.test[127.0.0.1] while sending message body",
      SMTPC_ST_BODY, 1},
     {0}, {0}, 0},
    {l_eof_at_rcpt, 0,
     {0, "4.4.2", "lost connection with mx.test[127.0.0.1] while sending RCPT TO",
      SMTPC_ST_RCPT, 1},
     {0}, {0}, 0},
};

/* expect_want - r is what w wants */
static void expect_want(const smtpc_reply *r, const want_reply *w)
{
    expect_reply(r, w->code, w->enh, w->text, w->stage, w->closed);
}

/* test_lost - every case: both recipients and CLOSED get the reply that ended it */
static void test_lost(void **state)
{
    for (size_t i = 0; i < sizeof lost_cases / sizeof lost_cases[0]; i++) {
        const lost_case *lc = &lost_cases[i];
        setup(NULL);
        char *body = lc->big ? big_body(16000000) : NULL;   /* more than loopback buffers hold */
        script *s = script_start(lc->steps, 0);
        smtpc_txn t;
        run_txn(s, &t, body ? body : "x\r\n");
        expect_lost(&t, lc->lost.code, lc->lost.enh, lc->lost.text, lc->lost.stage);
        if (lc->mail.text)
            expect_want(&t.mail, &lc->mail);
        if (lc->data.text)
            expect_want(&t.data, &lc->data);
        if (lc->no_data)
            assert_int_equal(t.data.code, 0);
        script_done(s);
        smtpc_txn_clear(&t);
        free(body);
        teardown(NULL);
    }
}

/* test_idle_421 - a 421 on an idle connection: CLOSED with it */
static void test_idle_421(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {SLEEP, NULL, 100},
        {SEND, "421 4.4.2 mx.test Error: timeout exceeded\r\n", 0},
        HANG_UP,
    };
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.closed);
    assert_int_equal(R.ready, 1);
    expect_reply(&R.last, 421, "4.4.2", "timeout exceeded", SMTPC_ST_MAIL, 1);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "x\r\n");
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), -1);
    script_done(s);
}

/* ---- timeouts ---- */

typedef struct timeout_case {
    const char *name;
    size_t field;              /* offsetof(smtpc_opts, X_timeout_ms) */
    const step *steps;
    int txn;                   /* run a transaction (else: wait for FAILED) */
    int big;                   /* a 16 MB body against a server that stops reading */
    enum smtpc_stage stage;
    const char *text;
} timeout_case;

static const step t_greeting[] = {STALL};
static const step t_ehlo[] = {
    HELLO,
    STALL,
};
static const step t_starttls[] = {
    HELLO,
    {SEND, "250-mx.test\r\n250 STARTTLS\r\n", 0},
    {LINE, "STARTTLS\r\n", 0},
    STALL,
};
static const step t_mail[] = {
    HELLO_PLAIN,
    {LINE, "MAIL FROM:<s@x.test>\r\n", 0},
    STALL,
};
static const step t_rcpt[] = {
    HELLO_PIPE,
    {UNTIL, "DATA\r\n", 0},
    {SEND, "250 Ok\r\n", 0},
    STALL,
};
static const step t_data[] = {
    HELLO_PIPE,
    {UNTIL, "DATA\r\n", 0},
    {SEND, "250 Ok\r\n250 Ok\r\n250 Ok\r\n", 0},
    STALL,
};
static const step t_xfer[] = {
    HELLO_PIPE,
    TO_BODY,
    STALL,   /* and read nothing more */
};
static const step t_done[] = {
    HELLO_PIPE,
    TO_BODY,
    {UNTIL, "\r\n.\r\n", 0},
    STALL,
};

static const timeout_case timeout_cases[] = {
    {"greeting", offsetof(smtpc_opts, helo_timeout_ms), t_greeting, 0, 0, SMTPC_ST_GREETING,
     "timed out while receiving the initial server greeting"},
    {"ehlo", offsetof(smtpc_opts, helo_timeout_ms), t_ehlo, 0, 0, SMTPC_ST_EHLO,
     "timed out while performing the EHLO handshake"},
    {"starttls", offsetof(smtpc_opts, starttls_timeout_ms), t_starttls, 0, 0,
     SMTPC_ST_STARTTLS, "timed out while sending STARTTLS"},
    {"mail", offsetof(smtpc_opts, mail_timeout_ms), t_mail, 1, 0, SMTPC_ST_MAIL,
     "timed out while sending MAIL FROM"},
    {"rcpt", offsetof(smtpc_opts, rcpt_timeout_ms), t_rcpt, 1, 0, SMTPC_ST_RCPT,
     "timed out while sending RCPT TO"},
    {"data_init", offsetof(smtpc_opts, data_init_timeout_ms), t_data, 1, 0, SMTPC_ST_DATA,
     "timed out while sending DATA command"},
    {"data_xfer", offsetof(smtpc_opts, data_xfer_timeout_ms), t_xfer, 1, 1, SMTPC_ST_BODY,
     "timed out while sending message body"},
    {"data_done", offsetof(smtpc_opts, data_done_timeout_ms), t_done, 1, 0, SMTPC_ST_BODY,
     "timed out while sending end of data -- message may be sent more than once"},
};

/* test_timeouts - every stage's timeout, reported like a lost connection with code 0 */
static void test_timeouts(void **state)
{
    for (size_t i = 0; i < sizeof timeout_cases / sizeof timeout_cases[0]; i++) {
        const timeout_case *tc = &timeout_cases[i];
        int64_t ms = 300;
        setup(NULL);
        O.tls = SMTPC_TLS_MAY;
        O.tls_ctx = smtpc_tls_client_ctx(NULL, NULL, 0);
        memcpy((char *)&O + tc->field, &ms, sizeof ms);
        script *s = script_start(tc->steps, tc->big ? 4096 : 0);
        char *body = tc->big ? calloc(1, 16 << 20) : NULL;
        if (body)
            memset(body, 'a', (16 << 20) - 1);
        smtpc_txn t;
        int64_t start = now_ms();
        if (tc->txn) {
            run_txn(s, &t, body ? body : "x\r\n");
            expect_lost(&t, 0, "4.4.2", tc->text, tc->stage);
            smtpc_txn_clear(&t);
        } else {
            connect_to(s);
            WAIT_FOR(R.failed);
            expect_reply(&R.last, 0, "4.4.2", tc->text, tc->stage, 1);
        }
        int64_t took = now_ms() - start;
        if (took < 250)
            fail_msg("%s: timed out after %lld ms", tc->name, (long long)took);
        script_done(s);
        free(body);
        SSL_CTX_free(O.tls_ctx);
        teardown(NULL);
    }
}

/* test_quit_timeout - QUIT unanswered: CLOSED after smtp_quit_timeout */
static void test_quit_timeout(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {LINE, "QUIT\r\n", 0},
        STALL,
    };
    O.quit_timeout_ms = 300;
    script *s = start_ready(steps);
    quit_wait();
    expect_reply(&R.last, 0, "4.4.2", "timed out while sending QUIT", SMTPC_ST_QUIT, 1);
    script_done(s);
}

/* test_connect_timeout - a listener whose queue is full drops our SYN */
static void test_connect_timeout(void **state)
{
    int port;
    int lfd = sc_listen(0, 0, &port);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fill[2];
    for (int i = 0; i < 2; i++) {   /* fill the accept queue */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sin, sizeof sin);
    }
    usleep(50000);
    netaddr a = test_addr("127.0.0.1", port);
    O.connect_timeout_ms = 300;
    R.c = smtpc_connect(base, &a, NULL, &O, on_event, &R);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 0, "4.4.1", "connect to 127.0.0.1[127.0.0.1]", SMTPC_ST_CONNECT, 1);
    assert_non_null(strstr(R.last.text, strerror(ETIMEDOUT)));
    for (int i = 0; i < 2; i++)
        close(fill[i]);
    close(lfd);
}

/* ---- TLS against a server that cannot do it ---- */

/* test_tls_handshake_garbage - "220" to STARTTLS, then garbage: FAILED at STARTTLS, code 0,
 * so the scheduler can tell it from a refusal and retry in plaintext */
static void test_tls_handshake_garbage(void **state)
{
    static const step steps[] = {
        HELLO,
        {SEND, "250-mx.test\r\n250 STARTTLS\r\n", 0},
        {LINE, "STARTTLS\r\n", 0},
        {SEND, "220 2.0.0 Ready to start TLS\r\n", 0},
        {SLEEP, NULL, 50},
        {SEND, "this is not a TLS record at all\r\n", 0},
        HANG_UP,
    };
    O.tls = SMTPC_TLS_MAY;
    O.tls_ctx = smtpc_tls_client_ctx(NULL, NULL, 0);
    assert_non_null(O.tls_ctx);
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 0, "4.7.5", "TLS handshake with mx.test[127.0.0.1] failed",
                 SMTPC_ST_STARTTLS, 1);
    script_done(s);
    SSL_CTX_free(O.tls_ctx);
}

/* test_starttls_refused - may: a refused STARTTLS goes on in plaintext; encrypt: FAILED
 * with the refusal, after QUIT */
static void test_starttls_refused(void **state)
{
    static const step steps[] = {
        HELLO,
        {SEND, "250-mx.test\r\n250 STARTTLS\r\n", 0},
        {LINE, "STARTTLS\r\n", 0},
        {SEND, "454 4.7.0 TLS not available due to local problem\r\n", 0},
        BYE,
    };
    for (int level = SMTPC_TLS_MAY; level <= SMTPC_TLS_ENCRYPT; level++) {
        setup(NULL);
        O.tls = (enum smtpc_tls)level;
        O.tls_ctx = smtpc_tls_client_ctx(NULL, NULL, 0);
        script *s = script_start(steps, 0);
        connect_to(s);
        if (level == SMTPC_TLS_MAY) {
            WAIT_FOR(R.ready);
            assert_false(smtpc_features_of(R.c)->tls_active);
            quit_wait();
        } else {
            WAIT_FOR(R.failed);
            expect_reply(&R.last, 454, "4.7.0", "TLS not available", SMTPC_ST_STARTTLS, 0);
        }
        script_end(s);
        expect_got(s, EHLO_LINE "STARTTLS\r\nQUIT\r\n", strlen(EHLO_LINE "STARTTLS\r\nQUIT\r\n"));
        script_free(s);
        SSL_CTX_free(O.tls_ctx);
        teardown(NULL);
    }
}

/* test_encrypt_not_offered - encrypt without STARTTLS on offer: FAILED, after QUIT */
static void test_encrypt_not_offered(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        BYE,
    };
    O.tls = SMTPC_TLS_ENCRYPT;
    O.tls_ctx = smtpc_tls_client_ctx(NULL, NULL, 0);
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 0, "4.7.4", "TLS is required but the server does not offer STARTTLS",
                 SMTPC_ST_EHLO, 0);
    script_end(s);
    expect_got(s, EHLO_LINE "QUIT\r\n", strlen(EHLO_LINE "QUIT\r\n"));
    script_free(s);
    SSL_CTX_free(O.tls_ctx);
}

/* ---- owner behaviour ---- */

/* test_free_in_callback - smtpc_free from inside the FAILED callback */
static void test_free_in_callback(void **state)
{
    static const step steps[] = {
        {SEND, "421 4.7.0 go away\r\n", 0},
        HANG_UP,
    };
    R.free_in_event = 1;
    script *s = script_start(steps, 0);
    connect_to(s);
    WAIT_FOR(R.failed);
    assert_null(R.c);
    run_for(50);
    assert_int_equal(R.events, 1);
    script_done(s);
}

/* test_quit_during_txn - smtpc_quit while a transaction runs: it finishes, then QUIT */
static void test_quit_during_txn(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        {UNTIL, "DATA\r\n", 0},
        {SEND, "250 Ok\r\n250 Ok\r\n354 go\r\n", 0},
        {UNTIL, "\r\n.\r\n", 0},
        {SEND, "250 Ok\r\n", 0},
        BYE,
    };
    script *s = start_ready(steps);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "x\r\n");
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), 0);
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), -1);   /* one at a time */
    smtpc_quit(R.c);
    WAIT_FOR(R.closed);
    assert_int_equal(R.txns, 1);
    assert_int_equal(t.accepted, 1);
    expect_reply(&R.last, 221, "", "Bye", SMTPC_ST_QUIT, 1);
    script_done(s);
    smtpc_txn_clear(&t);
}

/* test_quit_connecting - smtpc_quit while still connecting ends at once: CLOSED, later */
static void test_quit_connecting(void **state)
{
    int port;
    int lfd = sc_listen(8, 0, &port);
    netaddr a = test_addr("127.0.0.1", port);
    R.c = smtpc_connect(base, &a, "mx.test", &O, on_event, &R);
    smtpc_quit(R.c);
    assert_int_equal(R.events, 0);   /* never from inside the call */
    WAIT_FOR(R.closed);
    run_for(20);
    assert_int_equal(R.events, 1);
    expect_reply(&R.last, 0, "4.4.1", "closed by the client", SMTPC_ST_CONNECT, 1);
    close(lfd);
}

/* test_quit_at_greeting - smtpc_quit once connected but before READY */
static void test_quit_at_greeting(void **state)
{
    static const step steps[] = {
        {SLEEP, NULL, 100},
        HELLO_PIPE,
        BYE,
    };
    script *s = script_start(steps, 0);
    connect_to(s);
    run_for(50);   /* connected, waiting for the greeting */
    smtpc_quit(R.c);
    WAIT_FOR(R.closed);
    assert_int_equal(R.events, 1);
    expect_reply(&R.last, 221, "", "Bye", SMTPC_ST_QUIT, 1);
    script_end(s);
    expect_got(s, EHLO_LINE "QUIT\r\n", strlen(EHLO_LINE "QUIT\r\n"));
    script_free(s);
}

/* test_bad_envelope - an address with a line break is never sent */
static void test_bad_envelope(void **state)
{
    static const step steps[] = {
        HELLO_PIPE,
        BYE,
    };
    static const char *const evil[] = {"a@y.test>\r\nRSET", NULL};
    script *s = script_start(steps, 0);
    connect_to(s);
    smtpc_txn t;
    txn_init(&t, one_rcpt, "x\r\n");
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), -1);   /* not READY yet */
    WAIT_FOR(R.ready);
    txn_init(&t, evil, "x\r\n");
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), -1);
    quit_wait();
    script_done(s);
}

int main(void)
{
    log_init("test_smtpc_script");
    log_set_level(SL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdat_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockstep_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_helo_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_refused_lockstep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_354_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_refused_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rset_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_lockstep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_rset_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_421, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_554, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ehlo_421, setup, teardown),
        cmocka_unit_test(test_lost),
        cmocka_unit_test_setup_teardown(test_idle_421, setup, teardown),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test_setup_teardown(test_quit_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_handshake_garbage, setup, teardown),
        cmocka_unit_test(test_starttls_refused),
        cmocka_unit_test_setup_teardown(test_encrypt_not_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_in_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_during_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_connecting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_at_greeting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_envelope, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
