/* sink_main.c - `sluice sink`: parse the command line, open the record and the listeners,
 * run the loop until SIGTERM/SIGINT, --exit-after or --exit-after-messages, then print the
 * summary.
 *
 * Start-up prints one line per listener on stderr, "sluice sink: listening on ADDR:PORT",
 * once it accepts connections (tests and scripts wait for it instead of probing the port,
 * which would count as a client).  Stopping is orderly: from sink_stop on, every new
 * command or connection gets 421 4.3.2; the loop ends when no session is left or after
 * STOP_GRACE_US, so replies already given (the last 250) reach their clients.  Records are
 * flushed every 0.2 s and at the end. */
#include "sink/sink.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "sink/sink_int.h"
#include "sink/sink_record.h"
#include "sink/sink_stats.h"

#define STOP_GRACE_US 1000000
#define DRAIN_TICK_US 10000
#define RECORD_FLUSH_US 200000   /* records reach the file within 0.2 s */

smtpd_opts sink_listener_opts(sink_lis *lis)
{
    const sink_policy *p = &lis->set->p;
    smtpd_opts o = {
        .hostname = p->hostname, .banner = p->banner, .timeout_ms = p->timeout_us / 1000,
        .max_message_size = p->max_size, .max_rcpts = p->max_rcpts, .hard_error_limit = 20,
        .soft_error_limit = 10, .tls = lis->set->tls, .tls_required = p->require_tls,
        .hooks = &sink_hooks, .hook_ctx = lis,
    };
    return o;
}

/* open_listener - bind one --listen with its set's policies */
static int open_listener(sink *k, sink_lis *lis, char *err, size_t errlen)
{
    netaddr a;
    const char *perr;
    if (sink_parse_listen(lis->addr, &a, &perr) < 0) {
        snprintf(err, errlen, "--listen %s: %s", lis->addr, perr);
        return -1;
    }
    smtpd_opts o = sink_listener_opts(lis);
    lis->k = k;
    lis->l = smtpd_listen(k->base, &a, &o, err, (int)errlen);
    if (!lis->l)
        return -1;
    lis->name = smtpd_listener_name(lis->l);
    fprintf(stderr, "sluice sink: listening on %s\n", lis->name);
    return 0;
}

/* sessions_left - sessions open on all listeners */
static int sessions_left(const sink *k)
{
    int n = 0;
    for (int i = 0; i < k->c.nlis; i++)
        if (k->c.lis[i].l)
            n += smtpd_listener_sessions(k->c.lis[i].l);
    return n;
}

/* on_drain - while stopping: end the loop once sessions are gone or the grace is over */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    sink *k = arg;
    if (sessions_left(k) == 0 || clock_mono_us() - k->stop_mono >= STOP_GRACE_US)
        event_base_loopbreak(k->base);
}

void sink_stop(sink *k, const char *why)
{
    struct timeval tv = {0, DRAIN_TICK_US};
    if (k->stopping)
        return;
    k->stopping = 1;
    k->stop_mono = clock_mono_us();
    log_info(LOG_NOQUEUE, "sink stopping: %s", why);
    k->drain_ev = event_new(k->base, -1, EV_PERSIST, on_drain, k);
    event_add(k->drain_ev, &tv);
}

/* on_signal - SIGTERM or SIGINT */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    sink_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* on_exit_timer - --exit-after */
static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
    sink_stop(arg, "--exit-after reached");
}

/* on_flush - the periodic record flush */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    sink *k = arg;
    sink_record_flush(k->rec);
}

/* stats_window - --stats-window, else the first --rate window, else 1 s */
static int64_t stats_window(const sink_conf *c)
{
    if (c->stats_window_us)
        return c->stats_window_us;
    for (int i = 0; i < c->nsets; i++)
        if (c->sets[i]->p.rate_n)
            return c->sets[i]->p.rate_window_us;
    return 1000000;
}

/* seed_sets - every set's random streams from --seed, or from a fresh random seed */
static void seed_sets(sink_conf *c)
{
    if (!c->seed_given) {
        uint32_t r = 0;
        if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
            r = (uint32_t)clock_now_us();
        c->seed = r;
    }
    for (int i = 0; i < c->nsets; i++)
        sink_set_seed(c->sets[i], c->seed);
}

/* timers - signals, the flush tick and --exit-after; the events go into ev[] */
static void timers(sink *k, struct event *ev[4])
{
    struct timeval flush = {0, RECORD_FLUSH_US};
    ev[0] = evsignal_new(k->base, SIGTERM, on_signal, k);
    ev[1] = evsignal_new(k->base, SIGINT, on_signal, k);
    ev[2] = event_new(k->base, -1, EV_PERSIST, on_flush, k);
    event_add(ev[0], NULL);
    event_add(ev[1], NULL);
    event_add(ev[2], &flush);
    ev[3] = NULL;
    if (k->c.exit_after_us) {
        struct timeval tv = {(time_t)(k->c.exit_after_us / 1000000),
                             (suseconds_t)(k->c.exit_after_us % 1000000)};
        ev[3] = evtimer_new(k->base, on_exit_timer, k);
        event_add(ev[3], &tv);
    }
}

/* open_all - the record file and every listener; 0, or -1 with err */
static int open_all(sink *k, char *err, size_t errlen)
{
    if (!(k->rec = sink_record_open(k->c.record, k->c.store, err, errlen)))
        return -1;
    for (int i = 0; i < k->c.nlis; i++)
        if (open_listener(k, &k->c.lis[i], err, errlen) < 0)
            return -1;
    return 0;
}

/* close_all - the listeners (closing their sessions), the timers, the record file */
static void close_all(sink *k, struct event *ev[4])
{
    for (int i = 0; i < k->c.nlis; i++)
        smtpd_listener_free(k->c.lis[i].l);
    for (int i = 0; i < 4; i++)
        if (ev[i])
            event_free(ev[i]);
    if (k->drain_ev)
        event_free(k->drain_ev);
    sink_record_close(k->rec);
}

/* run - open everything, loop, print the summary; the exit status */
static int run(sink *k)
{
    char err[512] = "cannot create the event loop";
    struct event *ev[4] = {0};
    int rc = EX_UNAVAILABLE;
    k->base = event_base_new();
    k->start_mono = clock_mono_us();
    k->start_wall = clock_now_us();
    k->stats = sink_stats_new(stats_window(&k->c));
    if (k->base && open_all(k, err, sizeof err) == 0) {
        timers(k, ev);
        event_base_dispatch(k->base);
        rc = 0;
    } else {
        fprintf(stderr, "sluice sink: %s\n", err);
    }
    close_all(k, ev);
    if (!rc)
        sink_stats_print(k->stats, stdout, k->c.json,
                         (double)(clock_mono_us() - k->start_mono) / 1e6, k->c.seed);
    sink_stats_free(k->stats);
    if (k->base)
        event_base_free(k->base);
    return rc;
}

int sink_main(int argc, char **argv)
{
    sink k;
    char err[512];
    memset(&k, 0, sizeof k);
    int rc = sink_opts_parse(&k.c, argc, argv, err, sizeof err);
    if (rc == 1)
        sink_opts_usage(stdout);
    else if (rc < 0)
        fprintf(stderr, "sluice sink: %s\n(sluice sink --help lists the options)\n", err);
    if (rc == 0) {
        if (k.c.verbose)
            log_set_level(SL_INFO);
        seed_sets(&k.c);
        rc = run(&k);
    } else {
        rc = rc == 1 ? 0 : EX_USAGE;
    }
    sink_opts_free(&k.c);
    return rc;
}
