/* test_dns_resolve.c - the resolver (dns.h) against a real Knot authoritative server that
 * this program starts: knotd with a config and zone files in a temp dir, on a free
 * loopback port, as the current user.  Covers MX (two hosts at equal preference), an
 * A-only domain (NODATA for MX, then A), null MX, an MX pointing at an address, NXDOMAIN,
 * REFUSED (a zone Knot does not serve), TXT, PTR, AAAA and family order, CNAME chains in
 * and across zones, BADNAME, answers from libunbound's cache still delivered later, a dead
 * server (TEMPFAIL "timeout" within the bound), dns_cancel before the answer, dns_free with
 * queries in flight and from inside a callback.  Skipped, with a message, only when knotd
 * is not installed (scripts/deps.sh test installs it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dns/dns.h"

/* ---- the test zones ---- */

static const struct { const char *name, *text; } zones[] = {
    {"d1.test",
     "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n"
     "@ MX 10 mx1\n@ MX 10 mx2\nmx1 A 127.0.0.2\nmx2 A 127.0.0.3\n"
     "www CNAME mx1\ntxt TXT \"v=spf1 \" \"-all\"\n"},
    {"aonly.test", "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n"
                   "@ A 127.0.0.4\n"},
    {"nullmx.test", "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n"
                    "@ MX 0 .\n"},
    {"dual.test", "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n"
                  "@ A 127.0.0.5\n@ AAAA fd00::5\nmail CNAME mx2.d1.test.\n"
                  "badmx MX 10 127.0.0.9.\n"},
    {"127.in-addr.arpa", "@ SOA ns.d1.test. hostmaster.d1.test. 1 3600 600 86400 60\n"
                         "@ NS ns.d1.test.\n2.0.0 PTR mx1.d1.test.\n3.0.0 PTR mx2.d1.test.\n"
                         "9.0.0 PTR bad_name.d1.test.\n"},
};
#define NZONES (sizeof zones / sizeof zones[0])

/* ---- Knot, started and stopped by this program ---- */

static struct {
    int skip;                  /* knotd not installed */
    pid_t pid;
    int port;
    char dir[64];
    char server[64];           /* "127.0.0.1@PORT" */
    int dead_udp, dead_tcp;    /* the dead server: bound, never answering */
    char dead[64];
} knot = {.pid = -1, .dead_udp = -1, .dead_tcp = -1};

/* knotd_path - the knotd binary, or NULL */
static const char *knotd_path(void)
{
    static const char *const paths[] = {"/usr/sbin/knotd", "/usr/local/sbin/knotd",
                                        "/usr/bin/knotd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* bind_pair - a UDP and a TCP socket on the same free loopback port; the port or -1 */
static int bind_pair(int *udp, int *tcp)
{
    for (int tries = 0; tries < 50; tries++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        *udp = socket(AF_INET, SOCK_DGRAM, 0);
        if (bind(*udp, (struct sockaddr *)&sin, sizeof sin) < 0 ||
            getsockname(*udp, (struct sockaddr *)&sin, &len) < 0) {
            close(*udp);
            continue;
        }
        *tcp = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(*tcp, (struct sockaddr *)&sin, sizeof sin) == 0)
            return ntohs(sin.sin_port);
        close(*tcp);
        close(*udp);
    }
    return -1;
}

/* write_file - dir/name with text */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* write_config - knot.conf and one zone file per zone into knot.dir */
static void write_config(void)
{
    char conf[4096];
    int n = snprintf(conf, sizeof conf,
                     "server:\n    rundir: \"%s\"\n    listen: 127.0.0.1@%d\n"
                     "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
                     "database:\n    storage: \"%s\"\n"
                     "log:\n  - target: stderr\n    any: warning\n"
                     "template:\n  - id: default\n    storage: \"%s\"\n    file: \"%%s.zone\"\n"
                     "    zonefile-sync: -1\n    journal-content: none\n"
                     "zone:\n",
                     knot.dir, knot.port, knot.dir, knot.dir);
    for (size_t i = 0; i < NZONES; i++) {
        char file[128], text[1024];
        n += snprintf(conf + n, sizeof conf - (size_t)n, "  - domain: %s\n", zones[i].name);
        snprintf(file, sizeof file, "%s.zone", zones[i].name);
        snprintf(text, sizeof text, "$ORIGIN %s.\n$TTL 300\n%s", zones[i].name, zones[i].text);
        write_file(knot.dir, file, text);
    }
    write_file(knot.dir, "knot.conf", conf);
}

/* soa_answered - one raw UDP SOA query for zone; 1 when Knot answers it with NOERROR */
static int soa_answered(const char *zone)
{
    uint8_t q[300] = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, r[512];
    size_t n = 12;
    for (const char *s = zone; *s;) {
        size_t len = strcspn(s, ".");
        q[n++] = (uint8_t)len;
        memcpy(q + n, s, len);
        n += len;
        s += len + (s[len] == '.');
    }
    q[n++] = 0;
    memcpy(q + n, "\0\6\0\1", 4);
    n += 4;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)knot.port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    sendto(fd, q, n, 0, (struct sockaddr *)&sin, sizeof sin);
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t got = poll(&pfd, 1, 50) == 1 ? recv(fd, r, sizeof r, 0) : -1;
    close(fd);
    return got >= 12 && r[0] == 0x12 && r[1] == 0x34 && (r[3] & 15) == 0 && r[7] > 0;
}

/* knot_wait - until every zone answers, or 10 s */
static int knot_wait(void)
{
    for (int i = 0; i < 200; i++) {
        size_t z = 0;
        while (z < NZONES && soa_answered(zones[z].name))
            z++;
        if (z == NZONES)
            return 0;
        if (waitpid(knot.pid, NULL, WNOHANG) == knot.pid) {
            knot.pid = -1;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

/* knot_start - Knot on a free port with the zones above */
static int knot_start(void **state)
{
    (void)state;
    const char *knotd = knotd_path();
    if (!knotd) {
        knot.skip = 1;
        fprintf(stderr, "test_dns_resolve: knotd not installed (scripts/deps.sh test): "
                        "resolver tests skipped\n");
        return 0;
    }
    int udp, tcp;
    snprintf(knot.dir, sizeof knot.dir, "/tmp/sluice-knot-XXXXXX");
    if (!mkdtemp(knot.dir) || (knot.port = bind_pair(&udp, &tcp)) < 0)
        return -1;
    close(udp);
    close(tcp);
    snprintf(knot.server, sizeof knot.server, "127.0.0.1@%d", knot.port);
    write_config();
    char conf[128], log[128];
    snprintf(conf, sizeof conf, "%s/knot.conf", knot.dir);
    snprintf(log, sizeof log, "%s/knotd.log", knot.dir);
    knot.pid = fork();
    if (knot.pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        dup2(fd, 1);
        execl(knotd, "knotd", "-c", conf, (char *)NULL);
        _exit(127);
    }
    if (knot_wait() < 0) {
        fprintf(stderr, "test_dns_resolve: knotd did not come up; see %s\n", log);
        return -1;
    }
    int port = bind_pair(&knot.dead_udp, &knot.dead_tcp);
    listen(knot.dead_tcp, 1);
    snprintf(knot.dead, sizeof knot.dead, "127.0.0.1@%d", port);
    return 0;
}

/* knot_stop - stop knotd, remove its directory */
static int knot_stop(void **state)
{
    (void)state;
    if (knot.pid > 0) {
        kill(knot.pid, SIGTERM);
        waitpid(knot.pid, NULL, 0);
    }
    if (knot.dead_udp >= 0) {
        close(knot.dead_udp);
        close(knot.dead_tcp);
    }
    if (knot.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", knot.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_dns_resolve: could not remove %s\n", knot.dir);
    }
    return 0;
}

#define NEED_KNOT() do { if (knot.skip) skip(); } while (0)

/* ---- running the loop ---- */

typedef struct got {
    int calls;
    int in_call;               /* set while a dns_query_* call runs: callbacks must not see it */
    enum dns_status status;
    char why[64];
    uint32_t ttl;
    int n, null_mx;
    char v[8][256];            /* MX hosts ("pref host"), addresses, TXT or PTR strings */
    struct event_base *base;
    int want;                  /* loopbreak when calls reaches this */
    dns_ctx *free_me;          /* dns_free this from inside the callback */
} got;

/* got_done - common bookkeeping of every callback */
static void got_done(got *g, enum dns_status status, const char *why, uint32_t ttl)
{
    if (g->in_call)
        fail_msg("callback ran inside the query call");
    g->calls++;
    g->status = status;
    snprintf(g->why, sizeof g->why, "%s", why ? why : "");
    g->ttl = ttl;
    if (g->free_me) {
        dns_free(g->free_me);
        g->free_me = NULL;
    }
    if (g->calls >= g->want)
        event_base_loopbreak(g->base);
}

static void on_mx(void *arg, const dns_mx_result *r)
{
    got *g = arg;
    g->n = r->nmx;
    g->null_mx = r->null_mx;
    for (int i = 0; i < r->nmx && i < 8; i++)
        snprintf(g->v[i], sizeof g->v[i], "%u %s", r->mx[i].pref, r->mx[i].host);
    got_done(g, r->status, r->why, r->ttl);
}

static void on_addr(void *arg, const dns_addr_result *r)
{
    got *g = arg;
    g->n = r->naddrs;
    for (int i = 0; i < r->naddrs && i < 8; i++) {
        netaddr_ip((const struct sockaddr *)&r->addrs[i].ss, g->v[i], sizeof g->v[i]);
        if (netaddr_port((const struct sockaddr *)&r->addrs[i].ss) != 0)
            fail_msg("address with a port");
    }
    got_done(g, r->status, r->why, r->ttl);
}

static void on_txt(void *arg, const dns_txt_result *r)
{
    got *g = arg;
    g->n = r->n;
    for (int i = 0; i < r->n && i < 8; i++)
        snprintf(g->v[i], sizeof g->v[i], "%s", r->v[i]);
    got_done(g, r->status, r->why, r->ttl);
}

/* run - the loop until want callbacks, or ms; returns elapsed ms */
static long run(struct event_base *base, got *g, int want, long ms)
{
    struct timespec a, b;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    g->base = base;
    g->want = want;
    clock_gettime(CLOCK_MONOTONIC, &a);
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

/* fixture - a base and a resolver forwarding to servers */
typedef struct fixture {
    struct event_base *base;
    dns_ctx *d;
} fixture;

static void fixture_open(fixture *f, const char *servers, int64_t timeout_ms)
{
    char err[256];
    f->base = event_base_new();
    f->d = dns_new(f->base, servers, timeout_ms, err, sizeof err);
    if (!f->d)
        fail_msg("dns_new: %s", err);
}

static void fixture_close(fixture *f)
{
    dns_free(f->d);
    event_base_free(f->base);
}

/* ask_mx - one MX query run to its end */
static void ask_mx(fixture *f, const char *domain, got *g)
{
    memset(g, 0, sizeof *g);
    g->in_call = 1;
    assert_non_null(dns_query_mx(f->d, domain, on_mx, g));
    g->in_call = 0;
    run(f->base, g, 1, 5000);
    assert_int_equal(g->calls, 1);
}

static void ask_addr(fixture *f, const char *host, int family, int v4first, got *g)
{
    memset(g, 0, sizeof *g);
    g->in_call = 1;
    assert_non_null(dns_query_addr(f->d, host, family, v4first, on_addr, g));
    g->in_call = 0;
    run(f->base, g, 1, 5000);
    assert_int_equal(g->calls, 1);
}

/* ---- tests ---- */

static void test_new_errors(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    char err[256];
    const char *bad[] = {"localhost", "127.0.0.1@0", "127.0.0.1@70000", "127.0.0.1@", ",",
                         "1.2.3.4:53", "::1@x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (dns_new(base, bad[i], 1000, err, sizeof err))
            fail_msg("dns_new accepted '%s'", bad[i]);
        assert_true(err[0] != 0);
    }
    dns_ctx *d = dns_new(base, "127.0.0.1@5353, ::1 192.0.2.1", 1000, err, sizeof err);
    assert_non_null(d);
    dns_free(d);
    if (access("/etc/resolv.conf", R_OK) == 0) {   /* the system's resolvers: no query sent */
        d = dns_new(base, "", 1000, err, sizeof err);
        if (!d)
            fail_msg("dns_new with /etc/resolv.conf: %s", err);
        dns_free(d);
    }
    dns_free(NULL);
    dns_cancel(NULL);
    event_base_free(base);
}

static void test_mx_two_hosts(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    int first_mx1 = 0, first_mx2 = 0;
    for (int i = 0; i < 40; i++) {   /* the later ones come from libunbound's cache */
        ask_mx(&f, "d1.test", &g);
        assert_int_equal(g.status, DNS_OK);
        assert_int_equal(g.n, 2);
        assert_int_equal(g.null_mx, 0);
        assert_true(g.ttl > 0 && g.ttl <= 300);
        assert_true(strcmp(g.v[0], g.v[1]) != 0);
        first_mx1 += strcmp(g.v[0], "10 mx1.d1.test") == 0;
        first_mx2 += strcmp(g.v[0], "10 mx2.d1.test") == 0;
    }
    if (first_mx1 + first_mx2 != 40 || !first_mx1 || !first_mx2)
        fail_msg("equal preference: mx1 first %d times, mx2 %d times", first_mx1, first_mx2);
    ask_addr(&f, "mx2.d1.test", AF_INET, 1, &g);
    assert_int_equal(g.status, DNS_OK);
    assert_string_equal(g.v[0], "127.0.0.3");
    fixture_close(&f);
}

static void test_a_only_domain(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    ask_mx(&f, "aonly.test", &g);
    assert_int_equal(g.status, DNS_NODATA);
    assert_int_equal(g.n, 0);
    ask_addr(&f, "aonly.test", AF_UNSPEC, 0, &g);
    assert_int_equal(g.status, DNS_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0], "127.0.0.4");
    ask_addr(&f, "aonly.test", AF_INET6, 0, &g);
    assert_int_equal(g.status, DNS_NODATA);
    fixture_close(&f);
}

static void test_null_mx_and_bad_mx(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    ask_mx(&f, "nullmx.test", &g);
    assert_int_equal(g.status, DNS_OK);
    assert_int_equal(g.null_mx, 1);
    assert_int_equal(g.n, 0);
    ask_mx(&f, "badmx.dual.test", &g);
    assert_int_equal(g.status, DNS_TEMPFAIL);
    assert_string_equal(g.why, "no valid MX host");
    fixture_close(&f);
}

static void test_nxdomain_refused_badname(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    ask_mx(&f, "nosuch.d1.test", &g);
    assert_int_equal(g.status, DNS_NXDOMAIN);
    ask_addr(&f, "nosuch.d1.test", AF_UNSPEC, 1, &g);
    assert_int_equal(g.status, DNS_NXDOMAIN);
    ask_mx(&f, "notserved.example", &g);   /* Knot refuses zones it does not serve */
    assert_int_equal(g.status, DNS_TEMPFAIL);
    ask_mx(&f, "bad name.test", &g);
    assert_int_equal(g.status, DNS_BADNAME);
    ask_mx(&f, "mx1\r\n.d1.test", &g);
    assert_int_equal(g.status, DNS_BADNAME);
    ask_addr(&f, "", AF_INET, 1, &g);
    assert_int_equal(g.status, DNS_BADNAME);
    fixture_close(&f);
}

static void test_txt_ptr(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    memset(&g, 0, sizeof g);
    g.in_call = 1;
    dns_query_txt(f.d, "txt.d1.test", on_txt, &g);
    g.in_call = 0;
    run(f.base, &g, 1, 5000);
    assert_int_equal(g.status, DNS_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0], "v=spf1 -all");

    const char *ips[] = {"127.0.0.2", "::ffff:127.0.0.3", "127.0.0.9", "127.0.0.77"};
    const enum dns_status want[] = {DNS_OK, DNS_OK, DNS_NODATA, DNS_NXDOMAIN};
    const char *name[] = {"mx1.d1.test", "mx2.d1.test", NULL, NULL};
    for (int i = 0; i < 4; i++) {
        struct sockaddr_storage ss = {0};
        if (strchr(ips[i], ':')) {
            ss.ss_family = AF_INET6;
            inet_pton(AF_INET6, ips[i], &((struct sockaddr_in6 *)&ss)->sin6_addr);
        } else {
            ss.ss_family = AF_INET;
            inet_pton(AF_INET, ips[i], &((struct sockaddr_in *)&ss)->sin_addr);
        }
        memset(&g, 0, sizeof g);
        g.in_call = 1;
        dns_query_ptr(f.d, (struct sockaddr *)&ss, on_txt, &g);
        g.in_call = 0;
        run(f.base, &g, 1, 5000);
        if (g.status != want[i])
            fail_msg("PTR %s: got %s (%s)", ips[i], dns_status_name(g.status), g.why);
        if (name[i])
            assert_string_equal(g.v[0], name[i]);
    }
    fixture_close(&f);
}

static void test_aaaa_and_order(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    ask_addr(&f, "dual.test", AF_UNSPEC, 0, &g);
    assert_int_equal(g.status, DNS_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.v[0], "fd00::5");
    assert_string_equal(g.v[1], "127.0.0.5");
    ask_addr(&f, "dual.test", AF_UNSPEC, 1, &g);
    assert_string_equal(g.v[0], "127.0.0.5");
    assert_string_equal(g.v[1], "fd00::5");
    ask_addr(&f, "dual.test", AF_INET6, 1, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0], "fd00::5");
    fixture_close(&f);
}

static void test_cnames(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g;
    fixture_open(&f, knot.server, 3000);
    ask_addr(&f, "www.d1.test", AF_INET, 1, &g);      /* in zone: Knot sends the chain */
    assert_int_equal(g.status, DNS_OK);
    assert_string_equal(g.v[0], "127.0.0.2");
    ask_addr(&f, "mail.dual.test", AF_INET, 1, &g);   /* across zones: libunbound joins it */
    assert_int_equal(g.status, DNS_OK);
    assert_string_equal(g.v[0], "127.0.0.3");
    ask_mx(&f, "mail.dual.test", &g);                 /* the chain's end has no MX */
    assert_int_equal(g.status, DNS_NODATA);
    fixture_close(&f);
}

static void test_dead_server_timeout(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g[2];
    fixture_open(&f, knot.dead, 400);
    memset(g, 0, sizeof g);
    dns_query_mx(f.d, "d1.test", on_mx, &g[0]);
    dns_query_addr(f.d, "d1.test", AF_UNSPEC, 1, on_addr, &g[1]);
    g[1].base = f.base;
    long ms = 0;
    int calls = 0;
    for (int i = 0; i < 2 && calls < 2; i++) {
        ms += run(f.base, &g[0], 1, 3000);
        calls = g[0].calls + g[1].calls;
    }
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[1].calls, 1);
    assert_int_equal(g[0].status, DNS_TEMPFAIL);
    assert_string_equal(g[0].why, "timeout");
    assert_int_equal(g[1].status, DNS_TEMPFAIL);
    if (ms < 350 || ms > 3000)
        fail_msg("timeout after %ld ms, want about 400", ms);
    /* late answers (libunbound gives up later) must not reach anyone */
    run(f.base, &g[0], 99, 300);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[1].calls, 1);
    fixture_close(&f);
}

static void test_cancel(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g, other;
    fixture_open(&f, knot.server, 3000);
    memset(&g, 0, sizeof g);
    memset(&other, 0, sizeof other);
    dns_query *q = dns_query_mx(f.d, "aonly.test", on_mx, &g);
    dns_query_mx(f.d, "d1.test", on_mx, &other);
    dns_cancel(q);
    run(f.base, &other, 1, 3000);
    run(f.base, &other, 99, 200);
    assert_int_equal(g.calls, 0);
    assert_int_equal(other.calls, 1);
    /* cancel an answer already in libunbound's cache, before its deferred delivery */
    q = dns_query_mx(f.d, "d1.test", on_mx, &g);
    dns_cancel(q);
    q = dns_query_mx(f.d, "bad name", on_mx, &g);
    dns_cancel(q);
    run(f.base, &g, 99, 200);
    assert_int_equal(g.calls, 0);
    fixture_close(&f);
}

static void test_free_in_flight(void **state)
{
    (void)state;
    NEED_KNOT();
    got g;
    memset(&g, 0, sizeof g);
    /* round 0: answers on their way from Knot, a BADNAME waiting for its delivery;
     * round 1: queries sent to the dead server and waiting for 100 ms first */
    for (int round = 0; round < 2; round++) {
        fixture f;
        fixture_open(&f, round ? knot.dead : knot.server, 2000);
        dns_query_mx(f.d, "d1.test", on_mx, &g);
        dns_query_addr(f.d, "dual.test", AF_UNSPEC, 0, on_addr, &g);
        dns_query_txt(f.d, "txt.d1.test", on_txt, &g);
        if (round == 0)
            dns_query_mx(f.d, "bad name", on_mx, &g);
        else
            run(f.base, &g, 99, 100);
        assert_int_equal(g.calls, 0);
        dns_free(f.d);
        f.d = NULL;
        run(f.base, &g, 99, 200);
        assert_int_equal(g.calls, 0);
        event_base_free(f.base);
    }
}

static void test_free_inside_callback(void **state)
{
    (void)state;
    NEED_KNOT();
    fixture f;
    got g[3];
    fixture_open(&f, knot.server, 3000);
    memset(g, 0, sizeof g);
    dns_query_mx(f.d, "bad name", on_mx, &g[0]);     /* delivered first */
    dns_query_mx(f.d, "d1.test", on_mx, &g[1]);
    dns_query_addr(f.d, "aonly.test", AF_INET, 0, on_addr, &g[2]);
    g[0].free_me = f.d;
    run(f.base, &g[0], 1, 3000);
    run(f.base, &g[0], 99, 300);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[1].calls + g[2].calls, 0);
    event_base_free(f.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_mx_two_hosts),
        cmocka_unit_test(test_a_only_domain),
        cmocka_unit_test(test_null_mx_and_bad_mx),
        cmocka_unit_test(test_nxdomain_refused_badname),
        cmocka_unit_test(test_txt_ptr),
        cmocka_unit_test(test_aaaa_and_order),
        cmocka_unit_test(test_cnames),
        cmocka_unit_test(test_dead_server_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_free_inside_callback),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, knot_start, knot_stop);
}
