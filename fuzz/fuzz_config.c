/* fuzz_config.c - the configuration loader: arbitrary file text (libconfig syntax) plus
 * arbitrary -o overrides, through every value parser (times with units, sizes, lists,
 * addresses, networks).  Input: file text, then a NUL, then one override per line. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    size_t tlen = strlen(buf);
    char *ov[17];
    int n = 0;
    char *rest = tlen < size ? buf + tlen + 1 : buf + size;
    for (char *line = strtok(rest, "\n"); line && n < 16; line = strtok(NULL, "\n"))
        ov[n++] = line;
    ov[n++] = "myhostname=fuzz.test";   /* never ask the resolver */
    char err[512];
    sl_config *c = config_load_text(buf, "fuzz.conf", ov, n, err, sizeof err);
    if (c) {
        char *v = config_param_value(c, "listen");
        free(v);
        config_free(c);
    }
    free(buf);
    return 0;
}
