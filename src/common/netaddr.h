/* netaddr.h - socket addresses: "host:port" parsing, CIDR networks, printing. */
#ifndef SLUICE_NETADDR_H
#define SLUICE_NETADDR_H
#include <stdint.h>
#include <sys/socket.h>

#define NETADDR_STRLEN 64

typedef struct netaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} netaddr;

typedef struct cidr {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
} cidr;

/* netaddr_parse - "1.2.3.4:25", "[::1]:25", "::1" or "*:25" (all IPv4) into an address;
 * numeric only; the port may be omitted when default_port > 0.  0, or -1 with *err set. */
int netaddr_parse(const char *s, int default_port, netaddr *out, const char **err);
/* netaddr_ip - the IP part as text (IPv4-mapped IPv6 printed as IPv4) into buf */
char *netaddr_ip(const struct sockaddr *sa, char *buf, int len);
/* netaddr_format - "ip:port" or "[ip6]:port" into buf */
char *netaddr_format(const struct sockaddr *sa, char *buf, int len);
int netaddr_port(const struct sockaddr *sa);
/* netaddr_set_port - set the port of an IPv4 or IPv6 address */
void netaddr_set_port(struct sockaddr *sa, int port);

/* cidr_parse - "127.0.0.0/8", "::1/128", "10.1.2.3" (a host) or "[::1]/128"; 0 or -1 */
int cidr_parse(const char *s, cidr *out);
/* cidr_match - 1 when the address (IPv4-mapped IPv6 counts as IPv4) is inside */
int cidr_match(const cidr *c, const struct sockaddr *sa);
/* netaddr_key - a fixed 17-byte key for the address (family + 16 bytes), for hashing per-IP
 * state; IPv4-mapped IPv6 gives the IPv4 key */
void netaddr_key(const struct sockaddr *sa, uint8_t key[17]);

#endif
