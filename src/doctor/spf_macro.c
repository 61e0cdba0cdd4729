/* spf_macro.c - SPF macro-strings (RFC 7208 7): syntax, the domain-end rule of a
 * domain-spec, and expansion with transformers (digits, "r", delimiters) and URL escaping
 * for upper-case letters.  Pure functions: no DNS here (the evaluator finds %{p}'s
 * validated name before expanding). */
#include "doctor/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/xmalloc.h"

#define LETTERS "slodiphcrtv"
#define DELIMS ".-+,/_="
#define MAX_PARTS 128

/* A parsed "%{...}" macro. */
typedef struct macro {
    char letter; /* lower case */
    int upper;   /* URL-escape the value */
    int digits;  /* keep this many right-hand parts; 0: all */
    int reverse;
    char delims[sizeof DELIMS];
} macro;

/* parse_macro - the "%{...}" at s; its length, or -1 with err */
static int parse_macro(const char *s, macro *m, char *err, size_t errlen)
{
    const char *p = s + 2;
    memset(m, 0, sizeof *m);
    if (!*p || !strchr(LETTERS, tolower((unsigned char)*p))) {
        snprintf(err, errlen, "unknown macro letter in \"%.12s\"", s);
        return -1;
    }
    m->letter = (char)tolower((unsigned char)*p);
    m->upper = isupper((unsigned char)*p);
    p++;
    if (isdigit((unsigned char)*p)) {
        long v = 0;
        for (; isdigit((unsigned char)*p); p++)
            v = v < 1000 ? v * 10 + (*p - '0') : v;
        if (v == 0) {
            snprintf(err, errlen, "macro \"%.12s\": a digit transformer must not be 0", s);
            return -1;
        }
        m->digits = v > MAX_PARTS ? MAX_PARTS : (int)v;
    }
    if (*p == 'r' || *p == 'R') {
        m->reverse = 1;
        p++;
    }
    size_t nd = 0;
    for (; *p && strchr(DELIMS, *p); p++)
        if (!strchr(m->delims, *p))
            m->delims[nd++] = *p;
    if (*p != '}') {
        snprintf(err, errlen, "malformed macro \"%.12s\"", s);
        return -1;
    }
    return (int)(p + 1 - s);
}

/* step - the length of the macro-string element at s: a macro, an escape or a literal
 * byte (spaces only in exp= text); -1 with err.  *expand is set for a macro-expand. */
static int step(const char *s, int space, int *expand, macro *m, char *err, size_t errlen)
{
    unsigned char c = (unsigned char)*s;
    *expand = 0;
    if (c != '%') {
        if ((c < 0x21 || c > 0x7e) && !(space && c == ' ')) {
            snprintf(err, errlen, "byte 0x%02x is not allowed in a domain-spec", c);
            return -1;
        }
        return 1;
    }
    *expand = 1;
    if (s[1] == '%' || s[1] == '_' || s[1] == '-') {
        m->letter = s[1];
        return 2;
    }
    if (s[1] == '{')
        return parse_macro(s, m, err, errlen);
    snprintf(err, errlen, "\"%%\" must start %%{...}, %%%%, %%_ or %%- (at \"%.8s\")", s);
    return -1;
}

/* toplabel_ok - RFC 7208's toplabel: alphanumerics and inner hyphens, not all digits */
static int toplabel_ok(const char *s, size_t n)
{
    int alpha = 0, hyphen = 0;
    if (n == 0 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (isalpha((unsigned char)s[i]))
            alpha = 1;
        else if (s[i] == '-')
            hyphen = 1;
        else if (!isdigit((unsigned char)s[i]))
            return 0;
    }
    return alpha || hyphen;
}

/* domain_end_ok - the literal tail of a domain-spec ends in "." toplabel ["."] */
static int domain_end_ok(const char *s, size_t n)
{
    if (n && s[n - 1] == '.')
        n--;
    size_t start = n;
    while (start > 0 && s[start - 1] != '.')
        start--;
    return start > 0 && toplabel_ok(s + start, n - start);
}

int spf_macro_check(const char *s, int domain_spec, char *err, size_t errlen)
{
    int expand = 0;
    size_t n = strlen(s);
    if (domain_spec && n == 0) {
        snprintf(err, errlen, "empty domain-spec");
        return -1;
    }
    for (const char *p = s; *p;) {
        macro m;
        int len = step(p, 0, &expand, &m, err, errlen);
        if (len < 0)
            return -1;
        p += len;
    }
    if (domain_spec && !expand && !domain_end_ok(s, n)) {
        snprintf(err, errlen, "\"%.60s\" does not end in a domain name", s);
        return -1;
    }
    return 0;
}

int spf_macro_uses(const char *s, char letter)
{
    for (const char *p = strstr(s, "%{"); p; p = strstr(p + 2, "%{"))
        if (tolower((unsigned char)p[2]) == letter)
            return 1;
    return 0;
}

/* put_ip_dotted - i: dotted quad, or 32 dot-separated nibbles for IPv6 */
static void put_ip_dotted(dbuf *b, const struct sockaddr *sa)
{
    char buf[INET6_ADDRSTRLEN];
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
        dbuf_puts(b, buf);
    } else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, buf, sizeof buf);
        dbuf_puts(b, buf);
    } else {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) {
            uint8_t v = s6->sin6_addr.s6_addr[i];
            dbuf_printf(b, "%s%c.%c", i ? "." : "", hex[v >> 4], hex[v & 15]);
        }
    }
}

/* is_v4 - an IPv4 address, IPv4-mapped IPv6 included */
static int is_v4(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET ||
           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* put_ip_plain - c: the address as people write it */
static void put_ip_plain(dbuf *b, const struct sockaddr *sa)
{
    if (is_v4(sa)) {
        put_ip_dotted(b, sa);
        return;
    }
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof buf);
    dbuf_puts(b, buf);
}

/* sender_part - l (local part) or o (domain) of the sender; "postmaster" without a local */
static void put_sender_part(dbuf *b, const char *sender, char letter)
{
    const char *at = sender ? strrchr(sender, '@') : NULL;
    if (letter == 'l') {
        if (at && at > sender)
            dbuf_put(b, sender, (size_t)(at - sender));
        else
            dbuf_puts(b, "postmaster");
    } else {
        dbuf_puts(b, at ? at + 1 : sender ? sender : "");
    }
}

/* raw_value - the value of a macro letter before transformers */
static void raw_value(dbuf *b, char letter, const spf_macro_env *e)
{
    switch (letter) {
    case 's': dbuf_puts(b, e->sender ? e->sender : ""); break;
    case 'l':
    case 'o': put_sender_part(b, e->sender, letter); break;
    case 'd': dbuf_puts(b, e->domain ? e->domain : ""); break;
    case 'i':
        if (e->ip)
            put_ip_dotted(b, e->ip);
        break;
    case 'p': dbuf_puts(b, e->validated ? e->validated : "unknown"); break;
    case 'v': dbuf_puts(b, e->ip && !is_v4(e->ip) ? "ip6" : "in-addr"); break;
    case 'h': dbuf_puts(b, e->helo ? e->helo : "unknown"); break;
    case 'c':
        if (e->ip)
            put_ip_plain(b, e->ip);
        break;
    case 'r': dbuf_puts(b, "unknown"); break;
    case 't': dbuf_printf(b, "%lld", (long long)clock_now()); break;
    }
}

/* transform - split on the delimiters, reverse, keep the right-hand parts, join with "." */
static void transform(dbuf *out, char *v, const macro *m)
{
    const char *delims = m->delims[0] ? m->delims : ".";
    char *parts[MAX_PARTS];
    int n = 0;
    char *p = v;
    for (;;) { /* past MAX_PARTS the last part keeps the rest */
        parts[n++] = p;
        size_t len = strcspn(p, delims);
        if (!p[len] || n == MAX_PARTS)
            break;
        p[len] = 0;
        p += len + 1;
    }
    if (m->reverse)
        for (int i = 0; i < n / 2; i++) {
            char *t = parts[i];
            parts[i] = parts[n - 1 - i];
            parts[n - 1 - i] = t;
        }
    int first = m->digits && m->digits < n ? n - m->digits : 0;
    for (int i = first; i < n; i++) {
        if (i > first)
            dbuf_putc(out, '.');
        dbuf_puts(out, parts[i]);
    }
}

/* put_escaped - URL-escape everything but RFC 3986 unreserved characters */
static void put_escaped(dbuf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            dbuf_putc(out, c);
        else
            dbuf_printf(out, "%%%02X", c);
    }
}

/* expand_macro - one %{...} into out; -1 when the letter is not allowed here */
static int expand_macro(dbuf *out, const macro *m, const spf_macro_env *e, char *err, size_t errlen)
{
    if (!e->exp && strchr("crt", m->letter)) {
        snprintf(err, errlen, "macro %%{%c} is only allowed in exp= text", m->letter);
        return -1;
    }
    dbuf raw = {0}, done = {0};
    raw_value(&raw, m->letter, e);
    transform(&done, dbuf_cstr(&raw), m);
    if (m->upper)
        put_escaped(out, dbuf_cstr(&done));
    else
        dbuf_put(out, done.data, done.len);
    dbuf_free(&raw);
    dbuf_free(&done);
    return 0;
}

/* trim_domain - drop a trailing dot, then left labels until 253 bytes remain (7.3) */
static char *trim_domain(char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '.')
        s[--n] = 0;
    char *p = s;
    while (n > 253) {
        char *dot = strchr(p, '.');
        if (!dot)
            break;
        n -= (size_t)(dot + 1 - p);
        p = dot + 1;
    }
    if (p != s)
        memmove(s, p, n + 1);
    return s;
}

char *spf_expand(const char *s, const spf_macro_env *env, char *err, size_t errlen)
{
    dbuf out = {0};
    for (const char *p = s; *p;) {
        macro m;
        int expand, len = step(p, env->exp, &expand, &m, err, errlen);
        if (len < 0 || (expand && len > 2 && expand_macro(&out, &m, env, err, errlen) < 0)) {
            dbuf_free(&out);
            return NULL;
        }
        if (!expand)
            dbuf_putc(&out, (uint8_t)*p);
        else if (len == 2)
            dbuf_puts(&out, m.letter == '%' ? "%" : m.letter == '_' ? " " : "%20");
        p += len;
    }
    char *r = (char *)dbuf_steal(&out, NULL);
    return env->exp ? r : trim_domain(r);
}
