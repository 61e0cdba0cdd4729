/* test_util_doctor.c - helpers shared by the doctor unit tests (see test_util_doctor.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util_doctor.h"


const char *report_check_status(json_t *rep, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rep, "checks"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "id")), id))
            return json_string_value(json_object_get(c, "status"));
    return "";
}

int mismatches;

void check_done(void)
{
    int n = mismatches;
    mismatches = 0;
    assert_int_equal(n, 0);
}

classifier *shipped_cls;

int shipped_cls_setup(void **state)
{
    (void)state;
    char err[256];
    shipped_cls = classifier_new(err, sizeof err);
    return shipped_cls ? 0 : -1;
}

int shipped_cls_teardown(void **state)
{
    (void)state;
    classifier_free(shipped_cls);
    return 0;
}
