/* dns_name.c - domain names as text and in wire form: validation, conversion, reverse names.
 *
 * Owns the one definition of a usable name.  A host name (dns_valid_name) is LDH labels
 * (RFC 952/1123): letters, digits and '-' not at either end of a label, 1..63 bytes a
 * label, at most 253 bytes without the optional trailing dot, and a last label that is not
 * all digits (so "127.0.0.2" published as an MX target is not taken for a name).  A query
 * name (dns_valid_qname) also allows '_' for _dmarc, DKIM selectors and the like.  Nothing
 * that passes can carry a space, a control byte, '<', '>' or ':' into a log or an SMTP
 * command.  Wire names are always lower case here, so equal names compare with memcmp. */
#include "dns/dns_packet.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* is_ldh - a letter, digit or hyphen */
static int is_ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-';
}

/* label_ok - one label of n bytes: length, allowed bytes, no hyphen at either end */
static int label_ok(const char *s, size_t n, int underscore)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_ldh((unsigned char)s[i]) && !(underscore && s[i] == '_'))
            return 0;
    return 1;
}

/* all_digits - the label is digits only */
static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* name_ok - the shared check of dns_valid_name and dns_valid_qname */
static int name_ok(const char *name, int underscore)
{
    if (!name)
        return 0;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_TEXT_MAX)
        return 0;
    const char *p = name, *end = name + len, *last = name;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (!label_ok(p, n, underscore))
            return 0;
        last = p;
        p += n + (dot ? 1 : 0);
        if (dot && p == end)
            return 0;   /* "a..": an empty label before the trailing dot we removed */
    }
    return !all_digits(last, (size_t)(end - last));
}

int dns_valid_name(const char *name)
{
    return name_ok(name, 0);
}

int dns_valid_qname(const char *name)
{
    return name_ok(name, 1);
}

const char *dns_status_name(enum dns_status s)
{
    switch (s) {
    case DNS_OK: return "OK";
    case DNS_NXDOMAIN: return "NXDOMAIN";
    case DNS_NODATA: return "NODATA";
    case DNS_TEMPFAIL: return "TEMPFAIL";
    case DNS_BADNAME: return "BADNAME";
    }
    return "UNKNOWN";
}

int dns_name_to_wire(const char *text, uint8_t wire[DNS_WIRE_MAX])
{
    size_t len = strlen(text), o = 0;
    if (len > 0 && text[len - 1] == '.')
        len--;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (n == 0 || n > 63 || o + n + 2 > DNS_WIRE_MAX)
            return -1;
        wire[o++] = (uint8_t)n;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            wire[o++] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
        }
        p += n + (dot ? 1 : 0);
    }
    wire[o++] = 0;
    return (int)o;
}

int dns_name_from_wire(const uint8_t *wire, char text[DNS_TEXT_MAX + 2])
{
    size_t o = 0;
    for (size_t i = 0; wire[i]; i += (size_t)wire[i] + 1) {
        if (o)
            text[o++] = '.';
        for (size_t k = 1; k <= wire[i]; k++) {
            unsigned char c = wire[i + k];
            if (!is_ldh(c) && c != '_')
                return -1;
            text[o++] = (char)c;
        }
    }
    text[o] = 0;
    return 0;
}

/* ptr_v4 - "d.c.b.a.in-addr.arpa" */
static int ptr_v4(const uint8_t *a, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* ptr_v6 - 32 nibbles, least significant first, then "ip6.arpa" */
static int ptr_v6(const uint8_t *a, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len < 64 + sizeof "ip6.arpa")
        return -1;
    char *p = buf;
    for (int i = 15; i >= 0; i--) {
        *p++ = hex[a[i] & 15];
        *p++ = '.';
        *p++ = hex[a[i] >> 4];
        *p++ = '.';
    }
    memcpy(p, "ip6.arpa", sizeof "ip6.arpa");
    return 0;
}

int dns_ptr_name(const struct sockaddr *sa, char *buf, size_t len)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        return ptr_v4((const uint8_t *)&sin->sin_addr, buf, len);
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    const uint8_t *a = sin6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
        return ptr_v4(a + 12, buf, len);
    return ptr_v6(a, buf, len);
}
