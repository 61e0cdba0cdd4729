/* sched_route.c - where a recipient domain's mail goes.  transport_maps first (an exact
 * domain, then ".parent" entries from the nearest parent up, then "*"), then relayhost, then
 * the domain's own MX.  An MX lookup leads to a destination keyed by the MX host set, so
 * domains hosted by one provider share one destination and one set of limits.  Lookups are
 * cached for their TTL; jobs wait on their routing key while its lookup runs.  No MX record
 * (NODATA) means the domain itself is the host (RFC 5321 5.1); null MX, NXDOMAIN and bad
 * names bounce; a failed lookup defers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "config/nexthop.h"
#include "sched/sched_int.h"

#define MIN_TTL_US (10 * 1000000LL)
#define MAX_TTL_US (3600 * 1000000LL)

/* route_for - the nexthop of a recipient domain */
static nexthop route_for(sched *s, const char *domain)
{
    const sl_config *c = s->cfg;
    nexthop nh;
    const char *err, *v = config_map_get(&c->transport_maps, domain);
    for (const char *p = strchr(domain, '.'); !v && p; p = strchr(p + 1, '.'))
        v = config_map_get(&c->transport_maps, p);   /* ".parent" entries, nearest parent first */
    if (!v)
        v = config_map_get(&c->transport_maps, "*");
    if (v && nexthop_parse_transport(v, &nh, &err) == 0)
        return nh;
    if (c->relayhost[0] && nexthop_parse(c->relayhost, &nh, &err) == 0)
        return nh;
    memset(&nh, 0, sizeof nh);
    nh.kind = NH_MX;
    return nh;
}

/* sdomain_get - the routing entry for key, created on first use */
static sdomain *sdomain_get(sched *s, const char *key, const char *lookup, int port)
{
    sdomain *sd = hmap_get(s->domains, key);
    if (sd)
        return sd;
    sd = xcalloc(1, sizeof *sd);
    sd->s = s;
    sd->key = xstrdup(key);
    sd->lookup = lookup ? xstrdup(lookup) : NULL;
    sd->port = port;
    hmap_put(s->domains, key, sd);
    return sd;
}

/* cmp_str - qsort on strings */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* site_key - "mx:host1,host2:port" from the MX host set (sorted, so the order of equal
 * preferences does not matter) */
static char *site_key(char **hosts, int n, int port)
{
    char **sorted = xcalloc((size_t)n, sizeof *sorted);
    memcpy(sorted, hosts, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    dbuf b = {0};
    dbuf_puts(&b, "mx:");
    for (int i = 0; i < n; i++)
        dbuf_printf(&b, "%s%s", i ? "," : "", sorted[i]);
    dbuf_printf(&b, ":%d", port);
    free(sorted);
    return (char *)dbuf_steal(&b, NULL);
}

/* dest_for_hosts - the destination of an MX host set */
static sched_dest *dest_for_hosts(sched *s, char **hosts, int n, int port, int literal)
{
    char *key = literal ? xasprintf("[%s]:%d", hosts[0], port) : site_key(hosts, n, port);
    sched_target t = {.literal = literal, .hosts = hosts, .nhosts = n, .port = port};
    sched_dest *d = sched_dest_get(s, key, &t);
    free(key);
    return d;
}

/* release_waiting - hand the jobs waiting on sd to its destination, or fail them */
static void release_waiting(sched *s, sdomain *sd, int code, const char *enh, const char *text)
{
    sched_job *j = sd->waiting;
    sd->waiting = sd->waiting_tail = NULL;
    while (j) {
        sched_job *next = j->next;
        j->next = NULL;
        if (sd->dest && !code)
            sched_dest_enqueue(s, sd->dest, j);
        else
            sched_fail_job(s, j, code, enh, text);
        j = next;
    }
}

/* on_mx - the MX answer for a routing key */
static void on_mx(void *arg, const dns_mx_result *r)
{
    sdomain *sd = arg;
    sched *s = sd->s;
    sd->resolving = 0;
    char text[512];
    if (r->status == DNS_OK && r->null_mx) {
        snprintf(text, sizeof text, "Domain %s does not accept mail (null MX)", sd->lookup);
        release_waiting(s, sd, 556, "5.1.10", text);
    } else if (r->status == DNS_OK || r->status == DNS_NODATA) {
        char **hosts = xcalloc((size_t)(r->nmx ? r->nmx : 1), sizeof *hosts);
        int n = 0;
        for (int i = 0; i < r->nmx; i++)
            hosts[n++] = r->mx[i].host;
        if (!n)
            hosts[n++] = sd->lookup;   /* no MX: the domain itself (RFC 5321 5.1) */
        sd->dest = dest_for_hosts(s, hosts, n, sd->port, 0);
        int64_t ttl = (int64_t)r->ttl * 1000000;
        sd->expires_us = clock_now_us() + (ttl < MIN_TTL_US ? MIN_TTL_US : ttl > MAX_TTL_US ? MAX_TTL_US : ttl);
        free(hosts);
        release_waiting(s, sd, 0, NULL, NULL);
    } else if (r->status == DNS_TEMPFAIL) {
        snprintf(text, sizeof text, "Host or domain name lookup failed: name=%s type=MX: %s", sd->lookup,
                 r->why ? r->why : "temporary failure");
        release_waiting(s, sd, 451, "4.4.3", text);
    } else {
        snprintf(text, sizeof text, "Host or domain name not found. Name service error for name=%s type=MX: %s",
                 sd->lookup, r->status == DNS_BADNAME ? "invalid name" : "Host not found");
        release_waiting(s, sd, 550, "5.1.2", text);
    }
    sched_flush_failed(s);
    sched_pump(s);
}

/* start_lookup - ask the resolver for sd's MX */
static void start_lookup(sched *s, sdomain *sd)
{
    sd->resolving = 1;
    s->res.mx(s->res.ctx, sd->lookup, on_mx, sd);
}

void sched_route_job(sched *s, sched_job *j, const char *domain)
{
    if (!*domain) {
        sched_fail_job(s, j, 550, "5.1.3", "Recipient address has no domain");
        return;
    }
    nexthop nh = route_for(s, domain);
    int port = nh.port ? nh.port : (int)s->cfg->smtp_port;
    if (nh.kind == NH_ERROR) {
        const char *t = nh.host;
        char enh[16] = "5.0.0";
        if (t[0] >= '2' && t[0] <= '5' && t[1] == '.' && strcspn(t, " ") < sizeof enh) {
            snprintf(enh, sizeof enh, "%.*s", (int)strcspn(t, " "), t);
            t += strcspn(t, " ") + strspn(t + strcspn(t, " "), " ");
        }
        sched_fail_job(s, j, enh[0] == '4' ? 450 : 550, enh, t);
        return;
    }
    if (nh.kind == NH_HOST) {
        char *hosts[1] = {nh.host};
        sched_dest_enqueue(s, dest_for_hosts(s, hosts, 1, port, 1), j);
        return;
    }
    const char *lookup = nh.host[0] ? nh.host : domain;
    char key[300];
    snprintf(key, sizeof key, "%s:%d", lookup, port);
    sdomain *sd = sdomain_get(s, key, lookup, port);
    if (sd->dest && sd->expires_us > clock_now_us()) {
        sched_dest_enqueue(s, sd->dest, j);
        return;
    }
    j->next = NULL;
    if (sd->waiting_tail)
        sd->waiting_tail->next = j;
    else
        sd->waiting = j;
    sd->waiting_tail = j;
    if (!sd->resolving)
        start_lookup(s, sd);
}

/* free_sdomain - for hmap_free */
static void free_sdomain(void *p)
{
    sdomain *sd = p;
    for (sched_job *j = sd->waiting, *nx; j; j = nx) {
        nx = j->next;
        sched_job_detach(j);
        sched_job_free(j);
    }
    free(sd->key);
    free(sd->lookup);
    free(sd);
}

void sched_route_free(sched *s)
{
    hmap_free(s->domains, free_sdomain);
    s->domains = NULL;
}
