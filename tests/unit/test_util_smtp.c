/* test_util_smtp.c - helpers shared by the SMTP unit tests (see test_util_smtp.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "test_util_smtp.h"

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* on_tick - nothing: the tick only wakes the loop */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

struct event *tick_start(struct event_base *b)
{
    struct event *tick = event_new(b, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    return tick;
}

netaddr test_addr(const char *ip, int port)
{
    netaddr a;
    const char *perr;
    char where[80];
    /* netaddr_parse wants a port of 1 or more: parse with 1, then set 0 */
    snprintf(where, sizeof where, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port ? port : 1);
    assert_int_equal(netaddr_parse(where, 0, &a, &perr), 0);
    if (port == 0) {
        if (a.ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&a.ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)&a.ss)->sin6_port = 0;
    }
    return a;
}

smtpd_listener *test_listen(struct event_base *b, const smtpd_opts *o, const char *ip)
{
    char err[256];
    netaddr a = test_addr(ip, 0);
    smtpd_listener *l = smtpd_listen(b, &a, o, err, sizeof err);
    if (!l)
        fail_msg("smtpd_listen: %s", err);
    return l;
}

void expect_reply(const smtpc_reply *r, int code, const char *enh, const char *text,
                  enum smtpc_stage stage, int closed)
{
    if (r->code != code || strcmp(r->enh, enh) != 0 || !r->text || !strstr(r->text, text) ||
        r->stage != stage || r->closed != closed)
        fail_msg("got %d \"%s\" \"%s\" stage %d closed %d; want %d \"%s\" \"...%s...\" stage "
                 "%d closed %d",
                 r->code, r->enh, r->text ? r->text : "(null)", (int)r->stage, r->closed, code,
                 enh, text, (int)stage, closed);
}

void ref_stuff(dbuf *out, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t start = 0;
    while (start < n) {
        const uint8_t *nl = memchr(p + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - p) + 1 : n;
        if (p[start] == '.')
            dbuf_putc(out, '.');
        dbuf_put(out, p + start, end - start);
        start = end;
    }
}

void test_msg_record(test_msg *t, const smtpd_message *m)
{
    snprintf(t->sender, sizeof t->sender, "%s", m->sender);
    t->nrcpt = m->nrcpt;
    for (int i = 0; i < m->nrcpt && i < 8; i++)
        snprintf(t->rcpt[i], sizeof t->rcpt[i], "%s", m->rcpts[i]);
    dbuf_reset(&t->body);
    dbuf_put(&t->body, m->body.data, m->body.len);
}
