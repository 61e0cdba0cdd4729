/* nexthop.h - Postfix's nexthop syntax, as relayhost and transport_maps use it:
 *   [host]:port  or [1.2.3.4]:port   that host, no MX lookup (port optional)
 *   host:port    or host             MX lookup of host (port optional)
 *   ""                               the recipient's domain, by MX
 * and in transport_maps with the transport named:
 *   smtp:NEXTHOP  (smtp: alone: the recipient's domain, by MX)
 *   error:TEXT    refuse: bounce with TEXT ("5.x.y words")
 * A transport_maps entry is "KEY NEXTHOP": KEY a domain (exact), ".domain" (subdomains)
 * or "*" (everything else). */
#ifndef SLUICE_NEXTHOP_H
#define SLUICE_NEXTHOP_H

enum nexthop_kind { NH_MX, NH_HOST, NH_ERROR };

typedef struct nexthop {
    enum nexthop_kind kind;
    char host[256];   /* NH_MX: "" means the recipient's domain; NH_ERROR: the text */
    int port;         /* 0: the default (smtp_port) */
} nexthop;

/* nexthop_parse - a relayhost value: "[host]:port", "host:port", "host" or "" (by MX);
 * 0, or -1 with *err set */
int nexthop_parse(const char *s, nexthop *out, const char **err);
/* nexthop_parse_transport - a transport_maps value: "smtp:NEXTHOP" or "error:TEXT" */
int nexthop_parse_transport(const char *s, nexthop *out, const char **err);
/* nexthop_check_map_entry - a "KEY NEXTHOP" transport_maps entry is well-formed */
int nexthop_check_map_entry(const char *entry, const char **err);

#endif
