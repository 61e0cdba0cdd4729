/* report.h - how every `sluice doctor` subcommand reports: a list of checks, each pass,
 * warn, fail or info, with what was expected, what was found and a one-line explanation;
 * printed as text (coloured on a terminal) or as JSON (a documented, versioned schema, see
 * docs/doctor.md), and turned into the exit status: 0 all pass, 1 warnings, 2 failures.
 *
 * JSON (schema "sluice-doctor/1"):
 *   {"schema":"sluice-doctor/1","command":"ip","subject":"192.0.2.1","status":"warn",
 *    "checks":[{"id":"ptr","status":"pass","title":"...","expected":"...","actual":"...",
 *               "explanation":"...","evidence":["..."],"data":{...}}],
 *    "data":{...}}
 * A subcommand may attach free-form data to a check or to the whole report (e.g. the
 * qshape grid, per-destination verdicts). */
#ifndef SLUICE_REPORT_H
#define SLUICE_REPORT_H
#include <jansson.h>
#include <stdio.h>

enum check_status { CK_PASS, CK_INFO, CK_WARN, CK_FAIL };

typedef struct report report;

/* report_new - a report for command (e.g. "ip") about subject (e.g. "192.0.2.1") */
report *report_new(const char *command, const char *subject);
void report_free(report *r);

/* report_check - add a check; expected/actual/explanation may be NULL; returns its index */
int report_check(report *r, enum check_status st, const char *id, const char *title,
                 const char *expected, const char *actual, const char *explanation);
/* report_checkf - the same with a printf-style explanation */
int report_checkf(report *r, enum check_status st, const char *id, const char *title,
                  const char *expected, const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* report_evidence - quote an evidence line (a log line, a reply) under check i */
void report_evidence(report *r, int i, const char *line);
/* report_check_data - attach JSON data to check i (steals d) */
void report_check_data(report *r, int i, json_t *d);
/* report_data - attach JSON data to the whole report under key (steals d) */
void report_data(report *r, const char *key, json_t *d);
/* report_section - a heading for the text output (e.g. "mx1.example.com [192.0.2.1]") */
void report_section(report *r, const char *title);
/* report_text - free text shown in the text output only (tables, grids) */
void report_text(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report_status - the worst status of its checks */
enum check_status report_status(const report *r);
/* report_print - text (colour when out is a terminal and NO_COLOR is unset) or JSON */
void report_print(const report *r, FILE *out, int json);
/* report_json - the report as the JSON object report_print writes (caller owns it; NULL
 * when it cannot be made) */
json_t *report_json(const report *r);
/* report_exit_code - 0 pass/info, 1 warn, 2 fail */
int report_exit_code(const report *r);
const char *check_status_name(enum check_status s);

#endif
