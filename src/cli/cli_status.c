/* cli_status.c - `sluice status [--json]`: the running daemon's destinations (state,
 * sessions and limits, rates, queued jobs, counts, last reply, refusals by class, the last
 * shaping decisions, next attempt), its queue totals and the watch of its own addresses on
 * DNS blocklists. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* num - a number member of o (integer or real), 0 when absent */
static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* print_limits - concurrency, rate now and its limit, greylist window, pause, next attempt */
static void print_limits(json_t *d)
{
    long long learned = (long long)num(d, "concurrency_learned");
    printf("    concurrency %lld/%lld (%s%lld, max %lld)", (long long)num(d, "sessions"),
           (long long)num(d, "concurrency_limit"), learned ? "learned " : "configured ",
           learned ? learned : (long long)num(d, "concurrency_limit"), (long long)num(d, "concurrency_max"));
    json_t *now = json_object_get(d, "rate_now"), *lim = json_object_get(d, "rate_limit");
    printf("; rate now %lld per %gs", (long long)num(now, "messages"), num(now, "per_seconds"));
    if (json_is_object(lim))
        printf(", limit %lld per %gs (learned)", (long long)num(lim, "messages"), num(lim, "per_seconds"));
    else
        printf(", no limit known");
    if (json_object_get(d, "greylist_window_s"))
        printf("; greylist window %.0fs", num(d, "greylist_window_s"));
    if (json_object_get(d, "recipient_limit_learned"))
        printf("; %lld recipients per transaction (learned)", (long long)num(d, "recipient_limit_learned"));
    printf("\n    oldest ready %.0fs", num(d, "oldest_queued_s"));
    if (json_object_get(d, "paused_for_s"))
        printf("; paused for %.0fs more", num(d, "paused_for_s"));
    json_t *next = json_object_get(d, "next_attempt_time");
    if (next) {
        double in = json_number_value(next) - (double)time(NULL);
        if (in > 0.5)
            printf("; next attempt in %.0fs", in);
        else
            printf("; next attempt now");
    }
    printf("\n");
}

/* print_dest - one destination: a row, then its limits, last reply, classes and decisions */
static void print_dest(json_t *d)
{
    printf("%-40s %-9s %3lld/%-3lld %6lld %9lld %8lld %7lld\n",
           json_string_value(json_object_get(d, "destination")),
           json_string_value(json_object_get(d, "state")),
           (long long)num(d, "sessions"),
           (long long)num(d, "concurrency_limit"),
           (long long)num(d, "queued_jobs"),
           (long long)num(d, "delivered"),
           (long long)num(d, "deferred"),
           (long long)num(d, "bounced"));
    print_limits(d);
    const char *last = json_string_value(json_object_get(d, "last_reply"));
    if (last)
        printf("    last reply: %s (class %s, rule %s)\n", last,
               json_string_value(json_object_get(d, "last_class")),
               json_string_value(json_object_get(d, "last_rule")));
    const char *k;
    json_t *v, *counts = json_object_get(d, "counts_by_class");
    if (json_object_size(counts)) {
        printf("    refusals by class:");
        json_object_foreach(counts, k, v)
            printf(" %s %lld", k, (long long)json_integer_value(v));
        printf("\n");
    }
    json_t *dec = json_object_get(d, "decisions");
    size_t n = json_array_size(dec);
    for (size_t i = n > 3 ? n - 3 : 0; i < n; i++) {
        json_t *e = json_array_get(dec, i);
        time_t t = (time_t)json_number_value(json_object_get(e, "time"));
        struct tm tm;
        char when[16];
        strftime(when, sizeof when, "%H:%M:%S", localtime_r(&t, &tm));
        printf("    %s %s\n", when, json_string_value(json_object_get(e, "decision")));
    }
}

/* print_sources - the sending addresses by class, with their warm-up */
static void print_sources(json_t *src)
{
    if (!json_array_size(src))
        return;
    printf("\nsending addresses:\n");
    size_t i;
    json_t *a;
    json_array_foreach(src, i, a) {
        printf("  %-39s %-14s %lld recipients today", json_string_value(json_object_get(a, "address")),
               json_string_value(json_object_get(a, "class")), (long long)num(a, "used_today"));
        json_t *w = json_object_get(a, "warmup");
        if (w && json_is_integer(json_object_get(w, "cap_today")))
            printf(" of %lld (warm-up day %lld, target %lld a day)", (long long)num(w, "cap_today"),
                   (long long)num(w, "day"), (long long)num(w, "target"));
        else if (w)
            printf(" (warm-up done: the schedule reached %lld a day)", (long long)num(w, "target"));
        printf("\n");
    }
}

/* print_listings - an address's listings, one line each */
static void print_listings(json_t *zones)
{
    size_t i;
    json_t *z;
    json_array_foreach(zones, i, z) {
        if (strcmp(json_string_value(json_object_get(z, "verdict")), "listed"))
            continue;
        time_t since = (time_t)num(z, "since");
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&since));
        const char *delist = json_string_value(json_object_get(z, "delist"));   /* NULL: none */
        printf("    LISTED on %s since %s UTC: %s%s%s\n", json_string_value(json_object_get(z, "zone")),
               when, json_string_value(json_object_get(z, "why")),
               delist ? "; removal: " : "", delist ? delist : "");
    }
}

/* print_blocklists - the watch of our sending addresses on DNS blocklists */
static void print_blocklists(json_t *b)
{
    if (!b)
        return;
    json_t *off = json_object_get(b, "off");
    if (off) {
        printf("\nblocklists: not watched (%s)\n", json_string_value(off));
        return;
    }
    printf("\nblocklists: %lld lists, every %llds", (long long)num(b, "lists"), (long long)num(b, "interval"));
    if (json_object_get(b, "last_check"))
        printf("; last checked %.0fs ago", (double)time(NULL) - num(b, "last_check"));
    else
        printf("; first check under way");
    printf("\n");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(b, "addresses"), i, a) {
        printf("  %-39s (%s): %lld listed, %lld clear, %lld unknown\n",
               json_string_value(json_object_get(a, "address")), json_string_value(json_object_get(a, "source")),
               (long long)num(a, "listed"), (long long)num(a, "clear"), (long long)num(a, "unknown"));
        print_listings(json_object_get(a, "zones"));
    }
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
    print_sources(json_object_get(st, "sources"));
    print_blocklists(json_object_get(st, "blocklists"));
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
