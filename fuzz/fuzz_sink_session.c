/* fuzz_sink_session.c - libFuzzer target for a whole `sluice sink` session: the input's
 * bytes are what a client sends, through a socketpair into the server engine running the
 * sink's own hooks and policies (sink_hooks.c, sink_policy.c, sink_message.c, the record
 * writer and the summary counters), in-process.
 *
 * The first two bytes choose the policies, given as command-line options to the real
 * option parser (greylist, rate at MAIL or RCPT, drop at each stage, max messages per
 * connection, overload, reject-rcpt, a reply script using every stage and action, a
 * record written to /dev/null, a tarpit, a stop half-way through, --exit-after-messages);
 * the rest is the client's byte stream, after which the client half-closes.  Checks beyond
 * ASan/UBSan: the session ends by itself within a bounded number of loop steps (or is
 * closed by smtpd_listener_free), and afterwards the policy set's count of open
 * connections and held rate slots for the client are back to zero. */
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

#include "common/clock.h"
#include "common/log.h"
#include "sink/sink_int.h"
#include "sink/sink_record.h"
#include "sink/sink_stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP_BUDGET 2000

static const char rules[] =
    "connect conn 5+ => 421 4.7.0 too many connections from ${ip}\n"
    "helo helo /^x/i => 550 5.7.1 no ${helo}\n"
    "mail from /^d/ => drop\n"
    "mail msg 3+ chance 0.5 => close 250 2.1.0 fine\n"
    "rcpt to /^g/ attempt 1 => 450 4.2.1 later ${to}\n"
    "rcpt to /^p/ => pass\n"
    "rcpt nrcpt 3+ => 452 4.5.3 too many\n"
    "data nrcpt 2 => delay 0.001 354 go ahead\n"
    "eom from /^e/ => 451 4.3.0 later\\nsecond line\n"
    "eom => 250 2.0.0 OK ${from}\n";

static struct event_base *base;
static char script_path[64];

/* remove_script - at exit */
static void remove_script(void)
{
    unlink(script_path);
}

/* init - once: quiet logs, the loop, the reply script file */
static void init(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(SL_FATAL);
    base = event_base_new();
    snprintf(script_path, sizeof script_path, "/tmp/sluice-fuzz-sink-XXXXXX");
    int fd = mkstemp(script_path);
    if (!base || fd < 0 || write(fd, rules, sizeof rules - 1) != (ssize_t)(sizeof rules - 1))
        abort();
    close(fd);
    atexit(remove_script);
}

/* build_argv - the options the two mode bytes ask for; returns argc */
static int build_argv(const char **argv, unsigned m1, unsigned m2)
{
    static const char *const drop_stage[] = {"0.5:mail", "0.5:rcpt", "0.5:data", "0.5"};
    int n = 0;
    argv[n++] = "sink";
    if (m1 & 1) { argv[n++] = "--greylist"; argv[n++] = m1 & 2 ? "0" : "0.001:0.002"; }
    if (m1 & 4) { argv[n++] = "--rate"; argv[n++] = "2/1"; }
    if (m1 & 8) { argv[n++] = "--rate-stage"; argv[n++] = "rcpt"; }
    if (m1 & 16) { argv[n++] = "--drop"; argv[n++] = drop_stage[(m1 >> 5) & 3]; }
    if (m1 & 128) { argv[n++] = "--max-msgs-per-conn"; argv[n++] = "2"; }
    if (m2 & 1) { argv[n++] = "--reply-script"; argv[n++] = script_path; }
    if (m2 & 2) { argv[n++] = "--overload"; argv[n++] = "0.3"; }
    if (m2 & 4) { argv[n++] = "--reject-rcpt"; argv[n++] = "^r"; }
    if (m2 & 8) { argv[n++] = "--record"; argv[n++] = "/dev/null"; }
    if (m2 & 16) { argv[n++] = "--tarpit"; argv[n++] = "0.001"; }
    if (m2 & 32) { argv[n++] = "--exit-after-messages"; argv[n++] = "1"; }
    if (m2 & 64) { argv[n++] = "--greylist-net"; argv[n++] = "/24"; }
    /* m2 & 128: a small size limit here, and a stop half-way (LLVMFuzzerTestOneInput) */
    argv[n++] = "--max-size";
    argv[n++] = m2 & 128 ? "64" : "100000";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n] = NULL;
    return n;
}

/* sink_for - a sink (not listening anywhere) with those policies, or abort */
static void sink_for(sink *k, unsigned m1, unsigned m2)
{
    const char *argv[40];
    char err[300];
    int argc = build_argv(argv, m1, m2);
    memset(k, 0, sizeof *k);
    if (sink_opts_parse(&k->c, argc, (char **)argv, err, sizeof err) != 0)
        abort();
    k->base = base;
    k->start_mono = clock_mono_us();
    k->start_wall = clock_now_us();
    k->stats = sink_stats_new(1000000);
    k->rec = sink_record_open(k->c.record, NULL, err, sizeof err);
    if (!k->rec)
        abort();
    for (int i = 0; i < k->c.nsets; i++)
        sink_set_seed(k->c.sets[i], 1);
    sink_lis *lis = &k->c.lis[0];
    smtpd_opts o = sink_listener_opts(lis);
    lis->k = k;
    lis->name = "fuzz";
    lis->l = smtpd_listen(base, NULL, &o, err, sizeof err);
    if (!lis->l)
        abort();
}

/* step - one turn of the loop (waiting at most 1 ms), then read and drop the replies */
static void step(int fd)
{
    char buf[65536];
    struct timeval tv = {0, 1000};
    event_base_loopexit(base, &tv);
    event_base_loop(base, EVLOOP_ONCE);
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* check_released - the client's connection count and rate slots are back to zero */
static void check_released(const sink *k, const struct sockaddr *peer)
{
    uint8_t key[17];
    netaddr_key(peer, key);
    const sink_ipstate *st = sink_map_get(k->c.lis[0].set->ips, key, sizeof key);
    if (st && (st->open != 0 || st->inflight != 0))
        abort();
}

/* sink_free_all - everything sink_for made */
static void sink_free_all(sink *k)
{
    smtpd_listener_free(k->c.lis[0].l);
    if (k->drain_ev)
        event_free(k->drain_ev);
    sink_record_close(k->rec);
    sink_stats_free(k->stats);
    sink_opts_free(&k->c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], steps = 0;
    sink k;
    if (!base)
        init();
    if (size < 2)
        return 0;
    sink_for(&k, data[0], data[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002)};
    if (smtpd_listener_adopt(k.c.lis[0].l, sv[1], (struct sockaddr *)&peer, sizeof peer) < 0)
        abort();
    for (size_t off = 2; off < size && steps < STEP_BUDGET; steps++) {
        ssize_t w = send(sv[0], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break;   /* the server has closed */
        if ((data[1] & 0x80) && off > size / 2)
            k.stopping = 1;   /* as after SIGTERM: every further command gets 421 */
        step(sv[0]);
    }
    shutdown(sv[0], SHUT_WR);
    for (; smtpd_listener_sessions(k.c.lis[0].l) > 0 && steps < STEP_BUDGET; steps++)
        step(sv[0]);
    smtpd_listener_free(k.c.lis[0].l);
    k.c.lis[0].l = NULL;
    check_released(&k, (struct sockaddr *)&peer);
    sink_free_all(&k);
    close(sv[0]);
    return 0;
}
