/* cli_classify.c - placeholder until `sluice classify` is written (issue 5, in progress). */
#include "cli/cli.h"

int cli_classify_main(cli_globals *g, int argc, char **argv)
{
    (void)g;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice classify: not available yet\n");
    return EX_UNAVAILABLE;
}
