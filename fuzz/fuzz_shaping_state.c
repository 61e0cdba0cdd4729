/* fuzz_shaping_state.c - libFuzzer target for the scheduler's state file,
 * QUEUE_DIRECTORY/shaping.json (sched/sched_state.c): what shaping learned per destination
 * (shape_restore) and the warm-up counts per sending address (sched_sources_restore).  The
 * input is the file.  A scheduler is made over it (sched_new reads it), every destination
 * the file names is created, each is driven a little (a greylisting, a refused connection,
 * a rate limit, a quiet day), the status is built and the scheduler freed (which writes the
 * file back).  Beyond "no crash, no leak, no UB", it checks: a restored destination has a
 * concurrency within 1..smtp_destination_concurrency_limit, a learned concurrency >= 0
 * (a lower configured limit may leave one above it), a positive probe interval and a
 * greylist window >= 0; and what it saves,
 * restored and saved again, is the same (the file is a fixed point after one round). */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "config/config.h"
#include "queue/spool.h"
#include "sched/sched_int.h"
#include "fuzz_never.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 (1772366400LL * 1000000)   /* 2026-03-01 12:00 UTC: day 20513 */

static struct event_base *base;
static sl_config *cfg;
static spool *sp;
static char path[300];
static char dir[] = "/tmp/fuzz-shaping-XXXXXX";

/* rm_one - nftw: remove a file, or a directory once emptied */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

/* remove_dir - at exit: the queue directory and everything in it */
static void remove_dir(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* init - a configuration with two classes (one address warming up) and a spool, once */
static void init(void)
{
    char text[1024], err[512];
    check(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    log_set_level(SL_FATAL);
    clock_set_fake(T0);
    snprintf(text, sizeof text,
             "queue_directory = \"%s\";\nmyhostname = \"fuzz.test\";\n"
             "smtp_source_classes = [\"transactional 192.0.2.1\", \"bulk 192.0.2.2 2001:db8::2\"];\n"
             "ip_warmup_schedule = [\"192.0.2.2 2026-02-01 20000\"];\n", dir);
    check((cfg = config_load_text(text, "fuzz.conf", NULL, 0, err, sizeof err)) != NULL);
    check((base = event_base_new()) != NULL);
    spool_opts so = {.segment_size = 1 << 20};
    check((sp = spool_open(base, dir, &so, err, sizeof err)) != NULL);
    snprintf(path, sizeof path, "%s/shaping.json", dir);
}

/* write_state - the input as the state file */
static void write_state(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "w");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size || size == 0);
    fclose(f);
}

/* check_shape - a restored destination's values are in range */
static void check_shape(const shape *sh)
{
    check(sh->conc >= 1 && sh->conc <= sh->cfg->conc_max);
    check(sh->conc_learned >= 0);
    check(sh->conc_probe_every_us > 0 && sh->grey_hi_us >= 0);
}

/* check_fixed_point - saved values restore to themselves */
static void check_fixed_point(const shape *sh)
{
    json_t *a = shape_save(sh);
    if (!a)
        return;
    shape again;
    shape_init(&again, sh->cfg, "again");
    shape_restore(&again, a, T0);
    json_t *b = shape_save(&again);
    check(b && json_equal(a, b));
    json_decref(a);
    json_decref(b);
    shape_free(&again);
}

/* drive - a few events on a restored destination */
static void drive(shape *sh)
{
    static const enum reply_class cls[] = {RC_GREYLISTING, RC_TOO_MANY_CONNECTIONS, RC_RATE_LIMITED};
    int64_t now = T0, wake = INT64_MAX;
    shape_verdict v;
    shape_may_start(sh, now, 1, &wake);
    shape_greylist_passed(sh, now - 90 * 1000000LL, now);
    for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++) {
        classify_result cr = {.cls = cls[i], .rule = "fuzz", .retry_hint_s = -1};
        shape_refused(sh, &cr, "451 4.7.1 try later", 0, 0, 1, 1, now - 60 * 1000000LL, now, 0, now, &v);
    }
    shape_tick(sh, now + 86400 * 1000000LL);
    shape_may_start(sh, now, 0, &wake);
    json_decref(shape_json(sh, now));
}

/* restore_all - make every destination the file names, check and drive it */
static void restore_all(sched *s)
{
    const char *key;
    json_t *v;
    json_t *saved = json_incref(s->saved);
    json_object_foreach(saved, key, v) {
        char *host = (char *)key;
        sched_target t = {.hosts = &host, .nhosts = 1, .port = 25};
        sched_dest *d = sched_dest_get(s, key, &t);
        check_shape(&d->sh);
        check_fixed_point(&d->sh);
        drive(&d->sh);
    }
    json_decref(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        init();
    write_state(data, size);
    sched_agent ag = {NULL, never_open, never_run, never_close};
    sched_resolver rs = {NULL, never_mx};
    sched *s = sched_new(base, cfg, sp, &ag, &rs);
    restore_all(s);
    json_decref(sched_status(s));
    sched_free(s);
    unlink(path);
    return 0;
}
