/* test_smtpd.c - the SMTP server engine, run for real on 127.0.0.1 (an ephemeral port) and
 * driven by a non-blocking client socket in the same thread: the test steps the event loop
 * (EVLOOP_NONBLOCK) while it waits for replies, so hooks run in this thread and an
 * asynchronous on_message can be completed by the test whenever it likes.  Replies are
 * checked byte for byte.  Under ASan, any session or message left behind is a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "server/smtpd.h"
#include "server/smtpd_int.h"   /* test_backpressure looks inside */
#include "test_util_smtp.h"
#include "tls_selfsigned.h"

#define WAIT_MS 5000    /* the longest any step may take before the test fails */

/* ---- what the hooks saw, and how they behave ---- */

static struct {
    int connects, closes, helos, mails, rcpts, datas, messages, refusals;
    int last_refusal_code;
    enum smtpd_stage last_refusal_stage;
    char last_refusal_text[600];
    test_msg msg;          /* the last message */
    int tls_at_message;
    /* behaviour */
    int async;                 /* on_message keeps the message in held/held_s */
    smtpd_message *held;
    smtpd_session *held_s;
    smtpd_reply connect_reply; /* returned by on_connect */
    smtpd_reply data_reply;    /* returned by on_data */
} T;

/* on_connect - count; answer with T.connect_reply */
static void on_connect(smtpd_session *s, smtpd_reply *r)
{
    T.connects++;
    *r = T.connect_reply;
}

/* on_helo - "close.example" asks the engine to close after the reply */
static void on_helo(smtpd_session *s, const char *name, smtpd_reply *r)
{
    T.helos++;
    if (strcmp(name, "close.example") == 0) {
        r->code = 250;
        r->close = 1;
    }
}

/* on_mail - "slow@..." is delayed 300 ms; "multi@..." gets a multi-line refusal */
static void on_mail(smtpd_session *s, const char *sender, smtpd_reply *r)
{
    T.mails++;
    if (strncmp(sender, "slow@", 5) == 0)
        r->delay_ms = 300;
    if (strncmp(sender, "multi@", 6) == 0) {
        r->code = 550;
        snprintf(r->text, sizeof r->text, "5.7.1 first line\nsecond line");
        r->policy = "multi_rule";
    }
    if (strncmp(sender, "plain@", 6) == 0) {
        r->code = 550;
        snprintf(r->text, sizeof r->text, "Go away");
    }
}

/* on_rcpt - "bad@..." 550 5.1.1; "drop@..." drops the connection; "defer@..." 450 */
static void on_rcpt(smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    T.rcpts++;
    if (strncmp(rcpt, "bad@", 4) == 0) {
        r->code = 550;
        snprintf(r->text, sizeof r->text, "5.1.1 <%s>: Recipient address rejected", rcpt);
        r->policy = "no_such_user";
    } else if (strncmp(rcpt, "drop@", 5) == 0) {
        r->code = -1;
    } else if (strncmp(rcpt, "defer@", 6) == 0) {
        r->code = 450;
        snprintf(r->text, sizeof r->text, "4.2.0 Try again later");
    }
}

/* on_data - count; answer with T.data_reply */
static void on_data(smtpd_session *s, smtpd_reply *r)
{
    T.datas++;
    *r = T.data_reply;
}

/* on_message - record the message; answer now, or keep it when T.async */
static void on_message(smtpd_session *s, smtpd_message *m)
{
    T.messages++;
    test_msg_record(&T.msg, m);
    T.tls_at_message = smtpd_session_tls(s);
    if (T.async) {
        T.held = m;
        T.held_s = s;
        return;
    }
    smtpd_reply r = {.code = 250};
    snprintf(r.text, sizeof r.text, "2.0.0 Ok: queued as Q%d", T.messages);
    smtpd_message_done(s, m, &r);
}

/* on_refusal - remember the last refusal */
static void on_refusal(smtpd_session *s, enum smtpd_stage stage, int code, const char *text,
                       const char *policy)
{
    T.refusals++;
    T.last_refusal_code = code;
    T.last_refusal_stage = stage;
    snprintf(T.last_refusal_text, sizeof T.last_refusal_text, "%s", text);
}

/* on_close - count */
static void on_close(smtpd_session *s)
{
    T.closes++;
}

static const smtpd_hooks hooks = {
    on_connect, on_helo, on_mail, on_rcpt, on_data, on_message, on_refusal, on_close,
};

/* ---- the server ---- */

static struct event_base *base;

/* default_opts - a small, strict listener for most tests */
static smtpd_opts default_opts(void)
{
    smtpd_opts o = {0};
    o.hostname = "mx.test";
    o.banner = "$myhostname ESMTP sluice-test";
    o.timeout_ms = 10000;
    o.max_message_size = 10000;
    o.max_rcpts = 50;
    o.hard_error_limit = 20;
    o.line_limit = 1000;
    o.hooks = &hooks;
    return o;
}

/* server_start - listen on 127.0.0.1 with an ephemeral port */
static smtpd_listener *server_start(const smtpd_opts *o)
{
    smtpd_listener *l = test_listen(base, o, "127.0.0.1");
    assert_true(smtpd_listener_port(l) > 0);
    return l;
}

/* ---- the client ---- */

typedef struct client {
    int fd;
    SSL *ssl;
    SSL_CTX *ctx;
    dbuf in;
    int eof;
} client;

/* pump - let the server run for a moment (waiting at most ms for the client socket) */
static void pump(client *c, int ms)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
    if (c && c->fd >= 0) {
        struct pollfd p = {c->fd, POLLIN, 0};
        poll(&p, 1, ms);
    } else {
        poll(NULL, 0, ms);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
}

/* pump_for - run the server for ms */
static void pump_for(client *c, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end)
        pump(c, 1);
}

/* cli_connect_rcvbuf - a non-blocking connection; rcvbuf > 0 shrinks its receive buffer */
static client *cli_connect_rcvbuf(const smtpd_listener *l, int rcvbuf)
{
    client *c = calloc(1, sizeof *c);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)smtpd_listener_port(l));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(c->fd >= 0);
    int one = 1;   /* small writes go out at once (no Nagle wait for a delayed ACK) */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int r = connect(c->fd, (struct sockaddr *)&sin, sizeof sin);
    assert_true(r == 0 || errno == EINPROGRESS);
    return c;
}

/* cli_connect - a non-blocking connection to the listener */
static client *cli_connect(const smtpd_listener *l)
{
    return cli_connect_rcvbuf(l, 0);
}

/* cli_fill - read what is there; 1 data, 0 nothing yet, -1 EOF or error */
static int cli_fill(client *c)
{
    char buf[16384];
    ssize_t n;
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r > 0) {
            dbuf_put(&c->in, buf, (size_t)r);
            return 1;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        c->eof = 1;
        return -1;
    }
    n = recv(c->fd, buf, sizeof buf, 0);
    if (n > 0) {
        dbuf_put(&c->in, buf, (size_t)n);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    c->eof = 1;
    return -1;
}

/* cli_send - write all of s (stepping the server whenever the socket is full) */
static void cli_send_n(client *c, const char *s, size_t n)
{
    int64_t end = now_ms() + WAIT_MS;
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, s, (int)n) : send(c->fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        if (!c->ssl && w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            fail_msg("send: %s", strerror(errno));
        if (now_ms() > end)
            fail_msg("send: timed out");
        cli_fill(c);   /* a server waiting for us to read must not block our writes */
        pump(c, 1);
    }
}

static void cli_send(client *c, const char *s)
{
    cli_send_n(c, s, strlen(s));
}

/* reply_len - the length of the first complete reply in b, or 0 */
static size_t reply_len(const dbuf *b)
{
    size_t start = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] != '\n')
            continue;
        size_t n = i + 1 - start;
        if (n < 5 || b->data[start + 3] != '-')
            return i + 1;
        start = i + 1;
    }
    return 0;
}

/* cli_reply - the next complete reply (malloc'd), or NULL on timeout or EOF */
static char *cli_reply_wait(client *c, int ms)
{
    int64_t end = now_ms() + ms;
    size_t n;
    while ((n = reply_len(&c->in)) == 0) {
        if (c->eof || now_ms() > end)
            return NULL;
        if (cli_fill(c) == 0)
            pump(c, 2);
    }
    char *r = malloc(n + 1);
    memcpy(r, c->in.data, n);
    r[n] = 0;
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    return r;
}

/* expect - the next reply is exactly want */
static void expect(client *c, const char *want)
{
    char *got = cli_reply_wait(c, WAIT_MS);
    if (!got)
        fail_msg("want \"%s\", got nothing (eof=%d)", want, c->eof);
    if (strcmp(got, want) != 0) {
        print_error("got  \"%s\"\nwant \"%s\"\n", got, want);
        free(got);
        fail();
    }
    free(got);
}

/* cli_closed - 1 when the server closes the connection within ms (with no more data) */
static int cli_closed(client *c, int ms)
{
    int64_t end = now_ms() + ms;
    while (!c->eof && now_ms() < end)
        if (cli_fill(c) == 0)
            pump(c, 2);
    return c->eof && c->in.len == 0;
}

/* cli_eof - 1 when the server closes the connection within ms (whatever came before) */
static int cli_eof(client *c, int ms)
{
    int64_t end = now_ms() + ms;
    while (!c->eof && now_ms() < end)
        if (cli_fill(c) == 0)
            pump(c, 2);
    return c->eof;
}

/* cli_silent - 1 when nothing arrives for ms */
static int cli_silent(client *c, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        if (cli_fill(c) != 0 || c->in.len)
            return 0;
        pump(c, 2);
    }
    return 1;
}

/* cli_free - close and free the client */
static void cli_free(client *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    close(c->fd);
    dbuf_free(&c->in);
    free(c);
}

/* wait_sessions - pump until the listener has n sessions */
static void wait_sessions(smtpd_listener *l, int n)
{
    int64_t end = now_ms() + WAIT_MS;
    while (smtpd_listener_sessions(l) != n && now_ms() < end)
        pump(NULL, 1);
    assert_int_equal(smtpd_listener_sessions(l), n);
}

/* greeted - connect and read the greeting */
static client *greeted(smtpd_listener *l)
{
    client *c = cli_connect(l);
    expect(c, "220 mx.test ESMTP sluice-test\r\n");
    return c;
}

static const char *const ehlo_reply =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

/* setup - a fresh record before each test */
static int setup(void **state)
{
    dbuf_free(&T.msg.body);
    memset(&T, 0, sizeof T);
    return 0;
}

/* ---- tests ---- */

/* test_greeting_and_simple_commands - 220, EHLO keywords, HELO, NOOP, RSET, VRFY, HELP,
 * EXPN, QUIT, and the session's end */
static void test_greeting_and_simple_commands(void **state)
{
    smtpd_opts o = default_opts();
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    assert_int_equal(T.connects, 1);
    assert_int_equal(smtpd_listener_sessions(l), 1);
    cli_send(c, "EHLO client.example\r\n");
    expect(c, ehlo_reply);
    cli_send(c, "HELO client.example\r\n");
    expect(c, "250 mx.test\r\n");
    cli_send(c, "NOOP\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    cli_send(c, "RSET\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    cli_send(c, "VRFY someone\r\n");
    expect(c, "252 2.0.0 Cannot verify the user; send mail to find out\r\n");
    cli_send(c, "HELP\r\n");
    expect(c, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP "
              "STARTTLS\r\n");
    cli_send(c, "EXPN staff\r\n");
    expect(c, "502 5.5.1 Error: command not implemented\r\n");
    cli_send(c, "STARTTLS\r\n");   /* no certificate: not offered */
    expect(c, "502 5.5.1 Error: command not implemented\r\n");
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);
    cli_free(c);
    smtpd_listener_free(l);
}

/* test_pipelined_transaction - one write with EHLO/MAIL/RCPT/RCPT/DATA gets every reply in
 * one read; the body is dot-unstuffed and canonical; the 250 carries the hook's text */
static void test_pipelined_transaction(void **state)
{
    smtpd_opts o = default_opts();
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "EHLO client.example\r\nMAIL FROM:<sender@example.com> BODY=8BITMIME\r\n"
                "RCPT TO:<one@example.org>\r\nRCPT TO:<two@example.org>\r\nDATA\r\n");
    dbuf want = {0};
    dbuf_puts(&want, ehlo_reply);
    dbuf_puts(&want, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                     "354 End data with <CR><LF>.<CR><LF>\r\n");
    /* every reply arrives together: the first read holds all of them */
    int64_t end = now_ms() + WAIT_MS;
    while (cli_fill(c) == 0 && now_ms() < end)
        pump(c, 2);
    assert_int_equal(c->in.len, want.len);
    assert_memory_equal(c->in.data, want.data, want.len);
    dbuf_reset(&c->in);
    cli_send(c, "Subject: test\r\n\r\n..leading dot\r\n...two dots\r\nbare LF\nbare CR\rhere\r\n"
                ".\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(T.messages, 1);
    assert_string_equal(T.msg.sender, "sender@example.com");
    assert_int_equal(T.msg.nrcpt, 2);
    assert_string_equal(T.msg.rcpt[0], "one@example.org");
    assert_string_equal(T.msg.rcpt[1], "two@example.org");
    const char *body = "Subject: test\r\n\r\n.leading dot\r\n..two dots\r\nbare LF\r\n"
                       "bare CR\rhere\r\n";
    assert_int_equal(T.msg.body.len, strlen(body));
    assert_memory_equal(T.msg.body.data, body, strlen(body));
    /* a second transaction on the same session, empty body */
    cli_send(c, "MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\n.\r\nQUIT\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q2\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    assert_string_equal(T.msg.sender, "");
    assert_string_equal(T.msg.rcpt[0], "postmaster");
    assert_int_equal(T.msg.body.len, 0);
    assert_true(cli_closed(c, WAIT_MS));
    wait_sessions(l, 0);
    dbuf_free(&want);
    cli_free(c);
    smtpd_listener_free(l);
}

/* test_bdat - CHUNKING: chunks are read by count (a refused one never becomes commands),
 * the data is raw (dots untouched) but CRLF canonical, the LAST chunk is answered by
 * on_message; DATA after BDAT, too big, and on_data's refusal */
static void test_bdat(void **state)
{
    smtpd_opts o = default_opts();
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\nBDAT 6\r\nQUIT\r\n");
    expect(c, ehlo_reply);
    expect(c, "503 5.5.1 Error: need MAIL command\r\n");   /* "QUIT" was data, not a command */
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 9\r\n.x\r\nline\r"
                "BDAT 10 LAST\r\n\nbare\nend\r");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "250 2.0.0 Ok: 9 octets received\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    const char *body = ".x\r\nline\r\nbare\r\nend\r";   /* CR|LF across chunks is one line end */
    assert_int_equal(T.msg.body.len, strlen(body));
    assert_memory_equal(T.msg.body.data, body, strlen(body));
    assert_int_equal(T.datas, 1);
    /* DATA in a BDAT transaction; an empty LAST chunk ends it */
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 2\r\nabDATA\r\n"
                "BDAT 0 LAST\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "250 2.0.0 Ok: 2 octets received\r\n");
    expect(c, "503 5.5.1 Error: DATA after BDAT\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q2\r\n");
    assert_int_equal(T.msg.body.len, 2);
    /* over the size limit (10000): 552 at the end, the bytes all read */
    dbuf big = {0};
    dbuf_puts(&big, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 12000 LAST\r\n");
    for (int i = 0; i < 12000; i++)
        dbuf_put(&big, "y", 1);
    dbuf_puts(&big, "NOOP\r\n");
    cli_send_n(c, (const char *)big.data, big.len);
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "552 5.3.4 Message size exceeds fixed limit\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    assert_int_equal(T.messages, 2);
    /* on_data refuses: the chunk is read, refused, and so is the next one (503) */
    T.data_reply.code = 554;
    snprintf(T.data_reply.text, sizeof T.data_reply.text, "5.7.1 No data today");
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 4\r\nRSETBDAT 4 LAST\r\n"
                "QUIT");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "554 5.7.1 No data today\r\n");
    expect(c, "503 5.5.1 Error: need MAIL command\r\n");
    assert_int_equal(T.messages, 2);
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    dbuf_free(&big);
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_bare_lf_dot - a "." line after a bare LF, or followed by one, does not end DATA, so
 * a smuggled second message stays inside the first */
static void test_bare_lf_dot(void **state)
{
    smtpd_opts o = default_opts();
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    expect(c, ehlo_reply);
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    cli_send(c, "a\n.\nMAIL FROM:<evil@example.net>\r\n.\nRCPT TO:<victim@example.org>\r\n"
                "x\r.\r\n");
    assert_true(cli_silent(c, 200));   /* still in DATA */
    cli_send(c, ".\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(T.messages, 1);
    assert_int_equal(T.mails, 1);
    const char *body = "a\r\n\r\nMAIL FROM:<evil@example.net>\r\n\r\n"
                       "RCPT TO:<victim@example.org>\r\nx\r.\r\n";
    assert_int_equal(T.msg.body.len, strlen(body));
    assert_memory_equal(T.msg.body.data, body, strlen(body));
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_size_limits - SIZE= over the limit at MAIL, and a body over it at the end of DATA */
static void test_size_limits(void **state)
{
    smtpd_opts o = default_opts();
    o.max_message_size = 100;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\n");
    expect(c, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n"
              "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
    cli_send(c, "MAIL FROM:<a@example.com> SIZE=101\r\n");
    expect(c, "552 5.3.4 Message size exceeds fixed limit\r\n");
    assert_int_equal(T.last_refusal_code, 552);
    cli_send(c, "MAIL FROM:<a@example.com> SIZE=100\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    char big[300];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 5; i++) {   /* 5 x (298 + CRLF): far over 100, sent in pieces */
        big[298] = '\r';
        big[299] = '\n';
        cli_send_n(c, big, sizeof big);
    }
    cli_send(c, ".\r\n");
    expect(c, "552 5.3.4 Message size exceeds fixed limit\r\n");
    assert_int_equal(T.messages, 0);
    assert_int_equal(T.last_refusal_stage, SMTPD_EOM);
    /* the transaction is over; a new one fits exactly (98 + CRLF = 100) */
    cli_send(c, "RCPT TO:<b@example.com>\r\n");
    expect(c, "503 5.5.1 Error: need MAIL command\r\n");
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    big[98] = '\r';
    big[99] = '\n';
    cli_send_n(c, big, 100);
    cli_send(c, ".\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(T.msg.body.len, 100);
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_too_many_recipients - 452 4.5.3 past max_rcpts; the message has the first ones */
static void test_too_many_recipients(void **state)
{
    smtpd_opts o = default_opts();
    o.max_rcpts = 2;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<r1@example.com>\r\n"
                "RCPT TO:<r2@example.com>\r\nRCPT TO:<r3@example.com>\r\nDATA\r\nhi\r\n.\r\n");
    expect(c, "250 mx.test\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "452 4.5.3 Error: too many recipients\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(T.msg.nrcpt, 2);
    assert_string_equal(T.msg.rcpt[1], "r2@example.com");
    assert_int_equal(T.rcpts, 2);   /* the hook never saw the third */
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_recipient_overshoot - as Postfix's smtpd_recipient_overshoot_limit: RCPTs past the
 * limit get 452 without counting as errors (a client sending the rest later is not abusive),
 * up to the overshoot limit; the ones after that count */
static void test_recipient_overshoot(void **state)
{
    smtpd_opts o = default_opts();
    o.max_rcpts = 2;
    o.hard_error_limit = 1;
    o.rcpt_overshoot_limit = 1;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<r1@example.com>\r\n"
                "RCPT TO:<r2@example.com>\r\nRCPT TO:<r3@example.com>\r\nDATA\r\nhi\r\n.\r\n"
                "MAIL FROM:<a@example.com>\r\nRCPT TO:<r1@example.com>\r\n"
                "RCPT TO:<r2@example.com>\r\nRCPT TO:<r3@example.com>\r\nRCPT TO:<r4@example.com>\r\n");
    expect(c, "250 mx.test\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "452 4.5.3 Error: too many recipients\r\n");   /* no error: hard limit 1 not hit */
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    expect(c, "250 2.1.0 Ok\r\n");                            /* a new transaction: */
    expect(c, "250 2.1.5 Ok\r\n");                            /* the overshoot counts anew */
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "452 4.5.3 Error: too many recipients\r\n");
    expect(c, "452 4.5.3 Error: too many recipients\r\n");   /* past the overshoot: an error */
    expect(c, "421 4.7.0 mx.test Error: too many errors\r\n");
    assert_int_equal(T.msg.nrcpt, 2);
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_sequence_and_syntax - 503 for bad order, 500 unknown, 501 syntax, 555, 553 */
static void test_sequence_and_syntax(void **state)
{
    static const struct {
        const char *send, *want;
    } steps[] = {
        {"MAIL FROM:<a@example.com>", "503 5.5.1 Error: send HELO/EHLO first\r\n"},
        {"RCPT TO:<b@example.com>", "503 5.5.1 Error: need MAIL command\r\n"},
        {"DATA", "503 5.5.1 Error: need RCPT command\r\n"},
        {"XYZZY", "500 5.5.2 Error: command not recognized\r\n"},
        {"", "500 5.5.2 Error: command not recognized\r\n"},
        {"EHLO", "501 5.5.4 Syntax: EHLO hostname\r\n"},
        {"HELO c", "250 mx.test\r\n"},
        {"MAIL FROM:<bad", "501 5.1.7 Bad sender address syntax\r\n"},
        {"MAIL FROM:<a@example.com> FOO=1", "555 5.5.4 Unsupported option: FOO\r\n"},
        {"MAIL FROM:<a@example.com> SIZE=abc", "501 5.5.4 Error: SIZE needs a number\r\n"},
        {"MAIL FROM:<a@example.com> BODY=BINARYMIME",
         "501 5.5.4 Error: BODY must be 7BIT or 8BITMIME\r\n"},
        {"MAIL FROM:<j\xc3\xb6rg@example.com>",
         "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"},
        {"MAIL FROM:<a@example.com>", "250 2.1.0 Ok\r\n"},
        {"MAIL FROM:<a@example.com>", "503 5.5.1 Error: nested MAIL command\r\n"},
        {"DATA", "503 5.5.1 Error: need RCPT command\r\n"},
        {"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax\r\n"},
        {"RCPT TO:<b@example.com> NOTIFY=NEVER", "555 5.5.4 Unsupported option: NOTIFY\r\n"},
        {"RCPT TO:<\xc3\xbc@example.com>",
         "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"},
        {"RSET", "250 2.0.0 Ok\r\n"},
        {"MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8", "250 2.1.0 Ok\r\n"},
        {"RCPT TO:<\xc3\xbc@example.com>", "250 2.1.5 Ok\r\n"},
        {"DATA x", "501 5.5.4 Syntax: DATA\r\n"},
        {"AUTH PLAIN", "502 5.5.1 Error: command not implemented\r\n"},
        {"BDAT ten LAST", "501 5.5.4 Syntax: BDAT size [LAST]\r\n"},   /* no size: nothing to read */
        {"RCPT TO:<bad@example.com>",
         "550 5.1.1 <bad@example.com>: Recipient address rejected\r\n"},
        {"RCPT TO:<defer@example.com>", "450 4.2.0 Try again later\r\n"},
    };
    smtpd_opts o = default_opts();
    o.hard_error_limit = 100;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cli_send(c, steps[i].send);
        cli_send(c, "\r\n");
        char *got = cli_reply_wait(c, WAIT_MS);
        if (!got || strcmp(got, steps[i].want) != 0) {
            print_error("step %zu \"%s\":\n  got  \"%s\"\n  want \"%s\"\n", i, steps[i].send,
                        got ? got : "(nothing)", steps[i].want);
            free(got);
            fail();
        }
        free(got);
    }
    assert_int_equal(T.last_refusal_code, 450);
    assert_int_equal(T.last_refusal_stage, SMTPD_RCPT);
    assert_string_equal(T.last_refusal_text, "4.2.0 Try again later");
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_line_too_long - 500 5.5.2, the rest of the line discarded, the session goes on */
static void test_line_too_long(void **state)
{
    smtpd_opts o = default_opts();
    o.line_limit = 100;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    char line[400];
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    line[150] = 0;
    cli_send(c, line);
    cli_send(c, "\r\nNOOP\r\n");
    expect(c, "500 5.5.2 Error: line too long\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    /* exactly at the limit is fine */
    line[100] = 0;
    cli_send(c, line);
    cli_send(c, "\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    /* a long line arriving without its end: answered at once, its tail discarded */
    memset(line, 'y', sizeof line);
    cli_send_n(c, line, sizeof line);
    expect(c, "500 5.5.2 Error: line too long\r\n");
    cli_send_n(c, line, sizeof line);
    cli_send(c, "still the same line\r\nNOOP\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    assert_true(cli_silent(c, 100));
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_error_limits - errors past the soft limit are delayed; the hard limit closes */
static void test_error_limits(void **state)
{
    smtpd_opts o = default_opts();
    o.hard_error_limit = 3;
    o.soft_error_limit = 2;
    o.error_sleep_ms = 600;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    int64_t t0 = now_ms();
    cli_send(c, "ONE\r\nTWO\r\nNOOP\r\nTHREE\r\nFOUR\r\n");
    expect(c, "500 5.5.2 Error: command not recognized\r\n");
    expect(c, "500 5.5.2 Error: command not recognized\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    assert_true(now_ms() - t0 < 500);   /* the first two errors are not delayed */
    expect(c, "500 5.5.2 Error: command not recognized\r\n");
    assert_true(now_ms() - t0 >= 500);  /* the third is */
    expect(c, "421 4.7.0 mx.test Error: too many errors\r\n");
    assert_true(cli_closed(c, WAIT_MS));   /* FOUR is never answered */
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);
    assert_int_equal(T.last_refusal_code, 421);
    cli_free(c);
    smtpd_listener_free(l);
}

/* test_connection_limits - per-IP 421 at the greeting (default and custom text) and the
 * total limit; a slot frees when a session ends */
static void test_connection_limits(void **state)
{
    smtpd_opts o = default_opts();
    o.max_conn_per_ip = 1;
    smtpd_listener *l = server_start(&o);
    client *a = greeted(l);
    client *b = cli_connect(l);
    expect(b, "421 4.7.0 mx.test Error: too many connections from 127.0.0.1\r\n");
    assert_true(cli_closed(b, WAIT_MS));
    assert_int_equal(T.connects, 1);   /* on_connect is not asked about a refused client */
    cli_send(a, "QUIT\r\n");
    expect(a, "221 2.0.0 Bye\r\n");
    wait_sessions(l, 0);
    client *c = greeted(l);   /* the slot is free again */
    cli_free(a);
    cli_free(b);
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);

    o.per_ip_reply = "4.7.0 Slow down, please";
    l = server_start(&o);
    a = greeted(l);
    b = cli_connect(l);
    expect(b, "421 4.7.0 Slow down, please\r\n");
    assert_true(cli_closed(b, WAIT_MS));
    cli_free(a);
    cli_free(b);
    wait_sessions(l, 0);
    smtpd_listener_free(l);

    o = default_opts();
    o.max_connections = 2;
    l = server_start(&o);
    a = greeted(l);
    b = greeted(l);
    c = cli_connect(l);
    expect(c, "421 4.7.0 mx.test Error: too many connections\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(a);
    cli_free(b);
    cli_free(c);
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 3 + 2 + 3);   /* refused sessions close too */
    smtpd_listener_free(l);
}

/* test_timeout - an idle client gets 421 4.4.2 and is closed */
static void test_timeout(void **state)
{
    smtpd_opts o = default_opts();
    o.timeout_ms = 200;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\n");
    expect(c, ehlo_reply);
    cli_send(c, "NOO");   /* half a command does not count as activity forever */
    expect(c, "421 4.4.2 mx.test Error: timeout exceeded\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);
    cli_free(c);
    smtpd_listener_free(l);
}

/* start_message - a transaction up to the end of the body, not yet answered */
static void start_message(client *c)
{
    cli_send(c, "EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    expect(c, ehlo_reply);
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    cli_send(c, "body\r\n.\r\nNOOP\r\n");
}

/* test_async_message - while on_message holds the message, pipelined commands wait; its
 * answer goes out first, then theirs */
static void test_async_message(void **state)
{
    smtpd_opts o = default_opts();
    T.async = 1;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    start_message(c);
    assert_true(cli_silent(c, 200));
    assert_non_null(T.held);
    assert_int_equal(T.held->body.len, 6);
    assert_memory_equal(T.held->body.data, "body\r\n", 6);
    smtpd_reply r = {.code = 451};
    snprintf(r.text, sizeof r.text, "4.3.0 Queue write failed");
    smtpd_message_done(T.held_s, T.held, &r);
    T.held = NULL;
    expect(c, "451 4.3.0 Queue write failed\r\n");
    expect(c, "250 2.0.0 Ok\r\n");
    assert_int_equal(T.last_refusal_stage, SMTPD_EOM);
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_commit_outlasts_timeout - while on_message holds the message longer than the idle
 * timeout, the client is not timed out (the wait is ours), and what it sends meanwhile is
 * read ahead and answered, in order, after the message's reply */
static void test_commit_outlasts_timeout(void **state)
{
    smtpd_opts o = default_opts();
    o.timeout_ms = 200;
    T.async = 1;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    start_message(c);
    pump_for(c, 100);
    cli_send(c, "RSET\r\n");
    pump_for(c, 400);   /* twice the idle timeout */
    assert_true(cli_silent(c, 50));
    assert_non_null(T.held);
    smtpd_message_done(T.held_s, T.held, NULL);
    T.held = NULL;
    expect(c, "250 2.0.0 Ok\r\n");   /* the message */
    expect(c, "250 2.0.0 Ok\r\n");   /* NOOP */
    expect(c, "250 2.0.0 Ok\r\n");   /* RSET */
    /* the idle timeout is the client's again */
    expect(c, "421 4.4.2 mx.test Error: timeout exceeded\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_async_after_disconnect - the client leaves while on_message holds the message: the
 * session lives on until smtpd_message_done, which frees it (on_close once) */
static void test_async_after_disconnect(void **state)
{
    smtpd_opts o = default_opts();
    T.async = 1;
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    start_message(c);
    pump_for(c, 50);
    assert_non_null(T.held);
    cli_free(c);
    pump_for(NULL, 100);
    assert_int_equal(T.closes, 0);
    smtpd_reply r = {.code = 250};
    smtpd_message_done(T.held_s, T.held, &r);
    T.held = NULL;
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);
    smtpd_listener_free(l);

    /* the same with the listener freed first: on_close comes with smtpd_message_done */
    l = server_start(&o);
    c = greeted(l);
    start_message(c);
    pump_for(c, 50);
    assert_non_null(T.held);
    smtpd_listener_free(l);
    assert_int_equal(T.closes, 1);
    assert_true(cli_closed(c, WAIT_MS));
    assert_null(smtpd_session_listener(T.held_s));
    smtpd_message_done(T.held_s, T.held, NULL);
    T.held = NULL;
    assert_int_equal(T.closes, 2);
    cli_free(c);
}

/* test_hook_decisions - delays, multi-line and code-less refusals, close, drop */
static void test_hook_decisions(void **state)
{
    smtpd_opts o = default_opts();
    smtpd_listener *l = server_start(&o);
    client *c = greeted(l);
    cli_send(c, "HELO c\r\n");
    expect(c, "250 mx.test\r\n");
    int64_t t0 = now_ms();
    cli_send(c, "MAIL FROM:<slow@example.com>\r\nRSET\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    assert_true(now_ms() - t0 >= 250);
    expect(c, "250 2.0.0 Ok\r\n");
    cli_send(c, "MAIL FROM:<multi@example.com>\r\n");
    expect(c, "550-5.7.1 first line\r\n550 5.7.1 second line\r\n");
    cli_send(c, "MAIL FROM:<plain@example.com>\r\n");
    expect(c, "550 5.0.0 Go away\r\n");
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<drop@example.com>\r\nNOOP\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    assert_true(cli_closed(c, WAIT_MS));   /* no reply to RCPT, none to NOOP */
    wait_sessions(l, 0);
    cli_free(c);

    c = greeted(l);
    cli_send(c, "HELO close.example\r\nNOOP\r\n");
    expect(c, "250 mx.test\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);

    /* on_connect refuses with 554: only QUIT (and NOOP) are answered normally */
    T.connect_reply.code = 554;
    snprintf(T.connect_reply.text, sizeof T.connect_reply.text, "5.7.1 Not here");
    c = cli_connect(l);
    expect(c, "554 5.7.1 Not here\r\n");
    cli_send(c, "EHLO c\r\n");
    expect(c, "503 5.5.1 Error: service refused, send QUIT\r\n");
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);
    /* and with 421 the engine closes by itself */
    T.connect_reply.code = 421;
    snprintf(T.connect_reply.text, sizeof T.connect_reply.text, "4.3.2 Shutting down");
    c = cli_connect(l);
    expect(c, "421 4.3.2 Shutting down\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* client_tls - handshake on the client's socket, stepping the server meanwhile */
static void client_tls(client *c)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    int64_t end = now_ms() + WAIT_MS;
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(c->ssl, r);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || now_ms() > end)
            fail_msg("TLS handshake failed: %d", e);
        pump(c, 2);
    }
}

/* tls_ctx - a server context on a fresh self-signed certificate */
static SSL_CTX *tls_ctx(char *dir)
{
    char cert[512], key[512], err[256];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    assert_int_equal(selfsigned_write("mx.test", cert, key), 0);
    SSL_CTX *ctx = smtpd_tls_ctx(cert, key, err, sizeof err);
    if (!ctx)
        fail_msg("smtpd_tls_ctx: %s", err);
    assert_null(smtpd_tls_ctx(key, key, err, sizeof err));   /* a key is no certificate */
    assert_non_null(strstr(err, "certificate"));
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return ctx;
}

/* test_starttls - STARTTLS offered; plaintext pipelined after it is discarded; the session
 * starts over inside TLS; STARTTLS again is refused; a message goes through over TLS */
static void test_starttls(void **state)
{
    char dir[] = "/tmp/sluice-smtpd-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    smtpd_opts o = default_opts();
    o.tls = tls_ctx(dir);
    smtpd_listener *l = server_start(&o);
    SSL_CTX_free(o.tls);   /* the listener holds its own reference */
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\n");
    expect(c, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
              "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 STARTTLS\r\n");
    cli_send(c, "STARTTLS\r\nMAIL FROM:<injected@example.net>\r\n");
    expect(c, "220 2.0.0 Ready to start TLS\r\n");
    client_tls(c);
    cli_send(c, "RCPT TO:<b@example.com>\r\n");   /* no EHLO yet, and the MAIL is gone */
    expect(c, "503 5.5.1 Error: need MAIL command\r\n");
    cli_send(c, "MAIL FROM:<a@example.com>\r\n");
    expect(c, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    assert_int_equal(T.mails, 0);
    cli_send(c, "EHLO c\r\n");
    expect(c, ehlo_reply);   /* no STARTTLS any more */
    cli_send(c, "STARTTLS\r\n");
    expect(c, "554 5.5.1 Error: TLS already active\r\n");
    cli_send(c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                "secret\r\n.\r\nQUIT\r\n");
    expect(c, "250 2.1.0 Ok\r\n");
    expect(c, "250 2.1.5 Ok\r\n");
    expect(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    expect(c, "250 2.0.0 Ok: queued as Q1\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    assert_int_equal(T.tls_at_message, 1);
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);

    /* a client that sends garbage instead of a handshake is dropped */
    c = greeted(l);
    cli_send(c, "STARTTLS\r\n");
    expect(c, "220 2.0.0 Ready to start TLS\r\n");
    cli_send(c, "EHLO this is not TLS\r\n");
    assert_true(cli_eof(c, WAIT_MS));   /* perhaps after a TLS alert */
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_tls_required - MAIL before STARTTLS is refused with 530 */
static void test_tls_required(void **state)
{
    char dir[] = "/tmp/sluice-smtpd-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    smtpd_opts o = default_opts();
    o.tls = tls_ctx(dir);
    o.tls_required = 1;
    smtpd_listener *l = server_start(&o);
    SSL_CTX_free(o.tls);
    client *c = greeted(l);
    cli_send(c, "EHLO c\r\n");
    expect(c, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
              "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 STARTTLS\r\n");
    cli_send(c, "MAIL FROM:<a@example.com>\r\n");
    expect(c, "530 5.7.0 Must issue a STARTTLS command first\r\n");
    cli_send(c, "STARTTLS\r\n");
    expect(c, "220 2.0.0 Ready to start TLS\r\n");
    client_tls(c);
    cli_send(c, "EHLO c\r\nMAIL FROM:<a@example.com>\r\n");
    expect(c, ehlo_reply);
    expect(c, "250 2.1.0 Ok\r\n");
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_backpressure - a client that pipelines far more than the output high-water mark
 * without reading gets every reply, in order: the engine stops reading while its replies
 * pile up, and goes on as they drain.  A socketpair with small buffers makes them pile up
 * in the engine rather than in the kernel. */
static void test_backpressure(void **state)
{
    enum { N = 60000 };   /* 60000 x 14-byte replies: over three times the mark */
    static const char reply[] = "250 2.0.0 Ok\r\n";
    smtpd_opts o = default_opts();
    char err[128];
    int sv[2], small = 4096;
    smtpd_listener *l = smtpd_listen(base, NULL, &o, err, sizeof err);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in peer = {.sin_family = AF_INET};
    assert_int_equal(smtpd_listener_adopt(l, sv[1], (struct sockaddr *)&peer, sizeof peer), 0);
    client *c = calloc(1, sizeof *c);
    c->fd = sv[0];
    expect(c, "220 mx.test ESMTP sluice-test\r\n");
    dbuf cmds = {0};
    for (int i = 0; i < N; i++)
        dbuf_puts(&cmds, "NOOP\r\n");
    size_t sent = 0, want = (size_t)N * (sizeof reply - 1);
    int64_t end = now_ms() + 4 * WAIT_MS;
    while (sent < cmds.len && now_ms() < end) {   /* write all before reading anything */
        ssize_t w = send(c->fd, cmds.data + sent, cmds.len - sent, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        else
            pump(NULL, 1);
        if (l->sessions && l->sessions->out_full && w <= 0)
            break;   /* the engine holds replies and has stopped reading: now read */
    }
    assert_true(sent < cmds.len);   /* it did stop reading */
    smtpd_session *s = l->sessions;
    assert_true(s->out.len + evbuffer_get_length(bufferevent_get_output(s->bev)) >
                SMTPD_OUT_HIGH);
    assert_false(bufferevent_get_enabled(s->bev) & EV_READ);
    while ((sent < cmds.len || c->in.len < want) && now_ms() < end) {
        ssize_t w = sent < cmds.len ? send(c->fd, cmds.data + sent, cmds.len - sent, MSG_NOSIGNAL)
                                    : 0;
        if (w > 0)
            sent += (size_t)w;
        if (cli_fill(c) == 0)
            pump(c, 1);
    }
    assert_int_equal(c->in.len, want);
    for (size_t i = 0; i < want; i += sizeof reply - 1)
        if (memcmp(c->in.data + i, reply, sizeof reply - 1) != 0)
            fail_msg("reply at byte %zu differs", i);
    dbuf_free(&cmds);
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_unbound_adopt - an unbound listener runs a socketpair session */
static void test_unbound_adopt(void **state)
{
    smtpd_opts o = default_opts();
    char err[128];
    int sv[2];
    smtpd_listener *l = smtpd_listen(base, NULL, &o, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(smtpd_listener_port(l), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct sockaddr_in peer = {0};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0xc0000201);   /* 192.0.2.1 */
    assert_int_equal(smtpd_listener_adopt(l, sv[1], (struct sockaddr *)&peer, sizeof peer), 0);
    client *c = calloc(1, sizeof *c);
    c->fd = sv[0];
    expect(c, "220 mx.test ESMTP sluice-test\r\n");
    cli_send(c, "QUIT\r\n");
    expect(c, "221 2.0.0 Bye\r\n");
    assert_true(cli_closed(c, WAIT_MS));
    cli_free(c);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_greeting_and_simple_commands, setup),
        cmocka_unit_test_setup(test_pipelined_transaction, setup),
        cmocka_unit_test_setup(test_bare_lf_dot, setup),
        cmocka_unit_test_setup(test_bdat, setup),
        cmocka_unit_test_setup(test_size_limits, setup),
        cmocka_unit_test_setup(test_too_many_recipients, setup),
        cmocka_unit_test_setup(test_recipient_overshoot, setup),
        cmocka_unit_test_setup(test_sequence_and_syntax, setup),
        cmocka_unit_test_setup(test_line_too_long, setup),
        cmocka_unit_test_setup(test_error_limits, setup),
        cmocka_unit_test_setup(test_connection_limits, setup),
        cmocka_unit_test_setup(test_timeout, setup),
        cmocka_unit_test_setup(test_commit_outlasts_timeout, setup),
        cmocka_unit_test_setup(test_async_message, setup),
        cmocka_unit_test_setup(test_async_after_disconnect, setup),
        cmocka_unit_test_setup(test_hook_decisions, setup),
        cmocka_unit_test_setup(test_starttls, setup),
        cmocka_unit_test_setup(test_tls_required, setup),
        cmocka_unit_test_setup(test_backpressure, setup),
        cmocka_unit_test_setup(test_unbound_adopt, setup),
    };
    signal(SIGPIPE, SIG_IGN);
    log_set_level(getenv("SMTPD_TEST_LOG") ? SL_DEBUG : SL_WARN);
    base = event_base_new();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dbuf_free(&T.msg.body);
    event_base_free(base);
    return rc;
}
