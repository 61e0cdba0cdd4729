/* fuzz_netaddr.c - libFuzzer target for the address parsers: netaddr_parse ("listen",
 * "smtp_bind_address", the source classes, the blocklist watch), cidr_parse ("mynetworks")
 * and the Postfix nexthops of config/nexthop.h ("relayhost", "smtp_fallback_relay",
 * "transport_maps" entries).  The input, up to its first NUL, is the value.  Beyond "no
 * crash", it checks: a parsed address is IPv4 or IPv6 with a port in 1..65535, and its
 * printed form parses back to the same address and port; a network's prefix fits its
 * family and the network holds its own address; a nexthop's host is lower case, within its
 * buffer, non-empty for [host], and prints back to text that parses to the same nexthop. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/netaddr.h"
#include "config/nexthop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_addr - parse with a default port; the printed form parses back the same */
static void check_addr(const char *s, int default_port)
{
    netaddr a, b;
    const char *why = NULL;
    char text[NETADDR_STRLEN];
    uint8_t ka[17], kb[17];
    if (netaddr_parse(s, default_port, &a, &why) < 0) {
        check(why != NULL);
        return;
    }
    const struct sockaddr *sa = (const struct sockaddr *)&a.ss;
    check(sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
    int port = netaddr_port(sa);
    check(port >= 1 && port <= 65535);
    netaddr_format(sa, text, sizeof text);
    check(netaddr_parse(text, 0, &b, &why) == 0);
    netaddr_key(sa, ka);
    netaddr_key((const struct sockaddr *)&b.ss, kb);
    check(!memcmp(ka, kb, sizeof ka) && netaddr_port((const struct sockaddr *)&b.ss) == port);
}

/* check_cidr - the prefix fits the family; the network holds its own address */
static void check_cidr(const char *s)
{
    cidr c;
    if (cidr_parse(s, &c) < 0)
        return;
    check((c.family == AF_INET && c.bits >= 0 && c.bits <= 32) ||
          (c.family == AF_INET6 && c.bits >= 0 && c.bits <= 128));
    struct sockaddr_storage ss = {0};
    if (c.family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, c.addr, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, c.addr, 16);
    }
    check(cidr_match(&c, (struct sockaddr *)&ss));
}

/* check_nexthop_value - the invariants of a parsed nexthop; it prints back the same */
static void check_nexthop_value(const nexthop *nh)
{
    size_t n = strnlen(nh->host, sizeof nh->host);
    check(n < sizeof nh->host && nh->port >= 0 && nh->port <= 65535);
    check(nh->kind == NH_MX || nh->kind == NH_HOST || nh->kind == NH_ERROR);
    if (nh->kind == NH_ERROR)
        return;
    check(nh->kind == NH_MX || n > 0);
    for (size_t i = 0; i < n; i++)
        check(!isupper((unsigned char)nh->host[i]));
    if (!n)
        return;
    char text[300];
    nexthop back;
    const char *why;
    int k = snprintf(text, sizeof text, nh->kind == NH_HOST ? "[%s]" : "%s", nh->host);
    if (nh->port)
        snprintf(text + k, sizeof text - (size_t)k, ":%d", nh->port);
    check(nexthop_parse(text, &back, &why) == 0);
    check(back.kind == nh->kind && back.port == nh->port && !strcmp(back.host, nh->host));
}

/* check_nexthop - the three nexthop entry points */
static void check_nexthop(const char *s)
{
    nexthop nh;
    const char *why = NULL;
    if (nexthop_parse(s, &nh, &why) == 0)
        check_nexthop_value(&nh);
    else
        check(why != NULL);
    if (nexthop_parse_transport(s, &nh, &why) == 0)
        check_nexthop_value(&nh);
    why = NULL;
    if (nexthop_check_map_entry(s, &why) < 0)
        check(why != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    check_addr(s, 0);
    check_addr(s, 25);
    check_cidr(s);
    check_nexthop(s);
    free(s);
    return 0;
}
