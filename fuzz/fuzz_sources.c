/* fuzz_sources.c - libFuzzer target for the sending-address parameters read by
 * sched/sched_source.c: smtp_source_classes ("CLASS ADDR [ADDR...]"), smtp_source_class_maps,
 * smtp_source_default_class and ip_warmup_schedule ("ADDRESS YYYY-MM-DD TARGET [START
 * [FACTOR [PERIOD]]]"), with smtp_bind_address(6) for the schedule without classes.  Input:
 * one "name=value" override per line, applied like sluiced's -o.  Beyond "no crash, no
 * leak", it checks: sched_sources_check and the table the scheduler builds agree; a refusal
 * says why; in an accepted table every class has addresses of one family, every address
 * one class, the default class exists, every schedule is in its documented ranges, and the
 * daily cap starts at START or TARGET, never falls while it grows, never exceeds TARGET,
 * and once uncapped stays uncapped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/config.h"
#include "sched/sched_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_schedule - the documented ranges, and the daily cap over 200 periods */
static void check_schedule(const src_addr *a)
{
    check(a->target >= 1 && a->start >= 1 && a->factor > 1 && a->factor <= 10);
    check(a->period_days >= 1 && a->period_days <= 365 && a->from_day >= 0);
    long long first = src_cap(a, a->from_day - 1), prev = first;
    check(first == (a->start < a->target ? a->start : a->target));
    for (long long p = 0; p < 200; p++) {
        long long cap = src_cap(a, a->from_day + p * a->period_days);
        check(cap == -1 || (cap >= 1 && cap <= a->target));
        check(cap == -1 || (prev != -1 && cap >= prev));
        prev = cap;
    }
}

/* check_table - the invariants of an accepted table */
static void check_table(const src_table *t)
{
    check(t->ncls == 0 || (t->default_cls >= 0 && t->default_cls < t->ncls));
    for (int i = 0; i < t->ncls; i++) {
        const src_class *c = &t->cls[i];
        check(c->name && c->name[0] && c->n >= 1);
        for (int k = 0; k < c->n; k++) {
            check(c->addrs[k] >= 0 && c->addrs[k] < t->naddr && t->addr[c->addrs[k]].cls == i);
            check(t->addr[c->addrs[k]].a.ss.ss_family == t->addr[c->addrs[0]].a.ss.ss_family);
        }
    }
    for (int i = 0; i < t->naddr; i++) {
        check(t->addr[i].cls >= 0 && t->addr[i].cls < t->ncls && t->addr[i].ip[0]);
        if (t->addr[i].warm)
            check_schedule(&t->addr[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        log_set_level(SL_FATAL);
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *ov[17];
    int n = 0;
    for (char *line = strtok(buf, "\n"); line && n < 16; line = strtok(NULL, "\n"))
        ov[n++] = line;
    ov[n++] = "myhostname=fuzz.test";   /* never ask the resolver */
    char err[512], err2[512];
    sl_config *c = config_load_text("", "fuzz.conf", ov, n, err, sizeof err);
    if (c) {
        src_table t;
        err[0] = err2[0] = 0;
        int rc = sched_sources_check(c, err, sizeof err);
        int rc2 = src_table_init(&t, c, err2, sizeof err2);
        check(rc == rc2 && (rc == 0 || (err[0] && !strcmp(err, err2))));
        if (rc2 == 0)
            check_table(&t);
        src_table_free(&t);
        config_free(c);
    }
    free(buf);
    return 0;
}
