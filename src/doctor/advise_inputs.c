/* advise_inputs.c - gathering what `doctor advise` reads and running it into a report
 * (advise_build, used by `doctor advise` and by `doctor` without a subcommand): the sluice
 * configuration (-c/-o, else ADVISE_SLUICE_CONF when it exists, else the built-in
 * defaults), a Postfix main.cf and the master.cf next to it, the logs (read twice: by the log
 * analyzer and by advise_scan; standard input is copied to a temporary file first), the
 * reply classifier with the administrator's rules, and sluiced's status over the control
 * socket when it runs (bounded by the timeout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "doctor/advise_int.h"

sl_config *advise_sluice_config(const cli_globals *g, const char **name, int *failed)
{
    char err[1024];
    *failed = 0;
    if (g && (g->config_file || g->noverrides)) {
        sl_config *c = cli_config(g, "sluice doctor");
        *failed = !c;
        *name = g->config_file ? g->config_file : "-o settings";
        return c;
    }
    if (access(ADVISE_SLUICE_CONF, R_OK) == 0) {
        sl_config *c = config_load(ADVISE_SLUICE_CONF, NULL, 0, err, sizeof err);
        if (!c)
            fprintf(stderr, "sluice doctor: configuration error: %s\n", err);
        *failed = !c;
        *name = ADVISE_SLUICE_CONF;
        return c;
    }
    *name = "built-in defaults";
    return config_load(NULL, NULL, 0, err, sizeof err);
}

json_t *advise_sluiced_status(const sl_config *cfg, int64_t timeout_ms)
{
    ctl_client c;
    if (ctl_connect(&c, cfg->queue_directory) < 0)
        return NULL;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    json_t *resp = NULL, *st = NULL;
    if (ctl_request(&c, json_pack("{s:s}", "cmd", "status"), NULL, 0) == 0 && (resp = ctl_response(&c)) &&
        json_is_true(json_object_get(resp, "ok")))
        st = json_incref(json_object_get(resp, "status"));
    json_decref(resp);
    ctl_close(&c);
    return st;
}

/* spool_stdin - standard input into a temporary file (it is read twice); its path or NULL */
static char *spool_stdin(void)
{
    char path[] = "/tmp/sluice-advise-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        if (write(fd, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    close(fd);
    if (n < 0) {
        unlink(path);
        return NULL;
    }
    return xstrdup(path);
}

/* The inputs being gathered. */
typedef struct inputs {
    classifier *cls;
    loganalyzer *la;
    advise_scan *scan;
    maincf *pf;
    mastercf *mc;
    maincf_lint *lint;
    sl_config *defaults;
    json_t *status;
    int files_ok, files_bad;
    char *tmp;
} inputs;

/* load_classifier - the shipped rules, the configuration's and --rules files; -1 when a
 * rules file does not load */
static int load_classifier(inputs *x, const advise_opts *o)
{
    char err[512];
    x->cls = classifier_new(err, sizeof err);
    if (!x->cls) {
        fprintf(stderr, "sluice doctor advise: the reply classifier did not load: %s\n", err);
        return 0;
    }
    for (int i = 0; i < o->cfg->reply_class_rules.n; i++)
        if (classifier_load(x->cls, o->cfg->reply_class_rules.v[i], err, sizeof err) < 0)
            fprintf(stderr, "sluice doctor advise: %s (ignored)\n", err);
    for (int i = 0; i < o->nrules; i++)
        if (classifier_load(x->cls, o->rules[i], err, sizeof err) < 0) {
            fprintf(stderr, "sluice doctor advise: %s\n", err);
            return -1;
        }
    return 0;
}

/* feed_logs - every log file into the analyzer and the scan */
static void feed_logs(inputs *x, const advise_opts *o)
{
    char err[512];
    x->la = la_new(x->cls, &(la_opts){.year = o->year});
    x->scan = as_new(x->cls, o->year);
    for (int i = 0; i < o->nlogs; i++) {
        const char *path = o->logs[i];
        if (!strcmp(path, "-")) {
            if (!x->tmp)
                x->tmp = spool_stdin();
            path = x->tmp ? x->tmp : "-";
        }
        if (la_feed_file(x->la, path, err, sizeof err) < 0) {
            fprintf(stderr, "sluice doctor advise: %s\n", err);
            x->files_bad++;
            continue;
        }
        if (as_feed_file(x->scan, path, err, sizeof err) < 0)
            fprintf(stderr, "sluice doctor advise: %s\n", err);
        x->files_ok++;
    }
    la_finish(x->la);
    as_finish(x->scan);
}

/* master_path - master.cf next to main.cf, when there is one (into buf) */
static const char *master_path(const advise_opts *o, char *buf, size_t n)
{
    if (o->master_config)
        return o->master_config;
    const char *slash = strrchr(o->postfix_config, '/');
    snprintf(buf, n, "%.*smaster.cf", slash ? (int)(slash - o->postfix_config + 1) : 0, o->postfix_config);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* load_postfix - main.cf and master.cf; -1 when main.cf cannot be read */
static int load_postfix(inputs *x, const advise_opts *o)
{
    char err[512], buf[4096];
    if (!o->postfix_config)
        return 0;
    x->pf = maincf_load(o->postfix_config, err, sizeof err);
    if (!x->pf) {
        fprintf(stderr, "sluice doctor advise: %s\n", err);
        return -1;
    }
    const char *mp = master_path(o, buf, sizeof buf);
    if (mp && !(x->mc = mastercf_load(mp, err, sizeof err)))
        fprintf(stderr, "sluice doctor advise: %s (master.cf not checked)\n", err);
    x->lint = maincf_lint_run(x->pf, x->mc);
    return 0;
}

/* inputs_free - everything gathered */
static void inputs_free(inputs *x)
{
    la_free(x->la);
    as_free(x->scan);
    maincf_lint_free(x->lint);
    maincf_free(x->pf);
    mastercf_free(x->mc);
    config_free(x->defaults);
    json_decref(x->status);
    if (x->cls)
        classifier_free(x->cls);
    if (x->tmp)
        unlink(x->tmp);
    free(x->tmp);
}

/* inputs_check - what was read, as an info check */
static void inputs_check(report *r, const inputs *x, const advise_opts *o)
{
    char logs[200] = "no logs";
    if (o->nlogs) {
        const la_summary *s = la_get_summary(x->la);
        snprintf(logs, sizeof logs, "%d log file(s), %ld lines, %ld attempts", x->files_ok, s->lines, s->attempts);
    }
    report_checkf(r, CK_INFO, "inputs", "What the advice is based on", "logs and settings", logs,
                          "sluice: %s%s; Postfix: %s%s%s", o->cfg_name, x->status ? " (sluiced running)" : "",
                          x->pf ? x->pf->path : "no main.cf (Postfix defaults)", x->mc ? ", " : "",
                          x->mc ? x->mc->path : "");
    if (x->files_bad)
        report_checkf(r, CK_WARN, "files", "log files read", NULL, NULL,
                      "%d of %d file(s) could not be read (see the messages above)", x->files_bad, o->nlogs);
}

int advise_build(const advise_opts *o, report *r)
{
    inputs x = {0};
    char err[256];
    int rc = load_classifier(&x, o) < 0 ? EX_CONFIG : load_postfix(&x, o) < 0 ? EX_NOINPUT : 0;
    if (!rc && o->nlogs)
        feed_logs(&x, o);
    if (!rc && o->nlogs && !x.files_ok && !x.pf)
        rc = EX_NOINPUT;
    if (!rc) {
        x.defaults = config_load(NULL, NULL, 0, err, sizeof err);
        x.status = o->no_daemon ? NULL : advise_sluiced_status(o->cfg, o->timeout_ms);
        advise_in in = {o->nlogs ? x.la : NULL, o->nlogs ? x.scan : NULL, o->cfg, x.defaults, o->cfg_name,
                        x.pf, x.mc, x.lint, x.status};
        inputs_check(r, &x, o);
        advise *a = advise_run(&in);
        advise_report(a, r);
        advise_free(a);
    }
    inputs_free(&x);
    return rc;
}
