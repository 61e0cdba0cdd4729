/* doctor_logs.c - `sluice doctor logs [--year Y] [--timelines N|all] [--domain D]...
 * [--rules FILE] [--rows N] FILE...`: read mail logs (plain or gzip; any MTA's format, see
 * logparse.h; "-" is stdin; without FILE, sluice's maillog_file), classify every reply,
 * and say per destination what is going on and why (loganalyze.h), as text or --json.
 * Exit status: 0 nothing to worry about, 1 warnings, 2 failures; 64 usage, 66 no input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "doctor/loganalyze.h"
#include "doctor/report.h"

static const char *prog = "sluice doctor logs";

typedef struct logs_args {
    la_opts la;
    la_report_opts ro;
    const char **files, **domains, **rules;
    int nfiles, nrules;
} logs_args;

/* usage - the synopsis */
static int usage(FILE *f)
{
    fprintf(f, "usage: sluice doctor logs [--year Y] [--timelines N|all] [--domain D]... [--rules FILE]...\n"
               "                          [--rows N] [--json] FILE...   (plain or .gz; - for stdin)\n");
    return EX_USAGE;
}

/* parse_args - options and files; -1 on a bad option */
static int parse_args(const doctor_opts *o, int argc, char **argv, logs_args *a)
{
    a->ro.max_timelines = o->json ? 10000 : 20;
    a->ro.max_rows = o->json ? 0 : 40;
    a->files = calloc((size_t)argc + 1, sizeof *a->files);
    a->domains = calloc((size_t)argc + 1, sizeof *a->domains);
    a->rules = calloc((size_t)argc + 1, sizeof *a->rules);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--year") && v)
            a->la.year = atoi(argv[++i]);
        else if (!strcmp(s, "--timelines") && v)
            a->ro.max_timelines = !strcmp(argv[++i], "all") ? -1 : atol(v);
        else if (!strcmp(s, "--rows") && v)
            a->ro.max_rows = atoi(argv[++i]);
        else if (!strcmp(s, "--domain") && v)
            a->domains[a->ro.ndomains++] = argv[++i];
        else if (!strcmp(s, "--rules") && v)
            a->rules[a->nrules++] = argv[++i];
        else if (s[0] == '-' && s[1])
            return -1;
        else
            a->files[a->nfiles++] = s;
    }
    a->ro.domains = a->domains;
    return a->la.year < 0 || a->ro.max_rows < 0 ? -1 : 0;
}

/* default_log - sluice's own maillog_file when no FILE was given */
static const char *default_log(const doctor_opts *o, sl_config **cfg)
{
    *cfg = cli_config(o->g, prog);
    if (*cfg && (*cfg)->maillog_file && (*cfg)->maillog_file[0] && access((*cfg)->maillog_file, R_OK) == 0)
        return (*cfg)->maillog_file;
    return NULL;
}

/* make_classifier - the shipped rules plus --rules files; NULL (and a message) on failure */
static classifier *make_classifier(const logs_args *a, int *bad_rules)
{
    char err[512];
    classifier *c = classifier_new(err, sizeof err);
    if (!c) {
        fprintf(stderr, "%s: the reply classifier did not load: %s\n", prog, err);
        return NULL;
    }
    for (int i = 0; i < a->nrules; i++)
        if (classifier_load(c, a->rules[i], err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            *bad_rules = 1;
        }
    return c;
}

/* feed_all - every file; the number that could be read */
static int feed_all(loganalyzer *la, const logs_args *a)
{
    int ok = 0;
    char err[512];
    for (int i = 0; i < a->nfiles; i++) {
        if (la_feed_file(la, a->files[i], err, sizeof err) < 0)
            fprintf(stderr, "%s: %s\n", prog, err);
        else
            ok++;
    }
    return ok;
}

/* run - analyse and report */
static int run(const doctor_opts *o, logs_args *a)
{
    int bad_rules = 0;
    classifier *c = make_classifier(a, &bad_rules);
    if (bad_rules) {
        if (c)
        classifier_free(c);
        return EX_CONFIG;
    }
    loganalyzer *la = la_new(c, &a->la);
    int ok = feed_all(la, a);
    int rc = EX_NOINPUT;
    if (ok) {
        la_finish(la);
        char subject[256];
        snprintf(subject, sizeof subject, "%s%s", a->files[0], a->nfiles > 1 ? " ..." : "");
        report *r = report_new("logs", subject);
        if (ok < a->nfiles)
            report_checkf(r, CK_WARN, "files", "log files read", NULL, NULL,
                          "%d of %d file(s) could not be read (see the messages above); the rest were",
                          a->nfiles - ok, a->nfiles);
        la_report(la, r, &a->ro);
        report_print(r, stdout, o->json);
        rc = report_exit_code(r);
        report_free(r);
    }
    la_free(la);
    if (c)
        classifier_free(c);
    return rc;
}

int doctor_logs(const doctor_opts *o, int argc, char **argv)
{
    logs_args a = {0};
    sl_config *cfg = NULL;
    int rc;
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        usage(stdout);
        return EX_OK;
    }
    if (parse_args(o, argc, argv, &a) < 0) {
        rc = usage(stderr);
    } else {
        if (!a.nfiles && (a.files[0] = default_log(o, &cfg)))
            a.nfiles = 1;
        rc = a.nfiles ? run(o, &a) : usage(stderr);
    }
    config_free(cfg);
    free(a.files);
    free(a.domains);
    free(a.rules);
    return rc;
}
