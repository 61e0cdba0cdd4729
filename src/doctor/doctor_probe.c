/* doctor_probe.c - `sluice doctor probe HOST|DOMAIN|[IP] [--from ADDR] [--rcpt ADDR]
 * [--port N] [--helo NAME] [--source IP] [--all] [--no-tls] [-v]`: the seed's Step 3
 * ("telnet mail.recipient.com 25 / EHLO ...") for every MX address, timed phase by phase.
 *
 * Order: options; the sluice configuration (-c/-o, else the built-in defaults) gives the
 * HELO name (smtp_helo_name, i.e. myhostname, i.e. the host's name unless set), the port
 * (smtp_port when a configuration is given), the source addresses (smtp_bind_address[6]),
 * the CA file (smtp_tls_CAfile) and the administrator's reply_class_rules; then the target
 * (probe_target.c), one session per address (probe_session.c) judged by probe_verdict.c
 * under a heading per address, and the overall check: pass when every address can take
 * mail, warn when some can, fail when none can.  --timeout bounds every phase.
 * Exit status: report_exit_code (0, 1, 2); 64 usage; 69/78 set-up problems. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/doctor.h"
#include "doctor/probe.h"

static const char *const prog = "sluice doctor probe";

typedef struct probe_args {
    const char *target, *from, *rcpt, *helo, *source;
    int port, all, no_tls, verbose;
} probe_args;

/* What the configuration and the options set up; released by setup_free. */
typedef struct setup {
    sl_config *cfg;
    int config_given;
    netaddr src4, src6;
    SSL_CTX *ctx;
    char tls_err[300];
    classifier *cls;
    probe_env env;
} setup;

/* usage - the usage line (and why); EX_USAGE */
static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "%s: %s\n", prog, why);
    fprintf(stderr, "usage: sluice doctor probe HOST|DOMAIN|[IP] [--from ADDR] [--rcpt ADDR] "
                    "[--port N] [--helo NAME] [--source IP] [--all] [--no-tls] [-v]\n");
    return EX_USAGE;
}

/* string_opt - the field an option with a value fills, or NULL */
static const char **string_opt(probe_args *a, const char *name, const char **port)
{
    return !strcmp(name, "--from")     ? &a->from
           : !strcmp(name, "--rcpt")   ? &a->rcpt
           : !strcmp(name, "--helo")   ? &a->helo
           : !strcmp(name, "--source") ? &a->source
           : !strcmp(name, "--port")   ? port
                                       : NULL;
}

/* flag_opt - the flag an option sets, or NULL */
static int *flag_opt(probe_args *a, const char *name)
{
    return !strcmp(name, "--all")                                ? &a->all
           : !strcmp(name, "--no-tls")                           ? &a->no_tls
           : !strcmp(name, "-v") || !strcmp(name, "--verbose")   ? &a->verbose
                                                                 : NULL;
}

/* parse_args - the target and the options; NULL, or what is wrong */
static const char *parse_args(int argc, char **argv, probe_args *a)
{
    const char *port = NULL, **val;
    int *flag;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        if ((val = string_opt(a, argv[i], &port))) {
            if (i + 1 >= argc)
                return "an option needs a value";
            *val = argv[++i];
        } else if ((flag = flag_opt(a, argv[i]))) {
            *flag = 1;
        } else if (argv[i][0] == '-' || a->target) {
            return "unexpected argument";
        } else {
            a->target = argv[i];
        }
    }
    if (port && ((a->port = atoi(port)) < 1 || a->port > 65535))
        return "--port takes 1 to 65535";
    return a->target ? NULL : "which host or domain?";
}

/* set_source - an address as the source of its family; -1 when it is not an address */
static int set_source(setup *su, const char *ip)
{
    netaddr n;
    if (!ip || !ip[0])
        return 0;
    if (probe_literal(ip, &n) < 0)
        return -1;
    if (n.ss.ss_family == AF_INET6) {
        su->src6 = n;
        su->env.source6 = &su->src6;
    } else {
        su->src4 = n;
        su->env.source4 = &su->src4;
    }
    return 0;
}

/* setup_tls - the client context (smtp_tls_CAfile or the system store), unless --no-tls */
static void setup_tls(setup *su, const probe_args *a)
{
    const char *ca = su->cfg->smtp_tls_CAfile[0] ? su->cfg->smtp_tls_CAfile : NULL;
    su->env.ca_source = ca ? ca : "the system CA store";
    if (a->no_tls) {
        su->env.tls_why = "--no-tls: STARTTLS not tried";
        return;
    }
    su->ctx = smtpc_tls_client_ctx(ca, su->tls_err, sizeof su->tls_err);
    su->env.tls_ctx = su->ctx;
    if (!su->ctx)
        su->env.tls_why = su->tls_err;
}

/* setup_classifier - the shipped rules and the configuration's; NULL env->cls on failure */
static void setup_classifier(setup *su)
{
    char err[512];
    su->cls = classifier_new(err, sizeof err);
    if (!su->cls) {
        fprintf(stderr, "%s: replies will not be classified: %s\n", prog, err);
        return;
    }
    for (int i = 0; i < su->cfg->reply_class_rules.n; i++)
        if (classifier_load(su->cls, su->cfg->reply_class_rules.v[i], err, sizeof err) < 0)
            fprintf(stderr, "%s: %s\n", prog, err);
    su->env.cls = su->cls;
}

/* setup_load - configuration, HELO, port, sources, TLS, classifier; 0 or an exit code */
static int setup_load(const doctor_opts *o, const probe_args *a, setup *su)
{
    char err[1024];
    memset(su, 0, sizeof *su);
    su->config_given = o->g && (o->g->config_file || o->g->noverrides > 0);
    su->cfg = o->g ? cli_config(o->g, prog) : config_load(NULL, NULL, 0, err, sizeof err);
    if (!su->cfg)
        return EX_CONFIG;
    if (set_source(su, su->cfg->smtp_bind_address) < 0 ||
        set_source(su, su->cfg->smtp_bind_address6) < 0 || set_source(su, a->source) < 0) {
        fprintf(stderr, "%s: the source must be an IP address\n", prog);
        return EX_USAGE;
    }
    su->env.helo = a->helo ? a->helo : su->cfg->smtp_helo_name;
    su->env.helo_source = a->helo ? "--helo" : su->config_given ? "smtp_helo_name"
                                                                : "the host's name";
    su->env.from = a->from;
    su->env.rcpt = a->rcpt;
    su->env.want_txn = a->from || a->rcpt;
    su->env.timeout_ms = o->timeout_ms;
    su->env.verbose = a->verbose;
    setup_tls(su, a);
    setup_classifier(su);
    return 0;
}

/* setup_free - everything setup_load made */
static void setup_free(setup *su)
{
    if (su->env.base)
        event_base_free(su->env.base);
    SSL_CTX_free(su->ctx);
    classifier_free(su->cls);
    config_free(su->cfg);
}

/* heading - "mx1.example.com[192.0.2.1]:25 (MX 10)" */
static void heading(report *r, const probe_target *t, const probe_addr *a)
{
    char h[400];
    int port = netaddr_port((const struct sockaddr *)&a->addr.ss);
    if (a->pref >= 0)
        snprintf(h, sizeof h, "%s:%d (MX %d)", a->label, port, a->pref);
    else
        snprintf(h, sizeof h, "%s:%d (%s)", a->label, port,
                 t->kind == PROBE_HOST ? "host" : "address literal");
    report_section(r, h);
}

/* count - how many results have verdict v (or, with w >= 0, v or w) */
static int count(const probe_result *res, int n, enum probe_verdict v, int w)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += res[i].v == v || (w >= 0 && res[i].v == (enum probe_verdict)w);
    return k;
}

/* overall_why - the explanation when no address can take mail */
static const char *overall_why(const probe_result *res, int n)
{
    if (count(res, n, PV_CONNECT_TIMEOUT, PV_BANNER_TIMEOUT) == n)
        return "every address hangs: outbound port 25 is most likely blocked on this network "
               "(ask the provider to open it, or relay through a smarthost on port 587)";
    if (count(res, n, PV_CONNECTION_REFUSED, -1) == n)
        return "every connection is refused: nothing listens on that port, or a firewall on "
               "the way rejects outbound port 25 with resets";
    if (count(res, n, PV_REFUSED_AT_GREETING, -1) == n)
        return "every address refuses this IP at the greeting: see each host's reply and "
               "class above";
    if (count(res, n, PV_RCPT_REFUSED, -1) == n)
        return "the servers talk, but every one refuses the recipient: see the RCPT replies";
    if (count(res, n, PV_MAIL_REFUSED, -1) == n)
        return "the servers talk, but every one refuses the sender: see the MAIL replies";
    return "no address takes mail: see each host above";
}

/* overall - pass: every address can take mail; warn: some; fail: none */
static void overall(report *r, const probe_target *t, const probe_result *res)
{
    int ok = 0, n = t->naddrs;
    char got[120];
    for (int i = 0; i < n; i++)
        ok += probe_deliverable(&res[i]);
    snprintf(got, sizeof got, "%d of %d address%s", ok, n, n == 1 ? "" : "es");
    report_section(r, "Conclusion");
    if (ok == n)
        report_check(r, CK_PASS, "overall", "Addresses that can take mail", "all", got,
                     "mail can be delivered to every address tried");
    else if (ok > 0)
        report_checkf(r, CK_WARN, "overall", "Addresses that can take mail", "all", got,
                      "%s", probe_deliverable(&res[0])
                                ? "mail gets through, but some addresses fail: MTAs lose time "
                                  "on them whenever they come first"
                                : "the most preferred address fails: mail goes to a later one "
                                  "after a wasted attempt each time");
    else
        report_check(r, CK_FAIL, "overall", "Addresses that can take mail", "all", got,
                     overall_why(res, n));
    report_data(r, "deliverable", json_integer(ok));
}

/* probe_all - one session per address, judged; data.hosts */
static void probe_all(report *r, const setup *su, const probe_target *t)
{
    probe_result *res = xcalloc((size_t)t->naddrs + 1, sizeof *res);
    json_t *hosts = json_array();
    for (int i = 0; i < t->naddrs; i++) {
        probe_session s;
        heading(r, t, &t->addrs[i]);
        probe_session_run(&su->env, &t->addrs[i], SMTPC_TLS_MAY, &s);
        probe_conclude(r, &su->env, &t->addrs[i], &s, &res[i]);
        json_array_append_new(hosts, res[i].json);
        probe_session_clear(&s);
    }
    report_data(r, "hosts", hosts);
    overall(r, t, res);
    free(res);
}

/* env_json - what the probe used: HELO, its source, port, sources, TLS */
static json_t *env_json(const setup *su, int port)
{
    char ip4[NETADDR_STRLEN] = "", ip6[NETADDR_STRLEN] = "";
    if (su->env.source4)
        netaddr_ip((const struct sockaddr *)&su->src4.ss, ip4, sizeof ip4);
    if (su->env.source6)
        netaddr_ip((const struct sockaddr *)&su->src6.ss, ip6, sizeof ip6);
    return json_pack("{s:s,s:s,s:i,s:s?,s:s?,s:b,s:s?,s:s?,s:f}", "helo", su->env.helo,
                     "helo_from", su->env.helo_source, "port", port, "source4",
                     ip4[0] ? ip4 : NULL, "source6", ip6[0] ? ip6 : NULL, "tls",
                     su->env.tls_ctx != NULL, "from", su->env.from, "rcpt", su->env.rcpt,
                     "timeout_s", (double)su->env.timeout_ms / 1000);
}

/* check_helo - the name we introduce ourselves with: a FQDN, or a warning */
static void check_helo(report *r, const probe_env *e)
{
    char got[400];
    snprintf(got, sizeof got, "%s (%s)", e->helo, e->helo_source);
    if (strchr(e->helo, '.') && dns_valid_name(e->helo))
        report_check(r, CK_PASS, "helo", "HELO name", "a fully-qualified domain name", got,
                     "used in EHLO/HELO; sluice doctor ip checks that it matches the PTR");
    else
        report_check(r, CK_WARN, "helo", "HELO name", "a fully-qualified domain name", got,
                     "many receivers refuse or penalise a HELO name that is not a FQDN "
                     "(Postfix's reject_non_fqdn_helo_hostname): set smtp_helo_name or "
                     "myhostname, or give --helo");
}

/* run - resolve, probe, report; the exit status */
static int run(const doctor_opts *o, const probe_args *a, setup *su)
{
    char err[512];
    int port = a->port ? a->port : su->config_given ? (int)su->cfg->smtp_port : 25;
    dnsq *q = dnsq_new(o->dns_server, o->timeout_ms, err, sizeof err);
    if (!q) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EX_UNAVAILABLE;
    }
    su->env.base = event_base_new();
    report *r = report_new("probe", a->target);
    probe_target t;
    report_data(r, "probe", env_json(su, port));
    check_helo(r, &su->env);
    if (probe_target_resolve(q, a->target, port, a->all, r, &t) == 0)
        probe_all(r, su, &t);
    report_data(r, "target", json_incref(t.json));
    report_print(r, stdout, o->json);
    int rc = report_exit_code(r);
    probe_target_clear(&t);
    report_free(r);
    dnsq_free(q);
    return rc;
}

int doctor_probe(const doctor_opts *o, int argc, char **argv)
{
    probe_args a;
    setup su;
    const char *bad = parse_args(argc, argv, &a);
    if (bad)
        return usage(bad);
    int rc = setup_load(o, &a, &su);
    if (rc == 0)
        rc = run(o, &a, &su);
    setup_free(&su);
    return rc;
}
