/* probe_target.c - what `doctor probe` connects to, in the order a sending MTA would:
 *  - an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", or a bare address): itself;
 *  - a name with MX records: a mail domain; its MX hosts by preference (random among equal
 *    ones, as src/dns returns them), each host's addresses IPv4 first (as the delivery
 *    agent asks for them);
 *  - a name without MX records (NODATA): a host; its A/AAAA addresses (RFC 5321 5.1's
 *    implicit MX, so this is also where mail for the name would go).
 * A null MX, NXDOMAIN, a failed lookup or no address at all end the probe with a failed
 * "target" check.  At most PROBE_MAX_ADDRS addresses are taken unless --all; an MX host
 * without an address gets an "address:HOST" warning and is skipped, as MTAs skip it.
 * Called by doctor_probe.c; lookups are blocking (dnsq) and timed. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/xmalloc.h"
#include "doctor/probe.h"

/* elapsed_ms - milliseconds since start_us (monotonic) */
static double elapsed_ms(int64_t start_us)
{
    return (double)(clock_mono_us() - start_us) / 1000.0;
}

/* set_port - the port of a */
static void set_port(netaddr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

/* unbracket - the address inside "[...]" or "[IPv6:...]" (or arg itself) into buf; -1 when
 * it cannot be an address */
static int unbracket(const char *arg, char *buf, size_t len)
{
    const char *s = arg;
    size_t n = strlen(arg);
    if (n >= 2 && arg[0] == '[' && arg[n - 1] == ']') {
        s++;
        n -= 2;
        if (n > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
            s += 5;
            n -= 5;
        }
    }
    if (n == 0 || n >= len)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
}

int probe_literal(const char *arg, netaddr *out)
{
    char buf[NETADDR_STRLEN];
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    memset(out, 0, sizeof *out);
    if (unbracket(arg, buf, sizeof buf) < 0)
        return -1;
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        out->len = sizeof *sin;
    } else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        out->len = sizeof *sin6;
    } else {
        return -1;
    }
    return 0;
}

/* add_addr - one more address to try */
static void add_addr(probe_target *t, const char *host, int pref, const netaddr *n, int port,
                     double dns_ms)
{
    char ip[NETADDR_STRLEN];
    t->addrs = xrealloc(t->addrs, sizeof *t->addrs * (size_t)(t->naddrs + 1));
    probe_addr *a = &t->addrs[t->naddrs++];
    memset(a, 0, sizeof *a);
    a->host = xstrdup(host);
    a->pref = pref;
    a->addr = *n;
    set_port(&a->addr, port);
    a->dns_ms = dns_ms;
    netaddr_ip((const struct sockaddr *)&n->ss, ip, sizeof ip);
    if (!strcmp(host, ip))   /* an address literal */
        snprintf(a->label, sizeof a->label, "[%s]", ip);
    else
        snprintf(a->label, sizeof a->label, "%.255s[%s]", host, ip);
}

/* addr_json - the addresses of a lookup as a JSON array of strings */
static json_t *addr_json(const dns_addr_result *ar)
{
    json_t *v = json_array();
    char ip[NETADDR_STRLEN];
    for (int i = 0; ar && ar->status == DNS_OK && i < ar->naddrs; i++)
        json_array_append_new(
            v, json_string(netaddr_ip((const struct sockaddr *)&ar->addrs[i].ss, ip, sizeof ip)));
    return v;
}

/* addr_text - "127.0.0.2, ::1" of a lookup into d */
static void addr_text(const dns_addr_result *ar, dbuf *d)
{
    char ip[NETADDR_STRLEN];
    for (int i = 0; i < ar->naddrs; i++)
        dbuf_printf(d, "%s%s", i ? ", " : "",
                    netaddr_ip((const struct sockaddr *)&ar->addrs[i].ss, ip, sizeof ip));
}

/* take_addrs - the addresses of host (up to the limit unless all) */
static void take_addrs(probe_target *t, const char *host, int pref, const dns_addr_result *ar,
                       int port, int all, double ms)
{
    for (int i = 0; ar->status == DNS_OK && i < ar->naddrs; i++) {
        if (!all && t->naddrs >= PROBE_MAX_ADDRS)
            t->nskipped++;
        else
            add_addr(t, host, pref, &ar->addrs[i], port, ms);
    }
}

/* lookup_why - a failed lookup's status and reason, as text */
static const char *lookup_why(enum dns_status st, const char *why, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s", dns_status_name(st), why ? " (" : "", why ? why : "",
             why ? ")" : "");
    return buf;
}

/* no_address - an MX host without an address: warned about and skipped */
static void no_address(report *r, const char *host, const dns_addr_result *ar)
{
    char id[300], why[200];
    snprintf(id, sizeof id, "address:%s", host);
    report_checkf(r, CK_WARN, id, "MX host has an address", "an A or AAAA record",
                  lookup_why(ar->status, ar->why, why, sizeof why),
                  "%s is listed as an MX host but has no usable address: sending MTAs skip it "
                  "(the domain's administrator should fix or remove the MX record)", host);
}

/* mx_host - look up one MX host; its JSON entry */
static json_t *mx_host(dnsq *q, const dns_mx *m, int port, int all, report *r, probe_target *t)
{
    json_t *o = json_pack("{s:s,s:i}", "host", m->host, "pref", (int)m->pref);
    if (!all && t->naddrs >= PROBE_MAX_ADDRS) {
        t->nskipped++;
        json_object_set_new(o, "tried", json_false());
        return o;
    }
    int64_t t0 = clock_mono_us();
    dns_addr_result *ar = dnsq_addr(q, m->host, AF_UNSPEC);
    double ms = elapsed_ms(t0);
    if (ar->status == DNS_OK && ar->naddrs > 0)
        take_addrs(t, m->host, m->pref, ar, port, all, ms);
    else
        no_address(r, m->host, ar);
    json_object_set_new(o, "status", json_string(dns_status_name(ar->status)));
    json_object_set_new(o, "addresses", addr_json(ar));
    json_object_set_new(o, "dns_ms", json_real(ms));
    dnsq_addr_free(ar);
    return o;
}

/* from_mx - a mail domain: its MX hosts in order */
static int from_mx(dnsq *q, const dns_mx_result *mx, int port, int all, report *r,
                   probe_target *t)
{
    dbuf list = {0};
    json_t *hosts = json_array();
    t->kind = PROBE_DOMAIN;
    for (int i = 0; i < mx->nmx; i++) {
        dbuf_printf(&list, "%sMX %u %s", i ? ", " : "", mx->mx[i].pref, mx->mx[i].host);
        json_array_append_new(hosts, mx_host(q, &mx->mx[i], port, all, r, t));
    }
    json_object_set_new(t->json, "mx", hosts);
    dbuf_putc(&list, 0);
    report_checkf(r, t->naddrs ? CK_PASS : CK_FAIL, "target", "Mail servers of the domain",
                  "MX records with reachable addresses", (const char *)list.data,
                  t->naddrs ? "a mail domain: its MX hosts are tried in preference order, as a "
                              "sending MTA does (MX lookup %.1f ms)"
                            : "no MX host has an address: mail to this domain cannot be "
                              "delivered (MX lookup %.1f ms)",
                  t->mx_ms);
    dbuf_free(&list);
    return t->naddrs ? 0 : -1;
}

/* from_host - no MX records: the name's own addresses */
static int from_host(dnsq *q, int port, int all, report *r, probe_target *t)
{
    char why[200];
    int64_t t0 = clock_mono_us();
    dns_addr_result *ar = dnsq_addr(q, t->name, AF_UNSPEC);
    double ms = elapsed_ms(t0);
    t->kind = PROBE_HOST;
    json_object_set_new(t->json, "addresses", addr_json(ar));
    json_object_set_new(t->json, "dns_ms", json_real(ms));
    if (ar->status != DNS_OK || ar->naddrs == 0) {
        report_checkf(r, CK_FAIL, "target", "Mail servers of the name",
                      "MX records, or an A/AAAA record", lookup_why(ar->status, ar->why, why,
                                                                     sizeof why),
                      "%s has no MX record and no address: mail to it cannot be delivered",
                      t->name);
        dnsq_addr_free(ar);
        return -1;
    }
    dbuf got = {0};
    dbuf_puts(&got, "no MX record; address ");
    addr_text(ar, &got);
    dbuf_putc(&got, 0);
    take_addrs(t, t->name, -1, ar, port, all, ms);
    report_checkf(r, CK_PASS, "target", "Mail servers of the name", "MX records, or an A/AAAA "
                  "record", (const char *)got.data, "a host, not a mail domain: its addresses "
                  "are tried (mail for %s itself would go there too, RFC 5321 5.1; lookups "
                  "%.1f ms + %.1f ms)", t->name, t->mx_ms, ms);
    dbuf_free(&got);
    dnsq_addr_free(ar);
    return 0;
}

/* mx_failed - NXDOMAIN, a failed lookup, a bad name: nothing to try */
static int mx_failed(const dns_mx_result *mx, report *r, probe_target *t)
{
    char why[200];
    const char *expl = mx->status == DNS_NXDOMAIN
                           ? "the name does not exist: mail to it bounces"
                       : mx->status == DNS_TEMPFAIL
                           ? "the MX lookup failed: sending MTAs defer mail to this domain "
                             "until DNS answers; check the resolver (--dns-server) and the "
                             "domain's name servers"
                           : "not a valid domain name";
    report_check(r, CK_FAIL, "target", "Mail servers of the domain",
                 "MX records, or an A/AAAA record", lookup_why(mx->status, mx->why, why,
                                                                sizeof why), expl);
    return -1;
}

/* from_literal - an address literal: no DNS */
static int from_literal(const netaddr *n, int port, report *r, probe_target *t)
{
    char ip[NETADDR_STRLEN];
    netaddr_ip((const struct sockaddr *)&n->ss, ip, sizeof ip);
    t->kind = PROBE_LITERAL;
    t->name = xstrdup(ip);
    add_addr(t, ip, -1, n, port, -1);
    report_check(r, CK_INFO, "target", "Mail server address", "an address or a name", ip,
                 "an address literal: no DNS lookup, no MX; the certificate's name is not "
                 "checked");
    return 0;
}

/* kind_name - "domain", "host", "literal" */
static const char *kind_name(enum probe_kind k)
{
    return k == PROBE_DOMAIN ? "domain" : k == PROBE_HOST ? "host" : "literal";
}

/* lower_name - the name in lower case without a trailing dot (owned) */
static char *lower_name(const char *arg)
{
    char *s = xstrdup(arg);
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '.')
        s[n - 1] = 0;
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* resolve_name - MX first: a domain, a host, or nothing */
static int resolve_name(dnsq *q, int port, int all, report *r, probe_target *t)
{
    int64_t t0 = clock_mono_us();
    dns_mx_result *mx = dnsq_mx(q, t->name);
    t->mx_ms = elapsed_ms(t0);
    json_object_set_new(t->json, "mx_status", json_string(dns_status_name(mx->status)));
    json_object_set_new(t->json, "mx_ms", json_real(t->mx_ms));
    int rc;
    if (mx->status == DNS_OK && mx->null_mx) {
        t->kind = PROBE_DOMAIN;
        json_object_set_new(t->json, "null_mx", json_true());
        report_check(r, CK_FAIL, "target", "Mail servers of the domain", "MX records",
                     "MX 0 . (null MX)",
                     "the domain publishes a null MX (RFC 7505): it accepts no mail");
        rc = -1;
    } else if (mx->status == DNS_OK) {
        rc = from_mx(q, mx, port, all, r, t);
    } else if (mx->status == DNS_NODATA) {
        rc = from_host(q, port, all, r, t);
    } else {
        rc = mx_failed(mx, r, t);
    }
    dnsq_mx_free(mx);
    return rc;
}

int probe_target_resolve(dnsq *q, const char *arg, int port, int all, report *r,
                         probe_target *t)
{
    netaddr lit;
    int rc;
    memset(t, 0, sizeof *t);
    t->json = json_object();
    t->mx_ms = -1;
    json_object_set_new(t->json, "input", json_string(arg));
    if (probe_literal(arg, &lit) == 0) {
        rc = from_literal(&lit, port, r, t);
    } else {
        t->name = lower_name(arg);
        rc = resolve_name(q, port, all, r, t);
    }
    json_object_set_new(t->json, "name", json_string(t->name));
    json_object_set_new(t->json, "kind", json_string(kind_name(t->kind)));
    json_object_set_new(t->json, "addresses_tried", json_integer(t->naddrs));
    json_object_set_new(t->json, "not_tried", json_integer(t->nskipped));
    if (t->nskipped)
        report_checkf(r, CK_INFO, "not-tried", "Addresses not tried", NULL, NULL,
                      "%d more address%s or MX host%s not tried: at most %d unless --all",
                      t->nskipped, t->nskipped == 1 ? "" : "es", t->nskipped == 1 ? "" : "s",
                      PROBE_MAX_ADDRS);
    return rc;
}

void probe_target_clear(probe_target *t)
{
    for (int i = 0; i < t->naddrs; i++)
        free(t->addrs[i].host);
    free(t->addrs);
    free(t->name);
    json_decref(t->json);
    memset(t, 0, sizeof *t);
}
