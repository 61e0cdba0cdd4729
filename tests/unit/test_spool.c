/* test_spool.c - the durable spool: records, group-committed adds, updates, recovery after
 * reopen, damaged and torn data set aside, compaction and segment removal. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/spool.h"

static char tmpdir[256];
static struct event_base *base;
static int pending;

/* setup - a fresh queue directory and event base */
static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-test-spool-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    base = event_base_new();
    log_set_level(SL_WARN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    event_base_free(base);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

/* run_until_done - step the loop until every callback has arrived */
static void run_until_done(void)
{
    for (int i = 0; pending > 0 && i < 100000; i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(pending, 0);
}

static spool *open_spool(uint64_t seg)
{
    char err[256];
    spool_opts o = {.segment_size = seg};
    spool *s = spool_open(base, tmpdir, &o, err, sizeof err);
    if (!s)
        fail_msg("spool_open: %s", err);
    return s;
}

static void on_added(void *arg, qmsg *m, int err)
{
    assert_int_equal(err, 0);
    assert_non_null(m);
    if (arg)
        *(qmsg **)arg = m;
    pending--;
}

static void on_update(void *arg, int err)
{
    (void)arg;
    assert_int_equal(err, 0);
    pending--;
}

/* add - queue a message with the given recipients and a body of size bytes */
static qid_t add(spool *s, const char *sender, const char *const *rcpts, int n, size_t size)
{
    uint8_t *body = xmalloc(size + 1);
    for (size_t i = 0; i < size; i++)
        body[i] = (uint8_t)('a' + i % 26);
    spool_new nw = {.sender = sender, .rcpts = rcpts, .nrcpt = n, .client_ip = "127.0.0.1",
                    .helo = "client.test", .proto = "ESMTP", .body = body, .body_len = size};
    pending++;
    return spool_add(s, &nw, on_added, NULL);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    dbuf b = {0};
    rec_rcpt rr = {.state = RCPT_DEFERRED, .attempts = 3, .next_attempt_us = 123456789,
                   .last_reply = "451 4.7.1 greylisted", .last_reply_len = 20};
    size_t off = rec_frame_begin(&b, REC_RCPT);
    rec_put_rcpt(&b, 42, 7, &rr);
    rec_frame_end(&b, off, 99);
    rec r;
    size_t total;
    assert_int_equal(rec_decode(b.data, b.len, &r, &total), REC_OK);
    assert_int_equal(total, b.len);
    assert_int_equal(r.type, REC_RCPT);
    assert_int_equal(r.lsn, 99);
    assert_int_equal(r.qid, 42);
    assert_int_equal(r.index, 7);
    assert_int_equal(r.rcpt.state, RCPT_DEFERRED);
    assert_int_equal(r.rcpt.attempts, 3);
    assert_int_equal(r.rcpt.next_attempt_us, 123456789);
    assert_memory_equal(r.rcpt.last_reply, "451 4.7.1 greylisted", 20);
    rec_clear(&r);
    /* every truncation is SHORT, every flipped byte is detected */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(rec_decode(b.data, n, &r, &total), REC_OK);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x40;
        assert_int_not_equal(rec_decode(b.data, b.len, &r, &total), REC_OK);
        b.data[i] ^= 0x40;
    }
    dbuf_free(&b);
}

static void test_add_and_recover(void **state)
{
    (void)state;
    spool *s = open_spool(1 << 20);
    const char *r2[] = {"a@example.org", "b@example.net"};
    qid_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = add(s, "sender@example.com", r2, 2, 100 + (size_t)i);
    run_until_done();
    assert_int_equal(spool_count(s), 50);
    /* ids are unique and increase with arrival */
    for (int i = 1; i < 50; i++)
        assert_true(ids[i] > ids[i - 1]);
    qmsg *m = spool_find(s, ids[10]);
    assert_non_null(m);
    dbuf body = {0};
    assert_int_equal(spool_read_body(s, m, &body), 0);
    assert_int_equal(body.len, 110);
    assert_int_equal(body.data[27], 'b');
    dbuf_free(&body);
    /* a recipient delivered, another deferred, one message held, one deleted */
    pending += 3;
    spool_set_rcpt(s, m, 0, RCPT_DELIVERED, 1, 0, "250 2.0.0 ok", on_update, NULL);
    spool_set_rcpt(s, m, 1, RCPT_DEFERRED, 1, 5000000, "421 4.7.0 try later", on_update, NULL);
    spool_hold(s, spool_find(s, ids[11]), on_update, NULL);
    pending++;
    spool_delete(s, spool_find(s, ids[12]), on_update, NULL);
    run_until_done();
    spool_close(s);

    s = open_spool(1 << 20);
    assert_int_equal(spool_count(s), 49);
    m = spool_find(s, ids[10]);
    assert_non_null(m);
    assert_int_equal(m->rcpts[0].state, RCPT_DELIVERED);
    assert_int_equal(m->rcpts[1].state, RCPT_DEFERRED);
    assert_int_equal(m->rcpts[1].next_attempt_us, 5000000);
    assert_string_equal(m->rcpts[1].last_reply, "421 4.7.0 try later");
    assert_int_equal(m->nfinal, 1);
    assert_true(spool_find(s, ids[11])->flags & MSGF_HELD);
    assert_null(spool_find(s, ids[12]));
    assert_string_equal(spool_find(s, ids[0])->sender, "sender@example.com");
    assert_string_equal(spool_find(s, ids[49])->rcpts[1].address, "b@example.net");
    /* arrival order survives */
    qid_t prev = 0;
    for (qmsg *x = spool_first(s); x; x = spool_next(s, x)) {
        assert_true(x->qid > prev);
        prev = x->qid;
    }
    /* the last recipient of ids[10] becomes final: the message leaves, also after reopen */
    pending++;
    spool_set_rcpt(s, m, 1, RCPT_BOUNCED, 2, 0, "550 5.1.1 no such user", on_update, NULL);
    run_until_done();
    assert_null(spool_find(s, ids[10]));
    spool_close(s);
    s = open_spool(1 << 20);
    assert_int_equal(spool_count(s), 48);
    assert_null(spool_find(s, ids[10]));
    /* new ids stay above recovered ones */
    qid_t after = add(s, "x@y.z", r2, 1, 10);
    run_until_done();
    assert_true(after > ids[49]);
    spool_close(s);
}

/* seg_files - the segment file names, sorted */
static int seg_files(char names[][64], int max)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/spool", tmpdir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (strncmp(e->d_name, "seg-", 4) == 0)
            snprintf(names[n++], 64, "%.63s", e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            char t[64];
            memcpy(t, names[k], 64);
            memcpy(names[k], names[k - 1], 64);
            memcpy(names[k - 1], t, 64);
        }
    return n;
}

/* count_corrupt - files in corrupt/ */
static int count_corrupt(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/corrupt", tmpdir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_damage_set_aside(void **state)
{
    (void)state;
    spool *s = open_spool(1 << 20);
    const char *r1[] = {"a@example.org"};
    qid_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = add(s, "s@example.com", r1, 1, 1000);
    run_until_done();
    qmsg *mid = spool_find(s, ids[1]);
    uint64_t off = mid->body_off + 500, segno = mid->segno;
    spool_close(s);
    char path[400];
    snprintf(path, sizeof path, "%s/spool/seg-%016llx.log", tmpdir, (unsigned long long)segno);
    int fd = open(path, O_RDWR);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0xff;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
    s = open_spool(1 << 20);
    assert_int_equal(spool_count(s), 2);   /* the damaged one is set aside, others intact */
    assert_non_null(spool_find(s, ids[0]));
    assert_null(spool_find(s, ids[1]));
    assert_non_null(spool_find(s, ids[2]));
    assert_int_equal(count_corrupt(), 1);
    spool_close(s);
}

static void test_torn_tail(void **state)
{
    (void)state;
    spool *s = open_spool(1 << 20);
    const char *r1[] = {"a@example.org"};
    qid_t a = add(s, "s@example.com", r1, 1, 1000);
    qid_t b = add(s, "s@example.com", r1, 1, 1000);
    run_until_done();
    qmsg *mb = spool_find(s, b);
    uint64_t segno = mb->segno, end = mb->body_off + mb->size + REC_TRAILER_LEN;
    spool_close(s);
    char path[400];
    snprintf(path, sizeof path, "%s/spool/seg-%016llx.log", tmpdir, (unsigned long long)segno);
    assert_int_equal(truncate(path, (off_t)(end - 300)), 0);   /* a crash mid-write of b */
    s = open_spool(1 << 20);
    assert_int_equal(spool_count(s), 1);
    assert_non_null(spool_find(s, a));
    assert_null(spool_find(s, b));
    assert_int_equal(count_corrupt(), 1);
    spool_close(s);
    /* the tail was cut: a second start finds nothing more to set aside */
    s = open_spool(1 << 20);
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(count_corrupt(), 1);
    spool_close(s);
}

static void test_compaction(void **state)
{
    (void)state;
    spool *s = open_spool(64 * 1024);
    const char *r1[] = {"a@example.org", "b@example.org"};
    enum { N = 400 };
    qid_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = add(s, "s@example.com", r1, 2, 2000);
    run_until_done();
    char names[64][64];
    int before = seg_files(names, 64);
    assert_true(before >= 10);
    /* deliver everything but every 50th message, which is deferred on one recipient */
    for (int i = 0; i < N; i++) {
        qmsg *m = spool_find(s, ids[i]);
        pending += 2;
        spool_set_rcpt(s, m, 0, RCPT_DELIVERED, 1, 0, "250 ok", on_update, NULL);
        if (i % 50 == 0)
            spool_set_rcpt(s, m, 1, RCPT_DEFERRED, 1, 777, "451 later", on_update, NULL);
        else
            spool_set_rcpt(s, m, 1, RCPT_DELIVERED, 1, 0, "250 ok", on_update, NULL);
    }
    run_until_done();
    /* let compaction and unlinking run */
    for (int round = 0; round < 50; round++) {
        add(s, "tick@example.com", r1, 1, 10);
        run_until_done();
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    spool_stats st;
    spool_get_stats(s, &st);
    int after = seg_files(names, 64);
    assert_true(after < before / 2);
    assert_true(st.bytes_on_disk <= 2 * st.live_bytes + 4 * 64 * 1024);
    spool_close(s);
    s = open_spool(64 * 1024);
    for (int i = 0; i < N; i++) {
        qmsg *m = spool_find(s, ids[i]);
        if (i % 50) {
            assert_null(m);
            continue;
        }
        assert_non_null(m);
        assert_int_equal(m->rcpts[0].state, RCPT_DELIVERED);
        assert_int_equal(m->rcpts[1].state, RCPT_DEFERRED);
        assert_int_equal(m->rcpts[1].next_attempt_us, 777);
        dbuf body = {0};
        assert_int_equal(spool_read_body(s, m, &body), 0);
        assert_int_equal(body.len, 2000);
        assert_int_equal(body.data[1999], 'a' + 1999 % 26);
        dbuf_free(&body);
    }
    spool_close(s);
}

/* test_lazy_results - delivery results are written at once but need no sync of their own:
 * a batch of them alone costs no fdatasync, a later sync (here: the writer's own within a
 * second) covers them, and a fresh open reads them back */
static void test_lazy_results(void **state)
{
    (void)state;
    spool *s = open_spool(1 << 20);
    const char *r3[] = {"a@example.org", "b@example.net", "c@example.com"};
    qid_t id = add(s, "sender@example.com", r3, 3, 500);
    run_until_done();
    spool_stats st0, st1, st2;
    spool_get_stats(s, &st0);
    qmsg *m = spool_find(s, id);
    pending += 2;
    spool_set_rcpt(s, m, 0, RCPT_DELIVERED, 1, 0, "250 2.0.0 ok", on_update, NULL);
    spool_set_rcpt(s, m, 1, RCPT_DEFERRED, 1, 7000000, "451 4.7.1 greylisted", on_update, NULL);
    run_until_done();
    spool_get_stats(s, &st1);
    assert_true(st1.records >= st0.records + 2);   /* written... */
    assert_int_equal(st1.syncs, st0.syncs);        /* ...and reported done without a sync */
    /* written through to the file: a second spool opened on a copy of the directory (what a
     * restart after SIGKILL sees) has the results */
    char cmd[1024], copy[300];
    snprintf(copy, sizeof copy, "%s-copy", tmpdir);
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -a %s %s", copy, tmpdir, copy);
    assert_int_equal(system(cmd), 0);
    char err[256];
    spool_opts o = {.segment_size = 1 << 20};
    spool *c = spool_open(base, copy, &o, err, sizeof err);
    if (!c)
        fail_msg("spool_open of the copy: %s", err);
    qmsg *cm = spool_find(c, id);
    assert_non_null(cm);
    assert_int_equal(cm->rcpts[0].state, RCPT_DELIVERED);
    assert_int_equal(cm->rcpts[1].state, RCPT_DEFERRED);
    assert_int_equal(cm->rcpts[1].next_attempt_us, 7000000);
    spool_close(c);
    snprintf(cmd, sizeof cmd, "rm -rf %s", copy);
    assert_int_equal(system(cmd), 0);
    /* the writer syncs lazy records by itself, within about a second */
    for (int i = 0; i < 40; i++) {
        spool_get_stats(s, &st2);
        if (st2.syncs > st1.syncs)
            break;
        usleep(50000);
    }
    assert_true(st2.syncs > st1.syncs);
    /* a message add is never lazy: it is synced, with the results before it */
    spool_get_stats(s, &st1);
    add(s, "x@y.z", r3, 1, 10);
    run_until_done();
    spool_get_stats(s, &st2);
    assert_true(st2.syncs > st1.syncs);
    spool_close(s);
}

static void test_lock(void **state)
{
    (void)state;
    spool *s = open_spool(1 << 20);
    char err[256];
    spool_opts o = {.segment_size = 1 << 20};
    assert_null(spool_open(base, tmpdir, &o, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test_setup_teardown(test_add_and_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
