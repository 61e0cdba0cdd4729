/* fuzz_never.h - what the scheduler-based fuzz targets share: the invariant check, and a
 * delivery agent and resolver that must never be called (every route there is an error or
 * no message is delivered). */
#ifndef SLUICE_FUZZ_NEVER_H
#define SLUICE_FUZZ_NEVER_H
#include <stdlib.h>

#include "sched/sched.h"

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* never_open, never_run, never_close, never_mx - the scheduler's agent and resolver: unused */
static void *never_open(void *ctx, sched_dest *d, const sched_target *t) { abort(); }
static void never_run(void *ctx, void *sess, sched_job *j) { abort(); }
static void never_close(void *ctx, void *sess) { abort(); }
static void never_mx(void *ctx, const char *domain, dns_mx_cb cb, void *arg) { abort(); }

#endif
