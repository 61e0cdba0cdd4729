/* test_util_sched.c - helpers shared by the scheduler unit tests (see test_util_sched.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "test_util_sched.h"

void rig_open(const char *text, const char *dir, size_t segment_size, const sched_agent *ag,
              const sched_resolver *rs, sl_config **cfg, struct event_base **base, spool **sp,
              sched **sc)
{
    char err[512];
    *cfg = config_load_text(text, "test.conf", NULL, 0, err, sizeof err);
    if (!*cfg)
        fail_msg("config: %s", err);
    *base = event_base_new();
    spool_opts so = {.segment_size = segment_size};
    *sp = spool_open(*base, dir, &so, err, sizeof err);
    assert_non_null(*sp);
    *sc = sched_new(*base, *cfg, *sp, ag, rs);
}

void rig_close(sl_config *cfg, struct event_base *base, spool *sp, sched *sc)
{
    sched_free(sc);
    spool_close(sp);
    event_base_free(base);
    config_free(cfg);
}

void rig_rmdir(const char *dir)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}
