/* fuzz_sasl_passwd.c - libFuzzer target for the smtp_sasl_password_maps file parser
 * (config_sasl_parse) and the masking `sluice config` shows it with.  Beyond "no crash":
 * every entry it accepts is "KEY VALUE" with a ':' in the value, and its mask is the entry
 * up to that ':' followed by ":********" (nothing of the password). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    strlist l = {0};
    char err[256];
    (void)config_sasl_parse(&l, text, "fuzz", err, sizeof err);
    for (int i = 0; i < l.n; i++) {
        const char *sp = strchr(l.v[i], ' ');
        check(sp && strchr(sp, ':'));
        size_t upto = (size_t)(strchr(sp, ':') - l.v[i]);
        char *shown = config_sasl_mask(l.v[i]);
        check(strlen(shown) == upto + 9 && !strncmp(shown, l.v[i], upto) &&
              !strcmp(shown + upto, ":********"));
        free(shown);
        free(l.v[i]);
    }
    free(l.v);
    free(text);
    return 0;
}
