/* queueparse_source.c - where a queue listing comes from when `doctor queue` gets no FILE:
 * the running sluiced (its control socket's "list", the postqueue -j objects), or the
 * local MTA's own command (postqueue -j, postqueue -p, exim -bp, mailq) run with stdin from
 * /dev/null and a deadline: a command that hangs is killed (SIGKILL to the child we
 * started) when the doctor's --timeout runs out.  Lines go to the parser as they arrive. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/dbuf.h"
#include "doctor/queueparse.h"

const char *qsrc_find(const char *name, char *buf, size_t n)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/lib", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, n, "%s/%s", *d ? d : ".", name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

/* now_ms - a monotonic clock */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spawn - fork and exec argv with stdout on out and stderr on err; the pid or -1 */
static pid_t spawn(char *const argv[], int out[2], int err[2])
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(argv[0], argv);
    _exit(127);
}

/* Output being read from the child. */
typedef struct reader {
    dbuf line, err;
    qparser *p;
} reader;

/* take - bytes of stdout: complete lines to the parser */
static void take(reader *r, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n') {
            qp_line(r->p, (const char *)r->line.data, r->line.len);
            dbuf_reset(&r->line);
        } else if (r->line.len < LP_MAXLINE) {
            dbuf_putc(&r->line, (uint8_t)b[i]);
        }
    }
}

/* pump - read both pipes until EOF or the deadline; 0, or -1 on timeout */
static int pump(int out, int err, int64_t deadline, reader *r)
{
    struct pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    char buf[8192];
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        if (poll(fds, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            return -1;
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(fds[k].fd, buf, sizeof buf);
            if (got <= 0) {
                fds[k].fd = -1;
                continue;
            }
            if (k == 0)
                take(r, buf, (size_t)got);
            else if (r->err.len < 2000)
                dbuf_put(&r->err, buf, (size_t)got);
        }
    }
    return 0;
}

/* reap - wait for the child until the deadline, then kill it; its wait status or -1 */
static int reap(pid_t pid, int64_t deadline)
{
    int st;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
    return st;
}

/* why_failed - a command's failure in words */
static void why_failed(char *const argv[], int st, int timed_out, int64_t timeout_ms, const dbuf *e, char *err,
                       size_t errlen)
{
    const char *msg = e->len ? (const char *)e->data : "";
    int n = (int)strcspn(msg, "\n");
    if (timed_out)
        snprintf(err, errlen, "%s did not finish within %.1f s (killed)", argv[0], (double)timeout_ms / 1000);
    else if (WIFEXITED(st))
        snprintf(err, errlen, "%s exited with status %d%s%.*s", argv[0], WEXITSTATUS(st), n ? ": " : "", n, msg);
    else
        snprintf(err, errlen, "%s was killed by signal %d", argv[0], WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* close_pipes - the ends still open */
static void close_pipes(int a[2], int b[2])
{
    for (int i = 0; i < 2; i++) {
        if (a[i] >= 0)
            close(a[i]);
        if (b[i] >= 0)
            close(b[i]);
        a[i] = b[i] = -1;
    }
}

int qsrc_run(char *const argv[], int64_t timeout_ms, qparser *p, char *err, size_t errlen)
{
    int out[2] = {-1, -1}, er[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close_pipes(out, er);
        return -1;
    }
    int64_t deadline = now_ms() + timeout_ms;
    pid_t pid = spawn(argv, out, er);
    close(out[1]);
    close(er[1]);
    out[1] = er[1] = -1;
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close_pipes(out, er);
        return -1;
    }
    reader r = {{0}, {0}, p};
    int timed_out = pump(out[0], er[0], deadline, &r) < 0;
    if (timed_out)
        kill(pid, SIGKILL);
    int st = reap(pid, deadline);
    timed_out |= st == -1;
    close_pipes(out, er);
    if (r.line.len)
        qp_line(p, (const char *)r.line.data, r.line.len);
    dbuf_putc(&r.err, 0);
    int ok = !timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok)
        why_failed(argv, st, timed_out, timeout_ms, &r.err, err, errlen);
    dbuf_free(&r.line);
    dbuf_free(&r.err);
    return ok ? 0 : -1;
}

/* set_timeouts - blocking socket I/O that gives up after ms */
static void set_timeouts(int fd, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int qsrc_sluice(const char *queue_directory, int64_t timeout_ms, qparser *p, char *err, size_t errlen)
{
    ctl_client c;
    if (ctl_connect(&c, queue_directory) < 0) {
        snprintf(err, errlen, "sluiced is not reachable in %s: %s", queue_directory, strerror(errno));
        return 1;
    }
    set_timeouts(c.fd, timeout_ms);
    int rc = -1;
    if (ctl_request(&c, json_pack("{s:s}", "cmd", "list"), NULL, 0) < 0) {
        snprintf(err, errlen, "lost the connection to sluiced: %s", strerror(errno));
        goto done;
    }
    json_t *m;
    while ((m = ctl_response(&c))) {
        int end = json_object_get(m, "ok") != NULL;
        if (!end)
            qp_json(p, m);
        json_decref(m);
        if (end) {
            rc = 0;
            break;
        }
    }
    if (rc)
        snprintf(err, errlen, "the listing from sluiced was cut short");
done:
    ctl_close(&c);
    return rc;
}
