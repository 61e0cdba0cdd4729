/* fuzz_maildrop.c - libFuzzer target for the maildrop pickup (daemon/maildrop.c): the input
 * is a file in QUEUE_DIRECTORY/maildrop/ (what `sluice send` writes while sluiced is down:
 * a submit request line, then the message), picked up by maildrop_start in the small daemon
 * of fuzz_daemon_common.h.  Beyond "no crash, no leak, no hang", it checks that nothing is
 * lost: once the pickup has settled the file is gone, and either it was queued (a message
 * with origin "maildrop:NAME" is in the queue, or its recipients have already bounced, e.g.
 * one without a domain) or it was set aside in corrupt/ (and nothing queued from it); then
 * the queue audit of fuzz_daemon_common.h runs and empties the queue. */
#include "fuzz_daemon_common.h"

#define DROP_NAME "fuzz.1"

/* drop_file - the input as a maildrop file */
static void drop_file(const uint8_t *data, size_t size, char *path, size_t len)
{
    char *dir = maildrop_dir(D.cfg->queue_directory);
    mkdir(dir, 01733);
    snprintf(path, len, "%s/%s", dir, DROP_NAME);
    free(dir);
    FILE *f = fopen(path, "w");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size || size == 0);
    fclose(f);
}

/* bounced - recipients the scheduler has bounced so far */
static uint64_t bounced(void)
{
    sched_counts c;
    sched_get_counts(D.sched, &c);
    return c.bounced;
}

/* queued_from_file - messages in the queue whose origin is the file */
static int queued_from_file(void)
{
    int n = 0;
    for (qmsg *m = spool_first(D.sp); m; m = spool_next(D.sp, m))
        n += m->origin && !strcmp(m->origin, "maildrop:" DROP_NAME);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!D.base)
        rig_init();
    char path[300], aside[300], err[300];
    drop_file(data, size, path, sizeof path);
    snprintf(aside, sizeof aside, "%s/corrupt/maildrop-%s", D.cfg->queue_directory, DROP_NAME);
    uint64_t bounced_before = bounced();
    maildrop *md = maildrop_start(&D, err, sizeof err);
    check(md != NULL);
    settle();
    maildrop_stop(md);
    int left = access(path, F_OK) == 0, set_aside = access(aside, F_OK) == 0, queued = queued_from_file();
    int was_queued = queued == 1 || (queued == 0 && bounced() > bounced_before);
    check(!left && queued <= 1 && was_queued != set_aside);
    unlink(aside);
    audit_queue();
    return 0;
}
