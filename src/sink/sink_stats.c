/* sink_stats.c - the sink's summary counters and their printing (see sink_stats.h).
 *
 * Duplicates: each accepted (Message-ID, recipient) pair is remembered as a 128-bit digest
 * of "message-id NUL recipient-in-lower-case" (two seeded 64-bit hashes); a pair seen again
 * counts one duplicate.  Messages without a Message-ID can't be matched and are counted
 * apart.  Client rate: (accepted - 1) / (last accept - first accept), the steady rate the
 * client achieved; the busiest window: the most messages accepted from it within any span
 * of window_us (exact, from the accept times). */
#include "sink/sink_stats.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/xmalloc.h"
#include "sink/sink_map.h"
#include "sink/sink_window.h"

struct sink_client {
    uint8_t key[17];
    char ip[64];
    int64_t open, peak, conns, accepted;
    int64_t first_us, last_us;
    sink_window w;
    int64_t busiest;
};

struct sink_stats {
    int64_t window_us;
    sink_map *clients;     /* netaddr key -> sink_client */
    sink_map *pairs;       /* 16-byte digest -> non-NULL marker */
    sink_map *policies;    /* policy name -> int64_t count */
    int64_t accepted, duplicates, no_msgid, refusals, dropped, connections;
    dbuf scratch;
};

sink_stats *sink_stats_new(int64_t window_us)
{
    sink_stats *st = xcalloc(1, sizeof *st);
    st->window_us = window_us;
    st->clients = sink_map_new();
    st->pairs = sink_map_new();
    st->policies = sink_map_new();
    return st;
}

/* client_free - sink_map_free callback */
static void client_free(void *v)
{
    sink_client *c = v;
    sink_window_free(&c->w);
    free(c);
}

void sink_stats_free(sink_stats *st)
{
    if (!st)
        return;
    sink_map_free(st->clients, client_free);
    sink_map_free(st->pairs, NULL);
    sink_map_free(st->policies, free);
    dbuf_free(&st->scratch);
    free(st);
}

sink_client *sink_stats_connect(sink_stats *st, const uint8_t key[17], const char *ip)
{
    void **slot = sink_map_slot(st->clients, key, 17);
    sink_client *c = *slot;
    if (!c) {
        c = *slot = xcalloc(1, sizeof *c);
        memcpy(c->key, key, 17);
        snprintf(c->ip, sizeof c->ip, "%s", ip);
    }
    st->connections++;
    c->conns++;
    if (++c->open > c->peak)
        c->peak = c->open;
    return c;
}

void sink_stats_disconnect(sink_stats *st, sink_client *c)
{
    c->open--;
}

/* pair_seen - remember (message_id, rcpt); 1 when it was accepted before */
static int pair_seen(sink_stats *st, const char *message_id, const char *rcpt)
{
    dbuf *b = &st->scratch;
    dbuf_reset(b);
    dbuf_puts(b, message_id);
    dbuf_putc(b, 0);
    for (const char *p = rcpt; *p; p++)
        dbuf_putc(b, (uint8_t)tolower((unsigned char)*p));
    uint64_t d[2] = {sink_hash64(b->data, b->len, 0x243f6a8885a308d3ULL),
                     sink_hash64(b->data, b->len, 0x13198a2e03707344ULL)};
    void **slot = sink_map_slot(st->pairs, d, sizeof d);
    if (*slot)
        return 1;
    *slot = st;   /* any non-NULL marker */
    return 0;
}

void sink_stats_accept(sink_stats *st, sink_client *c, const char *message_id,
                       char *const *rcpts, int nrcpt, int64_t now_us)
{
    st->accepted++;
    if (!message_id[0])
        st->no_msgid++;
    for (int i = 0; message_id[0] && i < nrcpt; i++)
        st->duplicates += pair_seen(st, message_id, rcpts[i]);
    if (!c->accepted++)
        c->first_us = now_us;
    c->last_us = now_us;
    sink_window_add(&c->w, now_us, st->window_us);
    if ((int64_t)c->w.n > c->busiest)
        c->busiest = (int64_t)c->w.n;
}

void sink_stats_refusal(sink_stats *st, const char *policy, int dropped)
{
    void **slot = sink_map_slot(st->policies, policy, strlen(policy));
    if (!*slot)
        *slot = xcalloc(1, sizeof(int64_t));
    ++*(int64_t *)*slot;
    st->refusals++;
    st->dropped += dropped != 0;
}

int64_t sink_stats_accepted(const sink_stats *st)
{
    return st->accepted;
}

int64_t sink_stats_duplicates(const sink_stats *st)
{
    return st->duplicates;
}

/* client_rate - accepted messages per second between the client's first and last */
static double client_rate(const sink_client *c)
{
    if (c->accepted < 2 || c->last_us <= c->first_us)
        return 0;
    return (double)(c->accepted - 1) * 1e6 / (double)(c->last_us - c->first_us);
}

/* A sorted view of a map: clients by address, policies by name. */
typedef struct view {
    const void **key;
    size_t *klen;
    void **val;
    size_t n;
} view;

/* view_add - sink_map_each callback */
static void view_add(const void *key, size_t klen, void *val, void *arg)
{
    view *v = arg;
    v->key[v->n] = key;
    v->klen[v->n] = klen;
    v->val[v->n++] = val;
}

/* key_cmp_n - byte order of two keys with their lengths */
static int key_cmp_n(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* view_sort - insertion sort by key (small maps: clients and policies) */
static void view_sort(view *v)
{
    for (size_t i = 1; i < v->n; i++)
        for (size_t j = i; j > 0 && key_cmp_n(v->key[j - 1], v->klen[j - 1], v->key[j],
                                                v->klen[j]) > 0; j--) {
            const void *k = v->key[j];
            size_t kl = v->klen[j];
            void *x = v->val[j];
            v->key[j] = v->key[j - 1];
            v->klen[j] = v->klen[j - 1];
            v->val[j] = v->val[j - 1];
            v->key[j - 1] = k;
            v->klen[j - 1] = kl;
            v->val[j - 1] = x;
        }
}

/* view_of - every entry of m, sorted by key; free with view_free */
static view view_of(const sink_map *m)
{
    size_t n = sink_map_count(m) + 1;
    view v = {xcalloc(n, sizeof *v.key), xcalloc(n, sizeof *v.klen), xcalloc(n, sizeof *v.val), 0};
    sink_map_each(m, view_add, &v);
    view_sort(&v);
    return v;
}

/* view_free - release a view (not the map it shows) */
static void view_free(view *v)
{
    free(v->key);
    free(v->klen);
    free(v->val);
}

/* print_text - the human-readable summary */
static void print_text(const sink_stats *st, FILE *f, double elapsed_s, uint64_t seed)
{
    view pol = view_of(st->policies), cl = view_of(st->clients);
    fprintf(f, "sluice sink summary: %.3f s, seed %llu\n", elapsed_s, (unsigned long long)seed);
    fprintf(f, "  accepted     %lld (duplicates %lld, without Message-ID %lld)\n",
            (long long)st->accepted, (long long)st->duplicates, (long long)st->no_msgid);
    fprintf(f, "  connections  %lld\n", (long long)st->connections);
    fprintf(f, "  refusals     %lld (dropped without reply %lld)\n", (long long)st->refusals,
            (long long)st->dropped);
    for (size_t i = 0; i < pol.n; i++)
        fprintf(f, "    %-24.*s %lld\n", (int)pol.klen[i], (const char *)pol.key[i],
                (long long)*(int64_t *)pol.val[i]);
    int w = 9;
    for (size_t i = 0; i < cl.n; i++)
        if ((int)strlen(((const sink_client *)cl.val[i])->ip) > w)
            w = (int)strlen(((const sink_client *)cl.val[i])->ip);
    fprintf(f, "  %-*s %8s %10s %9s %10s %8s\n", w, "client", "conns", "peak_conns", "accepted",
            "rate/s", "busiest");
    for (size_t i = 0; i < cl.n; i++) {
        const sink_client *c = cl.val[i];
        fprintf(f, "  %-*s %8lld %10lld %9lld %10.2f %8lld\n", w, c->ip, (long long)c->conns,
                (long long)c->peak, (long long)c->accepted, client_rate(c),
                (long long)c->busiest);
    }
    fprintf(f, "  (busiest: most messages accepted within any %.3f s)\n",
            (double)st->window_us / 1e6);
    view_free(&pol);
    view_free(&cl);
}

/* json_clients - {"ip": {...}, ...} */
static json_t *json_clients(const sink_stats *st)
{
    view cl = view_of(st->clients);
    json_t *o = json_object();
    for (size_t i = 0; i < cl.n; i++) {
        const sink_client *c = cl.val[i];
        json_object_set_new(o, c->ip, json_pack("{s:I,s:I,s:I,s:f,s:I}",
            "connections", (json_int_t)c->conns, "peak_connections", (json_int_t)c->peak,
            "accepted", (json_int_t)c->accepted, "rate_per_s", client_rate(c),
            "busiest_window", (json_int_t)c->busiest));
    }
    view_free(&cl);
    return o;
}

/* json_policies - {"policy": count, ...} */
static json_t *json_policies(const sink_stats *st)
{
    view pol = view_of(st->policies);
    json_t *o = json_object();
    for (size_t i = 0; i < pol.n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)pol.klen[i], (const char *)pol.key[i]);
        json_object_set_new(o, name, json_integer(*(int64_t *)pol.val[i]));
    }
    view_free(&pol);
    return o;
}

/* print_json - the summary as one JSON object on one line */
static void print_json(const sink_stats *st, FILE *f, double elapsed_s, uint64_t seed)
{
    json_t *o = json_pack("{s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:f,s:o}",
        "elapsed_s", elapsed_s, "seed", (json_int_t)seed, "accepted", (json_int_t)st->accepted,
        "duplicates", (json_int_t)st->duplicates, "without_message_id", (json_int_t)st->no_msgid,
        "connections", (json_int_t)st->connections, "refusals", (json_int_t)st->refusals,
        "dropped", (json_int_t)st->dropped, "refusals_by_policy", json_policies(st),
        "window_s", (double)st->window_us / 1e6, "clients", json_clients(st));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}

void sink_stats_print(const sink_stats *st, FILE *f, int json, double elapsed_s, uint64_t seed)
{
    if (json)
        print_json(st, f, elapsed_s, seed);
    else
        print_text(st, f, elapsed_s, seed);
    fflush(f);
}
