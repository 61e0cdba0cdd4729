/* cli_queue.c - `sluice queue` (list, list --json, show, delete, hold, release, flush) and
 * `mailq`.  Everything goes through the running daemon's control socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/xmalloc.h"

static const char *prog = "sluice queue";

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice [-c FILE] [-o name=value] queue COMMAND\n"
               "  list [--json]           the queue, like mailq (--json: postqueue -j format)\n"
               "  show [--json] ID        envelope, each recipient's state, last reply, next attempt\n"
               "  show --body ID          the message as queued\n"
               "  delete ID...|ALL|-      remove messages (- reads ids from stdin)\n"
               "  hold ID...|ALL|-        keep messages from being delivered\n"
               "  release ID...|ALL|-     undo hold\n"
               "  flush                   try every deferred message now\n");
}

/* fmt_time - local time as mailq shows it */
static const char *fmt_time(json_int_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, n, "%a %b %e %H:%M:%S", &tm);
    return buf;
}

/* print_mailq_entry - one message in mailq's layout */
static void print_mailq_entry(json_t *m, json_int_t *bytes)
{
    const char *qn = json_string_value(json_object_get(m, "queue_name"));
    const char *mark = !strcmp(qn, "hold") ? "!" : !strcmp(qn, "active") ? "*" : " ";
    json_int_t size = json_integer_value(json_object_get(m, "message_size"));
    const char *sender = json_string_value(json_object_get(m, "sender"));
    char tb[64];
    *bytes += size;
    printf("%-12s%s %8lld %-20s  %s\n", json_string_value(json_object_get(m, "queue_id")), mark,
           (long long)size, fmt_time(json_integer_value(json_object_get(m, "arrival_time")), tb, sizeof tb),
           sender && *sender ? sender : "MAILER-DAEMON");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(m, "recipients"), i, r) {
        const char *why = json_string_value(json_object_get(r, "delay_reason"));
        if (why)
            printf("%*s(%s)\n", 45, "", why);
        printf("%*s%s\n", 45, "", json_string_value(json_object_get(r, "address")));
    }
    printf("\n");
}

/* do_list - mailq text, or one JSON object per line */
static int do_list(ctl_client *c, int as_json)
{
    if (ctl_request(c, json_pack("{s:s}", "cmd", "list"), NULL, 0) < 0)
        return EX_IOERR;
    json_int_t bytes = 0, count = 0;
    int header = 0;
    json_t *m;
    while ((m = ctl_response(c))) {
        if (json_object_get(m, "ok")) {
            count = json_integer_value(json_object_get(m, "count"));
            json_decref(m);
            break;
        }
        if (as_json) {
            char *s = json_dumps(m, JSON_COMPACT);
            printf("%s\n", s);
            free(s);
        } else {
            if (!header++)
                printf("-Queue ID-    --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
            print_mailq_entry(m, &bytes);
        }
        json_decref(m);
    }
    if (!m) {
        fprintf(stderr, "%s: the listing was cut short\n", prog);
        return EX_IOERR;
    }
    if (!as_json) {
        if (count == 0)
            printf("Mail queue is empty\n");
        else
            printf("-- %lld Kbytes in %lld Request%s.\n", (long long)((bytes + 1023) / 1024),
                   (long long)count, count == 1 ? "" : "s");
    }
    return EX_OK;
}

/* print_show - the human form of show */
static void print_show(json_t *m)
{
    char tb[64];
    json_int_t arr = json_integer_value(json_object_get(m, "arrival_time"));
    const char *sender = json_string_value(json_object_get(m, "sender"));
    printf("queue id:   %s\n", json_string_value(json_object_get(m, "queue_id")));
    printf("queue:      %s\n", json_string_value(json_object_get(m, "queue_name")));
    printf("arrival:    %s (%lld s ago)\n", fmt_time(arr, tb, sizeof tb),
           (long long)(time(NULL) - arr));
    printf("size:       %lld bytes\n", (long long)json_integer_value(json_object_get(m, "message_size")));
    printf("sender:     <%s>\n", sender ? sender : "");
    const char *ip = json_string_value(json_object_get(m, "client_ip"));
    if (json_is_true(json_object_get(m, "local")))
        printf("from:       local submission (sluice send)\n");
    else if (ip)
        printf("from:       [%s] helo=%s %s\n", ip, json_string_value(json_object_get(m, "helo")),
               json_string_value(json_object_get(m, "protocol")));
    printf("recipients:\n");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(m, "recipients"), i, r) {
        printf("  %-40s %-9s attempts=%lld", json_string_value(json_object_get(r, "address")),
               json_string_value(json_object_get(r, "state")),
               (long long)json_integer_value(json_object_get(r, "attempts")));
        json_t *next = json_object_get(r, "next_attempt_time");
        if (next)
            printf(" next=%s", fmt_time(json_integer_value(next), tb, sizeof tb));
        printf("\n");
        const char *last = json_string_value(json_object_get(r, "last_reply"));
        if (last)
            printf("      last reply: %s\n", last);
        const char *cls = json_string_value(json_object_get(r, "class"));
        if (cls)
            printf("      class: %s (rule %s%s%s)\n      why: %s\n", cls,
                   json_string_value(json_object_get(r, "rule")),
                   json_object_get(r, "provider") ? ", provider " : "",
                   json_object_get(r, "provider") ? json_string_value(json_object_get(r, "provider")) : "",
                   json_string_value(json_object_get(r, "why")));
    }
}

/* do_show - show [--json|--body] ID */
static int do_show(ctl_client *c, int argc, char **argv)
{
    int as_json = 0, body = 0;
    const char *id = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--body"))
            body = 1;
        else
            id = argv[i];
    }
    if (!id) {
        usage(stderr);
        return EX_USAGE;
    }
    json_t *resp;
    int rc = ctl_simple(c, json_pack("{s:s,s:s}", "cmd", body ? "body" : "show", "id", id), &resp, prog);
    if (rc)
        return rc;
    if (body) {
        size_t n = (size_t)json_integer_value(json_object_get(resp, "size"));
        char *buf = xmalloc(n + 1);
        rc = ctl_read_bytes(c, buf, n) < 0 ? EX_IOERR : EX_OK;
        if (!rc)
            fwrite(buf, 1, n, stdout);
        free(buf);
    } else if (as_json) {
        char *s = json_dumps(json_object_get(resp, "message"), JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else {
        print_show(json_object_get(resp, "message"));
    }
    json_decref(resp);
    return rc;
}

/* read_ids - queue ids from stdin, one per line (postsuper's "-") */
static void read_ids(json_t *ids)
{
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (line[0])
            json_array_append_new(ids, json_string(line));
    }
}

/* do_change - delete / hold / release */
static int do_change(ctl_client *c, const char *cmd, int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return EX_USAGE;
    }
    json_t *ids = json_array(), *req = json_pack("{s:s}", "cmd", cmd);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "ALL"))
            json_object_set_new(req, "all", json_true());
        else if (!strcmp(argv[i], "-"))
            read_ids(ids);
        else
            json_array_append_new(ids, json_string(argv[i]));
    }
    json_object_set_new(req, "ids", ids);
    json_t *resp;
    int rc = ctl_simple(c, req, &resp, prog);
    if (rc)
        return rc;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(resp, "missing"), i, v) {
        fprintf(stderr, "%s: %s: no such message in the queue\n", prog, json_string_value(v));
        rc = 1;
    }
    const char *past = !strcmp(cmd, "delete") ? "deleted" : !strcmp(cmd, "hold") ? "placed on hold"
                                                                                  : "released";
    json_int_t n = json_integer_value(json_object_get(resp, "count"));
    printf("%s: %lld message%s %s\n", prog, (long long)n, n == 1 ? "" : "s", past);
    json_decref(resp);
    return rc;
}

/* do_flush - every deferred recipient due now */
static int do_flush(ctl_client *c)
{
    json_t *resp;
    int rc = ctl_simple(c, json_pack("{s:s}", "cmd", "flush"), &resp, prog);
    if (rc)
        return rc;
    printf("%s: %lld deferred recipients scheduled for delivery now\n", prog,
           (long long)json_integer_value(json_object_get(resp, "count")));
    json_decref(resp);
    return EX_OK;
}

/* run - one queue command against the daemon */
static int run(sl_config *cfg, int argc, char **argv)
{
    const char *cmd = argv[0];
    ctl_client c;
    int rc = ctl_open_or_explain(&c, cfg, prog);
    if (rc)
        return rc;
    if (!strcmp(cmd, "list"))
        rc = do_list(&c, argc > 1 && !strcmp(argv[1], "--json"));
    else if (!strcmp(cmd, "show"))
        rc = do_show(&c, argc - 1, argv + 1);
    else if (!strcmp(cmd, "delete") || !strcmp(cmd, "hold") || !strcmp(cmd, "release"))
        rc = do_change(&c, cmd, argc - 1, argv + 1);
    else if (!strcmp(cmd, "flush"))
        rc = do_flush(&c);
    ctl_close(&c);
    return rc;
}

int cli_queue_main(cli_globals *g, int argc, char **argv)
{
    static const char *const known[] = {"list", "show", "delete", "hold", "release", "flush"};
    int ok = 0;
    for (size_t i = 0; argc > 0 && i < sizeof known / sizeof known[0]; i++)
        ok |= !strcmp(argv[0], known[i]);
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        usage(stdout);
        return EX_OK;
    }
    if (!ok) {
        usage(stderr);
        return EX_USAGE;
    }
    sl_config *cfg = cli_config(g, prog);
    if (!cfg)
        return EX_CONFIG;
    int rc = run(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

int cli_mailq_main(cli_globals *g, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {   /* mailq [-C|-c FILE] [-o name=value] */
        if ((!strcmp(argv[i], "-C") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            g->config_file = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            cli_add_override(g, argv[++i]);
    }
    sl_config *cfg = cli_config(g, "mailq");
    if (!cfg)
        return EX_CONFIG;
    char *list[] = {"list", NULL};
    prog = "mailq";
    int rc = run(cfg, 1, list);
    config_free(cfg);
    return rc;
}
