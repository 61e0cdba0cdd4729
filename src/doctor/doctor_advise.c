/* doctor_advise.c - `sluice doctor advise [--postfix-config main.cf] [--master-config
 * master.cf] [--logs FILE...] [--year Y] [--rules FILE]`: the findings of the logs and the
 * settings turned into changes, for sluice and for Postfix (advise.h), and the lint of a
 * Postfix main.cf (maincf_lint.h).  Without --logs, sluice's maillog_file when it is set.
 * Exit status: 0 nothing to change, 1 changes suggested, 2 failures (reputation,
 * authentication, a main.cf Postfix refuses); 64 usage, 66 no input could be read, 78 a
 * configuration or rules file does not load. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor/advise.h"
#include "doctor/doctor.h"

static const char *const usage_text =
    "usage: sluice doctor advise [--postfix-config main.cf] [--master-config master.cf]\n"
    "                            [--logs FILE...] [--year Y] [--rules FILE] [--no-daemon] [--json]\n";

/* usage - the synopsis on f */
static int usage(FILE *f)
{
    fputs(usage_text, f);
    return EX_USAGE;
}

/* option - one option with a value; -1 when unknown or bad */
static int option(advise_opts *a, const char **rules, const char *k, const char *v)
{
    if (!strcmp(k, "--postfix-config"))
        a->postfix_config = v;
    else if (!strcmp(k, "--master-config"))
        a->master_config = v;
    else if (!strcmp(k, "--rules"))
        rules[a->nrules++] = v;
    else if (!strcmp(k, "--year"))
        return (a->year = atoi(v)) >= 1970 ? 0 : -1;
    else
        return -1;
    return 0;
}

/* parse_args - options; --logs takes every following argument up to the next option */
static int parse_args(int argc, char **argv, advise_opts *a, const char **logs, const char **rules)
{
    int in_logs = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--logs")) {
            in_logs = 1;
        } else if (!strcmp(s, "--no-daemon")) {
            a->no_daemon = 1;
            in_logs = 0;
        } else if (s[0] == '-' && s[1] == '-') {
            if (i + 1 >= argc || option(a, rules, s, argv[i + 1]) < 0)
                return -1;
            i++;
            in_logs = 0;
        } else if (in_logs) {
            logs[a->nlogs++] = s;
        } else {
            return -1;
        }
    }
    return 0;
}

/* subject - what the report is about */
static void subject(const advise_opts *a, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s", a->postfix_config ? a->postfix_config : "", a->postfix_config && a->nlogs ? " + " : "",
             a->nlogs ? a->logs[0] : "", a->nlogs > 1 ? " ..." : "");
    if (!buf[0])
        snprintf(buf, n, "%s", a->cfg_name);
}

int doctor_advise(const doctor_opts *o, int argc, char **argv)
{
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        fputs(usage_text, stdout);
        return EX_OK;
    }
    const char **logs = calloc((size_t)argc + 2, sizeof *logs), **rules = calloc((size_t)argc + 1, sizeof *rules);
    advise_opts a = {.logs = logs, .rules = rules, .timeout_ms = o->timeout_ms};
    int failed = 0, rc;
    sl_config *cfg = NULL;
    if (parse_args(argc, argv, &a, logs, rules) < 0) {
        rc = usage(stderr);
    } else if (!(cfg = advise_sluice_config(o->g, &a.cfg_name, &failed))) {
        rc = EX_CONFIG;
    } else {
        if (!a.nlogs && cfg->maillog_file[0] == '/' && access(cfg->maillog_file, R_OK) == 0)
            logs[a.nlogs++] = cfg->maillog_file;
        a.cfg = cfg;
        char subj[600];
        subject(&a, subj, sizeof subj);
        report *r = report_new("advise", subj);
        rc = advise_build(&a, r);
        if (!rc) {
            report_print(r, stdout, o->json);
            rc = report_exit_code(r);
        }
        report_free(r);
    }
    config_free(cfg);
    free(logs);
    free(rules);
    return rc;
}
