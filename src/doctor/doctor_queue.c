/* doctor_queue.c - `sluice doctor queue [--from auto|sluice|postfix|exim|sendmail] [--now T]
 * [--warn-size N] [--fail-size N] [--warn-age D] [--fail-age D] [--rows N] [--rules FILE]
 * [FILE|-]`: the qshape grid of the queue (destinations x time in the queue) with the top
 * delay reason per destination and its class (queueparse.h, queueparse_report.h).
 * A FILE (plain or gzip) may hold any supported listing, detected (--from narrows it);
 * without one: the running sluiced's queue (control socket), else the first of postqueue -j,
 * postqueue -p, exim -bp, mailq that works on this host, each killed after --timeout.
 * Exit status: 0 fine, 1 warnings, 2 failures; 64 usage, 66 no such file, 69 no queue. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/units.h"
#include "common/xmalloc.h"
#include "doctor/doctor.h"
#include "doctor/queueparse_report.h"

static const char *prog = "sluice doctor queue";

enum from { FROM_AUTO, FROM_SLUICE, FROM_POSTFIX, FROM_EXIM, FROM_SENDMAIL };
static const char *const from_names[] = {"auto", "sluice", "postfix", "exim", "sendmail"};

typedef struct queue_args {
    enum from from;
    const char *file;
    int64_t now;
    qreport_opts ro;
    const char **rules;
    int nrules;
} queue_args;

/* One attempt at reading a queue: the parser feeding the grid. */
typedef struct reading {
    qparser *p;
    qshape *s;
    char source[256];
} reading;

/* usage - the synopsis */
static int usage(FILE *f)
{
    fprintf(f, "usage: sluice doctor queue [--from auto|sluice|postfix|exim|sendmail] [--now EPOCH]\n"
               "                           [--warn-size N] [--fail-size N] [--warn-age 4h] [--fail-age 1d]\n"
               "                           [--rows N] [--rules FILE] [--json] [FILE|-]\n");
    return EX_USAGE;
}

/* age_arg - a duration with Postfix units (default hours) */
static int age_arg(const char *v, int64_t *s)
{
    int64_t ms;
    if (units_parse_time(v, 'h', &ms) < 0 || ms <= 0)
        return -1;
    *s = ms / 1000;
    return 0;
}

/* option - one option with its value; -1 when bad */
static int option(queue_args *a, const char *k, const char *v)
{
    if (!strcmp(k, "--from")) {
        for (int i = 0; i < 5; i++)
            if (!strcmp(v, from_names[i])) {
                a->from = (enum from)i;
                return 0;
            }
        return -1;
    }
    if (!strcmp(k, "--now"))
        return (a->now = atoll(v)) > 0 ? 0 : -1;
    if (!strcmp(k, "--warn-size"))
        return (a->ro.warn_size = atol(v)) > 0 ? 0 : -1;
    if (!strcmp(k, "--fail-size"))
        return (a->ro.fail_size = atol(v)) > 0 ? 0 : -1;
    if (!strcmp(k, "--rows"))
        return (a->ro.max_rows = atoi(v)) >= 0 ? 0 : -1;
    if (!strcmp(k, "--warn-age"))
        return age_arg(v, &a->ro.warn_age_s);
    if (!strcmp(k, "--fail-age"))
        return age_arg(v, &a->ro.fail_age_s);
    if (!strcmp(k, "--rules")) {
        a->rules[a->nrules++] = v;
        return 0;
    }
    return -1;
}

/* parse_args - options and the optional FILE; -1 on a bad one */
static int parse_args(const doctor_opts *o, int argc, char **argv, queue_args *a)
{
    a->now = (int64_t)time(NULL);
    a->ro = (qreport_opts){1000, 10000, 4 * 3600, 86400, o->json ? 0 : 30};
    a->rules = xcalloc((size_t)argc + 1, sizeof *a->rules);
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            if (i + 1 >= argc || option(a, argv[i], argv[i + 1]) < 0)
                return -1;
            i++;
        } else if (!a->file) {
            a->file = argv[i];
        } else {
            return -1;
        }
    }
    return a->ro.fail_size < a->ro.warn_size || a->ro.fail_age_s < a->ro.warn_age_s ? -1 : 0;
}

/* allowed - the formats a FILE may be in, by --from */
static unsigned allowed(enum from f)
{
    static const unsigned masks[] = {0, 1u << QF_JSON, (1u << QF_JSON) | (1u << QF_POSTFIX), 1u << QF_EXIM,
                                     1u << QF_SENDMAIL};
    return masks[f];
}

/* reading_new - a fresh parser and grid */
static void reading_new(reading *rd, const queue_args *a, const classifier *c)
{
    rd->s = qs_new(c, a->now);
    rd->p = qp_new(QF_AUTO, allowed(a->from), a->now, qs_add, rd->s);
    rd->source[0] = 0;
}

/* reading_free - the parser and grid of an attempt (rd can be reused) */
static void reading_free(reading *rd)
{
    qp_free(rd->p);
    qs_free(rd->s);
    rd->p = NULL;
    rd->s = NULL;
}

/* on_line - a line of FILE */
static void on_line(void *arg, const char *line, size_t len)
{
    qp_line(arg, line, len);
}

/* from_sluice - the daemon's queue; 0 read, 1 not running, -1 failed */
static int from_sluice(const doctor_opts *o, reading *rd, char *err, size_t errlen)
{
    sl_config *cfg = config_load(o->g->config_file, o->g->overrides, o->g->noverrides, err, (int)errlen);
    if (!cfg)
        return 1;
    int rc = qsrc_sluice(cfg->queue_directory, o->timeout_ms, rd->p, err, errlen);
    if (rc == 0)
        snprintf(rd->source, sizeof rd->source, "sluiced's queue in %.200s", cfg->queue_directory);
    config_free(cfg);
    return rc;
}

/* from_command - the first of the commands for an MTA that runs; 0 read, 1 none found */
static int from_command(const doctor_opts *o, enum from f, reading *rd, const queue_args *a, const classifier *c,
                        char *err, size_t errlen)
{
    static const struct {
        enum from f;
        const char *prog, *arg;
    } cmds[] = {{FROM_POSTFIX, "postqueue", "-j"}, {FROM_POSTFIX, "postqueue", "-p"}, {FROM_EXIM, "exim", "-bp"},
                {FROM_EXIM, "exim4", "-bp"},      {FROM_SENDMAIL, "mailq", NULL}};
    int found = 0;
    char path[4096];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if ((f != FROM_AUTO && cmds[i].f != f) || !qsrc_find(cmds[i].prog, path, sizeof path))
            continue;
        found = 1;
        char *argv[] = {path, (char *)cmds[i].arg, NULL};
        reading_free(rd);
        reading_new(rd, a, c);
        if (qsrc_run(argv, o->timeout_ms, rd->p, err, errlen) == 0) {
            snprintf(rd->source, sizeof rd->source, "%.200s%s%s", path, cmds[i].arg ? " " : "",
                     cmds[i].arg ? cmds[i].arg : "");
            return 0;
        }
        fprintf(stderr, "%s: %s\n", prog, err);
    }
    if (!found)
        snprintf(err, errlen, "no running sluiced and no postqueue, exim or mailq on this host");
    return 1;
}

/* read_queue - FILE, or the host's queue; 0, or an exit status */
static int read_queue(const doctor_opts *o, const queue_args *a, const classifier *c, reading *rd)
{
    char err[1024] = "";
    reading_new(rd, a, c);
    if (a->file) {
        lp_read_info info = {0};
        if (lp_read_lines(a->file, on_line, rd->p, &info, err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return EX_NOINPUT;
        }
        snprintf(rd->source, sizeof rd->source, "%.250s", strcmp(a->file, "-") ? a->file : "standard input");
        return 0;
    }
    if (a->from == FROM_AUTO || a->from == FROM_SLUICE) {
        int rc = from_sluice(o, rd, err, sizeof err);
        if (rc == 0)
            return 0;
        if (rc < 0 || a->from == FROM_SLUICE) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return rc < 0 ? EX_IOERR : EX_UNAVAILABLE;
        }
    }
    if (from_command(o, a->from, rd, a, c, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "%s: %s; give the listing as FILE (e.g. postqueue -j > q.json)\n", prog, err);
    return EX_UNAVAILABLE;
}

/* make_classifier - the shipped rules and --rules files; NULL when they do not load */
static classifier *make_classifier(const queue_args *a, int *bad)
{
    char err[512];
    classifier *c = classifier_new(err, sizeof err);
    if (!c)
        fprintf(stderr, "%s: the reply classifier did not load: %s\n", prog, err);
    for (int i = 0; c && i < a->nrules; i++)
        if (classifier_load(c, a->rules[i], err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            *bad = 1;
        }
    return c;
}

int doctor_queue(const doctor_opts *o, int argc, char **argv)
{
    queue_args a = {0};
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        usage(stdout);
        return EX_OK;
    }
    if (parse_args(o, argc, argv, &a) < 0) {
        free(a.rules);
        return usage(stderr);
    }
    int bad = 0;
    classifier *c = make_classifier(&a, &bad);
    reading rd = {0};
    int rc = bad ? EX_CONFIG : read_queue(o, &a, c, &rd);
    if (rc == 0) {
        qp_end(rd.p);
        qs_finish(rd.s);
        report *r = report_new("queue", rd.source);
        if (!c)
            report_check(r, CK_WARN, "classifier", "reply classifier", "the shipped rules", "not available",
                         "reasons were classed only as permanent (5xx) or other");
        qreport_build(r, rd.p, rd.s, rd.source, &a.ro);
        report_print(r, stdout, o->json);
        rc = report_exit_code(r);
        report_free(r);
    }
    reading_free(&rd);
    if (c)
        classifier_free(c);
    free(a.rules);
    return rc;
}
