/* fuzz_smtpd_session.c - libFuzzer target for the whole SMTP server engine: the input's
 * bytes are what a client sends, through a socketpair into a real session of the engine,
 * in-process, while the target steps the event loop and reads the replies.
 *
 * The first byte picks the listener's limits and the hooks' behaviour (asynchronous
 * on_message, refusals, a drop, delays, a refused greeting, TLS required, error sleeps),
 * so one corpus reaches every path; the rest is the client's byte stream, after which the
 * client half-closes.  A TLS context is offered, so STARTTLS turns the rest of the stream into
 * a (failing) handshake.  Checks beyond ASan/UBSan: the session ends by itself in a bounded
 * number of loop steps (or is closed by smtpd_listener_free), on_close is called exactly
 * once, and nothing leaks. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tests/unit/tls_selfsigned.h"
#include "common/log.h"
#include "server/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP_BUDGET 2000

enum {
    M_ASYNC = 1,         /* on_message answers later */
    M_REFUSE = 2,        /* on_rcpt refuses 'r...' recipients, on_mail defers 'd...' */
    M_DROP = 4,          /* on_rcpt drops the connection for 'x...' */
    M_DELAY = 8,         /* on_helo and on_data delay 1 ms */
    M_BAD_GREETING = 16, /* on_connect refuses with 554 */
    M_TLS_REQUIRED = 32,
    M_ERROR_SLEEP = 64,  /* errors past 2 wait 1 ms */
    M_TIGHT = 128        /* small size, recipient and line limits */
};

static struct event_base *base;
static SSL_CTX *tls;
static int mode, closes;
static smtpd_message *held;
static smtpd_session *held_s;

/* on_connect - maybe refuse the greeting */
static void on_connect(smtpd_session *s, smtpd_reply *r)
{
    if (mode & M_BAD_GREETING) {
        r->code = 554;
        snprintf(r->text, sizeof r->text, "5.7.1 Go away\nreally");
    }
}

/* on_helo - maybe delay */
static void on_helo(smtpd_session *s, const char *name, smtpd_reply *r)
{
    if (mode & M_DELAY)
        r->delay_ms = 1;
}

/* on_mail - maybe defer 'd...' senders */
static void on_mail(smtpd_session *s, const char *sender, smtpd_reply *r)
{
    if ((mode & M_REFUSE) && sender[0] == 'd') {
        r->code = 451;
        r->close = sender[1] == 'c';
    }
}

/* on_rcpt - maybe refuse 'r...' or drop at 'x...' */
static void on_rcpt(smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    if ((mode & M_REFUSE) && rcpt[0] == 'r') {
        r->code = 550;
        snprintf(r->text, sizeof r->text, "5.1.1 No such user");
    }
    if ((mode & M_DROP) && rcpt[0] == 'x')
        r->code = -1;
}

/* on_data - maybe delay, or an odd code the engine must sanitise */
static void on_data(smtpd_session *s, smtpd_reply *r)
{
    if (mode & M_DELAY)
        r->delay_ms = 1;
    if ((mode & M_REFUSE) && smtpd_session_nrcpt(s) > 2)
        r->code = 999;
}

/* on_message - answer now, or hold the message for the loop below */
static void on_message(smtpd_session *s, smtpd_message *m)
{
    if (mode & M_ASYNC) {
        if (held)
            abort();   /* the engine must not hand over a second message meanwhile */
        held = m;
        held_s = s;
        return;
    }
    smtpd_reply r = {.code = m->body.len % 2 ? 250 : 452};
    smtpd_message_done(s, m, &r);
}

/* on_close - count: exactly once per session */
static void on_close(smtpd_session *s)
{
    closes++;
}

static const smtpd_hooks hooks = {
    on_connect, on_helo, on_mail, on_rcpt, on_data, on_message, NULL, on_close,
};

/* init - once: quiet logs, the loop, a TLS context on a fresh certificate */
static void init(void)
{
    char dir[] = "/tmp/sluice-fuzz-XXXXXX", cert[64], key[64], err[256];
    signal(SIGPIPE, SIG_IGN);
    log_set_level(SL_FATAL);
    base = event_base_new();
    if (!mkdtemp(dir))
        abort();
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    if (selfsigned_write("fuzz.test", cert, key) < 0 ||
        !(tls = smtpd_tls_ctx(cert, key, err, sizeof err)))
        abort();
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* listener_for - a listener with the limits the mode byte asks for */
static smtpd_listener *listener_for(int m)
{
    char err[128];
    smtpd_opts o = {0};
    o.hostname = "fuzz.test";
    o.banner = "$myhostname ESMTP ${myhostname}";
    o.max_message_size = m & M_TIGHT ? 64 : 100000;
    o.max_rcpts = m & M_TIGHT ? 2 : 100;
    o.line_limit = m & M_TIGHT ? 40 : 0;
    o.hard_error_limit = m & M_ERROR_SLEEP ? 5 : 30;   /* few slow errors: fuzz speed */
    o.soft_error_limit = m & M_ERROR_SLEEP ? 2 : 0;
    o.error_sleep_ms = 1;
    o.tls = tls;
    o.tls_required = (m & M_TLS_REQUIRED) != 0;
    o.hooks = &hooks;
    return smtpd_listen(base, NULL, &o, err, sizeof err);
}

/* step - one turn of the loop: run what is ready, or wait at most 1 ms for something (a
 * delayed reply's timer) to become ready; then read and drop the replies */
static void step(int fd)
{
    char buf[65536];
    struct timeval tv = {0, 1000};
    event_base_loopexit(base, &tv);
    event_base_loop(base, EVLOOP_ONCE);
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* finish_held - answer a held message, alternating accept and refuse */
static void finish_held(int accept)
{
    smtpd_reply r = {.code = accept ? 250 : 554};
    smtpd_message *m = held;
    held = NULL;
    smtpd_message_done(held_s, m, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], steps = 0;
    if (!base)
        init();
    if (size == 0)
        return 0;
    mode = data[0];
    closes = 0;
    smtpd_listener *l = listener_for(mode);
    if (!l || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    struct sockaddr_in peer = {0};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (smtpd_listener_adopt(l, sv[1], (struct sockaddr *)&peer, sizeof peer) < 0)
        abort();
    for (size_t off = 1; off < size && steps < STEP_BUDGET; steps++) {
        ssize_t w = send(sv[0], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break;   /* the server has closed */
        step(sv[0]);
    }
    shutdown(sv[0], SHUT_WR);
    for (; smtpd_listener_sessions(l) > 0 && steps < STEP_BUDGET; steps++) {
        if (held && steps % 3 == 0)
            finish_held(steps % 2);
        step(sv[0]);
    }
    smtpd_listener_free(l);   /* closes whatever is left; a held message outlives it */
    if (held)
        finish_held(1);
    if (closes != 1)
        abort();
    close(sv[0]);
    return 0;
}
