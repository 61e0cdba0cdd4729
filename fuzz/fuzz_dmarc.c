/* fuzz_dmarc.c - libFuzzer target for DMARC records (src/doctor/dmarc.h): the record
 * parser, the organizational-domain heuristic and the mailto domain extractor.  Beyond
 * "no crash" it checks: a parsed record starts with v=DMARC1, its policies are known, pct is
 * 0..100, alignment modes are r or s, every report URI has a scheme and no "!"; the
 * organizational domain is a suffix of the input made of whole labels, of at most three of
 * them; a mailto domain is lower case and free of "@", "?" and ">". */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_uris - report URIs keep their promises */
static void check_uris(char **v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i] || !strchr(v[i], ':') || strchr(v[i], '!') || strchr(v[i], ','))
            abort();
}

/* check_record - a parsed record's promises */
static void check_record(const char *s)
{
    dmarc_record d;
    char err[300];
    if (dmarc_parse(s, &d, err, sizeof err) < 0)
        return;
    if (!dmarc_is_record(s) || d.p > DMARC_REJECT || d.sp > DMARC_REJECT || d.pct < 0 ||
        d.pct > 100 || !strchr("rs", d.adkim) || !strchr("rs", d.aspf) || !d.fo || d.ri < 0)
        abort();
    check_uris(d.rua, d.nrua);
    check_uris(d.ruf, d.nruf);
    dmarc_record_clear(&d);
}

/* check_org - the organizational domain is whole trailing labels of s */
static void check_org(const char *s)
{
    const char *o = dmarc_org_domain(s);
    size_t n = strlen(s), on = strlen(o);
    if (o < s || o > s + n || strcmp(s + (n - on), o) != 0 || (o > s && o[-1] != '.'))
        abort();
    int dots = 0;
    for (const char *p = o; *p; p++)
        dots += *p == '.';
    if (o > s && dots > 3)
        abort();
}

/* check_mailto - the extracted domain's promises */
static void check_mailto(const char *s)
{
    char buf[256];
    if (dmarc_mailto_domain(s, buf, sizeof buf) < 0)
        return;
    if (!buf[0] || strpbrk(buf, "@?>"))
        abort();
    for (const char *p = buf; *p; p++)
        if (isupper((unsigned char)*p))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    check_record(s);
    check_org(s);
    check_mailto(s);
    free(s);
    return 0;
}
