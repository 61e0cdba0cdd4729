/* cli_reload.c - `sluice reload`: check the configuration as sluiced -n does, then ask the
 * running sluiced to load it (SIGHUP) and wait until it has started again with it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"

#define RELOAD_WAIT_S 30

/* is_sluiced - the process was started as sluiced (argv[0], which a reload keeps; the
 * command name is "exe" after a reload that had to exec /proc/self/exe, and another
 * user's /proc/PID/exe cannot be read) */
static int is_sluiced(long pid)
{
    char path[64], cmd[4096] = "";
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = 0;   /* argv[0] ends at its NUL */
    const char *base = strrchr(cmd, '/');
    return strcmp(base ? base + 1 : cmd, "sluiced") == 0;
}

/* read_pid - the pid in QUEUE_DIRECTORY/sluiced.pid when that process is a sluiced; its
 * file's change time in *mtime; -1 when there is none */
static long read_pid(const char *path, struct timespec *mtime)
{
    FILE *f = fopen(path, "r");
    long pid = -1;
    struct stat st;
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
        pid = -1;
    if (fstat(fileno(f), &st) == 0)
        *mtime = st.st_mtim;
    fclose(f);
    return pid > 1 && is_sluiced(pid) ? pid : -1;
}

/* refused_mtime - when QUEUE_DIRECTORY/reload.refused was last written ({0} if never) */
static struct timespec refused_mtime(const char *qdir)
{
    char *path = xasprintf("%s/reload.refused", qdir);
    struct stat st;
    struct timespec t = {0};
    if (stat(path, &st) == 0)
        t = st.st_mtim;
    free(path);
    return t;
}

/* refusal - the daemon's reason for refusing a reload, when the file was written again
 * since it was last seen at was (caller frees), else NULL */
static char *refusal(const char *qdir, const struct timespec *was)
{
    struct timespec t = refused_mtime(qdir);
    if (t.tv_sec == was->tv_sec && t.tv_nsec == was->tv_nsec)
        return NULL;
    char *path = xasprintf("%s/reload.refused", qdir), line[1200] = "";
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return NULL;
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    return xstrdup(line);
}

/* newer - a is later than b */
static int newer(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

int cli_reload_main(cli_globals *g, int argc, char **argv)
{
    (void)argv;
    if (argc > 0) {
        fprintf(stderr, "usage: sluice reload\n");
        return EX_USAGE;
    }
    sl_config *cfg = cli_config(g, "sluice reload");
    if (!cfg)
        return EX_CONFIG;
    char err[1024];
    if (signer_check_keys(cfg, err, sizeof err) < 0 || sched_sources_check(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "sluice reload: configuration error: %s (nothing reloaded)\n", err);
        config_free(cfg);
        return EX_CONFIG;
    }
    char *path = xasprintf("%s/sluiced.pid", cfg->queue_directory);
    char *qdir = xstrdup(cfg->queue_directory);
    config_free(cfg);
    struct timespec sent = refused_mtime(qdir);
    struct timespec before = {0}, now = {0};
    long pid = read_pid(path, &before);
    int rc = EX_UNAVAILABLE;
    if (pid < 0) {
        fprintf(stderr, "sluice reload: sluiced is not running (%s)\n", path);
    } else if (kill((pid_t)pid, SIGHUP) < 0) {
        fprintf(stderr, "sluice reload: pid %ld: %s\n", pid, strerror(errno));
        rc = errno == EPERM ? EX_NOPERM : EX_UNAVAILABLE;
    } else {
        rc = EX_TEMPFAIL;
        for (int i = 0; i < RELOAD_WAIT_S * 10 && rc == EX_TEMPFAIL; i++) {   /* the new start */
            usleep(100000);                                                  /* rewrites it */
            char *why = NULL;
            if (read_pid(path, &now) == pid && newer(&now, &before)) {
                rc = EX_OK;
            } else if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                rc = EX_UNAVAILABLE;
            } else if ((why = refusal(qdir, &sent))) {   /* what sluiced itself could not open */
                fprintf(stderr, "sluice reload: sluiced (pid %ld) refused: %s\n", pid, why);
                rc = EX_CONFIG;
            }
            free(why);
        }
        if (rc == EX_UNAVAILABLE)
            fprintf(stderr, "sluice reload: sluiced (pid %ld) exited during the reload: see its log\n",
                    pid);
        else if (rc == EX_CONFIG)
            ;   /* said above */
        else if (rc == EX_OK)
            printf("sluice reload: sluiced (pid %ld) runs with the new configuration\n", pid);
        else
            fprintf(stderr, "sluice reload: sluiced (pid %ld) has not started again within %d s: "
                    "see its log\n", pid, RELOAD_WAIT_S);
    }
    free(path);
    free(qdir);
    return rc;
}
