/* sluiced_main.c - the daemon: configuration, start-up order, the event loop, shutdown.
 *
 * Start-up: load and check the configuration; create the queue directory; bind the SMTP
 * listeners (port 25 needs root); drop to mail_owner when set; open the spool (which
 * recovers the queue from disk); start the control socket and the maildrop pickup; run.
 * SIGTERM/SIGINT: stop accepting, let the spool finish what it was writing, exit.  SIGHUP:
 * reload - check the configuration on disk, and when it is valid stop the same way but keep
 * the listening sockets and exec sluiced again with them (same pid; clients that connect
 * meanwhile wait in the backlog).  SIGUSR1: reopen the log file.  Stays in the foreground and logs to stderr unless maillog_file says
 * otherwise (systemd style). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"

#define EX_USAGE 64
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_CONFIG 78

static void usage(FILE *f)
{
    fprintf(f, "usage: sluiced [-c FILE] [-o name=value]... [-n] [-v]\n"
               "  -c FILE        configuration file (default: built-in defaults)\n"
               "  -o name=value  override a parameter (lists comma-separated); repeatable\n"
               "  -n             check the configuration and exit (non-zero on error)\n"
               "  -v             log at debug level\n"
               "  -V             print the version\n");
}

/* setup_logging - maillog_file and log_level; 0 or -1 */
static int setup_logging(const sl_config *c)
{
    const char *err;
    if (c->maillog_file[0] && log_set_target(c->maillog_file, &err) < 0) {
        fprintf(stderr, "sluiced: maillog_file = %s: %s\n", c->maillog_file, err);
        return -1;
    }
    log_set_level((enum sl_level)log_parse_level(c->log_level));
    return 0;
}

/* lookup_owner - mail_owner's uid and gid; 0, 1 when not set, -1 when unknown */
static int lookup_owner(const sl_config *c, uid_t *uid, gid_t *gid)
{
    if (!c->mail_owner[0])
        return 1;
    struct passwd *pw = getpwnam(c->mail_owner);
    if (!pw)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* prepare_queue_dir - create it (0755: users reach the socket and maildrop inside) */
static int prepare_queue_dir(const sl_config *c, int have_owner, uid_t uid, gid_t gid)
{
    if (mkdir(c->queue_directory, 0755) < 0 && errno != EEXIST) {
        log_err(NULL, "queue_directory = %s: %s", c->queue_directory, strerror(errno));
        return -1;
    }
    if (have_owner && getuid() == 0 && chown(c->queue_directory, uid, gid) < 0) {
        log_err(NULL, "queue_directory = %s: chown: %s", c->queue_directory, strerror(errno));
        return -1;
    }
    return 0;
}

/* drop_privileges - become mail_owner (after binding port 25) */
static int drop_privileges(sluiced *d, int have_owner, uid_t uid, gid_t gid)
{
    d->owner_uid = geteuid();
    if (!have_owner || geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        log_err(NULL, "cannot become mail_owner %s: %s", d->cfg->mail_owner, strerror(errno));
        return -1;
    }
    d->owner_uid = uid;
    return 0;
}

/* write_pid - QUEUE_DIRECTORY/sluiced.pid, for humans and scripts (the lock is the spool's) */
static void write_pid(const sl_config *c)
{
    char *path = xasprintf("%s/sluiced.pid", c->queue_directory);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    free(path);
}

/* write_reload_refusal - QUEUE_DIRECTORY/reload.refused: why the last reload was refused,
 * for `sluice reload` (which otherwise could only wait for a restart that never comes) */
static void write_reload_refusal(const sl_config *c, const char *why)
{
    char *path = xasprintf("%s/reload.refused", c->queue_directory);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", why);
        fclose(f);
    }
    free(path);
}

/* new_base - the event loop; with epoll, changes to a descriptor's events within one loop
 * pass are applied as one epoll_ctl (a session's read/write toggling is otherwise many).
 * Two priorities: the spool's completions (the 250s that clients wait for) run at 0, before
 * the sessions' callbacks (1) of the same pass, and after every SESSION_BURST callbacks at 1
 * the loop looks for new events again, so a completion never waits for a whole busy pass */
#define SESSION_BURST 16
static struct event_base *new_base(void)
{
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    event_config_set_max_dispatch_interval(ec, NULL, SESSION_BURST, 1);
    struct event_base *b = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!b)
        b = event_base_new();
    if (b && event_base_priority_init(b, 2) < 0)
        log_warn(NULL, "event loop: no priorities; spool completions share the sessions' turn");
    return b;
}

#define DRAIN_MAX_US (5 * 1000000LL)   /* the longest a stop waits for commits in progress */

/* drained - nothing accepted is still on its way to the disk (signing or committing) */
static int drained(const sluiced *d)
{
    spool_stats st;
    spool_get_stats(d->sp, &st);
    return st.pending == 0 && signer_busy(d) == 0;
}

/* on_tick - nothing: a timer that only wakes the loop */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* drain - run the loop until the messages being signed or committed are durable and their
 * clients have their 250s (at most DRAIN_MAX_US; not after a second stop signal, when
 * spool_close still commits it all but nobody hears about it) */
static void drain(sluiced *d)
{
    if (d->stop_now || !d->sp)
        return;
    int64_t until = clock_mono_us() + DRAIN_MAX_US;
    struct event *tick = evtimer_new(d->base, on_tick, NULL);   /* wakes the loop if no */
    struct timeval ten_ms = {0, 10000};
    while (!d->stop_now && !drained(d) && clock_mono_us() < until) {   /* completion does */
        evtimer_add(tick, &ten_ms);
        event_base_loop(d->base, EVLOOP_ONCE);
    }
    event_free(tick);
    event_base_loop(d->base, EVLOOP_NONBLOCK);   /* the completions' replies */
}

/* shutdown_all - stop accepting, finish durable writes, free everything */
static void shutdown_all(sluiced *d)
{
    d->stopping = 1;
    signer_stop(d);   /* its last messages go to the spool */
    drain(d);         /* and get their 250s while their sessions are still there */
    submit_close(d);
    ctl_stop(d->ctl);
    maildrop_stop(d->md);
    if (d->agent)
        agent_shutdown(d->agent);
    sched_free(d->sched);
    classifier_free(d->cls);
    d->cls = NULL;
    agent_free(d->agent);
    blwatch_stop(d->bl);
    d->bl = NULL;
    dns_free(d->dns);
    spool_close(d->sp);   /* runs the last completions: pending sessions get their replies */
    d->sched = NULL;
    d->agent = NULL;
    d->dns = NULL;
    d->ctl = NULL;
    d->md = NULL;
    d->sp = NULL;
}

/* on_stop_signal - a graceful stop: no new connections or messages (421), the messages
 * already accepted finish their commit and their clients get the 250 - so a stop makes no
 * duplicate of a message whose client would otherwise not have heard it was queued (main
 * drains before it stops).  A second signal stops at once. */
static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    sluiced *d = arg;
    (void)what;
    if (d->stopping) {
        log_info(NULL, "signal %d again: stopping now", (int)sig);
        d->stop_now = 1;
        event_base_loopexit(d->base, NULL);
        return;
    }
    log_info(NULL, "signal %d: shutting down", (int)sig);
    d->stopping = 1;
    for (int i = 0; i < d->nlisteners; i++)
        smtpd_listener_close_door(d->listeners[i]);
    event_base_loopexit(d->base, NULL);
}

/* on_usr1 - reopen the log file (after rotation), nothing else */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    log_reopen();
    log_info(NULL, "SIGUSR1: log reopened");
}

/* wildcard - the address is 0.0.0.0 or :: */
static int wildcard(const struct sockaddr_storage *ss)
{
    static const uint8_t any6[16];
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return !memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, any6, 16);
}

/* bindable - a listen address of the new configuration can be listened on: 0, or -1 with
 * err.  Inherited (held now): yes.  Under port 1024 without root (sluiced runs as
 * mail_owner): no.  Sharing a port with a socket held now, either of them a wildcard: not
 * tried, the new image closes the old socket before binding.  Else a test bind decides. */
static int bindable(const sluiced *d, const netaddr *a, const char *text, const char *me, char *err,
                    int errlen)
{
    char name[NETADDR_STRLEN];
    int port = netaddr_port((const struct sockaddr *)&a->ss);
    netaddr_format((const struct sockaddr *)&a->ss, name, sizeof name);
    for (int k = 0; k < d->nlisteners; k++)
        if (!strcmp(smtpd_listener_name(d->listeners[k]), name))
            return 0;
    if (port < 1024 && geteuid() != 0) {
        snprintf(err, (size_t)errlen, "listen = %s needs root (a port under 1024) and sluiced now "
                 "runs as %s: restart it instead", text, me);
        return -1;
    }
    for (int k = 0; k < d->nlisteners; k++) {
        netaddr h;
        const char *why;
        if (netaddr_parse(smtpd_listener_name(d->listeners[k]), 0, &h, &why) == 0 &&
            netaddr_port((const struct sockaddr *)&h.ss) == port && (wildcard(&h.ss) || wildcard(&a->ss)))
            return 0;
    }
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = -1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
        rc = 0;
    else
        snprintf(err, (size_t)errlen, "listen = %s: %s", text, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* startable - what the new image will open, opened now as the user sluiced runs as (after
 * dropping to mail_owner it cannot reopen root's files); 0 or -1 with err */
static int startable(const sluiced *d, const sl_config *c, char *err, int errlen)
{
    const char *me = c->mail_owner[0] && geteuid() != 0 ? c->mail_owner : "this user";
    if (strcmp(c->queue_directory, d->cfg->queue_directory) != 0 ||
        strcmp(c->mail_owner, d->cfg->mail_owner) != 0) {
        snprintf(err, (size_t)errlen, "queue_directory and mail_owner change only with a restart");
        return -1;
    }
    for (int k = 0; k < c->n_listen_addrs; k++)
        if (bindable(d, &c->listen_addrs[k], c->listen.v[k], me, err, errlen) < 0)
            return -1;
    if (c->maillog_file[0] == '/') {
        int fd = open(c->maillog_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            snprintf(err, (size_t)errlen, "maillog_file = %s: %s (as %s)", c->maillog_file,
                     strerror(errno), me);
            return -1;
        }
        close(fd);
    }
    if (c->smtpd_tls_cert_file[0]) {
        SSL_CTX *t = smtpd_tls_ctx(c->smtpd_tls_cert_file, c->smtpd_tls_key_file, err, errlen);
        if (!t)
            return -1;
        SSL_CTX_free(t);
    }
    if (c->smtp_tls_CAfile[0] && access(c->smtp_tls_CAfile, R_OK) < 0) {
        snprintf(err, (size_t)errlen, "smtp_tls_CAfile = %s: %s (as %s)", c->smtp_tls_CAfile,
                 strerror(errno), me);
        return -1;
    }
    return 0;
}

/* reload_check - the configuration as it is now on disk, checked like -n and startable; 0,
 * or -1 with err */
static int reload_check(const sluiced *d, char *err, int errlen)
{
    sl_config *c = config_load(d->cfgfile, d->overrides, d->noverrides, err, errlen);
    int rc = c && signer_check_keys(c, err, errlen) == 0 && sched_sources_check(c, err, errlen) == 0 &&
                     startable(d, c, err, errlen) == 0
                 ? 0 : -1;
    config_free(c);
    return rc;
}

/* on_hup - reload: a valid configuration makes sluiced stop like on SIGTERM, keeping its
 * listening sockets (clients wait in the backlog), and exec itself again with them; an
 * invalid one is logged and changes nothing */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    sluiced *d = arg;
    char err[1024];
    (void)sig;
    (void)what;
    log_reopen();
    if (d->stopping)
        return;
    if (reload_check(d, err, sizeof err) < 0) {
        log_err(NULL, "reload: configuration error: %s; still running with the previous one", err);
        write_reload_refusal(d->cfg, err);
        return;
    }
    log_notice(NULL, "reload: the configuration is valid: restarting in place");
    d->reload = 1;
    d->stopping = 1;
    submit_hand_over(d);
    event_base_loopexit(d->base, NULL);
}

/* reexec - the second half of a reload: the same program, arguments and pid, with the
 * listening sockets named in the environment; returns only on failure */
static void reexec(sluiced *d, char **argv)
{
    submit_export_handover(d);
    signal(SIGTERM, SIG_DFL);   /* ignored during the stop; the new image must not inherit that */
    signal(SIGINT, SIG_DFL);
    char self[4096];            /* by its name, so that the process is still called sluiced */
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *del = strstr(self, " (deleted)");   /* replaced by an upgrade: the new one */
        if (del && !del[10])
            *del = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    log_err(NULL, "reload: cannot exec /proc/self/exe: %s; trying %s", strerror(errno), argv[0]);
    execvp(argv[0], argv);
    log_err(NULL, "reload: cannot exec %s: %s: stopped", argv[0], strerror(errno));
}

/* start_delivery - the resolver, the delivery agent and the scheduler; 0 or -1 with err */
static int start_delivery(sluiced *d, char *err, int errlen)
{
    dbuf servers = {0};
    for (int i = 0; i < d->cfg->dns_servers.n; i++)
        dbuf_printf(&servers, "%s%s", i ? ", " : "", d->cfg->dns_servers.v[i]);
    if (sched_sources_check(d->cfg, err, errlen) < 0)
        return -1;
    d->dns = dns_new(d->base, servers.len ? dbuf_cstr(&servers) : "", d->cfg->dns_timeout_ms, err, errlen);
    dbuf_free(&servers);
    if (!d->dns)
        return -1;
    d->agent = agent_new(d->base, d->cfg, d->sp, d->dns, err, errlen);
    if (!d->agent)
        return -1;
    d->cls = classifier_new(err, errlen);
    if (!d->cls)
        return -1;
    for (int i = 0; i < d->cfg->reply_class_rules.n; i++)
        if (classifier_load(d->cls, d->cfg->reply_class_rules.v[i], err, errlen) < 0)
            return -1;
    sched_agent ag = agent_table(d->agent);
    sched_resolver rs = agent_resolver(d->agent);
    d->sched = sched_new(d->base, d->cfg, d->sp, &ag, &rs);
    sched_set_classifier(d->sched, classify, d->cls);
    sched_set_queue_fn(d->sched, cleanup_queue_notice, d);
    agent_set_sched(d->agent, d->sched);
    d->bl = blwatch_start(d);
    log_info(NULL, "shaping %s: replies are read with the shipped rules%s", d->cfg->shaping ? "on" : "off",
             d->cfg->reply_class_rules.n ? " and reply_class_rules" : "");
    return 0;
}

/* start - everything after the configuration is loaded; 0 or an exit code */
static int start(sluiced *d)
{
    char err[512];
    uid_t uid = 0;
    gid_t gid = 0;
    int owner = lookup_owner(d->cfg, &uid, &gid);
    if (owner < 0) {
        log_err(NULL, "mail_owner = %s: no such user", d->cfg->mail_owner);
        return EX_CONFIG;
    }
    if (owner == 0 && geteuid() == 0 && d->cfg->maillog_file[0] == '/' &&
        chown(d->cfg->maillog_file, uid, gid) < 0)   /* a reload reopens it as mail_owner */
        log_warn(NULL, "maillog_file = %s: chown to %s: %s", d->cfg->maillog_file, d->cfg->mail_owner,
                 strerror(errno));
    if (prepare_queue_dir(d->cfg, owner == 0, uid, gid) < 0)
        return EX_OSERR;
    if (d->cfg->smtpd_tls_cert_file[0]) {
        d->tls = smtpd_tls_ctx(d->cfg->smtpd_tls_cert_file, d->cfg->smtpd_tls_key_file, err, sizeof err);
        if (!d->tls) {
            log_err(NULL, "TLS: %s", err);
            return EX_CONFIG;
        }
    }
    if (submit_listen(d, err, sizeof err) < 0) {
        log_err(NULL, "%s", err);
        return EX_OSERR;
    }
    if (drop_privileges(d, owner == 0, uid, gid) < 0)
        return EX_OSERR;
    spool_opts so = {.segment_size = (uint64_t)d->cfg->spool_segment_size};
    d->sp = spool_open(d->base, d->cfg->queue_directory, &so, err, sizeof err);
    if (!d->sp) {
        log_err(NULL, "spool: %s", err);
        return EX_OSERR;
    }
    if (start_delivery(d, err, sizeof err) < 0) {
        log_err(NULL, "%s", err);
        return EX_CONFIG;
    }
    if (signer_start(d, err, sizeof err) < 0) {
        log_err(NULL, "%s", err);
        return EX_CONFIG;
    }
    d->ctl = ctl_start(d, err, sizeof err);
    d->md = d->ctl ? maildrop_start(d, err, sizeof err) : NULL;
    if (!d->md) {
        log_err(NULL, "%s", err);
        return EX_OSERR;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cfgfile = NULL;
    char **overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
    int noverrides = 0, check_only = 0, verbose = 0, ch;
    log_init("sluiced");
    while ((ch = getopt(argc, argv, "c:o:nvVh")) != -1) {
        switch (ch) {
        case 'c': cfgfile = optarg; break;
        case 'o': overrides[noverrides++] = optarg; break;
        case 'n': check_only = 1; break;
        case 'v': verbose = 1; break;
        case 'V': printf("sluiced %s\n", SLUICE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return EX_USAGE;
    }
    char err[1024];
    sluiced d = {.cfgfile = cfgfile, .overrides = overrides, .noverrides = noverrides};
    d.cfg = config_load(cfgfile, overrides, noverrides, err, sizeof err);
    if (!d.cfg) {
        fprintf(stderr, "sluiced: configuration error: %s\n", err);
        free(overrides);
        return EX_CONFIG;
    }
    if (check_only && (signer_check_keys(d.cfg, err, sizeof err) < 0 ||
                       sched_sources_check(d.cfg, err, sizeof err) < 0)) {
        fprintf(stderr, "sluiced: configuration error: %s\n", err);
        config_free(d.cfg);
        free(overrides);
        return EX_CONFIG;
    }
    if (check_only) {
        printf("sluiced: configuration %s is valid\n", cfgfile ? cfgfile : "(built-in defaults)");
        config_free(d.cfg);
        free(overrides);
        return 0;
    }
    if (setup_logging(d.cfg) < 0)
        return EX_CONFIG;
    if (verbose)
        log_set_level(SL_DEBUG);
    signal(SIGPIPE, SIG_IGN);
    sigset_t hup;               /* HUP and USR1 wait (blocked, pending) until their handlers */
    sigemptyset(&hup);          /* exist: before, the default action would kill the process; */
    sigaddset(&hup, SIGHUP);    /* a reload's exec passes them on blocked, so one sent while */
    sigaddset(&hup, SIGUSR1);   /* the new image starts is acted on, not lost */
    sigprocmask(SIG_BLOCK, &hup, NULL);
    d.base = new_base();
    log_info(NULL, "sluiced %s starting: queue_directory=%s, myhostname=%s", SLUICE_VERSION,
             d.cfg->queue_directory, d.cfg->myhostname);
    int rc = start(&d);
    if (rc == 0) {
        struct event *sigs[4] = {evsignal_new(d.base, SIGTERM, on_stop_signal, &d),
                                 evsignal_new(d.base, SIGINT, on_stop_signal, &d),
                                 evsignal_new(d.base, SIGHUP, on_hup, &d),
                                 evsignal_new(d.base, SIGUSR1, on_usr1, &d)};
        for (int i = 0; i < 4; i++)
            event_add(sigs[i], NULL);
        sigprocmask(SIG_UNBLOCK, &hup, NULL);
        write_pid(d.cfg);   /* after the handlers: `sluice reload` takes it for "ready" */
        log_info(NULL, "ready: %llu messages in the queue", (unsigned long long)spool_count(d.sp));
        sched_run_due(d.sched);
        event_base_dispatch(d.base);
        drain(&d);                  /* a second signal can still cut it short */
        sigset_t stops, old;        /* stopping already: a late signal must not kill the */
        sigemptyset(&stops);        /* process halfway through shutdown_all (freeing the */
        sigaddset(&stops, SIGTERM); /* events restores the default handlers: blocked */
        sigaddset(&stops, SIGINT);  /* meanwhile, ignored after.  HUP and USR1 stay blocked, */
        sigprocmask(SIG_BLOCK, &stops, &old);   /* also across a reload's exec (see main) */
        sigprocmask(SIG_BLOCK, &hup, NULL);
        for (int i = 0; i < 4; i++)
            event_free(sigs[i]);
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        sigaddset(&old, SIGHUP);
        sigaddset(&old, SIGUSR1);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    shutdown_all(&d);
    if (d.tls)
        SSL_CTX_free(d.tls);
    event_base_free(d.base);
    config_free(d.cfg);
    free(overrides);
    if (rc == 0 && d.reload && !d.stop_now) {
        reexec(&d, argv);
        rc = EX_OSERR;
    }
    log_info(NULL, "sluiced stopped");
    return rc;
}
