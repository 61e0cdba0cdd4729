/* netaddr.c - numeric address parsing and matching; no DNS here. */
#include "common/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parse_port - decimal 1..65535; -1 otherwise */
static int parse_port(const char *s)
{
    if (!*s || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    int v = atoi(s);
    return v >= 1 && v <= 65535 ? v : -1;
}

/* split_hostport - copy host and port text out of s; port NULL when absent */
static int split_hostport(const char *s, char *host, size_t hlen, const char **port)
{
    const char *colon;
    size_t n;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -1;
        n = (size_t)(close - s - 1);
        if (close[1] == ':')
            *port = close + 2;
        else if (close[1] == 0)
            *port = NULL;
        else
            return -1;
        s++;
    } else if ((colon = strrchr(s, ':')) && strchr(s, ':') == colon) {
        n = (size_t)(colon - s);
        *port = colon + 1;
    } else {
        n = strlen(s);   /* no port, or a bare IPv6 address */
        *port = NULL;
    }
    if (n == 0 || n >= hlen)
        return -1;
    memcpy(host, s, n);
    host[n] = 0;
    return 0;
}

int netaddr_parse(const char *s, int default_port, netaddr *out, const char **err)
{
    char host[INET6_ADDRSTRLEN + 8];
    const char *pstr;
    memset(out, 0, sizeof *out);
    if (split_hostport(s, host, sizeof host, &pstr) < 0) {
        *err = "expected address:port, e.g. 127.0.0.1:25 or [::1]:25";
        return -1;
    }
    int port = pstr ? parse_port(pstr) : default_port;
    if (port <= 0) {
        *err = "bad or missing port";
        return -1;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    if (strcmp(host, "*") == 0) {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((uint16_t)port);
        out->len = sizeof *sin;
    } else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        out->len = sizeof *sin;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *sin6;
    } else {
        *err = "not a numeric IPv4 or IPv6 address";
        return -1;
    }
    return 0;
}

void netaddr_set_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* v4_of - the IPv4 address inside sa (also IPv4-mapped IPv6); 0 when sa is not IPv4 */
static int v4_of(const struct sockaddr *sa, uint8_t out[4])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(out, a->s6_addr + 12, 4);
            return 1;
        }
    }
    return 0;
}

char *netaddr_ip(const struct sockaddr *sa, char *buf, int len)
{
    uint8_t v4[4];
    if (v4_of(sa, v4))
        inet_ntop(AF_INET, v4, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
    else
        snprintf(buf, (size_t)len, "unknown");
    return buf;
}

int netaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

char *netaddr_format(const struct sockaddr *sa, char *buf, int len)
{
    char ip[INET6_ADDRSTRLEN];
    netaddr_ip(sa, ip, sizeof ip);
    if (strchr(ip, ':'))
        snprintf(buf, (size_t)len, "[%s]:%d", ip, netaddr_port(sa));
    else
        snprintf(buf, (size_t)len, "%s:%d", ip, netaddr_port(sa));
    return buf;
}

int cidr_parse(const char *s, cidr *out)
{
    char host[INET6_ADDRSTRLEN + 4];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, s, n);
    host[n] = 0;
    memset(out, 0, sizeof *out);
    int maxbits;
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }
    out->bits = maxbits;
    if (slash) {
        const char *b = slash + 1;
        if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b))
            return -1;
        out->bits = atoi(b);
        if (out->bits > maxbits)
            return -1;
    }
    return 0;
}

/* prefix_equal - the first bits of a and b agree */
static int prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int cidr_match(const cidr *c, const struct sockaddr *sa)
{
    uint8_t v4[4];
    if (c->family == AF_INET)
        return v4_of(sa, v4) && prefix_equal(c->addr, v4, c->bits);
    if (sa->sa_family != AF_INET6)
        return 0;
    return prefix_equal(c->addr, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, c->bits);
}

void netaddr_key(const struct sockaddr *sa, uint8_t key[17])
{
    memset(key, 0, 17);
    uint8_t v4[4];
    if (v4_of(sa, v4)) {
        key[0] = 4;
        memcpy(key + 1, v4, 4);
    } else if (sa->sa_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
    }
}
