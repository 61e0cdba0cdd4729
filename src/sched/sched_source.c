/* sched_source.c - where we send from: classes of source addresses, and IP warm-up.
 *
 * smtp_source_classes names classes of sending addresses ("transactional 192.0.2.10",
 * "bulk 192.0.2.20 192.0.2.21"); smtp_source_class_maps picks a message's class by its
 * envelope sender (the address, then "@domain", then "@.parent" entries from the nearest
 * parent up, then "*"), else smtp_source_default_class (default: the first class).  Each
 * (site, source address) pair is a destination of its own - "SITE via ADDRESS" - with its
 * own queue, sessions, learned limits and pauses, because receivers count connections,
 * rates and reputation per sending IP: a bulk backlog or a bulk IP's block never holds
 * back transactional mail.  Without classes nothing changes: one destination per site,
 * sending from smtp_bind_address.
 *
 * ip_warmup_schedule ("ADDRESS YYYY-MM-DD TARGET [START [FACTOR [PERIOD]]]") caps what an
 * address sends per UTC day while it builds a reputation: START (50) recipients a day in
 * the first PERIOD (7d), times FACTOR (2) each period after, until a period reaches TARGET;
 * from then on the address is warm and has no cap (`sluice doctor warmup` prints the same
 * schedule).  A class's jobs go first to its warming addresses that have room today, then
 * to its warm ones (the least loaded), so a new address gets its daily volume and the rest
 * goes out through the others.  A job is counted when it starts; jobs beyond the cap wait
 * in their destination until the next UTC day - deferred, never bounced, no retry spent.
 * The counts survive restarts in shaping.json (sched_state.c).  With no classes, a
 * schedule for smtp_bind_address (or smtp_bind_address6) makes it a class of its own, and
 * all mail then leaves from it (an IPv6-only MX defers while that address is IPv4).
 *
 * An address the blocklist watch finds listed (daemon/blwatch.c) is not chosen while its
 * class has an address that is not, and the mail waiting for it moves to the others. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/units.h"
#include "common/xmalloc.h"
#include "sched/sched_int.h"

#define DAY_US (86400 * 1000000LL)

/* parse_addr - a numeric address with port 0; 0 or -1 */
static int parse_addr(const char *text, netaddr *a)
{
    const char *why;
    if (netaddr_parse(text, 1, a, &why) < 0)
        return -1;
    netaddr_set_port((struct sockaddr *)&a->ss, 0);
    return 0;
}

/* find_addr - the index of the address a in t, or -1 */
static int find_addr(const src_table *t, const netaddr *a)
{
    for (int i = 0; i < t->naddr; i++)
        if (t->addr[i].a.len == a->len && !memcmp(&t->addr[i].a.ss, &a->ss, a->len))
            return i;
    return -1;
}

/* same_addr - the first word of entry and text name the same address (2001:db8::1 and
 * 2001:DB8:0::1 do) */
static int same_addr(const char *entry, const char *text)
{
    char word[64];
    netaddr a, b;
    size_t n = strcspn(entry, " \t");
    if (n >= sizeof word)
        return 0;
    memcpy(word, entry, n);
    word[n] = 0;
    return parse_addr(word, &a) == 0 && parse_addr(text, &b) == 0 && a.len == b.len &&
           !memcmp(&a.ss, &b.ss, a.len);
}

/* find_class - the index of class name in t, or -1 */
static int find_class(const src_table *t, const char *name)
{
    for (int i = 0; i < t->ncls; i++)
        if (!strcmp(t->cls[i].name, name))
            return i;
    return -1;
}

/* add_class - a class and its addresses from "CLASS ADDR [ADDR...]"; 0, or -1 with err */
static int add_class(src_table *t, const char *entry, char *err, int errlen)
{
    char *copy = xstrdup(entry), *save = NULL;
    char *name = strtok_r(copy, " \t", &save);
    int rc = -1;
    if (find_class(t, name) >= 0) {
        snprintf(err, (size_t)errlen, "smtp_source_classes: class %s is listed twice", name);
        goto out;
    }
    t->cls = xrealloc(t->cls, sizeof *t->cls * (size_t)(t->ncls + 1));
    src_class *c = &t->cls[t->ncls++];
    *c = (src_class){.name = xstrdup(name)};
    for (char *w = strtok_r(NULL, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        netaddr a;
        if (parse_addr(w, &a) < 0) {
            snprintf(err, (size_t)errlen, "smtp_source_classes: %s: \"%s\" is not a numeric IP address", name, w);
            goto out;
        }
        if (find_addr(t, &a) >= 0) {
            snprintf(err, (size_t)errlen, "smtp_source_classes: %s is in more than one class", w);
            goto out;
        }
        t->addr = xrealloc(t->addr, sizeof *t->addr * (size_t)(t->naddr + 1));
        src_addr *s = &t->addr[t->naddr];
        *s = (src_addr){.a = a, .cls = t->ncls - 1};
        netaddr_ip((struct sockaddr *)&a.ss, s->ip, sizeof s->ip);
        c->addrs = xrealloc(c->addrs, sizeof *c->addrs * (size_t)(c->n + 1));
        c->addrs[c->n++] = t->naddr++;
    }
    if (!c->n) {
        snprintf(err, (size_t)errlen, "smtp_source_classes: class %s has no address", name);
        goto out;
    }
    for (int k = 1; k < c->n; k++)
        if (t->addr[c->addrs[k]].a.ss.ss_family != t->addr[c->addrs[0]].a.ss.ss_family) {
            snprintf(err, (size_t)errlen, "smtp_source_classes: class %s mixes IPv4 and IPv6 addresses: a "
                     "session can only use an MX address of its own family; make a class per family", name);
            goto out;
        }
    rc = 0;
out:
    free(copy);
    return rc;
}

/* implicit_class - no classes but a warm-up schedule: the bind address it names becomes
 * class "default" (one family: mail then leaves from that address only) */
static int implicit_class(src_table *t, const sl_config *c, char *err, int errlen)
{
    if (t->ncls || !c->ip_warmup_schedule.n)
        return 0;
    const char *binds[2] = {c->smtp_bind_address, c->smtp_bind_address6}, *pick = NULL;
    for (int b = 0; b < 2; b++)
        for (int i = 0; binds[b][0] && i < c->ip_warmup_schedule.n; i++) {
            if (!same_addr(c->ip_warmup_schedule.v[i], binds[b]))
                continue;
            if (pick && pick != binds[b]) {
                snprintf(err, (size_t)errlen, "ip_warmup_schedule: both smtp_bind_address and smtp_bind_address6 "
                         "have a schedule: name them in smtp_source_classes (a class per family)");
                return -1;
            }
            pick = binds[b];
        }
    if (!pick) {
        snprintf(err, (size_t)errlen, "ip_warmup_schedule: the address must be smtp_bind_address(6) or in "
                 "smtp_source_classes (the kernel's choice of address cannot be warmed up)");
        return -1;
    }
    char entry[200];
    snprintf(entry, sizeof entry, "default %s", pick);
    return add_class(t, entry, err, errlen);
}

/* add_warmup - "ADDRESS YYYY-MM-DD TARGET [START [FACTOR [PERIOD]]]"; 0, or -1 with err */
static int add_warmup(src_table *t, const char *entry, char *err, int errlen)
{
    char ip[64], day[16], period[32] = "7d";
    long long target = 0, start = 50;
    double factor = 2;
    int n = sscanf(entry, "%63s %15s %lld %lld %lf %31s", ip, day, &target, &start, &factor, period);
    netaddr a;
    int64_t period_ms = 0;
    long long from = -1;
    if (n < 3 || parse_addr(ip, &a) < 0 || units_parse_day(day, &from) < 0 || target < 1 || start < 1 ||
        !(factor > 1 && factor <= 10) || units_parse_time(period, 'd', &period_ms) < 0 ||
        period_ms < 86400000LL || period_ms > 365 * 86400000LL || period_ms % 86400000LL) {
        snprintf(err, (size_t)errlen, "ip_warmup_schedule: \"%s\": expected ADDRESS YYYY-MM-DD TARGET "
                 "[START [FACTOR [PERIOD]]] (a target of 1 or more, a factor above 1 and at most 10, a period of "
                 "whole days up to 365d)", entry);
        return -1;
    }
    int i = find_addr(t, &a);
    if (i < 0) {
        snprintf(err, (size_t)errlen, "ip_warmup_schedule: %s is not a sending address (smtp_source_classes "
                 "or smtp_bind_address)", ip);
        return -1;
    }
    src_addr *s = &t->addr[i];
    s->warm = 1;
    s->from_day = from;
    s->target = target;
    s->start = start;
    s->factor = factor;
    s->period_days = (int)(period_ms / 86400000LL);
    return 0;
}

/* check_map - every smtp_source_class_maps entry names a known class */
static int check_map(const src_table *t, const sl_config *c, char *err, int errlen)
{
    for (int i = 0; i < c->smtp_source_class_maps.n; i++) {
        char key[300], cls[64];
        if (sscanf(c->smtp_source_class_maps.v[i], "%299s %63s", key, cls) != 2 || find_class(t, cls) < 0) {
            snprintf(err, (size_t)errlen, "smtp_source_class_maps: \"%s\": expected SENDER CLASS with a class "
                     "of smtp_source_classes", c->smtp_source_class_maps.v[i]);
            return -1;
        }
    }
    if (c->smtp_source_class_maps.n && !t->ncls) {
        snprintf(err, (size_t)errlen, "smtp_source_class_maps needs smtp_source_classes");
        return -1;
    }
    return 0;
}

int src_table_init(src_table *t, const sl_config *c, char *err, int errlen)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < c->smtp_source_classes.n; i++)
        if (add_class(t, c->smtp_source_classes.v[i], err, errlen) < 0)
            return -1;
    if (implicit_class(t, c, err, errlen) < 0 || check_map(t, c, err, errlen) < 0)
        return -1;
    for (int i = 0; i < c->ip_warmup_schedule.n; i++)
        if (add_warmup(t, c->ip_warmup_schedule.v[i], err, errlen) < 0)
            return -1;
    t->default_cls = 0;
    if (c->smtp_source_default_class[0] && (t->default_cls = find_class(t, c->smtp_source_default_class)) < 0) {
        snprintf(err, (size_t)errlen, "smtp_source_default_class = %s: not a class of smtp_source_classes",
                 c->smtp_source_default_class);
        return -1;
    }
    return 0;
}

void src_table_free(src_table *t)
{
    for (int i = 0; i < t->ncls; i++) {
        free(t->cls[i].name);
        free(t->cls[i].addrs);
    }
    free(t->cls);
    free(t->addr);
    memset(t, 0, sizeof *t);
}

int sched_sources_check(const sl_config *c, char *err, int errlen)
{
    src_table t;
    int rc = src_table_init(&t, c, err, errlen);
    src_table_free(&t);
    return rc;
}

/* map_get - the class named for key in smtp_source_class_maps, or -1 */
static int map_get(const src_table *t, const sl_config *c, const char *key)
{
    const char *v = config_map_get(&c->smtp_source_class_maps, key);
    char cls[64];
    if (!v)
        return -1;
    snprintf(cls, sizeof cls, "%.*s", (int)strcspn(v, " \t"), v);
    return find_class(t, cls);
}

/* class_of - the class of a message by its envelope sender */
static int class_of(const src_table *t, const sl_config *c, const char *sender)
{
    int k = map_get(t, c, sender[0] ? sender : "<>");
    const char *at = strrchr(sender, '@');
    char key[300];
    if (k < 0 && at) {
        snprintf(key, sizeof key, "@%s", at + 1);
        k = map_get(t, c, key);
        for (const char *p = strchr(at + 1, '.'); k < 0 && p; p = strchr(p + 1, '.')) {
            snprintf(key, sizeof key, "@%s", p);   /* "@.parent" entries, nearest first */
            k = map_get(t, c, key);
        }
    }
    if (k < 0)
        k = map_get(t, c, "*");
    return k >= 0 ? k : t->default_cls;
}

/* day_of - the UTC day of a time in microseconds */
static long long day_of(int64_t us)
{
    return (long long)(us / DAY_US);
}

/* roll - a new day starts the count again */
static void roll(src_addr *a, int64_t now)
{
    long long d = day_of(now);
    if (a->day != d) {
        a->day = d;
        a->used = 0;
        a->told = 0;
    }
}

long long src_cap(const src_addr *a, long long day)
{
    if (!a->warm)
        return -1;
    long long k = day < a->from_day ? 0 : (day - a->from_day) / a->period_days;
    double v = (double)a->start * pow(a->factor, (double)k);
    if (v >= (double)a->target)
        return k > 0 && (double)a->start * pow(a->factor, (double)(k - 1)) >= (double)a->target ? -1 : a->target;
    return llround(v);
}

/* room - recipients a may still start today (INT64_MAX: no cap) */
static int64_t room(src_addr *a, int64_t now)
{
    roll(a, now);
    long long cap = src_cap(a, a->day);
    if (cap < 0)
        return INT64_MAX;
    return cap > (long long)a->used ? cap - (long long)a->used : 0;
}

/* variant - the destination of site d sending from address i (kept in d->via: no key to
 * build and look up for every job) */
static sched_dest *variant(sched *s, sched_dest *d, int i)
{
    if (!d->via)
        d->via = xcalloc((size_t)s->src.naddr, sizeof *d->via);
    if (d->via[i])
        return d->via[i];
    src_addr *a = &s->src.addr[i];
    char *key = xasprintf("%s via %s", d->key, a->ip);
    sched_target t = d->t;
    t.source = &a->a;
    sched_dest *v = sched_dest_get(s, key, &t);
    v->src = a;
    v->base = d;
    free(key);
    return d->via[i] = v;
}

/* rank - how much an address with room r is wanted for a job of n recipients: warming
 * ones with room for it today first (so they get their daily volume), then uncapped ones,
 * then the rest; any address on a blocklist after every one that is not */
static int rank(const src_addr *a, int64_t r, int n)
{
    return (r == INT64_MAX ? 1 : r >= n ? 2 : 0) - (a->listed ? 10 : 0);
}

sched_dest *sched_source_dest(sched *s, sched_dest *d, const sched_job *j)
{
    if (!s->src.ncls || d->src)
        return d;
    src_class *c = &s->src.cls[class_of(&s->src, s->cfg, j->sender)];
    int64_t now = clock_now_us();
    sched_dest *best = NULL;
    int best_rank = -100;
    uint64_t best_load = 0;
    for (int k = 0; k < c->n; k++) {
        int i = c->addrs[(c->rr + k) % c->n];
        sched_dest *v = variant(s, d, i);
        src_addr *a = &s->src.addr[i];
        int64_t left = room(a, now);   /* minus what already waits for the address */
        if (left != INT64_MAX)
            left = left > a->queued ? left - a->queued : 0;
        int r = rank(a, left, j->n);
        uint64_t load = v->nready + (uint64_t)v->nbusy;
        if (r > best_rank || (r == best_rank && load < best_load)) {
            best = v;
            best_rank = r;
            best_load = load;
        }
    }
    c->rr++;
    return best;
}

/* The jobs taken from a listed address's destinations, in order. */
struct reroute {
    src_addr *a;
    sched_job *head, *tail;
};

/* reroute_one - a destination sending from the listed address gives up its waiting jobs
 * (collected first: enqueueing must not change the map being walked) */
static void reroute_one(const char *key, void *val, void *arg)
{
    (void)key;
    sched_dest *d = val;
    struct reroute *r = arg;
    if (d->src != r->a || !d->ready)
        return;
    for (sched_job *j = d->ready; j; j = j->next) {
        r->a->queued -= j->n;
        j->dest = d->base;   /* where it goes again */
    }
    if (r->tail)
        r->tail->next = d->ready;
    else
        r->head = d->ready;
    r->tail = d->ready_tail;
    d->ready = d->ready_tail = NULL;
    d->nready = 0;
}

void sched_source_listed(sched *s, const struct sockaddr *sa, int listed)
{
    for (int i = 0; i < s->src.naddr; i++) {
        src_addr *a = &s->src.addr[i];
        if (a->a.ss.ss_family != sa->sa_family || memcmp(&a->a.ss, sa, a->a.len) || a->listed == !!listed)
            continue;
        a->listed = !!listed;
        src_class *c = &s->src.cls[a->cls];
        log_notice(NULL, "blocklist: %s (class %s) %s", a->ip, c->name,
                   listed ? (c->n > 1 ? "is listed: the class sends from its other addresses while it is"
                                      : "is listed, and the only address of its class: it keeps sending")
                          : "is no longer listed: it sends again");
        if (!listed)
            continue;
        struct reroute r = {a, NULL, NULL};
        hmap_foreach(s->dests, reroute_one, &r);
        while (r.head) {   /* the class's choice now avoids the listed address */
            sched_job *j = r.head;
            r.head = j->next;
            sched_dest_enqueue(s, j->dest, j);
        }
        sched_pump(s);
    }
}

int sched_source_may_start(sched_dest *d, int n, int64_t now, int64_t *wake)
{
    src_addr *a = d->src;
    if (!a)
        return 1;
    int64_t r = room(a, now);
    if (r >= n || (r > 0 && a->used == 0))
        return 1;
    int64_t next = (day_of(now) + 1) * DAY_US;
    if (next < *wake)
        *wake = next;
    if (!a->told) {
        a->told = 1;
        log_notice(NULL, "warm-up: %s has sent today's %lld recipients (day %lld of its schedule); %s "
                   "waits until 00:00 UTC", a->ip, src_cap(a, a->day), a->day - a->from_day + 1, d->key);
    }
    return 0;
}

void sched_source_started(sched_dest *d, int n, int64_t now)
{
    if (!d->src)
        return;
    roll(d->src, now);
    d->src->used += (uint64_t)n;
}

json_t *sched_sources_status(sched *s)
{
    if (!s->src.ncls)
        return NULL;
    json_t *arr = json_array();
    int64_t now = clock_now_us();
    for (int i = 0; i < s->src.naddr; i++) {
        src_addr *a = &s->src.addr[i];
        roll(a, now);
        json_t *o = json_pack("{s:s,s:s,s:I,s:b}", "address", a->ip, "class", s->src.cls[a->cls].name,
                              "used_today", (json_int_t)a->used, "listed", a->listed);
        if (a->warm) {
            long long cap = src_cap(a, a->day);
            json_object_set_new(o, "warmup", json_pack("{s:I,s:I,s:o}", "day", (json_int_t)(a->day - a->from_day + 1),
                                                       "target", (json_int_t)a->target, "cap_today",
                                                       cap < 0 ? json_null() : json_integer(cap)));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *sched_sources_save(sched *s)
{
    json_t *o = json_object();
    for (int i = 0; i < s->src.naddr; i++) {
        const src_addr *a = &s->src.addr[i];
        if (a->warm && a->used)
            json_object_set_new(o, a->ip, json_pack("{s:I,s:I}", "day", (json_int_t)a->day, "used", (json_int_t)a->used));
    }
    return o;
}

void sched_sources_restore(sched *s, json_t *saved)
{
    for (int i = 0; i < s->src.naddr; i++) {
        src_addr *a = &s->src.addr[i];
        json_t *v = json_object_get(saved, a->ip);
        if (!json_is_object(v))
            continue;
        a->day = (long long)json_integer_value(json_object_get(v, "day"));
        a->used = (uint64_t)json_integer_value(json_object_get(v, "used"));
        roll(a, clock_now_us());   /* yesterday's count does not carry over */
    }
}
