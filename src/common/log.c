/* log.c - the logger.  Each line is formatted into a stack buffer and written with one
 * write(2) on an O_APPEND descriptor, so lines from the threads never interleave. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "notice", "warning", "error", "fatal"};
static const int syslog_prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR, LOG_CRIT};

static struct {
    char prog[32];
    enum sl_level level;
    int fd;             /* stderr or a file; -1 for syslog */
    char path[4096];    /* file target, for log_reopen */
    pthread_mutex_t mu; /* guards fd changes */
} lg = {"sluice", SL_INFO, 2, "", PTHREAD_MUTEX_INITIALIZER};

void log_init(const char *progname)
{
    const char *slash = strrchr(progname, '/');
    snprintf(lg.prog, sizeof lg.prog, "%s", slash ? slash + 1 : progname);
}

void log_set_level(enum sl_level level)
{
    lg.level = level;
}

int log_enabled(enum sl_level level)
{
    return level >= lg.level;
}

int log_parse_level(const char *name)
{
    for (int i = SL_DEBUG; i <= SL_ERR; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "warn") == 0)
        return SL_WARN;
    if (strcmp(name, "err") == 0)
        return SL_ERR;
    return -1;
}

/* open_file - open a log file for appending; -1 on error */
static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_set_target(const char *target, const char **err)
{
    int fd;
    if (strcmp(target, "stderr") == 0) {
        fd = 2;
    } else if (strcmp(target, "syslog") == 0) {
        openlog(lg.prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
        fd = -1;
    } else if (target[0] == '/') {
        fd = open_file(target);
        if (fd < 0) {
            *err = strerror(errno);
            return -1;
        }
    } else {
        *err = "expected stderr, syslog or an absolute file path";
        return -1;
    }
    pthread_mutex_lock(&lg.mu);
    if (lg.fd > 2)
        close(lg.fd);
    lg.fd = fd;
    snprintf(lg.path, sizeof lg.path, "%s", fd > 2 ? target : "");
    pthread_mutex_unlock(&lg.mu);
    return 0;
}

void log_reopen(void)
{
    pthread_mutex_lock(&lg.mu);
    if (lg.path[0]) {
        int fd = open_file(lg.path);
        if (fd >= 0) {
            close(lg.fd);
            lg.fd = fd;
        }
    }
    pthread_mutex_unlock(&lg.mu);
}

/* sanitize - replace control characters so one event stays one line */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void log_vmsg(enum sl_level level, const char *qid, const char *fmt, va_list ap)
{
    if (level < lg.level)
        return;
    char text[3072];
    vsnprintf(text, sizeof text, fmt, ap);
    sanitize(text);
    if (!qid)
        qid = LOG_NOQUEUE;
    pthread_mutex_lock(&lg.mu);
    int fd = lg.fd;
    if (fd < 0) {
        syslog(syslog_prio[level], "%s: %s: %s", level_names[level], qid, text);
        pthread_mutex_unlock(&lg.mu);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[3300];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s[%d]: %s: %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)tv.tv_usec, lg.prog, (int)getpid(), level_names[level],
                     qid, text);
    if (n > (int)sizeof line - 1) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    pthread_mutex_unlock(&lg.mu);
}

void log_every_msg(log_every *e, long long interval_ms, enum sl_level level, const char *qid,
                   const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
    if (e->last_ms && now - e->last_ms < interval_ms) {
        e->skipped++;
        return;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (e->skipped)
        log_msg(level, qid, "%s (and %llu more like it in the last %lld s)", text, e->skipped,
                (now - e->last_ms) / 1000);
    else
        log_msg(level, qid, "%s", text);
    e->last_ms = now;
    e->skipped = 0;
}

void log_raw(enum sl_level level, const char *line)
{
    if (level < lg.level)
        return;
    pthread_mutex_lock(&lg.mu);
    if (lg.fd < 0) {
        syslog(syslog_prio[level], "%s", line);
    } else {
        struct iovec v[2] = {{(void *)line, strlen(line)}, {"\n", 1}};
        ssize_t w = writev(lg.fd, v, 2);
        (void)w;
    }
    pthread_mutex_unlock(&lg.mu);
}

void log_msg(enum sl_level level, const char *qid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, qid, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(SL_FATAL, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(SL_FATAL, NULL, fmt, ap);
    va_end(ap);
    abort();
}
