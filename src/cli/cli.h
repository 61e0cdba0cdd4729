/* cli.h - what the `sluice` subcommands share: global options, the configuration, the control
 * socket client, sysexits codes.  Each subcommand is one cli_*.c file with one entry point
 * taking the arguments after its name. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

#define EX_OK 0
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66
#define EX_NOUSER 67
#define EX_UNAVAILABLE 69
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_TEMPFAIL 75
#define EX_NOPERM 77
#define EX_CONFIG 78

/* Global options (-c FILE, -o name=value), gathered before or after the subcommand. */
typedef struct cli_globals {
    const char *config_file;
    char **overrides;
    int noverrides;
} cli_globals;

/* cli_add_override - remember one -o name=value */
void cli_add_override(cli_globals *g, char *kv);
/* cli_config - load the configuration, or print the error and return NULL */
sl_config *cli_config(const cli_globals *g, const char *prog);

/* A connection to the daemon's control socket (blocking I/O). */
typedef struct ctl_client {
    int fd;
    char *buf;
    size_t len, cap;
} ctl_client;

/* ctl_connect - 0, or -1 with errno (ENOENT/ECONNREFUSED: the daemon is not running) */
int ctl_connect(ctl_client *c, const char *queue_directory);
void ctl_close(ctl_client *c);
/* ctl_request - send a request line (steals req) followed by len bytes of data; 0 or -1 */
int ctl_request(ctl_client *c, json_t *req, const void *data, size_t len);
/* ctl_response - the next response line as JSON (caller decrefs); NULL on EOF or error */
json_t *ctl_response(ctl_client *c);
/* ctl_read_bytes - exactly n raw bytes after a response; 0 or -1 */
int ctl_read_bytes(ctl_client *c, void *p, size_t n);
/* ctl_open_or_explain - connect; when the daemon is down say so and return EX_UNAVAILABLE */
int ctl_open_or_explain(ctl_client *c, const sl_config *cfg, const char *prog);
/* ctl_simple - one request, one final response; prints an error and returns its exit code,
 * or 0 with *resp set (caller decrefs) */
int ctl_simple(ctl_client *c, json_t *req, json_t **resp, const char *prog);

int cli_send_main(cli_globals *g, int argc, char **argv, const char *prog);
int cli_queue_main(cli_globals *g, int argc, char **argv);
int cli_mailq_main(cli_globals *g, int argc, char **argv);
int cli_config_main(cli_globals *g, int argc, char **argv);
int cli_classify_main(cli_globals *g, int argc, char **argv);
int cli_status_main(cli_globals *g, int argc, char **argv);
int cli_reload_main(cli_globals *g, int argc, char **argv);

#endif
