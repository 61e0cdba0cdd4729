/* cli_send.c - `sluice send`, and the program invoked as `sendmail`: the sendmail command-line
 * interface (-t, -f, -i/-oi, -F, recipients as arguments, the message on stdin).
 * The message goes to sluiced over the control socket, which answers once it is durable;
 * when the daemon is not running it is written durably to the maildrop folder instead
 * (tmp file, fsync, rename, fsync of the folder) and picked up when sluiced starts.
 * Exit 0 means the message is on stable storage; otherwise a sysexits.h code (75 when the
 * message could not be queued, 65 for a message that is refused as it is, 64 for usage). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/dbuf.h"
#include "common/qid.h"
#include "common/xmalloc.h"
#include "daemon/control_proto.h"
#include "queue/spool_record.h"
#include "smtp/rfc5322.h"
#include "smtp/smtp_cmd.h"

typedef struct send_opts {
    const char *sender;        /* -f; NULL: the user's own address */
    const char *fullname;      /* -F */
    int extract;               /* -t */
    int ignore_dots;           /* -i, -oi */
    int verbose;               /* -v */
    rfc5322_addrs rcpts;
} send_opts;

/* takes_arg - sendmail options that consume a value we accept and ignore */
static int takes_arg(char c)
{
    return strchr("BNRVXLOhpC", c) != NULL;
}

/* parse_options - sendmail's option syntax; returns the index of the first recipient or
 * -1 (usage error, reported) or -2 (handled: e.g. -bp) with *rc set */
static int parse_options(cli_globals *g, send_opts *o, int argc, char **argv, const char *prog,
                         int *rc)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        char opt = a[1];
        const char *val = a[2] ? a + 2 : NULL;
        switch (opt) {
        case 't': o->extract = 1; break;
        case 'i': o->ignore_dots = 1; break;
        case 'v': o->verbose = 1; break;
        case 'n': case 'm': case 'U': case 'G': case 'q': break;
        case 'o':
            if (val) {                 /* -oi, -odb, -oem ...: sendmail options */
                if (!strcmp(val, "i"))
                    o->ignore_dots = 1;
            } else if (i + 1 < argc && strchr(argv[i + 1], '=')) {
                cli_add_override(g, argv[++i]);   /* -o name=value: a sluice parameter */
            } else {
                goto usage;
            }
            break;
        case 'f': case 'r':
            if (!val && ++i >= argc)
                goto usage;
            o->sender = val ? val : argv[i];
            break;
        case 'F':
            if (!val && ++i >= argc)
                goto usage;
            o->fullname = val ? val : argv[i];
            break;
        case 'c':
            if (!val && ++i >= argc)
                goto usage;
            g->config_file = val ? val : argv[i];
            break;
        case 'b':
            if (!val || !strcmp(val, "m"))
                break;
            if (!strcmp(val, "p")) {
                *rc = cli_mailq_main(g, 0, argv);
                return -2;
            }
            if (!strcmp(val, "i")) {   /* newaliases: there are no local aliases */
                *rc = 0;
                return -2;
            }
            fprintf(stderr, "%s: -b%s is not supported (only -bm and -bp)\n", prog, val);
            *rc = EX_USAGE;
            return -2;
        default:
            if (takes_arg(opt)) {
                if (opt == 'C' && (val || i + 1 < argc))
                    g->config_file = val ? val : argv[i + 1];
                if (!val)
                    i++;
                break;
            }
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            goto usage;
        }
    }
    return i;
usage:
    fprintf(stderr, "usage: %s [-t] [-i] [-f sender] [-F fullname] [-o name=value] "
                    "[recipient ...] < message\n", prog);
    *rc = EX_USAGE;
    return -1;
}

/* read_message - stdin as a CRLF message; a line "." ends it unless ignore_dots; a leading
 * mbox "From " line is dropped.  -1 when it exceeds limit bytes. */
static int read_message(dbuf *out, int ignore_dots, int64_t limit)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int first = 1;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (first && len >= 5 && !memcmp(line, "From ", 5)) {
            first = 0;
            continue;
        }
        first = 0;
        if (!ignore_dots && len == 1 && line[0] == '.')
            break;
        dbuf_put(out, line, len);
        dbuf_put(out, "\r\n", 2);
        if ((int64_t)out->len > limit) {
            free(line);
            return -1;
        }
    }
    free(line);
    return 0;
}

/* qualify - addr with @myorigin appended when it has no domain (caller frees) */
static char *qualify(const char *addr, const sl_config *c)
{
    if (!*addr || strchr(addr, '@'))
        return xstrdup(addr);
    return xasprintf("%s@%s", addr, c->myorigin);
}

/* add_arg_rcpts - recipients from the command line (each may be a comma-separated list) */
static void add_arg_rcpts(send_opts *o, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++)
        rfc5322_parse_addrs(argv[i], strlen(argv[i]), &o->rcpts);
}

/* default_sender - the invoking user's address */
static char *default_sender(const sl_config *c)
{
    struct passwd *pw = getpwuid(getuid());
    const char *name = pw ? pw->pw_name : "nobody";
    return xasprintf("%s@%s", name, c->myorigin);
}

/* request_for - the submit request: JSON header for the message */
static json_t *request_for(const char *sender, const rfc5322_addrs *rcpts, const send_opts *o,
                           size_t size, const char *origin)
{
    json_t *rv = json_array();
    for (size_t i = 0; i < rcpts->n; i++)
        json_array_append_new(rv, json_string(rcpts->v[i]));
    json_t *req = json_pack("{s:s,s:s,s:o,s:I,s:i}", "cmd", "submit", "sender", sender, "rcpts",
                            rv, "size", (json_int_t)size, "flags", MSGF_8BITMIME);
    if (o->fullname)
        json_object_set_new(req, "fullname", json_string(o->fullname));
    if (origin)
        json_object_set_new(req, "origin", json_string(origin));
    return req;
}

/* write_maildrop - the request durably into QUEUE_DIRECTORY/maildrop; 0 or -1 */
static int write_maildrop(const sl_config *c, json_t *req, const dbuf *msg, char *name,
                          size_t nlen)
{
    char *dir = xasprintf("%s/%s", c->queue_directory, CTL_MAILDROP_NAME);
    char qs[QID_LEN + 1];
    snprintf(name, nlen, "%s.%d", qid_format(qid_next(), qs), (int)getpid());
    char *tmp = xasprintf("%s/tmp.%s", dir, name), *final = xasprintf("%s/%s", dir, name);
    char *hdr = json_dumps(req, JSON_COMPACT);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = -1;
    if (fd >= 0 && hdr) {
        dbuf all = {0};
        dbuf_puts(&all, hdr);
        dbuf_putc(&all, '\n');
        dbuf_put(&all, msg->data, msg->len);
        ssize_t w = write(fd, all.data, all.len);
        rc = (w == (ssize_t)all.len && fsync(fd) == 0) ? 0 : -1;
        dbuf_free(&all);
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        rc = rename(tmp, final);
    if (rc == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
        if (dfd >= 0)
            close(dfd);
    } else {
        unlink(tmp);
    }
    free(hdr);
    free(tmp);
    free(final);
    free(dir);
    return rc;
}

/* submit - to the daemon, or to the maildrop when it is not running */
static int submit(const sl_config *c, const char *sender, const rfc5322_addrs *rcpts,
                  const send_opts *o, const dbuf *msg, const char *prog)
{
    ctl_client cc;
    if (ctl_connect(&cc, c->queue_directory) == 0) {
        json_t *req = request_for(sender, rcpts, o, msg->len, NULL), *resp = NULL;
        int rc = ctl_request(&cc, req, msg->data, msg->len);
        resp = rc == 0 ? ctl_response(&cc) : NULL;
        ctl_close(&cc);
        if (!resp) {
            fprintf(stderr, "%s: lost the connection to sluiced; the message was not queued\n", prog);
            return EX_TEMPFAIL;
        }
        rc = EX_OK;
        if (json_is_true(json_object_get(resp, "stopping"))) {   /* not queued: the maildrop */
            json_decref(resp);
            goto maildrop;
        }
        if (!json_is_true(json_object_get(resp, "ok"))) {
            json_int_t code = json_integer_value(json_object_get(resp, "exit"));
            fprintf(stderr, "%s: %s\n", prog, json_string_value(json_object_get(resp, "error")));
            rc = code ? (int)code : EX_TEMPFAIL;
        } else if (o->verbose) {
            fprintf(stderr, "%s: queued as %s\n", prog,
                    json_string_value(json_object_get(resp, "queue_id")));
        }
        json_decref(resp);
        return rc;
    }
maildrop:;
    char name[64];
    json_t *req = request_for(sender, rcpts, o, msg->len, NULL);
    int rc = write_maildrop(c, req, msg, name, sizeof name);
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "%s: sluiced is not running and the maildrop %s/%s is not writable (%s); "
                        "the message was not queued\n", prog, c->queue_directory,
                CTL_MAILDROP_NAME, strerror(errno));
        return EX_TEMPFAIL;
    }
    if (o->verbose)
        fprintf(stderr, "%s: sluiced is not running; the message waits in the maildrop as %s\n",
                prog, name);
    return EX_OK;
}

/* collect - all recipients, qualified and checked; 0 or an exit code */
static int collect(const sl_config *c, send_opts *o, dbuf *msg, rfc5322_addrs *out, const char *prog)
{
    if (o->extract) {
        size_t bad = rfc5322_collect_rcpts(msg->data, msg->len, &o->rcpts);
        if (bad)
            fprintf(stderr, "%s: warning: %zu malformed addresses in the message header ignored\n",
                    prog, bad);
        dbuf clean = {0};
        rfc5322_remove_bcc(msg->data, msg->len, &clean);
        dbuf_free(msg);
        *msg = clean;
    }
    for (size_t i = 0; i < o->rcpts.n; i++) {
        char *q = qualify(o->rcpts.v[i], c);
        if (!*q || !smtp_path_safe(q)) {
            fprintf(stderr, "%s: bad recipient address: %s\n", prog, o->rcpts.v[i]);
            free(q);
            return EX_DATAERR;
        }
        rfc5322_addrs_add(out, q);
        free(q);
    }
    if (out->n == 0) {
        fprintf(stderr, "%s: no recipient addresses%s\n", prog,
                o->extract ? " found in the message header" : " given");
        return o->extract ? EX_DATAERR : EX_USAGE;
    }
    return 0;
}

int cli_send_main(cli_globals *g, int argc, char **argv, const char *prog)
{
    send_opts o = {0};
    int rc = 0;
    int first = parse_options(g, &o, argc, argv, prog, &rc);
    if (first < 0)
        return rc;
    sl_config *c = cli_config(g, prog);
    if (!c)
        return EX_CONFIG;
    add_arg_rcpts(&o, argc, argv, first);
    dbuf msg = {0};
    rfc5322_addrs rcpts = {0};
    char *sender = NULL;
    if (read_message(&msg, o.ignore_dots, c->message_size_limit) < 0) {
        fprintf(stderr, "%s: message too large (message_size_limit is %lld bytes)\n", prog,
                (long long)c->message_size_limit);
        rc = EX_DATAERR;
        goto out;
    }
    if ((rc = collect(c, &o, &msg, &rcpts, prog)) != 0)
        goto out;
    if (!o.sender)
        sender = default_sender(c);
    else if (!strcmp(o.sender, "<>") || !*o.sender)
        sender = xstrdup("");
    else
        sender = qualify(o.sender, c);
    if (!smtp_path_safe(sender)) {
        fprintf(stderr, "%s: bad sender address: %s\n", prog, sender);
        rc = EX_DATAERR;
        goto out;
    }
    rc = submit(c, sender, &rcpts, &o, &msg, prog);
out:
    free(sender);
    dbuf_free(&msg);
    rfc5322_addrs_free(&rcpts);
    rfc5322_addrs_free(&o.rcpts);
    config_free(c);
    return rc;
}
