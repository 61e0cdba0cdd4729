/* sluice_main.c - the `sluice` command: global options, then one subcommand.  Invoked as
 * `sendmail` it is the sendmail interface; as `mailq`, the queue listing. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "doctor/doctor.h"
#include "common/log.h"
#include "sink/sink.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice [-c FILE] [-o name=value]... COMMAND [ARGS]\n"
               "commands:\n"
               "  send [sendmail options] [recipient...]   queue a message read from stdin\n"
               "  queue list|show|delete|hold|release|flush   inspect and manage the queue\n"
               "  config [-n] [name...]                    the effective configuration\n"
               "  status [--json]                          destinations: limits, state, what was learned\n"
               "  reload                                   make the running sluiced load its configuration\n"
               "  classify [--json-in] [FILE|-]            what receivers' replies mean\n"
               "  doctor [SUBCOMMAND]                      diagnose delivery problems (doctor --help)\n"
               "  sink [options] --listen ADDR:PORT...     a test receiver that greylists and throttles\n"
               "  version\n"
               "Invoked as sendmail (or mailq) it behaves as that program.\n");
}

/* base_name - the last path component */
static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int main(int argc, char **argv)
{
    cli_globals g = {0};
    const char *me = base_name(argv[0]);
    log_init(me);
    log_set_level(SL_WARN);
    int rc;
    if (!strcmp(me, "sendmail")) {
        rc = cli_send_main(&g, argc, argv, "sendmail");
        goto out;
    }
    if (!strcmp(me, "mailq")) {
        rc = cli_mailq_main(&g, argc, argv);
        goto out;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            g.config_file = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            cli_add_override(&g, argv[++i]);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    const char *cmd = argv[i];
    if (!strcmp(cmd, "send"))
        rc = cli_send_main(&g, argc - i, argv + i, "sluice send");
    else if (!strcmp(cmd, "queue"))
        rc = cli_queue_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "config"))
        rc = cli_config_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "sink"))
        rc = sink_main(argc - i, argv + i);
    else if (!strcmp(cmd, "doctor"))
        rc = doctor_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "classify"))
        rc = cli_classify_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "status"))
        rc = cli_status_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "reload"))
        rc = cli_reload_main(&g, argc - i - 1, argv + i + 1);
    else if (!strcmp(cmd, "version")) {
        printf("sluice %s\n", SLUICE_VERSION);
        rc = 0;
    } else {
        fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
        usage(stderr);
        rc = EX_USAGE;
    }
out:
    free(g.overrides);
    return rc;
}
