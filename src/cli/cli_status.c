/* cli_status.c - `sluice status [--json]`: the running daemon's destinations (state,
 * sessions and limits, queued jobs, counts, last reply) and its queue totals. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* print_dest - one destination as a text row */
static void print_dest(json_t *d)
{
    printf("%-40s %-9s %3lld/%-3lld %6lld %9lld %8lld %7lld\n",
           json_string_value(json_object_get(d, "destination")),
           json_string_value(json_object_get(d, "state")),
           (long long)json_integer_value(json_object_get(d, "sessions")),
           (long long)json_integer_value(json_object_get(d, "concurrency_limit")),
           (long long)json_integer_value(json_object_get(d, "queued_jobs")),
           (long long)json_integer_value(json_object_get(d, "delivered")),
           (long long)json_integer_value(json_object_get(d, "deferred")),
           (long long)json_integer_value(json_object_get(d, "bounced")));
    const char *last = json_string_value(json_object_get(d, "last_reply"));
    if (last)
        printf("    last: %s\n", last);
}

/* print_text - the status as a table */
static void print_text(json_t *st)
{
    json_t *q = json_object_get(st, "queue"), *c = json_object_get(st, "counts");
    printf("queue: %lld messages, %lld recipients pending\n",
           (long long)json_integer_value(json_object_get(q, "messages")),
           (long long)json_integer_value(json_object_get(q, "recipients")));
    printf("since start: %lld delivered, %lld deferred, %lld bounced, %lld expired; %lld sessions now\n\n",
           (long long)json_integer_value(json_object_get(c, "delivered")),
           (long long)json_integer_value(json_object_get(c, "deferred")),
           (long long)json_integer_value(json_object_get(c, "bounced")),
           (long long)json_integer_value(json_object_get(c, "expired")),
           (long long)json_integer_value(json_object_get(c, "sessions_now")));
    printf("%-40s %-9s %-7s %6s %9s %8s %7s\n", "destination", "state", "conns", "ready", "delivered",
           "deferred", "bounced");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(st, "destinations"), i, d)
        print_dest(d);
}

int cli_status_main(cli_globals *g, int argc, char **argv)
{
    int as_json = argc > 0 && !strcmp(argv[0], "--json");
    sl_config *cfg = cli_config(g, "sluice status");
    if (!cfg)
        return EX_CONFIG;
    ctl_client c;
    int rc = ctl_open_or_explain(&c, cfg, "sluice status");
    json_t *resp = NULL;
    if (!rc)
        rc = ctl_simple(&c, json_pack("{s:s}", "cmd", "status"), &resp, "sluice status");
    if (!rc) {
        json_t *st = json_object_get(resp, "status");
        if (as_json) {
            char *s = json_dumps(st, JSON_INDENT(2));
            printf("%s\n", s);
            free(s);
        } else {
            print_text(st);
        }
        json_decref(resp);
    }
    if (c.fd >= 0)
        ctl_close(&c);
    config_free(cfg);
    return rc;
}
