/* nexthop.c - parsing of Postfix-style nexthops (syntax in nexthop.h). */
#include "config/nexthop.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* valid_host - letters, digits, '-', '.', or an IP literal's characters */
static int valid_host(const char *h)
{
    if (!*h || strlen(h) > 253)
        return 0;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._:", *p))
            return 0;
    return 1;
}

/* parse_port - ":NNN" at s (s points after the host); 0 when absent, -1 when bad */
static int parse_port(const char *s)
{
    if (!*s)
        return 0;
    if (*s != ':' || !s[1] || strlen(s + 1) > 5 || strspn(s + 1, "0123456789") != strlen(s + 1))
        return -1;
    int p = atoi(s + 1);
    return p >= 1 && p <= 65535 ? p : -1;
}

/* parse_dest - "[host]:port" or "host:port" */
static int parse_dest(const char *s, nexthop *out, const char **err)
{
    const char *rest;
    size_t n;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            *err = "missing ']'";
            return -1;
        }
        out->kind = NH_HOST;
        n = (size_t)(close - s - 1);
        rest = close + 1;
        s++;
    } else {
        out->kind = NH_MX;
        const char *colon = strrchr(s, ':');
        n = colon ? (size_t)(colon - s) : strlen(s);
        rest = s + n;
    }
    if (n >= sizeof out->host) {
        *err = "host name too long";
        return -1;
    }
    memcpy(out->host, s, n);
    out->host[n] = 0;
    for (char *p = out->host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if ((out->kind == NH_HOST || n) && !valid_host(out->host)) {
        *err = "not a host name or address";
        return -1;
    }
    out->port = parse_port(rest);
    if (out->port < 0) {
        *err = "bad port";
        return -1;
    }
    return 0;
}

int nexthop_parse(const char *s, nexthop *out, const char **err)
{
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) {
        out->kind = NH_MX;
        return 0;
    }
    return parse_dest(s, out, err);
}

int nexthop_parse_transport(const char *s, nexthop *out, const char **err)
{
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s))
        s++;
    if (!strncmp(s, "error:", 6)) {
        out->kind = NH_ERROR;
        snprintf(out->host, sizeof out->host, "%s",
                 s[6] ? s + 6 : "5.1.2 mail for this destination is refused");
        return 0;
    }
    if (strncmp(s, "smtp:", 5) != 0) {
        *err = "expected smtp:NEXTHOP or error:TEXT";
        return -1;
    }
    return nexthop_parse(s + 5, out, err);
}

int nexthop_check_map_entry(const char *entry, const char **err)
{
    const char *sp = entry + strcspn(entry, " \t");
    if (sp == entry || !*sp) {
        *err = "expected \"DOMAIN NEXTHOP\" (e.g. \"example.com smtp:[10.0.0.1]:25\")";
        return -1;
    }
    nexthop nh;
    return nexthop_parse_transport(sp, &nh, err);
}
