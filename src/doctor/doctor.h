/* doctor.h - `sluice doctor`: the seed's five diagnosis steps, automated, for sluice,
 * Postfix, Exim and Sendmail hosts.  One entry point per subcommand (each in its own file);
 * each returns the exit status (0 ok, 1 warnings, 2 failures; 64 usage, 69/78 set-up
 * problems).  Common options every subcommand takes: --json, --dns-server ADDR@PORT. */
#ifndef SLUICE_DOCTOR_H
#define SLUICE_DOCTOR_H
#include "cli/cli.h"

/* The options common to every subcommand, parsed by doctor_main before dispatch. */
typedef struct doctor_opts {
    int json;
    const char *dns_server;    /* "127.0.0.1@5353" or NULL for the system resolver */
    int64_t timeout_ms;        /* network timeout per step (--timeout SECONDS, default 10) */
    cli_globals *g;            /* -c / -o for the sluice configuration, when it matters */
} doctor_opts;

int doctor_main(cli_globals *g, int argc, char **argv);

int doctor_queue(const doctor_opts *o, int argc, char **argv);
int doctor_logs(const doctor_opts *o, int argc, char **argv);
int doctor_probe(const doctor_opts *o, int argc, char **argv);
int doctor_ip(const doctor_opts *o, int argc, char **argv);
int doctor_domain(const doctor_opts *o, int argc, char **argv);
int doctor_advise(const doctor_opts *o, int argc, char **argv);
int doctor_warmup(const doctor_opts *o, int argc, char **argv);
/* doctor_all - no subcommand, on a sluice host: everything that applies to its own config */
int doctor_all(const doctor_opts *o, int argc, char **argv);

#endif
