/* bench_memory.c - bytes of RAM per queued recipient (issue 4's target: <= 300 bytes with
 * 1,000,000 queued recipients).  It writes a spool segment holding N recipients as deferred
 * mail (K recipients per message, distinct addresses, one shared sender, a retry time in the
 * future and a last reply), then measures what the daemon's own structures take once it has
 * recovered that spool and the scheduler holds every message in its due heap: the heap bytes
 * in use (mallinfo2) before and after, and the process's resident size.
 * Usage: bench_memory [RECIPIENTS=1000000] [PER_MESSAGE=1] [DIR=/var/tmp/sluice-membench] */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/spool.h"
#include "sched/sched.h"

/* rss_kb - resident set size now */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* write_segment - N recipients as deferred messages into DIR/spool/seg-...1.log */
static void write_segment(const char *dir, long n, int per)
{
    char path[512];
    snprintf(path, sizeof path, "%s/spool", dir);
    mkdir(dir, 0700);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/spool/seg-0000000000000001.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    dbuf b = {0};
    size_t off = rec_frame_begin(&b, REC_SEG);
    rec_put_seg(&b, 1, clock_now_us());
    rec_frame_end(&b, off, 0);
    static const char body[] = "Subject: memory bench\r\n\r\nhello\r\n";
    static const char reply[] = "host mx.example.net[192.0.2.1] said: 451 4.7.1 Greylisted, try again later";
    int64_t later = clock_now_us() + 86400LL * 1000000;
    rec_rcpt *rr = xcalloc((size_t)per, sizeof *rr);
    char (*addr)[64] = xcalloc((size_t)per, 64);
    uint64_t lsn = 1;
    for (long done = 0, m = 0; done < n; m++) {
        int k = (int)(n - done < per ? n - done : per);
        for (int i = 0; i < k; i++, done++) {
            snprintf(addr[i], 64, "user%07ld@domain%03ld.example", done, done % 500);
            rr[i] = (rec_rcpt){addr[i], (uint32_t)strlen(addr[i]), RCPT_DEFERRED, 1, later, reply,
                               sizeof reply - 1};
        }
        rec r = {.qid = (qid_t)(1000000 + m), .arrival_us = clock_now_us(), .sender = "newsletter@example.com",
                 .sender_len = 22, .client_ip = "127.0.0.1", .client_ip_len = 9, .helo = "app", .helo_len = 3,
                 .proto = "ESMTP", .proto_len = 5, .nrcpt = (uint32_t)k, .rcpts = rr, .body_len = sizeof body - 1};
        off = rec_frame_begin(&b, REC_MSG);
        rec_put_msg_head(&b, &r);
        dbuf_put(&b, body, sizeof body - 1);
        rec_frame_end(&b, off, lsn++);
        if (b.len > (1 << 22)) {
            if (write(fd, b.data, b.len) != (ssize_t)b.len)
                exit(1);
            dbuf_reset(&b);
        }
    }
    if (write(fd, b.data, b.len) != (ssize_t)b.len)
        exit(1);
    close(fd);
    dbuf_free(&b);
    free(rr);
    free(addr);
}

static void *no_open(void *ctx, sched_dest *d, const sched_target *t)
{
    (void)ctx, (void)d, (void)t;
    return NULL;
}
static void no_run(void *ctx, void *sess, sched_job *j)
{
    (void)ctx, (void)sess, (void)j;
}
static void no_close(void *ctx, void *sess)
{
    (void)ctx, (void)sess;
}
static void no_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg)
{
    (void)ctx, (void)domain, (void)cb, (void)arg;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int per = argc > 2 ? atoi(argv[2]) : 1;
    const char *dir = argc > 3 ? argv[3] : "/var/tmp/sluice-membench";
    if (n <= 0 || per <= 0) {
        fprintf(stderr, "usage: bench_memory [RECIPIENTS] [PER_MESSAGE] [DIR]\n");
        return 2;
    }
    log_set_level(SL_WARN);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    write_segment(dir, n, per);
    struct event_base *base = event_base_new();
    char err[512], text[600];
    snprintf(text, sizeof text, "queue_directory = \"%s\";\nmyhostname = \"bench.test\";\n", dir);
    sl_config *cfg = config_load_text(text, "bench", NULL, 0, err, sizeof err);
    struct mallinfo2 before = mallinfo2();
    long rss0 = rss_kb();
    int64_t t0 = clock_mono_us();
    spool_opts so = {.segment_size = 1 << 30};
    spool *sp = spool_open(base, dir, &so, err, sizeof err);
    if (!sp) {
        fprintf(stderr, "spool_open: %s\n", err);
        return 1;
    }
    int64_t t1 = clock_mono_us();
    sched_agent ag = {NULL, no_open, no_run, no_close};
    sched_resolver rs = {NULL, no_mx};
    sched *s = sched_new(base, cfg, sp, &ag, &rs);
    struct mallinfo2 after = mallinfo2();
    long rss1 = rss_kb();
    spool_stats st;
    spool_get_stats(sp, &st);
    double heap = (double)(after.uordblks - before.uordblks) + (double)(after.hblkhd - before.hblkhd);
    printf("queued: %llu messages, %llu recipients (%d per message); recovery took %.2f s\n",
           (unsigned long long)st.messages, (unsigned long long)st.recipients, per, (double)(t1 - t0) / 1e6);
    printf("heap in use: %.1f MB = %.0f bytes per queued recipient (target <= 300)\n", heap / 1e6,
           heap / (double)st.recipients);
    printf("resident size grew %.1f MB = %.0f bytes per queued recipient\n", (double)(rss1 - rss0) / 1024,
           (double)(rss1 - rss0) * 1024 / (double)st.recipients);
    printf("{\"recipients\":%llu,\"per_message\":%d,\"heap_bytes_per_rcpt\":%.0f,\"rss_bytes_per_rcpt\":%.0f}\n",
           (unsigned long long)st.recipients, per, heap / (double)st.recipients,
           (double)(rss1 - rss0) * 1024 / (double)st.recipients);
    sched_free(s);
    spool_close(sp);
    config_free(cfg);
    event_base_free(base);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
