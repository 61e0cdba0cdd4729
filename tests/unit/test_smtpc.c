/* test_smtpc.c - the outbound SMTP client against the real server engine (src/server),
 * both on one event loop in this thread, on 127.0.0.1 (and ::1) with ephemeral ports: plain
 * and big deliveries (what the engine stored must be what was given), per-recipient
 * results, local refusals, 421s decided by hooks at each stage, connection reuse, the owner
 * freeing from callbacks, source addresses, and STARTTLS at levels may, encrypt and verify
 * with a CA and server certificates made here for the right and a wrong name, and what an
 * observer sees of the TLS session.
 * Under ASan, anything the client leaves behind is a leak. */
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/smtpc.h"
#include "client/smtpc_int.h"   /* test_big_body looks at the output buffer */
#include "common/dbuf.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "server/smtpd.h"
#include "test_util_smtp.h"

#define WAIT_MS 8000

static struct event_base *base;
static struct event *tick;

/* ---- the server engine and its hooks ---- */

static struct {
    int connects, closes, mails, rcpts, datas, messages;
    char ip[64];
    test_msg msg;          /* the last message */
    int64_t size_param;
    int body_8bitmime, smtputf8, tls_at_message;
    smtpd_reply connect_reply, data_reply, eom_reply;
    int chunking;          /* the engine offers CHUNKING (most tests: DATA only) */
} T;

/* on_connect - count, note the client's address, answer with T.connect_reply */
static void on_connect(smtpd_session *s, smtpd_reply *r)
{
    T.connects++;
    snprintf(T.ip, sizeof T.ip, "%s", smtpd_session_ip(s));
    *r = T.connect_reply;
}

/* on_mail - "close@..." gets 421 */
static void on_mail(smtpd_session *s, const char *sender, smtpd_reply *r)
{
    T.mails++;
    if (strncmp(sender, "close@", 6) == 0) {
        r->code = 421;
        snprintf(r->text, sizeof r->text, "4.7.0 Too many messages from this IP");
    }
}

/* on_rcpt - bad@ 550, defer@ 450, close@ 421, drop@ drops the connection */
static void on_rcpt(smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    T.rcpts++;
    if (strncmp(rcpt, "bad@", 4) == 0) {
        r->code = 550;
        snprintf(r->text, sizeof r->text, "5.1.1 <%s>: Recipient address rejected", rcpt);
    } else if (strncmp(rcpt, "defer@", 6) == 0) {
        r->code = 450;
        snprintf(r->text, sizeof r->text, "4.2.0 <%s>: Greylisted, see later", rcpt);
    } else if (strncmp(rcpt, "close@", 6) == 0) {
        r->code = 421;
        snprintf(r->text, sizeof r->text, "4.7.0 Rate limit exceeded, closing");
    } else if (strncmp(rcpt, "drop@", 5) == 0) {
        r->code = -1;
    }
}

/* on_data - answer with T.data_reply */
static void on_data(smtpd_session *s, smtpd_reply *r)
{
    T.datas++;
    *r = T.data_reply;
}

/* on_message - record the message; answer with T.eom_reply, or 250 */
static void on_message(smtpd_session *s, smtpd_message *m)
{
    T.messages++;
    test_msg_record(&T.msg, m);
    T.size_param = m->size_param;
    T.body_8bitmime = m->body_8bitmime;
    T.smtputf8 = m->smtputf8;
    T.tls_at_message = smtpd_session_tls(s);
    smtpd_reply r = T.eom_reply;
    if (!r.code) {
        r.code = 250;
        snprintf(r.text, sizeof r.text, "2.0.0 Ok: queued as Q%d", T.messages);
    }
    smtpd_message_done(s, m, &r);
}

/* on_close - count */
static void on_close(smtpd_session *s)
{
    T.closes++;
}

static const smtpd_hooks hooks = {
    on_connect, NULL, on_mail, on_rcpt, on_data, on_message, NULL, on_close,
};

/* engine_opts - a listener like a receiving MX */
static smtpd_opts engine_opts(void)
{
    smtpd_opts o = {0};
    o.hostname = "mx.test";
    o.banner = "$myhostname ESMTP sluice-test";
    o.timeout_ms = 10000;
    o.max_message_size = 20 << 20;
    o.max_rcpts = 50;
    o.hard_error_limit = 20;
    o.hooks = &hooks;
    o.no_chunking = !T.chunking;
    return o;
}

/* engine_addr - where the listener is, as a client would be told */
static netaddr engine_addr(const smtpd_listener *l, const char *ip)
{
    return test_addr(ip, smtpd_listener_port(l));
}

/* ---- the client side ---- */

typedef struct rec {
    smtpc *c;
    int ready, failed, closed, txns, events;
    smtpc_reply last;
    int free_on_ready, free_on_txn;
    int next_on_txn;         /* start the next transaction from the done callback */
    smtpc_txn *next;
    char order[32];          /* the callbacks in order: R(eady) F(ailed) C(losed) T(xn) */
} rec;

/* note - append a callback's letter to R.order */
static void note(rec *rc, char what)
{
    size_t n = strlen(rc->order);
    if (n + 1 < sizeof rc->order)
        rc->order[n] = what;
}

static rec R;
static smtpc_opts O;

/* on_event - record; free from inside when asked */
static void on_event(void *arg, smtpc *c, enum smtpc_event ev, const smtpc_reply *r)
{
    rec *rc = arg;
    note(rc, "RFC"[ev]);
    rc->events++;
    rc->ready += ev == SMTPC_EV_READY;
    rc->failed += ev == SMTPC_EV_FAILED;
    rc->closed += ev == SMTPC_EV_CLOSED;
    smtpc_reply_clear(&rc->last);
    smtpc_reply_copy(&rc->last, r);
    if (ev == SMTPC_EV_READY && rc->free_on_ready) {
        smtpc_free(c);
        smtpc_free(c);   /* twice: still only one real free */
        rc->c = NULL;
    }
}

/* on_done - count; free or go on from inside when asked */
static void on_done(void *arg, smtpc *c, smtpc_txn *t)
{
    rec *rc = arg;
    note(rc, 'T');
    rc->txns++;
    if (rc->free_on_txn) {
        smtpc_free(c);
        rc->c = NULL;
    } else if (rc->next_on_txn && rc->next) {
        smtpc_txn *n = rc->next;
        rc->next = NULL;
        assert_int_equal(smtpc_send(c, n, on_done, rc), 0);
    }
}

/* client_to - a client connection to the listener on ip */
static smtpc *client_to(const smtpd_listener *l, const char *ip)
{
    netaddr a = engine_addr(l, ip);
    R.c = smtpc_connect(base, &a, "mx.test", &O, on_event, &R);
    assert_non_null(R.c);
    return R.c;
}

/* txn_init - sender, a NULL-ended recipient list, a body */
static void txn_init(smtpc_txn *t, const char *sender, const char *const *rcpts,
                     const char *body, size_t len)
{
    memset(t, 0, sizeof *t);
    t->sender = sender;
    t->rcpts = rcpts;
    while (rcpts[t->nrcpt])
        t->nrcpt++;
    t->body = (const uint8_t *)body;
    t->body_len = len;
}

/* engine_default - a listener with engine_opts() on ip */
static smtpd_listener *engine_default(const char *ip)
{
    smtpd_opts o = engine_opts();
    return test_listen(base, &o, ip);
}

/* engine_ready_with - a listener with o on ip and a client to it, READY */
static smtpd_listener *engine_ready_with(const smtpd_opts *o, const char *ip)
{
    smtpd_listener *l = test_listen(base, o, ip);
    client_to(l, ip);
    WAIT_FOR(R.ready);
    return l;
}

/* engine_ready - the same with engine_opts() */
static smtpd_listener *engine_ready(const char *ip)
{
    smtpd_opts o = engine_opts();
    return engine_ready_with(&o, ip);
}

/* send_wait - run a transaction to its end */
static void send_wait(smtpc_txn *t)
{
    int before = R.txns;
    assert_int_equal(smtpc_send(R.c, t, on_done, &R), 0);
    WAIT_FOR(R.txns > before);
}

/* expect_body - the engine stored exactly this body */
static void expect_body(const char *body, size_t len)
{
    assert_int_equal(T.msg.body.len, len);
    assert_memory_equal(T.msg.body.data, body, len);
}

/* quit_wait - QUIT and wait for CLOSED */
static void quit_wait(void)
{
    smtpc_quit(R.c);
    WAIT_FOR(R.closed);
    expect_reply(&R.last, 221, "2.0.0", "Bye", SMTPC_ST_QUIT, 1);
}

/* wait_sessions - until the engine has n sessions */
static void wait_sessions(smtpd_listener *l, int n)
{
    WAIT_FOR(smtpd_listener_sessions(l) == n);
}

/* setup - a fresh loop and records */
static int setup(void **state)
{
    base = event_base_new();
    tick = tick_start(base);
    dbuf_free(&T.msg.body);
    memset(&T, 0, sizeof T);
    memset(&R, 0, sizeof R);
    memset(&O, 0, sizeof O);
    O.helo_name = "client.test";
    return 0;
}

/* teardown - free what the test left */
static int teardown(void **state)
{
    smtpc_free(R.c);
    R.c = NULL;
    smtpc_reply_clear(&R.last);
    dbuf_free(&T.msg.body);
    event_free(tick);
    event_base_free(base);
    return 0;
}

static const char *const one_rcpt[] = {"rcpt@example.org", NULL};

/* ---- delivery ---- */

/* test_plain_delivery - one message to two recipients; what the engine stored is what was
 * given (the body unstuffed again); QUIT */
static void test_plain_delivery(void **state)
{
    static const char *const rcpts[] = {"one@example.org", "two@example.org", NULL};
    static const char body[] = "Subject: hello\r\n\r\nHi.\r\n.leading dot\r\n..two\r\n.\r\nend\r\n";
    smtpd_listener *l = engine_ready("127.0.0.1");
    const smtpc_features *f = smtpc_features_of(R.c);
    assert_true(f->esmtp && f->pipelining && f->eightbitmime && f->smtputf8 &&
                f->enhancedstatuscodes);
    assert_false(f->starttls || f->tls_active || f->tls_verified);
    assert_int_equal(f->size_limit, 20 << 20);
    char peer[80];
    snprintf(peer, sizeof peer, "mx.test[127.0.0.1]:%d", smtpd_listener_port(l));
    assert_string_equal(smtpc_peer(R.c), peer);
    smtpc_txn t;
    txn_init(&t, "sender@example.com", rcpts, body, sizeof body - 1);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    assert_int_equal(t.conn_lost, 0);
    expect_reply(&t.mail, 250, "2.1.0", "Ok", SMTPC_ST_MAIL, 0);
    expect_reply(&t.rcpt[0], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.data, 250, "2.0.0", "Ok: queued as Q1", SMTPC_ST_BODY, 0);
    assert_int_equal(T.messages, 1);
    assert_string_equal(T.msg.sender, "sender@example.com");
    assert_int_equal(T.msg.nrcpt, 2);
    assert_string_equal(T.msg.rcpt[1], "two@example.org");
    assert_int_equal(T.size_param, (int64_t)sizeof body - 1);
    assert_false(T.body_8bitmime || T.smtputf8);
    expect_body(body, sizeof body - 1);
    quit_wait();
    wait_sessions(l, 0);
    assert_int_equal(T.closes, 1);
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_big_body - 10 MB with dotted lines everywhere: stored intact, and the client's output
 * buffer never holds more than a few chunks */
static void test_big_body(void **state)
{
    size_t n = 10 << 20;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = i % 61 == 59 ? '\r' : i % 61 == 60 ? '\n' : i % 61 == 0 ? '.' : 'a' + i % 26;
    memcpy(body + n - 2, "\r\n", 2);
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t;
    txn_init(&t, "sender@example.com", one_rcpt, body, n);
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), 0);
    size_t most = 0;
    int64_t end = now_ms() + 4 * WAIT_MS;
    while (!R.txns && now_ms() < end) {
        event_base_loop(base, EVLOOP_ONCE);
        if (R.c->bev) {
            size_t out = evbuffer_get_length(bufferevent_get_output(R.c->bev));
            most = out > most ? out : most;
        }
    }
    assert_int_equal(R.txns, 1);
    assert_int_equal(t.accepted, 1);
    assert_true(most > 0 && most <= SMTPC_BODY_HIGH + 2 * SMTPC_BODY_CHUNK);
    expect_body(body, n);
    quit_wait();
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
    free(body);
}

/* test_mixed_rcpt - 250, 550, 450, 250: each recipient's own reply; only the accepted get
 * the message */
static void test_mixed_rcpt(void **state)
{
    static const char *const rcpts[] = {"ok1@example.org", "bad@example.org",
                                        "defer@example.org", "ok2@example.org", NULL};
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t;
    txn_init(&t, "sender@example.com", rcpts, "x\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_reply(&t.rcpt[0], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 550, "5.1.1", "<bad@example.org>: Recipient address rejected",
                 SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[2], 450, "4.2.0", "Greylisted, see later", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[3], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    assert_int_equal(T.msg.nrcpt, 2);
    assert_string_equal(T.msg.rcpt[0], "ok1@example.org");
    assert_string_equal(T.msg.rcpt[1], "ok2@example.org");
    quit_wait();
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_bdat - where the engine offers CHUNKING: the body goes as BDAT LAST, raw (leading
 * dots untouched) and arrives exactly; all recipients refused: the BDAT's refusal is kept,
 * nothing delivered, the next transaction (after RSET) goes through; on_data's 421 ends the
 * connection with nothing delivered */
static void test_bdat(void **state)
{
    static const char *const rcpts[] = {"ok1@example.org", "bad@example.org", NULL};
    static const char *const refused[] = {"bad@example.org", "defer@example.org", NULL};
    static const char body[] = ".leading dot\r\n..two\r\n.\r\nend\r\n";
    T.chunking = 1;
    smtpd_listener *l = engine_ready("127.0.0.1");
    assert_true(smtpc_features_of(R.c)->chunking);
    smtpc_txn t;
    txn_init(&t, "sender@example.com", rcpts, body, sizeof body - 1);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_reply(&t.rcpt[0], 250, "2.1.5", "Ok", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 550, "5.1.1", "Recipient address rejected", SMTPC_ST_RCPT, 0);
    assert_int_equal(t.data.code, 250);
    assert_int_equal(t.data.stage, SMTPC_ST_BODY);
    expect_body(body, sizeof body - 1);
    smtpc_txn_clear(&t);
    txn_init(&t, "sender@example.com", refused, "x\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 550, "5.1.1", "Recipient address rejected", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 450, "4.2.0", "Greylisted", SMTPC_ST_RCPT, 0);
    assert_true(t.data.code == 503 && t.data.stage == SMTPC_ST_BODY);
    assert_int_equal(T.messages, 1);
    smtpc_txn_clear(&t);
    txn_init(&t, "sender@example.com", rcpts, "y\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_body("y\r\n", 3);
    smtpc_txn_clear(&t);
    T.data_reply.code = 421;
    snprintf(T.data_reply.text, sizeof T.data_reply.text, "4.3.2 System shutting down");
    txn_init(&t, "sender@example.com", rcpts, "z\r\n", 3);
    send_wait(&t);
    WAIT_FOR(R.closed);
    assert_int_equal(t.accepted, 0);
    assert_int_equal(t.conn_lost, 1);
    expect_reply(&t.rcpt[0], 421, "4.3.2", "System shutting down", SMTPC_ST_BODY, 1);
    assert_int_equal(T.messages, 2);
    smtpc_txn_clear(&t);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* test_all_refused - nobody accepted: no message; the pipelined DATA's refusal is kept;
 * the connection serves the next transaction (after RSET) */
static void test_all_refused(void **state)
{
    static const char *const rcpts[] = {"bad@example.org", "defer@example.org", NULL};
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t;
    txn_init(&t, "sender@example.com", rcpts, "x\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 550, "5.1.1", "Recipient address rejected", SMTPC_ST_RCPT, 0);
    expect_reply(&t.rcpt[1], 450, "4.2.0", "Greylisted", SMTPC_ST_RCPT, 0);
    assert_true(t.data.code >= 500 && t.data.stage == SMTPC_ST_DATA);
    assert_int_equal(T.messages, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, "sender@example.com", one_rcpt, "y\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    expect_body("y\r\n", 3);
    quit_wait();
    assert_int_equal(T.connects, 1);
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_size_limit - over the announced SIZE: 552 5.3.4 here, nothing sent; a small one
 * after it goes through */
static void test_size_limit(void **state)
{
    smtpd_opts o = engine_opts();
    o.max_message_size = 1000;
    smtpd_listener *l = engine_ready_with(&o, "127.0.0.1");
    char body[1001];
    memset(body, 'a', sizeof body);
    memcpy(body + 998, "\r\n", 2);   /* 1000 bytes with the line end, then one more */
    smtpc_txn t, t2;
    txn_init(&t, "sender@example.com", one_rcpt, body, sizeof body);
    txn_init(&t2, "sender@example.com", one_rcpt, body, sizeof body);
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), 0);
    assert_int_equal(R.txns, 0);   /* decided at once, reported from the loop */
    assert_int_equal(smtpc_send(R.c, &t2, on_done, &R), -1);   /* until then, one at a time */
    WAIT_FOR(R.txns == 1);
    assert_int_equal(t.accepted, 0);
    expect_reply(&t.rcpt[0], 552, "5.3.4", "message size 1001 exceeds size limit 1000",
                 SMTPC_ST_MAIL, 0);
    assert_int_equal(T.mails, 0);
    smtpc_txn_clear(&t);
    txn_init(&t, "sender@example.com", one_rcpt, body, 1000);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    quit_wait();
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_8bit_utf8 - BODY=8BITMIME and SMTPUTF8 reach the engine when asked and offered */
static void test_8bit_utf8(void **state)
{
    static const char *const rcpts[] = {"j\xc3\xb6rg@example.org", NULL};
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t;
    txn_init(&t, "s\xc3\xa9nder@example.com", rcpts, "caf\xc3\xa9\r\n", 7);
    t.body_8bit = t.smtputf8 = 1;
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    assert_true(T.body_8bitmime && T.smtputf8);
    assert_string_equal(T.msg.rcpt[0], "j\xc3\xb6rg@example.org");
    quit_wait();
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_reuse - three transactions on one connection, the later ones started from the done
 * callback; then an end-of-data refusal leaves the connection usable */
static void test_reuse(void **state)
{
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t[3];
    txn_init(&t[0], "a@example.com", one_rcpt, "one\r\n", 5);
    txn_init(&t[1], "b@example.com", one_rcpt, "two\r\n", 5);
    txn_init(&t[2], "c@example.com", one_rcpt, "three\r\n", 7);
    R.next_on_txn = 1;
    R.next = &t[1];
    assert_int_equal(smtpc_send(R.c, &t[0], on_done, &R), 0);
    WAIT_FOR(R.txns == 2);
    R.next_on_txn = 0;
    send_wait(&t[2]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].accepted, 1);
        smtpc_txn_clear(&t[i]);
    }
    assert_int_equal(T.messages, 3);
    assert_int_equal(T.connects, 1);
    expect_body("three\r\n", 7);
    T.eom_reply.code = 554;
    snprintf(T.eom_reply.text, sizeof T.eom_reply.text, "5.7.1 Message rejected as spam");
    txn_init(&t[0], "a@example.com", one_rcpt, "spam\r\n", 6);
    send_wait(&t[0]);
    assert_int_equal(t[0].accepted, 0);
    assert_int_equal(t[0].conn_lost, 0);
    expect_reply(&t[0].rcpt[0], 554, "5.7.1", "rejected as spam", SMTPC_ST_BODY, 0);
    smtpc_txn_clear(&t[0]);
    memset(&T.eom_reply, 0, sizeof T.eom_reply);
    txn_init(&t[0], "a@example.com", one_rcpt, "ham\r\n", 5);
    send_wait(&t[0]);
    assert_int_equal(t[0].accepted, 1);
    smtpc_txn_clear(&t[0]);
    quit_wait();
    assert_int_equal(T.connects, 1);
    smtpd_listener_free(l);
}

/* ---- 421 and closes decided by the engine's hooks ---- */

/* test_greeting_refused - 421 at the greeting (no QUIT), then 554 (QUIT) */
static void test_greeting_refused(void **state)
{
    smtpd_listener *l = engine_default("127.0.0.1");
    T.connect_reply.code = 421;
    snprintf(T.connect_reply.text, sizeof T.connect_reply.text,
             "4.7.0 mx.test refuses this IP, try later");
    client_to(l, "127.0.0.1");
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 421, "4.7.0", "refuses this IP", SMTPC_ST_GREETING, 1);
    smtpc_free(R.c);
    R.c = NULL;
    wait_sessions(l, 0);
    T.connect_reply.code = 554;
    snprintf(T.connect_reply.text, sizeof T.connect_reply.text, "5.7.1 No service for you");
    client_to(l, "127.0.0.1");
    WAIT_FOR(R.failed == 2);
    expect_reply(&R.last, 554, "5.7.1", "No service for you", SMTPC_ST_GREETING, 0);
    wait_sessions(l, 0);
    smtpd_listener_free(l);
}

/* lost_case - a transaction the engine ends with 421 (or a drop) at some stage */
typedef struct lost_case {
    const char *sender;
    const char *const *rcpts;
    int data_421;
    int code;
    const char *enh, *text;
    enum smtpc_stage stage;
    int mail_code, data_code;
} lost_case;

static const char *const r_ok_close[] = {"ok@example.org", "close@example.org",
                                         "ok2@example.org", NULL};
static const char *const r_ok_drop[] = {"ok@example.org", "drop@example.org", NULL};
static const char *const r_ok[] = {"ok@example.org", "ok2@example.org", NULL};

static const lost_case lost_cases[] = {
    {"close@example.com", r_ok, 0, 421, "4.7.0", "Too many messages from this IP",
     SMTPC_ST_MAIL, 421, 0},
    {"s@example.com", r_ok_close, 0, 421, "4.7.0", "Rate limit exceeded, closing",
     SMTPC_ST_RCPT, 250, 0},
    {"s@example.com", r_ok_drop, 0, 0, "4.4.2",
     "lost connection with mx.test[127.0.0.1] while sending RCPT TO", SMTPC_ST_RCPT, 250, 0},
    {"s@example.com", r_ok, 1, 421, "4.3.2", "System shutting down", SMTPC_ST_DATA, 250, 421},
};

/* test_lost_at_stages - every recipient not finally answered gets the 421 (or the loss),
 * conn_lost is set, nothing is delivered, and CLOSED follows the transaction */
static void test_lost_at_stages(void **state)
{
    for (size_t i = 0; i < sizeof lost_cases / sizeof lost_cases[0]; i++) {
        const lost_case *lc = &lost_cases[i];
        setup(NULL);
        smtpd_listener *l = engine_default("127.0.0.1");
        if (lc->data_421) {
            T.data_reply.code = 421;
            snprintf(T.data_reply.text, sizeof T.data_reply.text, "4.3.2 System shutting down");
        }
        client_to(l, "127.0.0.1");
        WAIT_FOR(R.ready);
        smtpc_txn t;
        txn_init(&t, lc->sender, lc->rcpts, "x\r\n", 3);
        send_wait(&t);
        WAIT_FOR(R.closed);
        assert_string_equal(R.order, "RTC");   /* the transaction, then CLOSED */
        assert_int_equal(t.accepted, 0);
        assert_int_equal(t.conn_lost, 1);
        for (int k = 0; k < t.nrcpt; k++)
            expect_reply(&t.rcpt[k], lc->code, lc->enh, lc->text, lc->stage, 1);
        assert_int_equal(t.mail.code, lc->mail_code);
        assert_int_equal(t.data.code, lc->data_code);
        expect_reply(&R.last, lc->code, lc->enh, lc->text, lc->stage, 1);
        assert_int_equal(T.messages, 0);
        smtpc_txn_clear(&t);
        wait_sessions(l, 0);
        smtpd_listener_free(l);
        teardown(NULL);
    }
}

/* test_engine_idle_timeout - the engine times an idle client out with 421: CLOSED */
static void test_engine_idle_timeout(void **state)
{
    smtpd_opts o = engine_opts();
    o.timeout_ms = 300;
    smtpd_listener *l = engine_ready_with(&o, "127.0.0.1");
    WAIT_FOR(R.closed);
    expect_reply(&R.last, 421, "4.4.2", "timeout exceeded", SMTPC_ST_MAIL, 1);
    smtpd_listener_free(l);
}

/* ---- the owner ---- */

/* test_free_in_callbacks - smtpc_free from inside READY and from inside the done callback */
static void test_free_in_callbacks(void **state)
{
    smtpd_listener *l = engine_default("127.0.0.1");
    R.free_on_ready = 1;
    client_to(l, "127.0.0.1");
    WAIT_FOR(R.ready);
    assert_null(R.c);
    wait_sessions(l, 0);
    R.free_on_ready = 0;
    client_to(l, "127.0.0.1");
    WAIT_FOR(R.ready == 2);
    R.free_on_txn = 1;
    smtpc_txn t;
    txn_init(&t, "s@example.com", one_rcpt, "x\r\n", 3);
    send_wait(&t);
    assert_null(R.c);
    assert_int_equal(t.accepted, 1);
    wait_sessions(l, 0);
    assert_int_equal(R.events, 2);
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* test_free_mid_txn - the owner aborts in the middle: no callback afterwards */
static void test_free_mid_txn(void **state)
{
    smtpd_listener *l = engine_ready("127.0.0.1");
    smtpc_txn t;
    txn_init(&t, "s@example.com", one_rcpt, "x\r\n", 3);
    assert_int_equal(smtpc_send(R.c, &t, on_done, &R), 0);
    event_base_loop(base, EVLOOP_ONCE);
    smtpc_free(R.c);
    R.c = NULL;
    wait_sessions(l, 0);
    assert_int_equal(R.txns, 0);
    smtpc_txn_clear(&t);
    smtpd_listener_free(l);
}

/* ---- addresses ---- */

/* test_source_address - the connection comes from the source address asked for */
static void test_source_address(void **state)
{
    netaddr src = test_addr("127.0.0.2", 0);
    O.source = &src;
    smtpd_listener *l = engine_ready("127.0.0.1");
    assert_string_equal(T.ip, "127.0.0.2");
    quit_wait();
    smtpd_listener_free(l);
}

/* test_ipv6 - ::1 to ::1 with an IPv6 source; an IPv4 source for it is refused */
static void test_ipv6(void **state)
{
    netaddr src = test_addr("::1", 0);
    O.source = &src;
    smtpd_listener *l = engine_ready("::1");
    assert_string_equal(T.ip, "::1");
    char peer[80];
    snprintf(peer, sizeof peer, "mx.test[::1]:%d", smtpd_listener_port(l));
    assert_string_equal(smtpc_peer(R.c), peer);
    smtpc_txn t;
    txn_init(&t, "s@example.com", one_rcpt, "x\r\n", 3);
    send_wait(&t);
    assert_int_equal(t.accepted, 1);
    quit_wait();
    smtpc_txn_clear(&t);
    smtpc_free(R.c);
    src = test_addr("127.0.0.1", 0);
    client_to(l, "::1");
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 0, "4.4.1", "cannot bind to source address 127.0.0.1",
                 SMTPC_ST_CONNECT, 1);
    smtpd_listener_free(l);
}

/* test_connect_refused - nobody listening: FAILED at CONNECT with code 0 */
static void test_connect_refused(void **state)
{
    smtpd_listener *l = engine_default("127.0.0.1");
    netaddr a = engine_addr(l, "127.0.0.1");
    smtpd_listener_free(l);   /* the port is free again */
    R.c = smtpc_connect(base, &a, "mx.test", &O, on_event, &R);
    assert_int_equal(R.events, 0);   /* never from inside smtpc_connect */
    WAIT_FOR(R.failed);
    expect_reply(&R.last, 0, "4.4.1", strerror(ECONNREFUSED), SMTPC_ST_CONNECT, 1);
    assert_non_null(strstr(R.last.text, "connect to mx.test[127.0.0.1]:"));
}

/* ---- TLS ---- */

typedef struct pki {
    char dir[64];
    char ca[128], good_cert[128], good_key[128], bad_cert[128], bad_key[128];
    char self_cert[128], self_key[128];
} pki;

/* add_ext - one X509v3 extension */
static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* make_cert - a certificate for cn, signed by (ca, ca_key) or by itself */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, int is_ca,
                       long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
    if (is_ca) {
        add_ext(x, ca ? ca : x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, ca ? ca : x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        char san[300];
        snprintf(san, sizeof san, "DNS:%s", cn);
        add_ext(x, ca ? ca : x, NID_basic_constraints, "CA:FALSE");
        add_ext(x, ca ? ca : x, NID_subject_alt_name, san);
    }
    assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
    return x;
}

/* write_pem - a certificate and (optionally) a key into files */
static void write_pem(const char *cert_path, X509 *x, const char *key_path, EVP_PKEY *key)
{
    FILE *f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_true(PEM_write_X509(f, x));
    fclose(f);
    if (!key_path)
        return;
    f = fopen(key_path, "w");
    assert_non_null(f);
    assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
}

/* pki_make - a CA; server certificates for mx.test and wrong.test from it; a self-signed
 * one for mx.test */
static void pki_make(pki *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/sluice-smtpc-tls-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
#define PATH(field, name) snprintf(p->field, sizeof p->field, "%s/%s", p->dir, name)
    PATH(ca, "ca.pem");
    PATH(good_cert, "good.pem");
    PATH(good_key, "good.key");
    PATH(bad_cert, "bad.pem");
    PATH(bad_key, "bad.key");
    PATH(self_cert, "self.pem");
    PATH(self_key, "self.key");
#undef PATH
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    X509 *ca = make_cert("sluice test CA", ca_key, NULL, NULL, 1, 1);
    write_pem(p->ca, ca, NULL, NULL);
    X509 *good = make_cert("mx.test", key, ca, ca_key, 0, 2);
    X509 *bad = make_cert("wrong.test", key, ca, ca_key, 0, 3);
    X509 *self = make_cert("mx.test", key, NULL, NULL, 0, 4);
    write_pem(p->good_cert, good, p->good_key, key);
    write_pem(p->bad_cert, bad, p->bad_key, key);
    write_pem(p->self_cert, self, p->self_key, key);
    X509_free(ca);
    X509_free(good);
    X509_free(bad);
    X509_free(self);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

/* pki_free - remove the files */
static void pki_free(pki *p)
{
    const char *files[] = {p->ca,      p->good_cert, p->good_key, p->bad_cert,
                           p->bad_key, p->self_cert, p->self_key};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(p->dir);
}

/* tls_engine - a listener offering STARTTLS with this certificate */
static smtpd_listener *tls_engine(const char *cert, const char *key)
{
    char err[256];
    smtpd_opts o = engine_opts();
    o.tls = smtpd_tls_ctx(cert, key, err, sizeof err);
    if (!o.tls)
        fail_msg("smtpd_tls_ctx: %s", err);
    smtpd_listener *l = test_listen(base, &o, "127.0.0.1");
    SSL_CTX_free(o.tls);   /* the listener holds its own reference */
    return l;
}

typedef struct tls_case {
    const char *name;
    enum smtpc_tls level;
    int server_tls;            /* 0 none, 1 mx.test from the CA, 2 wrong.test, 3 self-signed */
    const char *verify_name;
    int ok;                    /* READY (and a message delivered) */
    int tls_active, tls_verified;
    int code;                  /* when not ok */
    const char *enh, *text;
    enum smtpc_stage stage;
} tls_case;

static const tls_case tls_cases[] = {
    {"none ignores STARTTLS", SMTPC_TLS_NONE, 1, "mx.test", 1, 0, 0, 0, NULL, NULL, 0},
    {"may without STARTTLS", SMTPC_TLS_MAY, 0, NULL, 1, 0, 0, 0, NULL, NULL, 0},
    {"may, self-signed", SMTPC_TLS_MAY, 3, NULL, 1, 1, 0, 0, NULL, NULL, 0},
    {"may, verified in passing", SMTPC_TLS_MAY, 1, "mx.test", 1, 1, 1, 0, NULL, NULL, 0},
    {"encrypt, wrong name", SMTPC_TLS_ENCRYPT, 2, "mx.test", 1, 1, 0, 0, NULL, NULL, 0},
    {"encrypt, not offered", SMTPC_TLS_ENCRYPT, 0, NULL, 0, 0, 0, 0, "4.7.4",
     "TLS is required but the server does not offer STARTTLS", SMTPC_ST_EHLO},
    {"verify, right name", SMTPC_TLS_VERIFY, 1, "mx.test", 1, 1, 1, 0, NULL, NULL, 0},
    {"verify, wrong name", SMTPC_TLS_VERIFY, 2, "mx.test", 0, 1, 0, 0, "4.7.5",
     "server certificate not verified for mx.test[127.0.0.1]: hostname mismatch",
     SMTPC_ST_STARTTLS},
    {"verify, untrusted", SMTPC_TLS_VERIFY, 3, "mx.test", 0, 1, 0, 0, "4.7.5",
     "server certificate not verified", SMTPC_ST_STARTTLS},
    {"verify, no name", SMTPC_TLS_VERIFY, 1, NULL, 0, 1, 0, 0, "4.7.5",
     "no name to verify", SMTPC_ST_STARTTLS},
    {"verify, not offered", SMTPC_TLS_VERIFY, 0, "mx.test", 0, 0, 0, 0, "4.7.4",
     "TLS is required", SMTPC_ST_EHLO},
};

/* tls_one - one TLS case against a fresh engine */
static void tls_one(const pki *p, const tls_case *tc)
{
    char err[256];
    const char *certs[] = {NULL, p->good_cert, p->bad_cert, p->self_cert};
    const char *keys[] = {NULL, p->good_key, p->bad_key, p->self_key};
    smtpd_listener *l = tc->server_tls ? tls_engine(certs[tc->server_tls], keys[tc->server_tls])
                                       : engine_default("127.0.0.1");
    O.tls = tc->level;
    O.tls_ctx = smtpc_tls_client_ctx(p->ca, err, sizeof err);
    if (!O.tls_ctx)
        fail_msg("%s: smtpc_tls_client_ctx: %s", tc->name, err);
    O.verify_name = tc->verify_name;
    client_to(l, "127.0.0.1");
    WAIT_FOR(R.ready || R.failed);
    if (!tc->ok) {
        assert_int_equal(R.failed, 1);
        expect_reply(&R.last, tc->code, tc->enh, tc->text, tc->stage, 0);
        wait_sessions(l, 0);   /* after our QUIT, over TLS where it was up */
    } else {
        const smtpc_features *f = smtpc_features_of(R.c);
        if (R.ready != 1 || f->tls_active != tc->tls_active ||
            f->tls_verified != tc->tls_verified)
            fail_msg("%s: ready %d tls %d verified %d (%s)", tc->name, R.ready, f->tls_active,
                     f->tls_verified, R.last.text);
        assert_false(f->starttls && f->tls_active);   /* the EHLO after TLS */
        if (f->tls_active)
            assert_non_null(strstr(f->tls_info, "with cipher"));
        smtpc_txn t;
        txn_init(&t, "s@example.com", one_rcpt, "secret\r\n", 8);
        send_wait(&t);
        assert_int_equal(t.accepted, 1);
        assert_int_equal(T.tls_at_message, tc->tls_active);
        quit_wait();
        smtpc_txn_clear(&t);
    }
    SSL_CTX_free(O.tls_ctx);
    smtpd_listener_free(l);
}

/* test_tls_levels - none, may, encrypt, verify against servers with and without STARTTLS
 * and with the right, a wrong and an untrusted certificate */
static void test_tls_levels(void **state)
{
    pki p;
    pki_make(&p);
    char err[256];
    assert_null(smtpc_tls_client_ctx("/nonexistent/ca.pem", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    for (size_t i = 0; i < sizeof tls_cases / sizeof tls_cases[0]; i++) {
        setup(NULL);
        tls_one(&p, &tls_cases[i]);
        teardown(NULL);
    }
    pki_free(&p);
}

/* What the observer saw of the TLS session, at the moment the handshake finished. */
static struct {
    int tls_steps, connected, replies;
    char subject_cn[64];
    int ssl_after_ready;
} OB;

/* on_observe_tls - at the TLS step the session and its certificate are there */
static void on_observe_tls(void *arg, const smtpc *c, const smtpc_step_info *si)
{
    OB.connected += si->step == SMTPC_STEP_CONNECTED;
    OB.replies += si->step == SMTPC_STEP_REPLY;
    if (si->step != SMTPC_STEP_TLS)
        return;
    OB.tls_steps++;
    SSL *ssl = smtpc_tls_ssl(c);
    assert_non_null(ssl);
    X509 *x = SSL_get0_peer_certificate(ssl);
    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, OB.subject_cn,
                              sizeof OB.subject_cn);
}

/* test_observe_tls - the observer's TLS step gives the session (and the certificate) even
 * when the verify level then refuses it; smtpc_tls_ssl is NULL without TLS */
static void test_observe_tls(void **state)
{
    pki p;
    pki_make(&p);
    for (int refuse = 0; refuse <= 1; refuse++) {
        setup(NULL);
        memset(&OB, 0, sizeof OB);
        smtpd_listener *l = tls_engine(p.self_cert, p.self_key);
        O.tls = refuse ? SMTPC_TLS_VERIFY : SMTPC_TLS_MAY;
        O.tls_ctx = smtpc_tls_client_ctx(p.ca, NULL, 0);
        O.verify_name = "mx.test";
        client_to(l, "127.0.0.1");
        smtpc_observe(R.c, on_observe_tls, NULL);
        WAIT_FOR(R.ready || R.failed);
        assert_int_equal(OB.connected, 1);
        assert_int_equal(OB.tls_steps, 1);
        assert_string_equal(OB.subject_cn, "mx.test");
        if (refuse) {
            assert_int_equal(R.failed, 1);
        } else {
            assert_int_equal(R.ready, 1);
            assert_non_null(smtpc_tls_ssl(R.c));
            quit_wait();
        }
        assert_true(OB.replies >= 3);   /* greeting, EHLO, STARTTLS (and more) */
        SSL_CTX_free(O.tls_ctx);
        smtpd_listener_free(l);
        teardown(NULL);
    }
    setup(NULL);
    smtpd_listener *l = engine_ready("127.0.0.1");
    assert_null(smtpc_tls_ssl(R.c));
    quit_wait();
    smtpd_listener_free(l);
    teardown(NULL);
    pki_free(&p);
}

int main(void)
{
    log_init("test_smtpc");
    log_set_level(SL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_rcpt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_8bit_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_refused, setup, teardown),
        cmocka_unit_test(test_lost_at_stages),
        cmocka_unit_test_setup_teardown(test_engine_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_in_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_mid_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test(test_tls_levels),
        cmocka_unit_test(test_observe_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
