/* test_util_smtp.h - helpers shared by the SMTP unit tests (test_smtpc, test_smtpc_script,
 * test_smtpd, test_smtpc_reply): the monotonic clock, stepping an event loop until a
 * condition holds, test addresses and listeners on loopback, checking a client reply, and
 * the reference dot-stuffer, and a copy of what an engine hook received.  Built once into a small library that every unit test links
 * (tests/CMakeLists.txt); it is not a test program itself.
 * Include it after <cmocka.h>: WAIT_FOR fails the test through cmocka. */
#ifndef SLUICE_TEST_UTIL_SMTP_H
#define SLUICE_TEST_UTIL_SMTP_H
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "client/smtpc.h"
#include "common/dbuf.h"
#include "common/netaddr.h"
#include "server/smtpd.h"

/* A message an engine hook received: envelope and body, copied. */
typedef struct test_msg {
    char sender[300];
    char rcpt[8][300];     /* the first 8 recipients */
    int nrcpt;
    dbuf body;
} test_msg;

/* test_msg_record - copy m into t (t->body is reset, then filled) */
void test_msg_record(test_msg *t, const smtpd_message *m);

/* now_ms - monotonic milliseconds */
int64_t now_ms(void);

/* tick_start - a persistent 5 ms event on b that wakes the loop now and then, so WAIT_FOR
 * can look at the clock; event_free it at the end */
struct event *tick_start(struct event_base *b);

/* WAIT_FOR - step the including test's event loop `base` until cond holds; fail the test
 * after the including test's WAIT_MS milliseconds */
#define WAIT_FOR(cond)                                                              \
    do {                                                                            \
        int64_t end_ = now_ms() + WAIT_MS;                                          \
        while (!(cond)) {                                                           \
            if (now_ms() > end_)                                                    \
                fail_msg("line %d: timed out waiting for %s", __LINE__, #cond);     \
            event_base_loop(base, EVLOOP_ONCE);                                     \
        }                                                                           \
    } while (0)

/* test_addr - ip (IPv4, or IPv6 without brackets) and port as a netaddr; port 0 gives an
 * address with port 0 (for a source address or an ephemeral listener) */
netaddr test_addr(const char *ip, int port);

/* test_listen - an engine listener on ip with an ephemeral port; fails the test if it
 * cannot listen */
smtpd_listener *test_listen(struct event_base *b, const smtpd_opts *o, const char *ip);

/* expect_reply - code, enhanced code, a piece of the text, stage, closed */
void expect_reply(const smtpc_reply *r, int code, const char *enh, const char *text,
                  enum smtpc_stage stage, int closed);

/* ref_stuff - the reference dot-stuffing: split into lines at "\n", double a leading "." */
void ref_stuff(dbuf *out, const void *p, size_t n);

#endif
