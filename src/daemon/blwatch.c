/* blwatch.c - the daemon watches its own sending addresses on DNS blocklists (the field
 * guide: "monitor your sending IP against major blacklists daily").
 *
 * Every dnsbl_watch_interval (default 4h; 0 turns the watch off), and once at start, each
 * watched address is looked up on every zone - dnsbl_watch_zones, else the doctor's curated
 * list - together with the zones' RFC 5782 self-tests, so a dead or refusing zone reads
 * "unknown", never "clear" or "listed" (doctor/dnsbl.h has the rules).
 * The addresses: dnsbl_watch_addresses; else those of smtp_source_classes; else
 * smtp_bind_address and smtp_bind_address6; else
 * the address the kernel would send from (found with a connected UDP socket: no packet is
 * sent), when that is a public address - behind NAT the public address is not known here
 * and the log says to set dnsbl_watch_addresses.
 * A change of verdict is logged once: listed (warning, with the zone's reason and where to
 * ask for removal), no longer listed (notice), cannot tell (info).  `sluice status` shows the
 * last answers.  A listed address of smtp_source_classes is left aside while its class has
 * another (sched_source_listed); with one source address there is nowhere else to send
 * from, and the shaping already backs off from receivers that refuse for reputation.
 * Owned by main (sluiced.bl); runs on the daemon's loop and resolver, and is stopped before
 * the resolver is freed. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"
#include "doctor/dnsbl.h"

/* What the watch knows of one address on one zone. */
typedef struct bl_state {
    enum dnsbl_verdict verdict;
    int known;                 /* a lookup has judged it */
    char *why, *txt;           /* owned */
    int64_t since;             /* unix seconds of the last change of verdict */
} bl_state;

/* One watched address. */
typedef struct bl_addr {
    blwatch *w;
    netaddr a;
    char ip[INET6_ADDRSTRLEN];
    const char *source;        /* where the address came from (a parameter name, "route") */
    dnsbl_result *res;         /* this round's answers, one per zone, or NULL */
    dnsbl_lookup *l;           /* in flight, or NULL */
    bl_state *st;              /* one per zone */
} bl_addr;

struct blwatch {
    sluiced *d;
    dnsbl_zone *custom;        /* from dnsbl_watch_zones, or NULL: the curated list */
    const dnsbl_zone *zones;
    int nzones;
    bl_addr *addrs;
    int naddrs;
    int running;               /* addresses whose lookup of this round is not done */
    struct event *timer;
    int64_t last_check, next_check;   /* unix seconds, 0: not yet */
    char off[240];             /* why nothing is watched, or "" */
};

/* v4_public - an IPv4 address (host order) that DNSBLs could list: not this-network,
 * private, shared (CGNAT), loopback, link-local, documentation, benchmarking or multicast */
static int v4_public(uint32_t a)
{
    static const uint32_t nets[][2] = {
        {0x00000000, 8}, {0x0a000000, 8}, {0x64400000, 10}, {0x7f000000, 8}, {0xa9fe0000, 16},
        {0xac100000, 12}, {0xc0000200, 24}, {0xc0a80000, 16}, {0xc6120000, 15}, {0xc6336400, 24},
        {0xcb007100, 24}, {0xe0000000, 3},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if ((a >> (32 - nets[i][1])) == (nets[i][0] >> (32 - nets[i][1])))
            return 0;
    return 1;
}

/* is_public - an address receivers could see us send from (v4_public; IPv6: not loopback,
 * unspecified, link-local, unique local, documentation or multicast) */
static int is_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        uint32_t v4;
        memcpy(&v4, a->s6_addr + 12, 4);
        return v4_public(ntohl(v4));
    }
    return !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LINKLOCAL(a) &&
           (a->s6_addr[0] & 0xfe) != 0xfc && a->s6_addr[0] != 0xff &&
           memcmp(a->s6_addr, "\x20\x01\x0d\xb8", 4) != 0;
}

/* add_addr - watch sa (once) */
static void add_addr(blwatch *w, const struct sockaddr *sa, socklen_t len, const char *source)
{
    for (int i = 0; i < w->naddrs; i++)
        if (w->addrs[i].a.len == len && !memcmp(&w->addrs[i].a.ss, sa, len))
            return;
    w->addrs = xrealloc(w->addrs, sizeof *w->addrs * (size_t)(w->naddrs + 1));
    bl_addr *b = &w->addrs[w->naddrs++];
    *b = (bl_addr){.w = w, .source = source};
    memcpy(&b->a.ss, sa, len);
    b->a.len = len;
    netaddr_ip(sa, b->ip, sizeof b->ip);
    b->st = xcalloc((size_t)w->nzones, sizeof *b->st);
}

/* add_text - watch the numeric address text (port, when any, ignored) */
static void add_text(blwatch *w, const char *text, const char *source)
{
    netaddr a;
    const char *why;
    if (netaddr_parse(text, 1, &a, &why) == 0) {
        netaddr_set_port((struct sockaddr *)&a.ss, 0);
        add_addr(w, (struct sockaddr *)&a.ss, a.len, source);
    }
}

/* add_routed - the source address the kernel picks toward the Internet for family, when
 * public (a connected UDP socket: nothing is sent) */
static void add_routed(blwatch *w, int family)
{
    netaddr to;   /* documentation addresses: only the route to them is looked at */
    const char *why;
    if (netaddr_parse(family == AF_INET ? "198.51.100.1:53" : "[2001:db8::1]:53", 0, &to, &why) < 0)
        return;
    struct sockaddr_storage me;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t mlen = sizeof me;
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&to.ss, to.len) == 0 &&
             getsockname(fd, (struct sockaddr *)&me, &mlen) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok)
        return;
    char ip[INET6_ADDRSTRLEN];
    if (!is_public((struct sockaddr *)&me)) {
        log_info(NULL, "blocklist watch: the source address %s is not public (NAT?): set "
                 "dnsbl_watch_addresses to the address receivers see",
                 netaddr_ip((struct sockaddr *)&me, ip, sizeof ip));
        return;
    }
    netaddr_set_port((struct sockaddr *)&me, 0);
    add_addr(w, (struct sockaddr *)&me, mlen, "route");
}

/* pick_addresses - the configured addresses, else the class addresses, else the bind
 * addresses, else the routed ones */
static void pick_addresses(blwatch *w)
{
    const sl_config *c = w->d->cfg;
    for (int i = 0; i < c->dnsbl_watch_addresses.n; i++)
        add_text(w, c->dnsbl_watch_addresses.v[i], "dnsbl_watch_addresses");
    if (w->naddrs)
        return;
    for (int i = 0; i < c->smtp_source_classes.n; i++) {   /* "CLASS ADDR [ADDR...]" */
        char *copy = xstrdup(c->smtp_source_classes.v[i]), *save = NULL;
        strtok_r(copy, " \t", &save);
        for (char *a = strtok_r(NULL, " \t", &save); a; a = strtok_r(NULL, " \t", &save))
            add_text(w, a, "smtp_source_classes");
        free(copy);
    }
    if (w->naddrs)
        return;
    if (c->smtp_bind_address[0])
        add_text(w, c->smtp_bind_address, "smtp_bind_address");
    if (c->smtp_bind_address6[0])
        add_text(w, c->smtp_bind_address6, "smtp_bind_address6");
    if (w->naddrs)
        return;
    add_routed(w, AF_INET);
    add_routed(w, AF_INET6);
}

/* pick_zones - dnsbl_watch_zones, else the curated list */
static void pick_zones(blwatch *w)
{
    const strlist *z = &w->d->cfg->dnsbl_watch_zones;
    if (!z->n) {
        w->zones = dnsbl_curated;
        w->nzones = dnsbl_ncurated;
        return;
    }
    w->custom = xcalloc((size_t)z->n, sizeof *w->custom);
    for (int i = 0; i < z->n; i++)
        w->custom[i] = (dnsbl_zone){z->v[i], z->v[i], 1, "given in dnsbl_watch_zones", NULL, NULL};
    w->zones = w->custom;
    w->nzones = z->n;
}

/* log_change - a new verdict for b on zone z: say so */
static void log_change(const bl_addr *b, const dnsbl_zone *z, const dnsbl_result *r, int was_listed)
{
    switch (r->verdict) {
    case DNSBL_LISTED:
        log_warn(NULL, "blocklist: our sending address %s is listed on %s (%s): %s%s%s%s%s", b->ip,
                 z->zone, z->name, r->why, r->txt ? "; the zone says: " : "", r->txt ? r->txt : "",
                 z->delist ? "; look up and ask for removal at " : "", z->delist ? z->delist : "");
        break;
    case DNSBL_CLEAR:
        if (was_listed)
            log_notice(NULL, "blocklist: our sending address %s is no longer listed on %s", b->ip,
                       z->zone);
        break;
    case DNSBL_UNKNOWN:
        log_info(NULL, "blocklist: cannot tell whether %s is listed on %s: %s", b->ip, z->zone, r->why);
        break;
    default:
        break;
    }
}

/* note - keep r as b's state on zone i, logging a change; a lookup that cannot tell
 * leaves a listing in place (unknown is never clear) */
static void note(bl_addr *b, int i, const dnsbl_result *r)
{
    bl_state *s = &b->st[i];
    if (r->verdict == DNSBL_UNKNOWN && s->known && s->verdict == DNSBL_LISTED) {
        log_info(NULL, "blocklist: cannot tell now whether %s is still listed on %s (%s): taken as listed",
                 b->ip, b->w->zones[i].zone, r->why);
        return;
    }
    int changed = !s->known || s->verdict != r->verdict ||
                  (r->verdict == DNSBL_LISTED && strcmp(s->why ? s->why : "", r->why));
    if (changed)
        log_change(b, &b->w->zones[i], r, s->known && s->verdict == DNSBL_LISTED);
    if (!s->known || s->verdict != r->verdict)
        s->since = clock_now();
    s->known = 1;
    s->verdict = r->verdict;
    free(s->why);
    free(s->txt);
    s->why = xstrdup(r->why);
    s->txt = r->txt ? xstrdup(r->txt) : NULL;
}

/* count - how many of b's zones have verdict v */
static int count(const bl_addr *b, enum dnsbl_verdict v)
{
    int n = 0;
    for (int i = 0; i < b->w->nzones; i++)
        n += b->st[i].known && b->st[i].verdict == v;
    return n;
}

static void round_done(blwatch *w);

/* addr_done - b's answers are in: note them, then maybe end the round */
static void addr_done(bl_addr *b)
{
    blwatch *w = b->w;
    for (int i = 0; i < w->nzones; i++) {
        note(b, i, &b->res[i]);
        dnsbl_result_clear(&b->res[i]);
    }
    free(b->res);
    b->res = NULL;
    if (w->d->sched)   /* a listed address of a class makes way for the others */
        sched_source_listed(w->d->sched, (struct sockaddr *)&b->a.ss, count(b, DNSBL_LISTED) > 0);
    log_info(NULL, "blocklist: %s checked on %d lists: %d listed, %d clear, %d unknown", b->ip,
             w->nzones, count(b, DNSBL_LISTED), count(b, DNSBL_CLEAR), count(b, DNSBL_UNKNOWN));
    if (--w->running == 0)
        round_done(w);
}

/* on_lookup - a lookup's callback */
static void on_lookup(void *arg)
{
    bl_addr *b = arg;
    b->l = NULL;
    addr_done(b);
}

/* round_start - look every address up on every zone */
static void round_start(blwatch *w)
{
    w->running = w->naddrs;
    for (int i = 0; i < w->naddrs; i++) {
        bl_addr *b = &w->addrs[i];
        b->res = xcalloc((size_t)w->nzones, sizeof *b->res);
        b->l = dnsbl_lookup_start(w->d->dns, (struct sockaddr *)&b->a.ss, w->zones, w->nzones,
                                  b->res, on_lookup, b);
        if (!b->l)
            addr_done(b);   /* nothing to ask (an IPv6 address, IPv4-only zones) */
    }
}

/* round_done - every address is checked: the next round in dnsbl_watch_interval */
static void round_done(blwatch *w)
{
    int64_t ms = w->d->cfg->dnsbl_watch_interval_ms;
    w->last_check = clock_now();
    w->next_check = w->last_check + ms / 1000;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(w->timer, &tv);
}

/* on_timer - time for a round */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    round_start(arg);
}

blwatch *blwatch_start(sluiced *d)
{
    blwatch *w = xcalloc(1, sizeof *w);
    w->d = d;
    w->timer = evtimer_new(d->base, on_timer, w);
    if (d->cfg->dnsbl_watch_interval_ms <= 0) {
        snprintf(w->off, sizeof w->off, "dnsbl_watch_interval = 0");
        return w;
    }
    pick_zones(w);
    pick_addresses(w);
    if (!w->naddrs) {
        snprintf(w->off, sizeof w->off, "no public source address is known: set dnsbl_watch_addresses");
        log_notice(NULL, "blocklist watch: %s", w->off);
        return w;
    }
    log_info(NULL, "blocklist watch: %d address%s on %d lists, every %llds", w->naddrs,
             w->naddrs == 1 ? "" : "es", w->nzones,
             (long long)(d->cfg->dnsbl_watch_interval_ms / 1000));
    struct timeval now = {0, 0};
    evtimer_add(w->timer, &now);   /* the first round once the loop runs */
    return w;
}

void blwatch_stop(blwatch *w)
{
    if (!w)
        return;
    event_free(w->timer);
    for (int i = 0; i < w->naddrs; i++) {
        bl_addr *b = &w->addrs[i];
        dnsbl_lookup_cancel(b->l);
        free(b->res);   /* a cancelled lookup leaves its results unjudged: nothing inside */
        for (int k = 0; k < w->nzones; k++) {
            free(b->st[k].why);
            free(b->st[k].txt);
        }
        free(b->st);
    }
    free(w->addrs);
    free(w->custom);
    free(w);
}

/* state_json - one zone's row */
static json_t *state_json(const dnsbl_zone *z, const bl_state *s)
{
    if (!s->known)
        return json_pack("{s:s,s:s}", "zone", z->zone, "verdict", "pending");
    return json_pack("{s:s,s:s,s:s,s:s?,s:I,s:s?}", "zone", z->zone, "verdict",
                     dnsbl_verdict_name(s->verdict), "why", s->why ? s->why : "", "txt", s->txt,
                     "since", (json_int_t)s->since, "delist",
                     s->verdict == DNSBL_LISTED ? z->delist : NULL);
}

json_t *blwatch_status(const blwatch *w)
{
    json_t *o = json_pack("{s:I,s:i}", "interval", (json_int_t)(w->d->cfg->dnsbl_watch_interval_ms / 1000),
                          "lists", w->nzones);
    if (w->off[0])
        json_object_set_new(o, "off", json_string(w->off));
    if (w->last_check)
        json_object_set_new(o, "last_check", json_integer(w->last_check));
    if (w->next_check)
        json_object_set_new(o, "next_check", json_integer(w->next_check));
    json_t *addrs = json_array();
    for (int i = 0; i < w->naddrs; i++) {
        const bl_addr *b = &w->addrs[i];
        json_t *zones = json_array();
        for (int k = 0; k < w->nzones; k++)
            json_array_append_new(zones, state_json(&w->zones[k], &b->st[k]));
        json_array_append_new(addrs, json_pack("{s:s,s:s,s:i,s:i,s:i,s:o}", "address", b->ip, "source",
                                               b->source, "listed", count(b, DNSBL_LISTED), "clear",
                                               count(b, DNSBL_CLEAR), "unknown",
                                               count(b, DNSBL_UNKNOWN), "zones", zones));
    }
    json_object_set_new(o, "addresses", addrs);
    return o;
}
