/* fuzz_sink_opts.c - libFuzzer target for the command line of `sluice sink`
 * (sink_opts_parse, sink/sink_opts.c): every option's value grammar (seconds with units,
 * N/SECONDS, DELAY[:EXPIRE], /BITS[,/BITS], probabilities, stages, "CODE TEXT" replies,
 * regexes, sizes), --listen addresses with port 0, and the per-listener policy sets built
 * on the defaults.  Input: one argument per line (argv[0] "sink" is added).  Inputs naming
 * /dev or /proc are skipped (a script read from a terminal or a pipe would wait).  Beyond
 * "no crash, no leak", it checks: the result is an error with a message, --help, or a
 * configuration where every listener has an address that parses and a policy set whose
 * values are in their documented ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_policy - the documented ranges of a built policy */
static void check_policy(const sink_policy *p)
{
    check(p->grey_bits4 >= 0 && p->grey_bits4 <= 32 && p->grey_bits6 >= 0 && p->grey_bits6 <= 128);
    check(!p->greylist || p->grey_expire_us > p->grey_delay_us);
    check(p->grey_code >= 400 && p->grey_code <= 599 && memchr(p->grey_text, 0, sizeof p->grey_text));
    check(p->overload >= 0 && p->overload <= 1 && p->drop >= 0 && p->drop <= 1);
    check(p->nmaint >= 0 && p->nmaint <= SINK_MAINT_MAX && p->max_size >= 0 && p->max_rcpts >= 0);
    for (int i = 0; i < p->nmaint; i++)
        check(p->maint[i].end_us > p->maint[i].start_us);
    check(p->tarpit_us >= 0 && p->tarpit_us <= 3600 * 1000000LL && p->timeout_us >= 1000);
    check(!p->rate_n || (p->rate_n >= 1 && p->rate_window_us > 0));
}

/* check_conf - a parsed command line */
static void check_conf(const sink_conf *c)
{
    check(c->nlis >= 1 && c->nsets >= 1 && c->seed <= INT64_MAX);
    for (int i = 0; i < c->nlis; i++) {
        netaddr a;
        const char *why;
        check(c->lis[i].addr && sink_parse_listen(c->lis[i].addr, &a, &why) == 0 && c->lis[i].set);
        check_policy(&c->lis[i].set->p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    if (strstr(buf, "/dev") || strstr(buf, "/proc")) {
        free(buf);
        return 0;
    }
    char *argv[65] = {"sink"};
    int argc = 1;
    for (char *save = NULL, *a = strtok_r(buf, "\n", &save); a && argc < 64; a = strtok_r(NULL, "\n", &save))
        argv[argc++] = a;
    sink_conf c;
    char err[512] = "";
    int rc = sink_opts_parse(&c, argc, argv, err, sizeof err);
    check(rc == 0 || rc == 1 || (rc == -1 && err[0]));
    if (rc == 0)
        check_conf(&c);
    sink_opts_free(&c);
    free(buf);
    return 0;
}
