/* test_util_doctor.h - helpers shared by the doctor unit tests (test_doctor_*.c): a report
 * as the JSON it prints, and a check's status in it.  Built into the unit tests' helper
 * library (tests/CMakeLists.txt). */
#ifndef SLUICE_TEST_UTIL_DOCTOR_H
#define SLUICE_TEST_UTIL_DOCTOR_H
#include <jansson.h>

#include "doctor/report.h"

/* report_json - r as the JSON report_print writes, parsed (fails the test if it does not
 * parse); json_decref it */
json_t *report_json(const report *r);

/* report_check_status - the status of check id in a report's JSON, or "" when there is no
 * such check */
const char *report_check_status(json_t *rep, const char *id);

#endif
