/* doctor_ip.c - `sluice doctor ip ADDR [--helo NAME] [--dnsbl ZONE[,ZONE...]|none]`: the
 * seed's "check your IP reputation" step.  Checks, in order: the PTR record; forward-
 * confirmed reverse DNS (a PTR name resolving back to ADDR, every name tried); whether a
 * PTR name looks generic (the address's digits, "dynamic", "dsl", "pool"...); the HELO
 * name (--helo, else smtp_helo_name of the sluice config given with -c/-o): a FQDN, equal
 * to a PTR name, resolving to ADDR; then the DNSBLs (dnsbl.h), the curated list unless
 * --dnsbl replaces it.  Blocking lookups through dnsq (the DNSBLs all at once). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "doctor/dnsbl.h"
#include "doctor/dnsq.h"
#include "doctor/doctor.h"
#include "doctor/report.h"

#define MAX_PTR 10   /* PTR names looked at */
#define MAX_ZONES 32 /* zones given with --dnsbl */

typedef struct ip_args {
    const char *addr, *helo, *dnsbl;
} ip_args;

/* The address under test and what the PTR checks found. */
typedef struct ip_ctx {
    report *r;
    dnsq *q;
    struct sockaddr_storage ss;
    const struct sockaddr *sa;
    char text[INET6_ADDRSTRLEN];
    dns_txt_result *ptr;    /* the PTR answer */
    int confirmed[MAX_PTR]; /* ptr->v[i] resolves back to the address */
} ip_ctx;

static const char *const usage_text =
    "usage: sluice doctor ip ADDR [--helo NAME] [--dnsbl ZONE[,ZONE...]|none]\n";

/* usage - print the usage line and return EX_USAGE */
static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "sluice doctor ip: %s\n", why);
    fputs(usage_text, stderr);
    return EX_USAGE;
}

/* parse_args - ADDR and the options; -1 on a usage error */
static int parse_args(int argc, char **argv, ip_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--helo")    ? &a->helo
                           : !strcmp(argv[i], "--dnsbl") ? &a->dnsbl
                                                         : NULL;
        if (dst) {
            if (i + 1 >= argc)
                return -1;
            *dst = argv[++i];
        } else if (argv[i][0] == '-' || a->addr) {
            return -1;
        } else {
            a->addr = argv[i];
        }
    }
    return a->addr ? 0 : -1;
}

/* parse_addr - a numeric IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); 0 or -1 */
static int parse_addr(const char *s, ip_ctx *c)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&c->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->ss;
    memset(&c->ss, 0, sizeof c->ss);
    c->sa = (const struct sockaddr *)&c->ss;
    if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            struct in_addr v4;
            memcpy(&v4, sin6->sin6_addr.s6_addr + 12, 4);
            memset(&c->ss, 0, sizeof c->ss);
            sin->sin_family = AF_INET;
            sin->sin_addr = v4;
        }
    } else {
        return -1;
    }
    netaddr_ip(c->sa, c->text, sizeof c->text);
    return 0;
}

/* has_addr - the answer holds the address under test */
static int has_addr(const dns_addr_result *a, const ip_ctx *c)
{
    uint8_t want[17], got[17];
    netaddr_key(c->sa, want);
    for (int i = 0; i < a->naddrs; i++) {
        netaddr_key((const struct sockaddr *)&a->addrs[i].ss, got);
        if (!memcmp(want, got, sizeof want))
            return 1;
    }
    return 0;
}

/* addr_list - "a, b, c" of an answer, or its status */
static void addr_list(const dns_addr_result *a, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    if (a->status != DNS_OK) {
        snprintf(buf, len, "%s", a->why ? a->why : dns_status_name(a->status));
        return;
    }
    for (int i = 0; i < a->naddrs && o + NETADDR_STRLEN + 2 < len; i++) {
        char ip[NETADDR_STRLEN];
        netaddr_ip((const struct sockaddr *)&a->addrs[i].ss, ip, sizeof ip);
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", ip);
    }
}

/* family - AF_INET or AF_INET6 for forward lookups of names of this address */
static int family(const ip_ctx *c)
{
    return c->sa->sa_family;
}

/* check_ptr - the PTR record exists, once */
static void check_ptr(ip_ctx *c)
{
    c->ptr = dnsq_ptr(c->q, c->sa);
    const dns_txt_result *p = c->ptr;
    json_t *names = json_array();
    for (int i = 0; i < p->n; i++)
        json_array_append_new(names, json_string(p->v[i]));
    report_data(c->r, "ptr", names);
    if (p->status == DNS_TEMPFAIL) {
        report_checkf(c->r, CK_WARN, "ptr", "PTR record", "a PTR name",
                      p->why ? p->why : "TEMPFAIL",
                      "the lookup failed, so reverse DNS could not be checked; try again or use "
                      "--dns-server");
    } else if (p->status != DNS_OK || p->n == 0) {
        report_check(c->r, CK_FAIL, "ptr", "PTR record", "a PTR name", dns_status_name(p->status),
                     "no reverse DNS: Gmail, Outlook and most large receivers reject or junk mail "
                     "from addresses without a PTR; ask the address's owner (ISP, hosting) to set "
                     "one");
    } else if (p->n > 1) {
        int i = report_checkf(c->r, CK_WARN, "ptr", "PTR record", "one PTR name", "several",
                              "%d PTR names: receivers use whichever comes first, so HELO and "
                              "FCrDNS checks give random results; keep one",
                              p->n);
        for (int k = 0; k < p->n; k++)
            report_evidence(c->r, i, p->v[k]);
    } else {
        report_check(c->r, CK_PASS, "ptr", "PTR record", "a PTR name", p->v[0], NULL);
    }
}

/* check_fcrdns - some PTR name resolves back to the address */
static void check_fcrdns(ip_ctx *c)
{
    const dns_txt_result *p = c->ptr;
    if (p->status != DNS_OK || p->n == 0)
        return;
    int ok = -1;
    char line[600], addrs[400];
    json_t *ev = json_array();
    for (int i = 0; i < p->n && i < MAX_PTR; i++) {
        dns_addr_result *a = dnsq_addr(c->q, p->v[i], family(c));
        c->confirmed[i] = has_addr(a, c);
        if (c->confirmed[i] && ok < 0)
            ok = i;
        addr_list(a, addrs, sizeof addrs);
        snprintf(line, sizeof line, "%s -> %s", p->v[i], addrs);
        json_array_append_new(ev, json_string(line));
        dnsq_addr_free(a);
    }
    char want[120];
    snprintf(want, sizeof want, "a PTR name resolving to %s", c->text);
    int i = ok >= 0 ? report_check(c->r, CK_PASS, "fcrdns", "forward-confirmed reverse DNS", want,
                                   p->v[ok], NULL)
                    : report_check(c->r, CK_FAIL, "fcrdns", "forward-confirmed reverse DNS", want,
                                   "no PTR name resolves back",
                                   "receivers check that the PTR name's A/AAAA record gives the "
                                   "address back; publish it (Fix 3: dig -x ADDR, then dig NAME)");
    size_t k;
    json_t *v;
    json_array_foreach(ev, k, v)
        report_evidence(c->r, i, json_string_value(v));
    json_decref(ev);
    report_data(c->r, "fcrdns", json_boolean(ok >= 0));
}

/* Words ISPs put in the names of customer and dynamic addresses. */
static const char *const generic_words[] = {
    "dynamic",  "dyn",    "dsl",    "adsl",    "vdsl",       "xdsl",        "pool",  "dhcp",
    "static",   "ppp",    "pppoe",  "dial",    "dialup",     "dialin",      "cable", "cpe",
    "customer", "cust",   "client", "clients", "broadband",  "residential", "home",  "nat",
    "wireless", "mobile", "ftth",   "fttx",    "unassigned", "generic",     "user",  "users",
};

/* generic_word - a token of name (split at non-alphanumerics and letter/digit changes) that
 * ISPs use for customer ranges, copied into buf; 0 when none */
static int generic_word(const char *name, char *buf, size_t len)
{
    for (const char *p = name; *p;) {
        while (*p && !isalpha((unsigned char)*p))
            p++;
        const char *s = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - s);
        for (size_t i = 0; n && i < sizeof generic_words / sizeof generic_words[0]; i++)
            if (strlen(generic_words[i]) == n && !strncasecmp(s, generic_words[i], n)) {
                snprintf(buf, len, "%s", generic_words[i]);
                return 1;
            }
    }
    return 0;
}

/* numbers - the decimal digit runs of name as numbers (at most max) */
static int numbers(const char *name, long *out, int max)
{
    int n = 0;
    for (const char *p = name; *p && n < max;) {
        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        long v = 0;
        for (; isdigit((unsigned char)*p); p++)
            v = v < 100000 ? v * 10 + (*p - '0') : v;
        out[n++] = v;
    }
    return n;
}

/* has_run - three consecutive numbers equal o[a..a+2] in order, forwards or backwards */
static int has_run(const long *nums, int n, const uint8_t *o)
{
    for (int i = 0; i + 2 < n; i++)
        for (int a = 0; a < 2; a++) {
            if (nums[i] == o[a] && nums[i + 1] == o[a + 1] && nums[i + 2] == o[a + 2])
                return 1;
            if (nums[i] == o[a + 2] && nums[i + 1] == o[a + 1] && nums[i + 2] == o[a])
                return 1;
        }
    return 0;
}

/* digits_v4 - the name spells the IPv4 address: 3 of its octets in a row (either way),
 * the 12-digit zero-padded form or the 8 hex digits */
static int digits_v4(const char *name, const uint8_t *o)
{
    long nums[64];
    char pad[16], hex[12];
    snprintf(pad, sizeof pad, "%03u%03u%03u%03u", o[0], o[1], o[2], o[3]);
    snprintf(hex, sizeof hex, "%02x%02x%02x%02x", o[0], o[1], o[2], o[3]);
    int n = numbers(name, nums, 64);
    return has_run(nums, n, o) || strstr(name, pad) || strcasestr(name, hex);
}

/* digits_v6 - the name spells the IPv6 address: 8+ single-nibble labels, or the low 32
 * bits in hex (with or without a separator between the two groups) */
static int digits_v6(const char *name, const uint8_t *a)
{
    int nibbles = 0;
    for (const char *p = name; *p; p++)
        if (isxdigit((unsigned char)*p) && (p == name || p[-1] == '.') && (p[1] == '.' || !p[1]))
            nibbles++;
    char low[12], low2[16];
    snprintf(low, sizeof low, "%02x%02x%02x%02x", a[12], a[13], a[14], a[15]);
    snprintf(low2, sizeof low2, "%x-%x", a[12] << 8 | a[13], a[14] << 8 | a[15]);
    return nibbles >= 8 || strcasestr(name, low) || (strlen(low2) >= 7 && strcasestr(name, low2));
}

/* generic_reason - why name looks like a generic (ISP-assigned) name, or 0 */
static int generic_reason(const ip_ctx *c, const char *name, char *why, size_t len)
{
    char word[32];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)c->sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)c->sa;
    int digits = c->sa->sa_family == AF_INET ? digits_v4(name, (const uint8_t *)&sin->sin_addr)
                                             : digits_v6(name, sin6->sin6_addr.s6_addr);
    if (digits) {
        snprintf(why, len, "%s contains the address's digits", name);
        return 1;
    }
    if (generic_word(name, word, sizeof word)) {
        snprintf(why, len, "%s contains \"%s\"", name, word);
        return 1;
    }
    return 0;
}

/* check_generic - the PTR names do not look like an ISP's generic names */
static void check_generic(ip_ctx *c)
{
    const dns_txt_result *p = c->ptr;
    if (p->status != DNS_OK || p->n == 0)
        return;
    char why[400];
    for (int i = 0; i < p->n && i < MAX_PTR; i++)
        if (generic_reason(c, p->v[i], why, sizeof why)) {
            report_checkf(c->r, CK_WARN, "ptr-generic", "PTR name looks like a mail server's",
                          "a name like mail.example.com", p->v[i],
                          "%s: receivers (and Spamhaus PBL-style policies) treat generic names as "
                          "end-user or dynamic space; set a PTR in your own domain",
                          why);
            return;
        }
    report_check(c->r, CK_PASS, "ptr-generic", "PTR name looks like a mail server's",
                 "a name like mail.example.com", p->v[0], NULL);
}

/* config_helo - *out = smtp_helo_name of the sluice config given with -c/-o (owned), or
 * NULL when none was given; -1 after a configuration error (already printed) */
static int config_helo(const doctor_opts *o, char **out)
{
    *out = NULL;
    if (!o->g || (!o->g->config_file && o->g->noverrides == 0))
        return 0;
    sl_config *cfg = cli_config(o->g, "sluice doctor ip");
    if (!cfg)
        return -1;
    *out = xstrdup(cfg->smtp_helo_name);
    config_free(cfg);
    return 0;
}

/* helo_matches_ptr - the HELO name is one of the PTR names */
static int helo_matches_ptr(const ip_ctx *c, const char *helo)
{
    for (int i = 0; c->ptr->status == DNS_OK && i < c->ptr->n; i++)
        if (!strcasecmp(c->ptr->v[i], helo))
            return 1;
    return 0;
}

/* check_helo_resolves - the HELO name's A/AAAA gives the address */
static void check_helo_resolves(ip_ctx *c, const char *helo)
{
    char want[120], got[400];
    snprintf(want, sizeof want, "%s resolving to %s", helo, c->text);
    dns_addr_result *a = dnsq_addr(c->q, helo, family(c));
    addr_list(a, got, sizeof got);
    if (has_addr(a, c))
        report_check(c->r, CK_PASS, "helo-resolves", "HELO name resolves to the address", want, got,
                     NULL);
    else if (a->status == DNS_TEMPFAIL)
        report_check(c->r, CK_WARN, "helo-resolves", "HELO name resolves to the address", want, got,
                     "the lookup failed; try again");
    else if (a->status != DNS_OK)
        report_check(c->r, CK_FAIL, "helo-resolves", "HELO name resolves to the address", want, got,
                     "the HELO name does not resolve: receivers with reject_unknown_helo_hostname "
                     "(Postfix) and similar checks refuse the session");
    else
        report_check(c->r, CK_WARN, "helo-resolves", "HELO name resolves to the address", want, got,
                     "the HELO name resolves, but to other addresses: spam filters score this "
                     "mismatch");
    dnsq_addr_free(a);
}

/* check_helo - the HELO name: a FQDN, one of the PTR names, resolving to the address */
static void check_helo(ip_ctx *c, const char *helo, const char *source)
{
    report_data(c->r, "helo", json_string(helo));
    if (!strchr(helo, '.') || !dns_valid_name(helo)) {
        report_checkf(c->r, CK_FAIL, "helo-fqdn", "HELO name is a fully-qualified domain name",
                      "a FQDN", helo,
                      "RFC 5321 4.1.1.1 asks for the client's FQDN; receivers reject bare or "
                      "invalid names (from %s)",
                      source);
        return;
    }
    report_checkf(c->r, CK_PASS, "helo-fqdn", "HELO name is a fully-qualified domain name",
                  "a FQDN", helo, "from %s", source);
    const char *first = c->ptr->status == DNS_OK && c->ptr->n ? c->ptr->v[0] : "the PTR name (there is none)";
    if (helo_matches_ptr(c, helo))
        report_check(c->r, CK_PASS, "helo-ptr", "HELO name matches the PTR name", first, helo,
                     NULL);
    else
        report_check(c->r, CK_WARN, "helo-ptr", "HELO name matches the PTR name", first, helo,
                     "receivers compare the EHLO name with the PTR name; use the same name for "
                     "both (smtp_helo_name)");
    check_helo_resolves(c, helo);
}

/* zone_list - the zones --dnsbl gives (into zones, names kept in buf); -1 on a bad name */
static int zone_list(const char *arg, dnsbl_zone *zones, int *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s", arg);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!dns_valid_name(t) || *n == MAX_ZONES)
            return -1;
        zones[(*n)++] = (dnsbl_zone){t, t, 1, "given with --dnsbl", NULL, NULL};
    }
    return *n > 0 ? 0 : -1;
}

/* dnsbl_status - a verdict as a check status */
static enum check_status dnsbl_status(const dnsbl_result *d)
{
    switch (d->verdict) {
    case DNSBL_CLEAR: return CK_PASS;
    case DNSBL_LISTED: return CK_FAIL;
    case DNSBL_UNKNOWN: return d->bad_answer ? CK_WARN : CK_INFO;
    default: return CK_INFO;
    }
}

/* report_zone - one zone's check and JSON row */
static void report_zone(ip_ctx *c, const dnsbl_result *d, json_t *rows)
{
    const dnsbl_zone *z = d->zone;
    char id[300], title[300];
    snprintf(id, sizeof id, "dnsbl:%s", z->zone);
    if (strcmp(z->name, z->zone))
        snprintf(title, sizeof title, "%s (%s)", z->name, z->zone);
    else
        snprintf(title, sizeof title, "%s", z->zone);
    const char *actual = d->verdict == DNSBL_LISTED ? "listed" : dnsbl_verdict_name(d->verdict);
    int i;
    if (d->verdict == DNSBL_LISTED)
        i = report_checkf(c->r, CK_FAIL, id, title, "not listed", actual, "%s; %s%s%s", d->why,
                          z->why, z->delist ? "; look up and ask for removal at " : "",
                          z->delist ? z->delist : "");
    else
        i = report_check(c->r, dnsbl_status(d), id, title, "not listed", actual,
                         d->verdict == DNSBL_CLEAR ? NULL : d->why);
    if (d->txt)
        report_evidence(c->r, i, d->txt);
    json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s?}", "zone", z->zone, "verdict",
                                          dnsbl_verdict_name(d->verdict), "why", d->why, "query",
                                          d->query, "bad_answer", d->bad_answer, "txt", d->txt));
}

/* check_dnsbl - every zone; the curated list unless arg replaces it ("none": skip) */
static void check_dnsbl(ip_ctx *c, const doctor_opts *o, const char *arg)
{
    static dnsbl_zone custom[MAX_ZONES];
    char names[2048], err[300];
    const dnsbl_zone *zones = dnsbl_curated;
    int n = dnsbl_ncurated;
    if (arg && !strcmp(arg, "none")) {
        report_check(c->r, CK_INFO, "dnsbl", "DNSBL lookups", NULL, "skipped", "--dnsbl none");
        return;
    }
    if (arg && zone_list(arg, custom, &n, names, sizeof names) == 0)
        zones = custom;
    char title[100];
    snprintf(title, sizeof title, "DNSBLs (curated list, version %s)", dnsbl_list_version);
    report_section(c->r, arg ? "DNSBLs given with --dnsbl" : title);
    dnsbl_result *res = xcalloc((size_t)n, sizeof *res);
    if (dnsbl_check(o->dns_server, o->timeout_ms, c->sa, zones, n, res, err, sizeof err) < 0) {
        report_check(c->r, CK_WARN, "dnsbl", "DNSBL lookups", NULL, "not done", err);
        free(res);
        return;
    }
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        report_zone(c, &res[i], rows);
        dnsbl_result_clear(&res[i]);
    }
    free(res);
    report_data(
        c->r, "dnsbl",
        json_pack("{s:s,s:o}", "list", arg ? "--dnsbl" : dnsbl_list_version, "zones", rows));
}

/* run_checks - everything after the arguments are known */
static void run_checks(ip_ctx *c, const doctor_opts *o, const ip_args *a, const char *cfg_helo)
{
    report_section(c->r, "Reverse DNS");
    check_ptr(c);
    check_fcrdns(c);
    check_generic(c);
    report_section(c->r, "HELO name");
    if (a->helo)
        check_helo(c, a->helo, "--helo");
    else if (cfg_helo)
        check_helo(c, cfg_helo, "smtp_helo_name in the sluice configuration");
    else
        report_check(c->r, CK_INFO, "helo", "HELO name", NULL, "not checked",
                     "give --helo NAME, or -c FILE to take smtp_helo_name from a sluice "
                     "configuration");
    check_dnsbl(c, o, a->dnsbl);
}

int doctor_ip(const doctor_opts *o, int argc, char **argv)
{
    ip_args a;
    ip_ctx c = {0};
    char err[300];
    if (parse_args(argc, argv, &a) < 0)
        return usage(NULL);
    if (parse_addr(a.addr, &c) < 0)
        return usage("ADDR must be a numeric IPv4 or IPv6 address");
    dnsbl_zone scratch[MAX_ZONES];
    int nz;
    if (a.dnsbl && strcmp(a.dnsbl, "none") && zone_list(a.dnsbl, scratch, &nz, err, sizeof err) < 0)
        return usage("--dnsbl takes zone names separated by commas, or none");
    char *cfg_helo = NULL;
    if (!a.helo && config_helo(o, &cfg_helo) < 0)
        return EX_CONFIG;
    c.q = dnsq_new(o->dns_server, o->timeout_ms, err, sizeof err);
    if (!c.q) {
        fprintf(stderr, "sluice doctor ip: %s\n", err);
        free(cfg_helo);
        return EX_UNAVAILABLE;
    }
    c.r = report_new("ip", c.text);
    run_checks(&c, o, &a, cfg_helo);
    report_print(c.r, stdout, o->json);
    int rc = report_exit_code(c.r);
    report_free(c.r);
    dnsq_txt_free(c.ptr);
    dnsq_free(c.q);
    free(cfg_helo);
    return rc;
}
