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
    char comm[64] = "", *proc = xasprintf("/proc/%ld/comm", pid);
    FILE *c = pid > 1 ? fopen(proc, "r") : NULL;
    free(proc);
    if (c) {
        if (!fgets(comm, sizeof comm, c))
            comm[0] = 0;
        fclose(c);
    }
    return strncmp(comm, "sluiced", 7) == 0 ? pid : -1;
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
    config_free(cfg);
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
        for (int i = 0; i < RELOAD_WAIT_S * 10 && rc; i++) {   /* the new start rewrites it */
            usleep(100000);
            if (read_pid(path, &now) == pid && newer(&now, &before))
                rc = EX_OK;
        }
        if (rc == EX_OK)
            printf("sluice reload: sluiced (pid %ld) runs with the new configuration\n", pid);
        else
            fprintf(stderr, "sluice reload: sluiced (pid %ld) has not started again within %d s: "
                    "see its log\n", pid, RELOAD_WAIT_S);
    }
    free(path);
    return rc;
}
