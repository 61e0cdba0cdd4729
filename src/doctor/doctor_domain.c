/* doctor_domain.c - `sluice doctor domain DOMAIN [--ip ADDR] [--selector S]
 * [--dkim-key FILE] [--sender ADDR] [--helo NAME]`: the seed's Fix 3 ("correct PTR, SPF,
 * DKIM and DMARC records") for a sending domain.  This file owns the arguments, the MX
 * sanity checks, the MTA-STS and TLS-RPT records and the order of the sections; SPF, DKIM
 * and DMARC are domain_spf.c, domain_dkim.c and domain_dmarc.c.  DNS only: the MTA-STS
 * policy file (HTTPS) is never fetched, and the output says so.  Without --selector, the
 * selector and key file are those dkim_signing_keys (of the config given with -c/-o) has
 * for the domain: the daemon's own key is checked against the published one. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "common/xmalloc.h"
#include "doctor/domain.h"
#include "doctor/taglist.h"

#define MAX_MX 10 /* MX hosts whose addresses are looked up */

static const char *const usage_text =
    "usage: sluice doctor domain DOMAIN [--ip ADDR] [--selector S] [--dkim-key FILE]\n"
    "                                   [--sender ADDR] [--helo NAME]\n";

/* usage - print why and the usage; EX_USAGE */
static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "sluice doctor domain: %s\n", why);
    fputs(usage_text, stderr);
    return EX_USAGE;
}

/* option_slot - where the value of option name goes, or NULL for an unknown option */
static const char **option_slot(domain_ctx *c, const char *name)
{
    static const char *const names[] = {"--ip", "--selector", "--dkim-key", "--sender", "--helo"};
    const char **slots[] = {&c->ip_text, &c->selector, &c->dkim_key, &c->sender, &c->helo};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return slots[i];
    return NULL;
}

/* parse_ip - --ip as a sockaddr (IPv4-mapped IPv6 stays as given: SPF treats it as IPv4) */
static int parse_ip(domain_ctx *c)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&c->ip;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->ip;
    memset(&c->ip, 0, sizeof c->ip);
    if (inet_pton(AF_INET, c->ip_text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, c->ip_text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

/* parse_args - DOMAIN and the options into c; NULL, or the usage error */
static const char *parse_args(domain_ctx *c, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char **slot = option_slot(c, argv[i]);
        if (slot && i + 1 < argc)
            *slot = argv[++i];
        else if (slot || argv[i][0] == '-' || c->domain)
            return slot ? "an option needs a value" : "unexpected argument";
        else
            c->domain = argv[i];
    }
    if (!c->domain)
        return "DOMAIN is required";
    if (!dns_valid_name(c->domain) || !strchr(c->domain, '.'))
        return "DOMAIN must be a domain name like example.com";
    if (c->ip_text && parse_ip(c) < 0)
        return "--ip must be a numeric IPv4 or IPv6 address";
    if (c->dkim_key && !c->selector)
        return "--dkim-key needs --selector";
    return NULL;
}

dns_txt_result *domain_txt(domain_ctx *c, const char *name, const char *prefix)
{
    dns_txt_result *t = dnsq_txt(c->q, name);
    size_t n = strlen(prefix);
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        if (!strncasecmp(t->v[i], prefix, n))
            t->v[k++] = t->v[i];
        else
            free(t->v[i]);
    }
    t->n = k;
    return t;
}

/* check_mx_hosts - every MX host has an address */
static void check_mx_hosts(domain_ctx *c, const dns_mx_result *mx)
{
    int bad = 0;
    json_t *lines = json_array();
    for (int k = 0; k < mx->nmx && k < MAX_MX; k++) {
        dns_addr_result *a = dnsq_addr(c->q, mx->mx[k].host, AF_UNSPEC);
        char line[400], ip[NETADDR_STRLEN];
        int ok = a->status == DNS_OK && a->naddrs > 0;
        if (ok)
            snprintf(line, sizeof line, "MX %u %s -> %s%s", mx->mx[k].pref, mx->mx[k].host,
                     netaddr_ip((struct sockaddr *)&a->addrs[0].ss, ip, sizeof ip),
                     a->naddrs > 1 ? ", ..." : "");
        else
            snprintf(line, sizeof line, "MX %u %s -> %s", mx->mx[k].pref, mx->mx[k].host,
                     a->why ? a->why : dns_status_name(a->status));
        bad += !ok;
        json_array_append_new(lines, json_string(line));
        dnsq_addr_free(a);
    }
    int i = bad ? report_checkf(c->r, CK_FAIL, "mx-hosts", "MX hosts resolve", "A or AAAA records",
                                "unresolvable hosts",
                                "%d MX host(s) have no address: mail to the domain (and bounces to "
                                "your senders) fails or waits",
                                bad)
                : report_check(c->r, CK_PASS, "mx-hosts", "MX hosts resolve", "A or AAAA records",
                               "all resolve", NULL);
    size_t k;
    json_t *v;
    json_array_foreach(lines, k, v)
        report_evidence(c->r, i, json_string_value(v));
    report_data(c->r, "mx", lines);
}

/* check_mx - the domain can receive mail (bounces and replies) */
static void check_mx(domain_ctx *c)
{
    report_section(c->r, "MX");
    dns_mx_result *mx = dnsq_mx(c->q, c->domain);
    const char *id = "mx", *title = "MX records", *want = "MX hosts that resolve";
    if (mx->status == DNS_TEMPFAIL && mx->why && strstr(mx->why, "no valid MX host"))
        report_check(c->r, CK_FAIL, id, title, want, "no valid MX target",
                     "the MX records name no valid host (an IP address or \".\" as a target?): RFC "
                     "5321 wants host names");
    else if (mx->status == DNS_TEMPFAIL)
        report_check(c->r, CK_WARN, id, title, want, mx->why ? mx->why : "TEMPFAIL",
                     "the lookup failed; try again");
    else if (mx->status == DNS_NXDOMAIN)
        report_check(c->r, CK_FAIL, id, title, want, "NXDOMAIN",
                     "the domain does not exist in DNS: receivers reject mail from it");
    else if (mx->null_mx)
        report_check(c->r, CK_WARN, id, title, want, "null MX (MX 0 .)",
                     "the domain receives no mail (RFC 7505): receivers may reject mail whose MAIL "
                     "FROM is in it, since bounces cannot be delivered");
    else if (mx->status != DNS_OK || mx->nmx == 0)
        report_check(c->r, CK_WARN, id, title, want, "no MX",
                     "without MX, mail to the domain falls back to its A record; many receivers "
                     "distrust senders whose domain has no MX");
    else {
        report_checkf(c->r, CK_PASS, id, title, want, mx->mx[0].host, "%d MX host(s)", mx->nmx);
        check_mx_hosts(c, mx);
    }
    dnsq_mx_free(mx);
}

/* sts_id_ok - MTA-STS id: 1 to 32 letters and digits */
static int sts_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]))
            return 0;
    return 1;
}

/* rua_ok - TLS-RPT rua: comma-separated mailto: or https: URIs */
static int rua_ok(const char *v)
{
    char *copy = xstrdup(v), *save = NULL;
    int ok = 1, n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
        t += strspn(t, " \t");
        ok &= !strncasecmp(t, "mailto:", 7) || !strncasecmp(t, "https:", 6);
    }
    free(copy);
    return ok && n > 0;
}

/* one_record - the single record at name starting with prefix, parsed; 1, or 0 after an
 * info (absent) or a failure (several, malformed) is reported */
static int one_record(domain_ctx *c, const char *id, const char *title, const char *name,
                      const char *prefix, const char *absent, taglist *tl)
{
    dns_txt_result *t = domain_txt(c, name, prefix);
    char err[300];
    int ok = 0;
    if (t->status == DNS_TEMPFAIL)
        report_check(c->r, CK_WARN, id, title, name, t->why ? t->why : "TEMPFAIL",
                     "the lookup failed; try again");
    else if (t->n == 0)
        report_check(c->r, CK_INFO, id, title, name, "none", absent);
    else if (t->n > 1)
        report_check(c->r, CK_FAIL, id, title, "one record", "several",
                     "several records: senders then ignore them all");
    else if (taglist_parse(t->v[0], 0, tl, err, sizeof err) < 0)
        report_check(c->r, CK_FAIL, id, title, "a valid record", err,
                     "a malformed record is ignored");
    else
        ok = 1;
    dnsq_txt_free(t);
    return ok;
}

/* check_mta_sts - _mta-sts TXT v=STSv1 with an id */
static void check_mta_sts(domain_ctx *c)
{
    char *name = xasprintf("_mta-sts.%s", c->domain);
    taglist tl;
    const char *title = "MTA-STS record";
    if (one_record(c, "mta-sts", title, name, "v=STSv1",
                   "no MTA-STS: optional; it protects mail sent *to* this domain from TLS "
                   "downgrades",
                   &tl)) {
        const char *id = taglist_get(&tl, "id", 0);
        if (!id || !sts_id_ok(id))
            report_check(
                c->r, CK_FAIL, "mta-sts", title, "v=STSv1; id=<1-32 letters or digits>",
                id ? id : "no id=", "senders ignore a record without a valid id (RFC 8461 3.1)");
        else
            report_checkf(c->r, CK_PASS, "mta-sts", title, name, id,
                          "the policy at https://mta-sts.%s/.well-known/mta-sts.txt was not "
                          "fetched: doctor domain only asks DNS",
                          c->domain);
        taglist_clear(&tl);
    }
    free(name);
}

/* check_tls_rpt - _smtp._tls TXT v=TLSRPTv1 with rua */
static void check_tls_rpt(domain_ctx *c)
{
    char *name = xasprintf("_smtp._tls.%s", c->domain);
    taglist tl;
    const char *title = "TLS-RPT record";
    if (one_record(c, "tls-rpt", title, name, "v=TLSRPTv1",
                   "no TLS-RPT: optional; senders would report TLS failures delivering to this "
                   "domain",
                   &tl)) {
        const char *rua = taglist_get(&tl, "rua", 0);
        if (!rua || !rua_ok(rua))
            report_check(
                c->r, CK_FAIL, "tls-rpt", title, "v=TLSRPTv1; rua=mailto:... or https:...",
                rua ? rua : "no rua=", "a record without a valid rua= is ignored (RFC 8460 3)");
        else
            report_check(c->r, CK_PASS, "tls-rpt", title, name, rua, NULL);
        taglist_clear(&tl);
    }
    free(name);
}

/* config_dkim - without --selector, the selector and key file that dkim_signing_keys of the
 * sluice config given with -c/-o has for the domain (into sel and key); 0, or -1 after a
 * configuration error (already printed) */
static int config_dkim(const doctor_opts *o, domain_ctx *c, char *sel, char *key)
{
    if (c->selector || !o->g || (!o->g->config_file && o->g->noverrides == 0))
        return 0;
    sl_config *cfg = cli_config(o->g, "sluice doctor domain");
    if (!cfg)
        return -1;
    const char *v = config_map_get(&cfg->dkim_signing_keys, c->domain);   /* "SELECTOR KEYFILE" */
    if (v && sscanf(v, "%63s %1023s", sel, key) == 2) {
        c->selector = sel;
        c->dkim_key = key;
    }
    config_free(cfg);
    return 0;
}

int doctor_domain(const doctor_opts *o, int argc, char **argv)
{
    domain_ctx c = {0};
    char err[300], sel[64], key[1024];
    const char *bad = parse_args(&c, argc, argv);
    if (bad)
        return usage(bad);
    if (config_dkim(o, &c, sel, key) < 0)
        return EX_CONFIG;
    c.q = dnsq_new(o->dns_server, o->timeout_ms, err, sizeof err);
    if (!c.q) {
        fprintf(stderr, "sluice doctor domain: %s\n", err);
        return EX_UNAVAILABLE;
    }
    c.r = report_new("domain", c.domain);
    check_mx(&c);
    domain_check_spf(&c);
    domain_check_dkim(&c);
    domain_check_dmarc(&c);
    report_section(c.r, "MTA-STS and TLS-RPT (DNS records only; no HTTPS fetch)");
    check_mta_sts(&c);
    check_tls_rpt(&c);
    report_print(c.r, stdout, o->json);
    int rc = report_exit_code(c.r);
    report_free(c.r);
    dnsq_free(c.q);
    return rc;
}
