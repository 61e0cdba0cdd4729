/* advise.h - `sluice doctor advise`: findings turned into concrete changes.  From the log
 * analysis (loganalyze.h) and the finer facts of advise_scan.h, the sluice configuration, a
 * Postfix main.cf (with master.cf when found next to it) and what a running sluiced learned
 * (its "status"), it computes one piece of advice per topic - the retry schedule, each
 * destination's concurrency, rate delay, messages per connection and recipients per
 * transaction, warm-up, authentication, what no setting fixes - each with the figures it was
 * computed from and the log lines that show them; and the changes that carry them out, for
 * sluice (sluice.conf, `name = value;`) and for Postfix (main.cf lines, and a dedicated
 * transport - master.cf service, transport map entry, TRANSPORT_destination_* settings -
 * when only a few destinations need a limit).  The rules and their thresholds are written
 * down in docs/doctor.md ("doctor advise").
 *
 *   advise_in in = {...};
 *   advise *a = advise_run(&in);
 *   advise_report(a, r);        // checks, diffs, lint, what sluice learned
 *   advise_free(a);
 * The advise keeps pointers into in (which must outlive it); everything else it owns. */
#ifndef SLUICE_ADVISE_H
#define SLUICE_ADVISE_H
#include <jansson.h>

#include "cli/cli.h"
#include "config/config.h"
#include "doctor/advise_scan.h"
#include "doctor/loganalyze.h"
#include "doctor/maincf.h"
#include "doctor/maincf_lint.h"
#include "doctor/report.h"

#define ADVISE_SLUICE_CONF "/etc/sluice/sluice.conf"

typedef struct advise_in {
    const loganalyzer *la;      /* finished; NULL without logs */
    const advise_scan *scan;    /* finished, over the same logs; NULL without logs */
    const sl_config *cfg;       /* the sluice configuration (never NULL) */
    const sl_config *defaults;  /* the built-in defaults, to say what cfg changed */
    const char *cfg_name;       /* where cfg came from ("built-in defaults" when nowhere) */
    const maincf *pf;           /* --postfix-config, or NULL */
    const mastercf *mc;         /* master.cf next to it, or NULL */
    const maincf_lint *lint;    /* the lint of pf, or NULL */
    json_t *status;             /* sluiced's "status" object, or NULL when not running */
} advise_in;

enum adv_target { AT_SLUICE, AT_MAIN, AT_MASTER, AT_TRANSPORT, AT_NTARGETS };

/* One line of a diff: a parameter (or a master.cf service, or a transport map entry). */
typedef struct adv_change {
    enum adv_target target;
    char *name;        /* parameter; AT_MASTER: the service; AT_TRANSPORT: the domain */
    char *value;       /* the suggested value (AT_MASTER / AT_TRANSPORT: the whole line);
                          NULL: delete the line */
    char *current;     /* the value in effect now, or NULL */
    char *from;        /* where current comes from ("line 12", "Postfix default", ...) */
    char *advice;      /* the id of the advice it carries out */
    char *comment;     /* one line shown above it */
} adv_change;

/* One piece of advice: a doctor check. */
#define ADV_EVIDENCE 10
typedef struct adv_item {
    enum check_status st;
    char *id, *title, *expected, *actual, *explanation;
    char *evidence[ADV_EVIDENCE];
    int nevidence;
    json_t *figures;   /* the numbers it was computed from (owned) */
} adv_item;

/* What one destination asks for (0: nothing). */
typedef struct adv_want {
    const char *domain;
    int conc, rate_delay_s, reuse, rcpt;
} adv_want;

typedef struct advise {
    const advise_in *in;
    adv_item *items;
    int nitems, capitems;
    adv_change *ch;
    int nch, capch;
    adv_want *wants;
    int nwants, capwants;
    int ndests;        /* destinations with attempts in the logs */
} advise;

/* advise_run - all the advice for in */
advise *advise_run(const advise_in *in);
void advise_free(advise *a);
/* advise_report - the advice as checks of r, the diffs as text, the lint, the data */
void advise_report(const advise *a, report *r);

/* Running it from the command line (advise_inputs.c). */
typedef struct advise_opts {
    const char *postfix_config;   /* main.cf, or NULL */
    const char *master_config;    /* master.cf, or NULL: the one next to main.cf if any */
    const char *const *logs;      /* log files ("-" stdin) */
    int nlogs;
    const char *const *rules;     /* --rules files for the classifier */
    int nrules;
    int year;                     /* for year-less time stamps (0: each file's mtime) */
    const sl_config *cfg;         /* the sluice configuration */
    const char *cfg_name;
    int64_t timeout_ms;           /* for the control socket */
    int no_daemon;                /* do not ask sluiced */
} advise_opts;

/* advise_build - read the inputs, advise, add it all to r; 0, or EX_NOINPUT (main.cf or
 * every log unreadable) / EX_CONFIG (a rules file), with the reason on stderr */
int advise_build(const advise_opts *o, report *r);
/* advise_sluice_config - the configuration of -c/-o, else ADVISE_SLUICE_CONF when it exists,
 * else the built-in defaults; *name says which; NULL with *failed after an error (printed) */
sl_config *advise_sluice_config(const cli_globals *g, const char **name, int *failed);
/* advise_sluiced_status - the running sluiced's "status" object, or NULL (caller decrefs) */
json_t *advise_sluiced_status(const sl_config *cfg, int64_t timeout_ms);

/* For tests and doctor_all. */
const adv_item *advise_item(const advise *a, const char *id);
/* advise_change - the change of name for target (AT_MASTER: service, AT_TRANSPORT: domain) */
const adv_change *advise_change(const advise *a, enum adv_target t, const char *name);
const char *advise_target_name(enum adv_target t);
/* advise_json - items and changes as the report's data (caller decrefs) */
json_t *advise_json(const advise *a);

#endif
