/* test_control.c - the daemon's local submissions: the control socket (daemon/control.c)
 * and the maildrop pickup (daemon/maildrop.c), in-process over a real spool, scheduler and
 * control server in a temporary directory (every domain routed to "error:4.4.1", so nothing
 * leaves).  Checks that requests sent together are each answered (a request that came while
 * a submit or a queue change waited for the spool stayed unread), and that an envelope
 * address that would change the SMTP command it goes into (a CR or LF, an angle bracket, a
 * blank outside quotes) is refused with the reason on the socket and set aside from the
 * maildrop, never queued (both found by fuzz_control and fuzz_maildrop), and that a request
 * that is not JSON is answered even when the error quotes bytes that are not UTF-8. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "daemon/sluiced.h"
#include "test_util_sched.h"

static sluiced D;
static char dir[64];

static const char msg[] = "From: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n";

/* never_open, never_run, never_close, never_mx - every route is an error: unused */
static void *never_open(void *ctx, sched_dest *d, const sched_target *t)
{
    fail();
    return NULL;
}
static void never_run(void *ctx, void *sess, sched_job *j) { fail(); }
static void never_close(void *ctx, void *sess) { fail(); }
static void never_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg) { fail(); }

/* setup - the daemon's parts in a new directory */
static int setup(void **state)
{
    (void)state;
    sched_agent ag = {NULL, never_open, never_run, never_close};
    sched_resolver rs = {NULL, never_mx};
    char text[512], err[512];
    snprintf(dir, sizeof dir, "/tmp/sluice-test-control-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(text, sizeof text,
             "queue_directory = \"%s\";\nmyhostname = \"mta.test\";\ndnsbl_watch_interval = 0;\n"
             "transport_maps = [\"* error:4.4.1 not delivered in tests\"];\n", dir);
    memset(&D, 0, sizeof D);
    rig_open(text, dir, 1 << 20, &ag, &rs, &D.cfg, &D.base, &D.sp, &D.sched);
    D.owner_uid = geteuid();
    assert_non_null(D.ctl = ctl_start(&D, err, sizeof err));
    return 0;
}

/* teardown - down again, the directory removed */
static int teardown(void **state)
{
    (void)state;
    ctl_stop(D.ctl);
    rig_close(D.cfg, D.base, D.sp, D.sched);
    rig_rmdir(dir);
    return 0;
}

/* settle - run the loop until the spool has nothing in flight */
static void settle(void)
{
    spool_stats st;
    for (int i = 0, idle = 0; idle < 5 && i < 100000; i++) {
        event_base_loop(D.base, EVLOOP_NONBLOCK);
        spool_get_stats(D.sp, &st);
        idle = st.pending ? 0 : idle + 1;
        if (st.pending)
            usleep(50);
    }
}

/* finals - the response lines with "ok" in out */
static int finals(const dbuf *out)
{
    int n = 0;
    for (size_t off = 0; off < out->len;) {
        const uint8_t *nl = memchr(out->data + off, '\n', out->len - off);
        if (!nl)
            break;
        json_t *j = json_loadb((const char *)out->data + off, (size_t)(nl - out->data) - off, 0, NULL);
        n += json_object_get(j, "ok") != NULL;
        json_decref(j);
        off = (size_t)(nl - out->data) + 1;
    }
    return n;
}

/* ctl_connect_raw - a non-blocking connection to the control socket */
static int ctl_connect_raw(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *path = ctl_socket_path(D.cfg->queue_directory);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    free(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    return fd;
}

/* exchange - send req on a new connection and read until want final replies came (or the
 * loop has run long enough) */
static void exchange(const char *req, size_t len, int want, dbuf *out)
{
    int fd = ctl_connect_raw();
    assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
    for (int i = 0; i < 20000 && finals(out) < want; i++) {
        event_base_loop(D.base, EVLOOP_NONBLOCK);
        char buf[4096];
        ssize_t k;
        while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
            dbuf_put(out, buf, (size_t)k);
        usleep(50);
    }
    close(fd);
    settle();
}

/* submit_req - a submit request line and its message */
static void submit_req(dbuf *b, const char *sender, const char *rcpt)
{
    json_t *req = json_pack("{s:s,s:s,s:[s],s:i}", "cmd", "submit", "sender", sender, "rcpts", rcpt, "size",
                            (int)(sizeof msg - 1));
    char *line = json_dumps(req, JSON_COMPACT);
    dbuf_printf(b, "%s\n%s", line, msg);
    free(line);
    json_decref(req);
}

/* delete_all - empty the queue */
static void delete_all(void)
{
    static const char req[] = "{\"cmd\":\"delete\",\"all\":true}\n";
    dbuf out = {0};
    exchange(req, sizeof req - 1, 1, &out);
    dbuf_free(&out);
    assert_int_equal(spool_count(D.sp), 0);
}

/* test_pipelined - a submit, then a ping, a hold of everything and a list, sent at once:
 * four answers, in order */
static void test_pipelined(void **state)
{
    (void)state;
    dbuf req = {0}, out = {0};
    submit_req(&req, "alice@example.com", "bob@example.net");
    dbuf_puts(&req, "{\"cmd\":\"ping\"}\n{\"cmd\":\"hold\",\"all\":true}\n{\"cmd\":\"list\"}\n");
    exchange((const char *)req.data, req.len, 4, &out);
    assert_int_equal(finals(&out), 4);
    dbuf_putc(&out, 0);
    const char *s = (const char *)out.data, *q = strstr(s, "\"queue_id\""), *p = strstr(s, "\"pid\"");
    const char *h = strstr(s, "\"missing\""), *l = strstr(s, "\"queue_name\":\"hold\"");
    assert_true(q && p && h && l && q < p && p < h && h < l);
    assert_int_equal(spool_count(D.sp), 1);
    dbuf_free(&req);
    dbuf_free(&out);
    delete_all();
}

/* test_unsafe_addresses - refused with the reason (EX_DATAERR), nothing queued; a blank
 * inside a quoted local part is fine */
static void test_unsafe_addresses(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"alice@example.com", "bob@example.net>\r\nRCPT TO:<eve@example.org"},
        {"alice@example.com", "bob@example.net\nDATA"},
        {"alice@example.com> SIZE=1", "bob@example.net"},
        {"alice @example.com", "bob@example.net"},
        {"alice@example.com", "<bob@example.net>"},
        {"alice\x7f@example.com", "bob@example.net"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dbuf req = {0}, out = {0};
        submit_req(&req, bad[i][0], bad[i][1]);
        exchange((const char *)req.data, req.len, 1, &out);
        dbuf_putc(&out, 0);
        json_t *r = json_loads((const char *)out.data, JSON_DISABLE_EOF_CHECK, NULL);
        assert_true(json_is_false(json_object_get(r, "ok")));
        assert_int_equal(json_integer_value(json_object_get(r, "exit")), 65);
        assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "bad address"));
        json_decref(r);
        assert_int_equal(spool_count(D.sp), 0);
        dbuf_free(&req);
        dbuf_free(&out);
    }
    dbuf req = {0}, out = {0};
    submit_req(&req, "\"alice smith\"@example.com", "bob@example.net");
    exchange((const char *)req.data, req.len, 1, &out);
    assert_int_equal(spool_count(D.sp), 1);
    dbuf_free(&req);
    dbuf_free(&out);
    delete_all();
}

/* test_bad_request_answered - a request that is not JSON gets its error even when the
 * parser's message quotes bytes that are not UTF-8 (that error could not be put into JSON
 * and was never sent: the client waited for ever; found by fuzz_control) */
static void test_bad_request_answered(void **state)
{
    (void)state;
    static const char req[] = "{\"cmd\":\"j\\u0\xd0\x99\"}\n{\"cmd\":\"p\xffng\"}\n\xff\n{\"cmd\":\"ping\"}\n";
    dbuf out = {0};
    exchange(req, sizeof req - 1, 4, &out);
    assert_int_equal(finals(&out), 4);
    dbuf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.data, "\"error\":\"bad request: invalid escape"));
    assert_non_null(strstr((const char *)out.data, "\"pid\""));
    dbuf_free(&out);
}

/* drop - a maildrop file named name holding the submit request */
static void drop(const char *name, const char *sender, const char *rcpt)
{
    char path[300];
    char *md = maildrop_dir(D.cfg->queue_directory);
    mkdir(md, 01733);
    snprintf(path, sizeof path, "%s/%s", md, name);
    free(md);
    dbuf b = {0};
    submit_req(&b, sender, rcpt);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    dbuf_free(&b);
}

/* test_maildrop_unsafe_address - set aside in corrupt/, not queued; a good file is queued */
static void test_maildrop_unsafe_address(void **state)
{
    (void)state;
    char err[300], path[300];
    drop("bad.1", "alice@example.com", "bob@example.net>\r\nRCPT TO:<eve@example.org");
    drop("good.1", "alice@example.com", "bob@example.net");
    maildrop *md = maildrop_start(&D, err, sizeof err);
    assert_non_null(md);
    settle();
    maildrop_stop(md);
    assert_int_equal(spool_count(D.sp), 1);
    assert_string_equal(spool_first(D.sp)->rcpts[0].address, "bob@example.net");
    snprintf(path, sizeof path, "%s/corrupt/maildrop-bad.1", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/maildrop/good.1", dir);
    assert_int_equal(access(path, F_OK), -1);
    delete_all();
}

/* rss_kb - this process's resident size (the daemon's parts run in it) */
static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* pump - the loop and the socket a while: what arrives goes to out; returns 1 at EOF */
static int pump(int fd, dbuf *out, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(D.base, EVLOOP_NONBLOCK);
        char buf[4096];
        ssize_t k;
        while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
            dbuf_put(out, buf, (size_t)k);
        if (k == 0)
            return 1;
        usleep(50);
    }
    return 0;
}

/* test_refused_size_not_held - a submit over message_size_limit is refused at once and its
 * bytes are thrown away as they come: a local user cannot fill the daemon's memory */
static void test_refused_size_not_held(void **state)
{
    (void)state;
    int fd = ctl_connect_raw();
    char line[200];
    int n = snprintf(line, sizeof line, "{\"cmd\":\"submit\",\"sender\":\"a@b.test\",\"rcpts\":"
                     "[\"c@d.test\"],\"size\":%lld}\n", (long long)D.cfg->message_size_limit * 4);
    assert_int_equal(send(fd, line, (size_t)n, 0), n);
    dbuf out = {0};
    pump(fd, &out, 200);
    dbuf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.data, "message too large"));
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    long before = rss_kb();
    size_t sent = 0;
    while (sent < (size_t)D.cfg->message_size_limit * 2) {   /* 20 MB of the 40 claimed */
        ssize_t k = send(fd, chunk, sizeof chunk, 0);
        if (k > 0)
            sent += (size_t)k;
        event_base_loop(D.base, EVLOOP_NONBLOCK);
    }
    for (int i = 0; i < 100; i++)
        event_base_loop(D.base, EVLOOP_NONBLOCK);
#ifndef __SANITIZE_ADDRESS__   /* ASan's quarantine keeps freed chunks resident */
    assert_true(rss_kb() - before < 4096);   /* held, it would be 20 MB */
#else
    (void)before;
#endif
    close(fd);
    settle();
    dbuf_free(&out);
}

/* test_unread_answers_stop_reading - a client that sends requests and never reads the
 * answers: once 1 MB of them waits, the daemon reads no more requests (the kernel's buffer
 * then stops the client), instead of answering into memory without end */
static void test_unread_answers_stop_reading(void **state)
{
    (void)state;
    int fd = ctl_connect_raw();
    static char reqs[65536];
    static const char ping[] = "{\"cmd\":\"ping\"}\n";
    for (size_t i = 0; i + sizeof ping - 1 <= sizeof reqs; i += sizeof ping - 1)
        memcpy(reqs + i, ping, sizeof ping - 1);
    size_t chunk = sizeof reqs / (sizeof ping - 1) * (sizeof ping - 1), sent = 0;
    int stuck = 0;
    while (sent < (8u << 20) && stuck < 2000) {   /* up to 8 MB of pings, 500,000 of them */
        ssize_t k = send(fd, reqs, chunk, 0);
        if (k > 0) {
            sent += (size_t)k;
            stuck = 0;
        } else {
            stuck++;
        }
        event_base_loop(D.base, EVLOOP_NONBLOCK);
    }
    assert_true(sent < (4u << 20));   /* it stopped reading: the client is held back */
    close(fd);
    settle();
}

/* test_long_line_closes - a request line over the limit gets its error, then the daemon
 * closes the connection (it used to stop reading and keep it forever) */
static void test_long_line_closes(void **state)
{
    (void)state;
    int fd = ctl_connect_raw();
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    dbuf out = {0};
    int eof = 0;
    for (int i = 0; i < 40 && !eof; i++) {   /* 2.6 MB without a newline */
        (void)send(fd, chunk, sizeof chunk, 0);
        eof = pump(fd, &out, 5);
    }
    for (int i = 0; i < 40 && !eof; i++)
        eof = pump(fd, &out, 50);
    assert_true(eof);
    dbuf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.data, "request line too long"));
    close(fd);
    dbuf_free(&out);
}

/* test_origin_ignored - a client cannot claim a maildrop file's origin (the next start would
 * take that file for imported and delete it) */
static void test_origin_ignored(void **state)
{
    (void)state;
    json_t *req = json_pack("{s:s,s:s,s:[s],s:i,s:s}", "cmd", "submit", "sender", "a@b.test", "rcpts",
                            "c@d.test", "size", (int)(sizeof msg - 1), "origin", "maildrop:X.1");
    char *line = json_dumps(req, JSON_COMPACT);
    dbuf b = {0}, out = {0};
    dbuf_printf(&b, "%s\n%s", line, msg);
    exchange((const char *)b.data, b.len, 1, &out);
    qmsg *m = spool_first(D.sp);
    assert_non_null(m);
    assert_null(m->origin);
    free(line);
    json_decref(req);
    dbuf_free(&b);
    dbuf_free(&out);
    delete_all();
}

int main(void)
{
    log_set_level(SL_FATAL);
    signal(SIGPIPE, SIG_IGN);   /* as sluiced */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_request_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildrop_unsafe_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_size_not_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unread_answers_stop_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_origin_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
