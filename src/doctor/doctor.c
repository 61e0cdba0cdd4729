/* doctor.c - `sluice doctor SUBCOMMAND ... [--json] [--dns-server A@P] [--timeout S]`:
 * the common options (accepted anywhere on the line), then dispatch through a table. */
#include "doctor/doctor.h"

#include <stdlib.h>
#include <string.h>

typedef struct sub {
    const char *name;
    int (*run)(const doctor_opts *o, int argc, char **argv);
    const char *usage;
} sub;

static const sub subs[] = {
    {"queue", doctor_queue,
     "queue [--from auto|sluice|postfix|exim|sendmail] [--now EPOCH] [--warn-size N] [--fail-size N]\n"
     "        [--warn-age 4h] [--fail-age 1d] [--rows N] [--rules FILE] [FILE|-]"},
    {"logs", doctor_logs, "logs [--year Y] [--timelines N|all] [--rows N] [--domain D]... [--rules FILE] FILE..."},
    {"probe", doctor_probe,
     "probe HOST|DOMAIN|[IP] [--from ADDR] [--rcpt ADDR] [--port N] [--helo NAME] [--source IP]\n"
     "        [--all] [--no-tls] [-v]"},
    {"ip", doctor_ip, "ip ADDR [--helo NAME] [--dnsbl ZONE[,ZONE...]|none]"},
    {"domain", doctor_domain,
     "domain DOMAIN [--ip ADDR] [--selector S] [--dkim-key FILE] [--sender ADDR] [--helo NAME]"},
    {"advise", doctor_advise,
     "advise [--postfix-config main.cf] [--master-config master.cf] [--logs FILE...] [--year Y]\n"
     "        [--rules FILE] [--no-daemon]"},
    {"warmup", doctor_warmup,
     "warmup --target N [--start 50] [--factor 2] [--period 7d] [--from YYYY-MM-DD] [--daily]"},
};
#define NSUBS (sizeof subs / sizeof subs[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice doctor [--json] [--dns-server ADDR@PORT] [--timeout SECONDS] [SUBCOMMAND ...]\n");
    for (size_t i = 0; i < NSUBS; i++)
        fprintf(f, "  %s\n", subs[i].usage);
    fprintf(f, "Without a subcommand: every check that applies to this host's sluice configuration.\n"
               "Exit status: 0 all passed, 1 warnings, 2 failures.\n");
}

/* take_common - remove the common options (anywhere on the line) into o; -1 on a bad one */
static int take_common(doctor_opts *o, int *argc, char **argv)
{
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--dns-server") || !strcmp(a, "--timeout")) {
            if (i + 1 >= *argc)
                return -1;
            if (a[2] == 'd')
                o->dns_server = argv[++i];
            else
                o->timeout_ms = (int64_t)(atof(argv[++i]) * 1000);
        } else {
            argv[n++] = argv[i];
        }
    }
    *argc = n;
    return 0;
}

int doctor_main(cli_globals *g, int argc, char **argv)
{
    doctor_opts o = {.timeout_ms = 10000, .g = g};
    if (take_common(&o, &argc, argv) < 0 || o.timeout_ms <= 0) {
        usage(stderr);
        return EX_USAGE;
    }
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 0)
        return doctor_all(&o, 0, argv);
    for (size_t k = 0; k < NSUBS; k++)
        if (!strcmp(argv[0], subs[k].name))
            return subs[k].run(&o, argc - 1, argv + 1);
    fprintf(stderr, "sluice doctor: unknown subcommand '%s'\n", argv[0]);
    usage(stderr);
    return EX_USAGE;
}
