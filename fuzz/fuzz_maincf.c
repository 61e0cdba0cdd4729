/* fuzz_maincf.c - the Postfix main.cf and master.cf readers (maincf.h) and everything built
 * on them: logical lines, entries, $name expansion of every value (with its loops and
 * unterminated references), the time and integer grammars, spelling suggestions, every
 * lint rule and its report.  Input: main.cf text, then a NUL, then master.cf text (absent:
 * no master.cf).  Must never crash, hang or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/maincf.h"
#include "doctor/maincf_lint.h"
#include "doctor/maincf_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* touch_entries - expand and parse every value, as the lints and advise do */
static void touch_entries(const maincf *m)
{
    for (int i = 0; i < m->n; i++) {
        char *v = maincf_expand(m, m->e[i].value);
        long long n;
        maincf_time_parse(v, 's', &n);
        maincf_int_parse(v, &n);
        free(v);
        maincf_param_similar(m->e[i].name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(data, 0, size);
    size_t mlen = nul ? (size_t)(nul - text) : size;
    maincf *m = maincf_parse(text, mlen, "main.cf");
    mastercf *mc = nul ? mastercf_parse(nul + 1, size - mlen - 1, "master.cf") : NULL;
    touch_entries(m);
    maincf_lint *l = maincf_lint_run(m, mc);
    report *r = report_new("advise", "fuzz");
    maincf_lint_report(l, m, mc, r);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        report_print(r, f, 1);
        fclose(f);
    }
    report_free(r);
    maincf_lint_free(l);
    mastercf_free(mc);
    maincf_free(m);
    return 0;
}
