/* dns_ctx.c - a resolver context: libunbound on the caller's libevent loop, and its end.
 *
 * Owns the ub_ctx and the choice of upstream.  "" means the system's resolvers
 * (/etc/resolv.conf); otherwise every query is forwarded to the listed servers
 * ("127.0.0.1@5353, ::1": numeric addresses, optional @port, commas or spaces between).
 * libunbound's built-in local zones that would answer in place of those servers (test.,
 * 127.in-addr.arpa., the private-range reverse zones; localhost. stays) are turned off,
 * and servers on loopback are allowed: the configured servers decide every answer, so
 * tests can serve .test and 127.in-addr.arpa from a local Knot and the doctor can see the
 * PTR of a LAN address.
 * dns_free: queries are released without callbacks, ub_ctx_delete runs while the request
 * list is intact (libunbound may call back tombstones from inside it), then the requests
 * it kept are freed. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "dns/dns_int.h"

/* Built-in libunbound zones that must not hide what the configured servers say. */
static const char *const nodefault_zones[] = {
    "test.", "invalid.", "127.in-addr.arpa.", "home.arpa.", "onion.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
};

/* server_ok - "IPv4", "IPv6", either with "@port" (1..65535) */
static int server_ok(const char *s)
{
    char host[INET6_ADDRSTRLEN + 1];
    unsigned char buf[16];
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    if (n == 0 || n >= sizeof host)
        return 0;
    memcpy(host, s, n);
    host[n] = 0;
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return 0;
    if (!at)
        return 1;
    char *end;
    long port = strtol(at + 1, &end, 10);
    return at[1] >= '0' && at[1] <= '9' && !*end && port >= 1 && port <= 65535;
}

/* set_forwarders - ub_ctx_set_fwd for each listed server; -1 with err filled */
static int set_forwarders(struct ub_ctx *ub, const char *servers, char *err, int errlen)
{
    char *list = xstrdup(servers), *save = NULL;
    int n = 0, rc = -1;
    for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        int e;
        if (!server_ok(tok)) {
            snprintf(err, (size_t)errlen, "dns server '%s': expected IP or IP@port", tok);
            goto fail;
        }
        if ((e = ub_ctx_set_fwd(ub, tok)) != 0) {
            snprintf(err, (size_t)errlen, "dns server '%s': %s", tok, ub_strerror(e));
            goto fail;
        }
        n++;
    }
    if (n == 0) {
        snprintf(err, (size_t)errlen, "dns servers: empty list");
        goto fail;
    }
    rc = 0;
fail:
    free(list);
    return rc;
}

/* set_options - servers on loopback allowed, private-range reverse zones not blocked */
static int set_options(struct ub_ctx *ub, char *err, int errlen)
{
    int e = ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
    if (!e)
        e = ub_ctx_set_option(ub, "unblock-lan-zones:", "yes");
    if (!e)
        e = ub_ctx_set_option(ub, "insecure-lan-zones:", "yes");
    if (e)
        snprintf(err, (size_t)errlen, "dns: libunbound option: %s", ub_strerror(e));
    return e ? -1 : 0;
}

/* remove_default_zones - drop the built-in zones listed above.  This finalizes the
 * context (no option can be set afterwards), which is why "local-zone: ... nodefault"
 * is not used: libunbound 1.17 ignores it when given through ub_ctx_set_option. */
static int remove_default_zones(struct ub_ctx *ub, char *err, int errlen)
{
    for (size_t i = 0; i < sizeof nodefault_zones / sizeof nodefault_zones[0]; i++) {
        int e = ub_ctx_zone_remove(ub, nodefault_zones[i]);
        if (e) {
            snprintf(err, (size_t)errlen, "dns: libunbound zone %s: %s", nodefault_zones[i],
                     ub_strerror(e));
            return -1;
        }
    }
    return 0;
}

dns_ctx *dns_new(struct event_base *base, const char *servers, int64_t timeout_ms, char *err,
                 int errlen)
{
    struct ub_ctx *ub = ub_ctx_create_event(base);
    if (!ub) {
        snprintf(err, (size_t)errlen, "dns: cannot create a libunbound context");
        return NULL;
    }
    if (set_options(ub, err, errlen) < 0)
        goto fail;
    if (servers && *servers) {
        if (set_forwarders(ub, servers, err, errlen) < 0)
            goto fail;
    } else {
        int e = ub_ctx_resolvconf(ub, NULL);
        if (e) {
            snprintf(err, (size_t)errlen, "dns: /etc/resolv.conf: %s", ub_strerror(e));
            goto fail;
        }
    }
    if (remove_default_zones(ub, err, errlen) < 0)
        goto fail;
    dns_ctx *d = xcalloc(1, sizeof *d);
    d->base = base;
    d->ub = ub;
    d->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    return d;
fail:
    ub_ctx_delete(ub);
    return NULL;
}

void dns_free(dns_ctx *d)
{
    if (!d)
        return;
    while (d->queries)
        dns_query_release(d->queries);
    ub_ctx_delete(d->ub);
    while (d->reqs)
        dns_req_unlink_free(d->reqs);
    free(d);
}
