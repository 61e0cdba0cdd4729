/* test_util_doctor.h - helpers shared by the doctor unit tests (test_doctor_*.c): a report
 * as the JSON it prints, a check's status in it, counting mismatched cases, and the shipped
 * classifier as a group fixture.  Built into the unit tests' helper
 * library (tests/CMakeLists.txt). */
#ifndef SLUICE_TEST_UTIL_DOCTOR_H
#define SLUICE_TEST_UTIL_DOCTOR_H
#include <jansson.h>

#include "doctor/report.h"
#include "shaping/classify.h"

#define NCASES(t) (sizeof(t) / sizeof((t)[0]))

/* mismatches - the cases of the running test that did not match (each reported where it
 * was found); check_done fails the test when there were any, and counts from 0 again */
extern int mismatches;
void check_done(void);

/* shipped_cls - the classifier with the shipped rules, between shipped_cls_setup and
 * shipped_cls_teardown (a cmocka group setup and teardown) */
extern classifier *shipped_cls;
int shipped_cls_setup(void **state);
int shipped_cls_teardown(void **state);

/* (report_json, r as the JSON report_print writes, is src/doctor/report.h's) */

/* report_check_status - the status of check id in a report's JSON, or "" when there is no
 * such check */
const char *report_check_status(json_t *rep, const char *id);

#endif
