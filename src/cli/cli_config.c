/* cli_config.c - `sluice config [-n] [name...]`: the effective parameters, like postconf. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_config_main(cli_globals *g, int argc, char **argv)
{
    int nondefault = 0, first = 0;
    if (argc > 0 && !strcmp(argv[0], "-n")) {
        nondefault = 1;
        first = 1;
    }
    sl_config *c = cli_config(g, "sluice config");
    if (!c)
        return EX_CONFIG;
    int rc = EX_OK;
    if (first >= argc) {
        config_dump(c, nondefault, stdout);
    } else {
        for (int i = first; i < argc; i++) {
            char *v = config_param_value(c, argv[i]);
            if (!v) {
                fprintf(stderr, "sluice config: unknown parameter: %s\n", argv[i]);
                rc = EX_USAGE;
                continue;
            }
            printf("%s = %s\n", argv[i], v);
            free(v);
        }
    }
    config_free(c);
    return rc;
}
