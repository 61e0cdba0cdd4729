/* doctor_all.c - `sluice doctor` without a subcommand, on a sluice host: everything that
 * applies to its own configuration, as one report with a section per part and the exit
 * status of the worst check:
 *   - `doctor ip` for each smtp_bind_address / smtp_bind_address6, or the primary outbound
 *     address (the source a UDP connect() to a documentation address picks; nothing is sent)
 *     with the HELO name (smtp_helo_name, which defaults to myhostname); DNSBLs only for
 *     public addresses (receivers never see a private one);
 *   - `doctor domain` for myorigin (DKIM selectors: sluice has no DKIM configuration yet);
 *   - `doctor queue` of its own queue through the control socket, or what the spool holds
 *     when sluiced is not running;
 *   - `doctor logs` of maillog_file when it is set;
 *   - `doctor advise` from the same configuration and log.
 * Each part runs in-process and reports into a report of its own (doctor ip and doctor
 * domain print theirs: their JSON is captured from stdout), whose checks are then copied
 * into the combined report with the part's prefix ("ip:ADDR:", "domain:", "queue:",
 * "logs:"); a part's data goes under data.parts.PART.  Tables of the parts' text output are
 * not repeated here: the subcommands show them.  The advice is written directly (its
 * checks keep their ids, its data is data.advice) so that its diffs show. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "dns/dns.h"
#include "doctor/advise.h"
#include "doctor/doctor.h"
#include "doctor/queueparse_report.h"

#define MAX_ADDRS 4

/* The run: the configuration, the combined report, the parts' data. */
typedef struct all_ctx {
    const doctor_opts *o;
    const sl_config *cfg;
    const char *cfg_name;
    report *r;
    json_t *parts;
    char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
    int naddrs;
} all_ctx;

/* merge - the checks of a sub-report's JSON into the combined report, ids prefixed */
static void merge(all_ctx *c, json_t *sub, const char *prefix, const char *part)
{
    size_t i, k;
    json_t *ck, *ev;
    json_array_foreach(json_object_get(sub, "checks"), i, ck) {
        const char *st = json_string_value(json_object_get(ck, "status"));
        enum check_status s = !st ? CK_INFO : !strcmp(st, "fail") ? CK_FAIL : !strcmp(st, "warn") ? CK_WARN
                                              : !strcmp(st, "pass") ? CK_PASS : CK_INFO;
        char id[600];
        snprintf(id, sizeof id, "%s%s", prefix, json_string_value(json_object_get(ck, "id")));
        int n = report_check(c->r, s, id, json_string_value(json_object_get(ck, "title")),
                             json_string_value(json_object_get(ck, "expected")),
                             json_string_value(json_object_get(ck, "actual")),
                             json_string_value(json_object_get(ck, "explanation")));
        json_array_foreach(json_object_get(ck, "evidence"), k, ev)
            report_evidence(c->r, n, json_string_value(ev));
        if (json_object_get(ck, "data"))
            report_check_data(c->r, n, json_incref(json_object_get(ck, "data")));
    }
    json_object_set(c->parts, part, json_object_get(sub, "data") ? json_object_get(sub, "data") : json_null());
}

/* merge_report - a sub-report (built here) into the combined one */
static void merge_report(all_ctx *c, report *sub, const char *prefix, const char *part)
{
    json_t *j = report_json(sub);
    if (j)
        merge(c, j, prefix, part);
    json_decref(j);
}

/* capture - run a subcommand with --json, its standard output captured; its JSON or NULL */
static json_t *capture(int (*fn)(const doctor_opts *, int, char **), const doctor_opts *o, int argc, char **argv,
                       int *rc)
{
    doctor_opts jo = *o;
    jo.json = 1;
    FILE *tmp = tmpfile();
    int saved = dup(1);
    if (!tmp || saved < 0) {
        if (tmp)
            fclose(tmp);
        if (saved >= 0)
            close(saved);
        *rc = EX_OSERR;
        return NULL;
    }
    fflush(stdout);
    dup2(fileno(tmp), 1);
    *rc = fn(&jo, argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    json_t *j = json_loadf(tmp, 0, NULL);
    fclose(tmp);
    return j;
}

/* run_part - a captured subcommand merged as a part; a warning when it could not run */
static void run_part(all_ctx *c, int (*fn)(const doctor_opts *, int, char **), int argc, char **argv,
                     const char *prefix, const char *part)
{
    int rc = 0;
    json_t *j = capture(fn, c->o, argc, argv, &rc);
    if (j)
        merge(c, j, prefix, part);
    else
        report_checkf(c->r, CK_WARN, part, part, "the check to run", "not run", "it exited with status %d", rc);
    json_decref(j);
}

/* is_public - an address receivers could see (not loopback, private, link-local, CGNAT,
 * documentation or unique-local) */
static int is_public(const char *ip)
{
    static const char *const private_nets[] = {"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                               "169.254.0.0/16", "100.64.0.0/10", "192.0.2.0/24",
                                               "198.51.100.0/24", "203.0.113.0/24", "0.0.0.0/8", "::1/128",
                                               "fc00::/7", "fe80::/10", "2001:db8::/32"};
    netaddr a;
    const char *err;
    if (netaddr_parse(ip, 25, &a, &err) < 0)
        return 0;
    for (size_t i = 0; i < sizeof private_nets / sizeof private_nets[0]; i++) {
        cidr n;
        if (cidr_parse(private_nets[i], &n) == 0 && cidr_match(&n, (const struct sockaddr *)&a.ss))
            return 0;
    }
    return 1;
}

/* outbound_address - the source address the kernel picks toward a documentation address of
 * family af (UDP connect: no packet is sent); 0, or -1 (offline, no route) */
static int outbound_address(int af, char *buf, size_t n)
{
    struct sockaddr_storage ss = {0}, me = {0};
    socklen_t len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), ml = sizeof me;
    if (af == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(25);
        inet_pton(AF_INET, "192.0.2.1", &s4->sin_addr);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(25);
        inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
    }
    int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0 &&
             getsockname(fd, (struct sockaddr *)&me, &ml) == 0;
    if (fd >= 0)
        close(fd);
    if (ok)
        netaddr_ip((struct sockaddr *)&me, buf, (int)n);
    return ok ? 0 : -1;
}

/* find_addresses - the configured source addresses, else the primary outbound ones */
static void find_addresses(all_ctx *c)
{
    const char *conf[] = {c->cfg->smtp_bind_address, c->cfg->smtp_bind_address6};
    for (int i = 0; i < 2; i++)
        if (conf[i][0])
            snprintf(c->addrs[c->naddrs++], INET6_ADDRSTRLEN, "%s", conf[i]);
    if (c->naddrs) {
        report_checkf(c->r, CK_INFO, "addresses", "Sending addresses", "smtp_bind_address", c->addrs[0],
                      "%d address(es) from the configuration", c->naddrs);
        return;
    }
    static const int fams[] = {AF_INET, AF_INET6};
    for (int i = 0; i < 2; i++)
        if (outbound_address(fams[i], c->addrs[c->naddrs], INET6_ADDRSTRLEN) == 0)
            c->naddrs++;
    if (c->naddrs)
        report_checkf(c->r, CK_INFO, "addresses", "Sending addresses", "smtp_bind_address", c->addrs[0],
                      "smtp_bind_address is not set: the address(es) this host's routes pick for outbound mail");
    else
        report_check(c->r, CK_INFO, "addresses", "Sending addresses", "smtp_bind_address", "skipped",
                     "smtp_bind_address is not set and this host has no route to the Internet (offline?): the "
                     "address checks are skipped");
}

/* check_addresses - doctor ip for each sending address, with the HELO name */
static void check_addresses(all_ctx *c)
{
    report_section(c->r, "Sending addresses and HELO name (doctor ip)");
    find_addresses(c);
    for (int i = 0; i < c->naddrs; i++) {
        int pub = is_public(c->addrs[i]);
        char *argv[] = {c->addrs[i], "--helo", c->cfg->smtp_helo_name, "--dnsbl", "none", NULL};
        char prefix[80], title[120], pubid[100];
        snprintf(prefix, sizeof prefix, "ip:%s:", c->addrs[i]);
        snprintf(pubid, sizeof pubid, "ip:%s:public", c->addrs[i]);
        snprintf(title, sizeof title, "Sending address %s", c->addrs[i]);
        report_section(c->r, title);
        if (!pub)
            report_checkf(c->r, CK_INFO, pubid, "Public address", "an address receivers see", "private",
                          "%s is not a public address: receivers see the address of whatever translates it (NAT); "
                          "its DNSBL listings are not checked (run `sluice doctor ip` on the public one)",
                          c->addrs[i]);
        run_part(c, doctor_ip, pub ? 3 : 5, argv, prefix, prefix);
    }
    if (!c->naddrs) {
        const char *h = c->cfg->smtp_helo_name;
        int ok = strchr(h, '.') && dns_valid_name(h);
        report_checkf(c->r, ok ? CK_PASS : CK_FAIL, "helo-fqdn", "HELO name is a fully-qualified domain name",
                      "a FQDN", h, "smtp_helo_name (default myhostname)%s",
                      ok ? "" : ": receivers reject bare or invalid names (RFC 5321 4.1.1.1)");
    }
}

/* check_domain - doctor domain for myorigin, and the DKIM note */
static void check_domain(all_ctx *c)
{
    const char *d = c->cfg->myorigin;
    char title[300];
    snprintf(title, sizeof title, "Sending domain %s (doctor domain)", d);
    report_section(c->r, title);
    if (!strchr(d, '.') || !dns_valid_name(d)) {
        report_checkf(c->r, CK_WARN, "domain", "Sending domain", "a domain name like example.com", d,
                      "myorigin (default myhostname) is the domain of the mail sluice sends itself; set it");
    } else {
        char *argv[] = {(char *)d, "--helo", c->cfg->smtp_helo_name, "--ip", c->addrs[0], NULL};
        run_part(c, doctor_domain, c->naddrs ? 5 : 3, argv, "domain:", "domain");
    }
    report_check(c->r, CK_INFO, "dkim-config", "DKIM selectors", "the selectors sluice signs with", "none",
                 "sluice has no DKIM signing configuration yet, so there are no selectors to check; when a milter "
                 "or relay signs for this domain, run `sluice doctor domain DOMAIN --selector S`");
}

/* count_dir - regular files in dir whose name starts with prefix, and their bytes */
static long count_dir(const char *dir, const char *prefix, long long *bytes)
{
    DIR *d = opendir(dir);
    long n = 0;
    struct dirent *e;
    *bytes = 0;
    while (d && (e = readdir(d))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            n++;
            *bytes += st.st_size;
        }
    }
    if (d)
        closedir(d);
    return d ? n : -1;
}

/* spool_only - sluiced is down: what its spool holds */
static void spool_only(all_ctx *c, const char *why)
{
    char spool[4096], drop[4096];
    long long b1, b2;
    snprintf(spool, sizeof spool, "%s/spool", c->cfg->queue_directory);
    snprintf(drop, sizeof drop, "%s/maildrop", c->cfg->queue_directory);
    long segs = count_dir(spool, "seg-", &b1), waiting = count_dir(drop, "", &b2);
    if (segs < 0)
        report_checkf(c->r, CK_INFO, "queue:source", "Queue", "sluiced's queue", "no spool",
                      "%s; %s does not exist yet", why, spool);
    else
        report_checkf(c->r, segs > 0 || waiting > 0 ? CK_WARN : CK_INFO, "queue:source", "Queue", "sluiced's queue",
                      "sluiced is not running",
                      "%s: %ld spool segment(s) (%lld bytes) in %s and %ld submission(s) waiting in %s are not "
                      "being delivered; start sluiced to list them (the doctor does not open the spool itself: "
                      "opening it runs recovery)",
                      why, segs, b1, spool, waiting < 0 ? 0 : waiting, drop);
}

/* check_queue - doctor queue of sluiced's own queue */
static void check_queue(all_ctx *c)
{
    report_section(c->r, "Queue (doctor queue)");
    char err[512] = "";
    int64_t now = (int64_t)time(NULL);
    qshape *s = qs_new(NULL, now);
    qparser *p = qp_new(QF_JSON, 1u << QF_JSON, now, qs_add, s);
    int rc = qsrc_sluice(c->cfg->queue_directory, c->o->timeout_ms, p, err, sizeof err);
    if (rc == 0) {
        qp_end(p);
        qs_finish(s);
        char source[300];
        snprintf(source, sizeof source, "sluiced's queue in %.200s", c->cfg->queue_directory);
        report *sub = report_new("queue", source);
        qreport_opts ro = {1000, 10000, 4 * 3600, 86400, 30};
        qreport_build(sub, p, s, source, &ro);
        merge_report(c, sub, "queue:", "queue");
        report_free(sub);
    } else if (rc > 0) {
        spool_only(c, "sluiced is not running (no answer on its control socket)");
    } else {
        report_checkf(c->r, CK_WARN, "queue:source", "Queue", "sluiced's queue", "not read", "%s", err);
    }
    qp_free(p);
    qs_free(s);
}

/* check_logs - doctor logs of maillog_file */
static void check_logs(all_ctx *c)
{
    const char *f = c->cfg->maillog_file;
    report_section(c->r, "Delivery log (doctor logs)");
    if (f[0] != '/' || access(f, R_OK) != 0) {
        report_checkf(c->r, CK_INFO, "logs", "Delivery log", "maillog_file", f[0] ? f : "not set",
                      "%s: give the log to `sluice doctor logs FILE` (e.g. /var/log/mail.log)",
                      f[0] == '/' ? strerror(errno)
                      : f[0]      ? "sluice logs there, not to a file"
                                  : "sluice logs to stderr");
        return;
    }
    char err[512];
    classifier *cls = classifier_new(err, sizeof err);
    loganalyzer *la = la_new(cls, NULL);
    if (la_feed_file(la, f, err, sizeof err) < 0) {
        report_checkf(c->r, CK_WARN, "logs", "Delivery log", "maillog_file", f, "%s", err);
    } else {
        la_finish(la);
        report *sub = report_new("logs", f);
        la_report_opts ro = {0, 40, NULL, 0};
        la_report(la, sub, &ro);
        merge_report(c, sub, "logs:", "logs");
        report_free(sub);
    }
    la_free(la);
    if (cls)
        classifier_free(cls);
}

/* check_advice - doctor advise from the configuration and its log, written straight into
 * the combined report (its ids are its own: "retry", "concurrency:D", ...) so that its diffs
 * show in the text output */
static void check_advice(all_ctx *c)
{
    const char *logs[1] = {c->cfg->maillog_file};
    int nlogs = c->cfg->maillog_file[0] == '/' && access(c->cfg->maillog_file, R_OK) == 0;
    advise_opts ao = {.logs = logs, .nlogs = nlogs, .cfg = c->cfg, .cfg_name = c->cfg_name,
                      .timeout_ms = c->o->timeout_ms};
    if (advise_build(&ao, c->r) != 0)
        report_check(c->r, CK_WARN, "advise", "Advice", "advice", "not given", "see the messages above");
}

int doctor_all(const doctor_opts *o, int argc, char **argv)
{
    (void)argv;
    if (argc > 0)
        return EX_USAGE;
    int failed = 0;
    all_ctx c = {.o = o, .parts = json_object()};
    sl_config *cfg = advise_sluice_config(o->g, &c.cfg_name, &failed);
    if (!cfg) {
        json_decref(c.parts);
        return EX_CONFIG;
    }
    c.cfg = cfg;
    c.r = report_new("all", cfg->myhostname);
    report_checkf(c.r, CK_INFO, "config", "Configuration", "a sluice configuration", c.cfg_name,
                  "myhostname %s, myorigin %s, smtp_helo_name %s, queue_directory %s", cfg->myhostname,
                  cfg->myorigin, cfg->smtp_helo_name, cfg->queue_directory);
    check_addresses(&c);
    check_domain(&c);
    check_queue(&c);
    check_logs(&c);
    check_advice(&c);
    report_data(c.r, "parts", c.parts);
    report_print(c.r, stdout, o->json);
    int rc = report_exit_code(c.r);
    report_free(c.r);
    config_free(cfg);
    return rc;
}
