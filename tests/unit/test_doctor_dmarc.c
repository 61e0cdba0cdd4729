/* test_doctor_dmarc.c - DMARC records for `sluice doctor domain` (src/doctor/dmarc.h):
 * recognition of v=DMARC1, the parser on a table of records (policies, pct, alignment,
 * report URIs with sizes, fo, unknown tags, every kind of error), the organizational
 * domain heuristic (table, with the cases it knows it gets wrong), mailto domains, and the
 * shared tag-list parser (src/doctor/taglist.h) with the MTA-STS and TLS-RPT shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doctor/dmarc.h"
#include "doctor/taglist.h"

static const struct parse_case {
    const char *rec;
    int ok;
    enum dmarc_policy p, sp;
    int pct;
    char adkim, aspf;
    int nrua, nruf;
    const char *rua0; /* first rua when nrua > 0 */
    const char *err;  /* substring when not ok */
} cases[] = {
    {"v=DMARC1; p=none", 1, DMARC_NONE, DMARC_NONE, 100, 'r', 'r', 0, 0, NULL, NULL},
    {"v=DMARC1; p=quarantine; pct=25", 1, DMARC_QUARANTINE, DMARC_QUARANTINE, 25, 'r', 'r', 0, 0,
     NULL, NULL},
    {"v=DMARC1; p=reject; sp=none; adkim=s; aspf=s", 1, DMARC_REJECT, DMARC_NONE, 100, 's', 's', 0,
     0, NULL, NULL},
    {"v=DMARC1;p=Reject;rua=mailto:d@example.com", 1, DMARC_REJECT, DMARC_REJECT, 100, 'r', 'r', 1,
     0, "mailto:d@example.com", NULL},
    {"v=DMARC1; p=none; rua=mailto:a@example.com!10m, mailto:b@example.net; "
     "ruf=mailto:f@example.com",
     1, DMARC_NONE, DMARC_NONE, 100, 'r', 'r', 2, 1, "mailto:a@example.com", NULL},
    {"v=DMARC1; p=none; fo=1:d:s; ri=3600; rf=afrf; x_future=yes;", 1, DMARC_NONE, DMARC_NONE, 100,
     'r', 'r', 0, 0, NULL, NULL},
    {"v = DMARC1 ; P=NONE ; PCT=0", 1, DMARC_NONE, DMARC_NONE, 0, 'r', 'r', 0, 0, NULL, NULL},
    {"v=DMARC1; p=none; rua=https://reports.example.com/dmarc", 1, DMARC_NONE, DMARC_NONE, 100, 'r',
     'r', 1, 0, "https://reports.example.com/dmarc", NULL},
    {"v=DMARC1", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "no p="},
    {"v=DMARC1; rua=mailto:d@example.com", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "no p="},
    {"v=DMARC1; p=block", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "p=block"},
    {"v=DMARC1; p=none; sp=maybe", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "sp=maybe"},
    {"v=DMARC1; p=none; pct=101", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "pct=101"},
    {"v=DMARC1; p=none; pct=-1", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "pct"},
    {"v=DMARC1; p=none; pct=50%", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "pct"},
    {"v=DMARC1; p=none; adkim=x", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "adkim"},
    {"v=DMARC1; p=none; aspf=relaxed", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "aspf"},
    {"v=DMARC1; p=none; rua=d@example.com", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "rua"},
    {"v=DMARC1; p=none; rua=mailto:d@example.com!big", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "rua"},
    {"v=DMARC1; p=none; fo=2", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "fo=2"},
    {"v=DMARC1; p=none; fo=1:", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "fo"},
    {"v=DMARC1; p=none; ri=soon", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "ri"},
    {"v=DMARC1; p=none; p=reject", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "twice"},
    {"v=DMARC1; p=none; P=reject", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "twice"},
    {"v=DMARC1 p=none", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "no p="},
    {"v=dmarc1; p=none", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "v=DMARC1"},
    {"v=DMARC2; p=none", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "v=DMARC1"},
    {"p=none; v=DMARC1", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "v=DMARC1"},
    {" v=DMARC1; p=none", 0, 0, 0, 0, 0, 0, 0, 0, NULL, "v=DMARC1"},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct parse_case *c = &cases[i];
        dmarc_record d;
        char err[200] = "";
        int rc = dmarc_parse(c->rec, &d, err, sizeof err);
        if ((rc == 0) != c->ok || (!c->ok && !strstr(err, c->err)))
            fail_msg("\"%s\": rc %d error \"%s\"; want ok=%d ~\"%s\"", c->rec, rc, err, c->ok,
                     c->err ? c->err : "");
        if (c->ok && (d.p != c->p || d.sp != c->sp || d.pct != c->pct || d.adkim != c->adkim ||
                      d.aspf != c->aspf || d.nrua != c->nrua || d.nruf != c->nruf ||
                      (c->nrua && strcmp(d.rua[0], c->rua0))))
            fail_msg("\"%s\": p=%s sp=%s pct=%d adkim=%c aspf=%c rua=%d ruf=%d", c->rec,
                     dmarc_policy_name(d.p), dmarc_policy_name(d.sp), d.pct, d.adkim, d.aspf,
                     d.nrua, d.nruf);
        dmarc_record_clear(&d);
    }
}

static void test_is_record(void **state)
{
    (void)state;
    assert_true(dmarc_is_record("v=DMARC1"));
    assert_true(dmarc_is_record("v=DMARC1;p=none"));
    assert_true(dmarc_is_record("V = DMARC1 ; p=none"));
    assert_false(dmarc_is_record("v=DMARC10; p=none"));
    assert_false(dmarc_is_record("v=spf1 -all"));
    assert_false(dmarc_is_record(""));
}

static const struct org_case {
    const char *in, *want;
} orgs[] = {
    {"example.com", "example.com"},
    {"mail.example.com", "example.com"},
    {"a.b.c.example.com", "example.com"},
    {"example.co.uk", "example.co.uk"},
    {"bounce.example.co.uk", "example.co.uk"},
    {"mail.example.com.au", "example.com.au"},
    {"x.example.ac.jp", "example.ac.jp"},
    {"mail.example.de", "example.de"},
    {"co.uk", "co.uk"},
    {"com", "com"},
    {"mail.example.com.", "example.com."},
    {"mail.example.co", "example.co"},
    {"a.b.example.org.nz", "example.org.nz"},
    /* known misses of a heuristic without the Public Suffix List */
    {"user.github.io", "github.io"},
    {"a.city.kawasaki.jp", "kawasaki.jp"},
};

static void test_org_domain(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++)
        if (strcmp(dmarc_org_domain(orgs[i].in), orgs[i].want))
            fail_msg("%s: got %s, want %s", orgs[i].in, dmarc_org_domain(orgs[i].in), orgs[i].want);
}

static void test_mailto(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(dmarc_mailto_domain("mailto:dmarc@Reports.Example.NET", buf, sizeof buf), 0);
    assert_string_equal(buf, "reports.example.net");
    assert_int_equal(dmarc_mailto_domain("MAILTO:a@b.example?subject=x", buf, sizeof buf), 0);
    assert_string_equal(buf, "b.example");
    assert_int_equal(dmarc_mailto_domain("https://x.example/r", buf, sizeof buf), -1);
    assert_int_equal(dmarc_mailto_domain("mailto:nobody", buf, sizeof buf), -1);
    assert_int_equal(dmarc_mailto_domain("mailto:@x.example", buf, sizeof buf), -1);
    assert_int_equal(dmarc_mailto_domain("mailto:a@", buf, sizeof buf), -1);
}

static void test_taglist(void **state)
{
    (void)state;
    taglist t;
    char err[200];
    assert_int_equal(taglist_parse("v=STSv1; id=20261128T000000;", 0, &t, err, sizeof err), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(taglist_get(&t, "id", 0), "20261128T000000");
    assert_null(taglist_get(&t, "ID", 0));
    assert_string_equal(taglist_get(&t, "ID", 1), "20261128T000000");
    taglist_clear(&t);
    assert_int_equal(taglist_parse("v=TLSRPTv1;rua=mailto:a@x.example,https://r.example/x", 0, &t,
                                   err, sizeof err),
                     0);
    assert_string_equal(taglist_get(&t, "rua", 0), "mailto:a@x.example,https://r.example/x");
    taglist_clear(&t);
    assert_int_equal(taglist_parse("a=; b=x y  z ;c=1", 0, &t, err, sizeof err), 0);
    assert_string_equal(taglist_get(&t, "a", 0), "");
    assert_string_equal(taglist_get(&t, "b", 0), "x y  z");
    taglist_clear(&t);
    assert_int_equal(taglist_parse("A=1; a=2", 0, &t, err, sizeof err), 0);
    taglist_clear(&t);
    assert_int_equal(taglist_parse("A=1; a=2", 1, &t, err, sizeof err), -1);
    assert_int_equal(taglist_parse("a=1;;b=2", 0, &t, err, sizeof err), -1);
    assert_int_equal(taglist_parse("_a=1", 0, &t, err, sizeof err), -1);
    assert_int_equal(taglist_parse("a=1\x7f", 0, &t, err, sizeof err), -1);
    assert_int_equal(t.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_is_record),
        cmocka_unit_test(test_org_domain), cmocka_unit_test(test_mailto),
        cmocka_unit_test(test_taglist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
