/* test_util_sched.h - helpers shared by the scheduler unit tests (test_sched, test_shaping):
 * bringing a scheduler up over a real spool in a temporary directory, and down again.
 * Built into the unit tests' helper library (tests/CMakeLists.txt). */
#ifndef SLUICE_TEST_UTIL_SCHED_H
#define SLUICE_TEST_UTIL_SCHED_H
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"
#include "queue/spool.h"
#include "sched/sched.h"

/* rig_open - the configuration from text (the test fails on an error), a new event loop,
 * the spool in dir (segment_size bytes a segment) and a scheduler over them with agent ag
 * and resolver rs, into *cfg, *base, *sp and *sc */
void rig_open(const char *text, const char *dir, size_t segment_size, const sched_agent *ag,
              const sched_resolver *rs, sl_config **cfg, struct event_base **base, spool **sp,
              sched **sc);

/* rig_close - free what rig_open made (the directory stays) */
void rig_close(sl_config *cfg, struct event_base *base, spool *sp, sched *sc);

/* rig_rmdir - remove dir and everything in it */
void rig_rmdir(const char *dir);

#endif
