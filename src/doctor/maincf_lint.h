/* maincf_lint.h - what is wrong with a Postfix main.cf (and master.cf) for the seed's advice:
 * values and their units (bare numbers are in the parameter's own unit: seconds for the
 * backoff times, DAYS for the queue lifetimes), minimal_backoff_time above maximal, a
 * queue_run_delay longer than minimal_backoff_time, a concurrency limit next to a rate delay
 * (Postfix delivers one at a time to a destination with a rate delay), smtp_extra_recipient_limit
 * set as if it limited recipients per delivery, per-destination settings that do not reach
 * their transport, misspelled names, trailing "# comments", names set twice, lines Postfix
 * refuses.  Each finding is a doctor check (id "maincf:RULE[:NAME]") and may carry a fix: a
 * main.cf line to change (advise puts it in its Postfix diff). */
#ifndef SLUICE_MAINCF_LINT_H
#define SLUICE_MAINCF_LINT_H
#include "doctor/maincf.h"
#include "doctor/report.h"

typedef struct maincf_finding {
    enum check_status st;
    char *id, *title, *expected, *actual, *explanation;
    char *evidence[4];        /* "main.cf:12: name = value" lines */
    int nevidence;
    char *fix_name[2];        /* main.cf changes that mend it (nfix of them) */
    char *fix_value[2];       /* the new value; NULL: remove the line */
    int nfix;
} maincf_finding;

typedef struct maincf_lint {
    maincf_finding *f;
    int n, cap;
} maincf_lint;

/* maincf_lint_run - every rule over m (master.cf mc may be NULL: not given, not found) */
maincf_lint *maincf_lint_run(const maincf *m, const mastercf *mc);
void maincf_lint_free(maincf_lint *l);
/* maincf_lint_find - the first finding whose id starts with prefix, or NULL */
const maincf_finding *maincf_lint_find(const maincf_lint *l, const char *prefix);
/* maincf_lint_report - the findings as checks of r (in order), and a summary check */
void maincf_lint_report(const maincf_lint *l, const maincf *m, const mastercf *mc, report *r);

#endif
