/* dnsbl.c - DNSBL query names and the verdict rules (dnsbl.h): the self-test with the
 * RFC 5782 test points, then the address's answer read as clear, listed (with the zone's
 * code meanings) or unknown (error codes in 127.255.255.0/24, answers outside
 * 127.0.0.0/8, no answer).  Pure: the lookups are dnsbl_query.c's. */
#include "doctor/dnsbl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "smtp/smtp_cmd.h"

enum kind { K_CODES, K_ERROR, K_FOREIGN, K_EMPTY };

static const char *const verdict_names[] = {"clear", "listed", "unknown", "skipped"};

const char *dnsbl_verdict_name(enum dnsbl_verdict v)
{
    return (unsigned)v <= DNSBL_SKIPPED ? verdict_names[v] : "?";
}

int dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *buf, size_t len)
{
    const uint8_t *a;
    int n;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    if (sa->sa_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        n = snprintf(buf, len, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
    } else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        a = s6->sin6_addr.s6_addr + 12;
        n = snprintf(buf, len, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
    } else if (sa->sa_family == AF_INET6) {
        static const char hex[] = "0123456789abcdef";
        char nib[65];
        a = s6->sin6_addr.s6_addr;
        for (int i = 15, o = 0; i >= 0; i--, o += 4)
            snprintf(nib + o, 5, "%c.%c.", hex[a[i] & 15], hex[a[i] >> 4]);
        n = snprintf(buf, len, "%s%s", nib, zone);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* error_meaning - what a 127.255.255.x answer says (Spamhaus's documented codes) */
static const char *error_meaning(uint8_t last)
{
    switch (last) {
    case 252: return "the zone name is mistyped (127.255.255.252)";
    case 254:
        return "queries through a public or open resolver are refused (127.255.255.254): "
               "ask through your own resolver, not 8.8.8.8, 1.1.1.1 or 9.9.9.9";
    case 255:
        return "too many queries from this resolver (127.255.255.255): it is over the "
               "zone's free limit";
    default: return "an error code of the zone, not a listing (127.255.255.x)";
    }
}

/* kind_of - what an OK answer holds: only 127.0.0.0/8 codes, an error code (*octet set),
 * or an address outside 127/8 (text in buf) */
static enum kind kind_of(const dns_addr_result *r, uint8_t *octet, char *buf, size_t len)
{
    if (r->status != DNS_OK || r->naddrs == 0)
        return K_EMPTY;
    for (int i = 0; i < r->naddrs; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[i].ss;
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        if (sa->sa_family != AF_INET || a[0] != 127) {
            netaddr_ip(sa, buf, (int)len);
            return K_FOREIGN;
        }
        if (a[1] == 255 && a[2] == 255) {
            *octet = a[3];
            return K_ERROR;
        }
    }
    return K_CODES;
}

/* no_answer - the reason text of a failed lookup */
static const char *no_answer(const dns_addr_result *r)
{
    return r->why ? r->why : dns_status_name(r->status);
}

/* selftest - 0 when the zone lists 127.0.0.2 and not 127.0.0.1, else -1 with the reason */
static int selftest(const dns_addr_result *t2, const dns_addr_result *t1, dnsbl_result *out)
{
    char addr[NETADDR_STRLEN];
    uint8_t o = 0;
    enum kind k = kind_of(t2, &o, addr, sizeof addr);
    out->bad_answer = k == K_ERROR || k == K_FOREIGN;
    if (k == K_ERROR)
        snprintf(out->why, sizeof out->why,
                 "self-test: the test point 127.0.0.2 got an error answer: %s", error_meaning(o));
    else if (k == K_FOREIGN)
        snprintf(out->why, sizeof out->why,
                 "self-test: the test point 127.0.0.2 answered %s, outside 127.0.0.0/8 (a resolver "
                 "rewriting answers?)",
                 addr);
    else if (k == K_EMPTY && t2->status == DNS_TEMPFAIL)
        snprintf(out->why, sizeof out->why,
                 "self-test: no answer for the test point 127.0.0.2 (%s)", no_answer(t2));
    else if (k == K_EMPTY)
        snprintf(out->why, sizeof out->why,
                 "self-test: the test point 127.0.0.2 is not listed (%s): the zone is gone or "
                 "ignores this resolver",
                 no_answer(t2));
    if (k != K_CODES)
        return -1;
    if (t1->status == DNS_OK && t1->naddrs > 0) {
        out->bad_answer = 1;
        snprintf(out->why, sizeof out->why,
                 "self-test: 127.0.0.1 is listed, which no working zone does: it answers "
                 "everything (a dead zone, or a resolver rewriting NXDOMAIN)");
        return -1;
    }
    if (t1->status == DNS_TEMPFAIL) {
        snprintf(out->why, sizeof out->why, "self-test: no answer for 127.0.0.1 (%s)",
                 no_answer(t1));
        return -1;
    }
    return 0;
}

/* code_meaning - the zone's meaning of 127.0.0.<last>, or NULL */
static const char *code_meaning(const dnsbl_zone *z, uint8_t last)
{
    for (const dnsbl_code *c = z->codes; c && c->meaning; c++)
        if (c->last == last)
            return c->meaning;
    return NULL;
}

/* describe_codes - "127.0.0.2 (SBL: ...), 127.0.0.10 (...)": ascending, each code once */
static void describe_codes(const dnsbl_zone *z, const dns_addr_result *r, char *buf, size_t len)
{
    uint32_t code[16];
    int n = 0;
    for (int i = 0; i < r->naddrs && n < 16; i++) {   /* ascending and once each: answers */
        uint32_t c = ntohl(((const struct sockaddr_in *)&r->addrs[i].ss)->sin_addr.s_addr);
        int at = n;                                    /* come in any order */
        while (at > 0 && code[at - 1] > c)
            at--;
        if (at > 0 && code[at - 1] == c)
            continue;
        memmove(&code[at + 1], &code[at], sizeof *code * (size_t)(n - at));
        code[at] = c;
        n++;
    }
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++) {
        const char *m = code_meaning(z, (uint8_t)code[i]);
        int k = snprintf(buf + o, len - o, "%s127.%u.%u.%u%s%s%s", i ? ", " : "", (code[i] >> 16) & 255,
                         (code[i] >> 8) & 255, code[i] & 255, m ? " (" : "", m ? m : "", m ? ")" : "");
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

/* txt_copy - the zone's TXT text as valid UTF-8, other bytes as '?': it goes into JSON
 * (doctor ip's report, sluice status), which takes nothing else */
static char *txt_copy(const char *txt)
{
    char *t = xstrdup(txt);
    size_t n = strlen(t);
    if (!smtp_utf8_valid((const unsigned char *)t, n))
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)t[i] > 0x7f)
                t[i] = '?';
    return t;
}

/* judge_subject - the address's own answer, the self-test having passed */
static void judge_subject(const dnsbl_zone *z, const dns_addr_result *s, const char *txt,
                          dnsbl_result *out)
{
    char addr[NETADDR_STRLEN];
    uint8_t o = 0;
    enum kind k = kind_of(s, &o, addr, sizeof addr);
    out->verdict = k == K_CODES ? DNSBL_LISTED : DNSBL_UNKNOWN;
    out->bad_answer = k == K_ERROR || k == K_FOREIGN;
    if (k == K_CODES) {
        describe_codes(z, s, out->why, sizeof out->why);
        out->txt = txt ? txt_copy(txt) : NULL;
    } else if (k == K_ERROR) {
        snprintf(out->why, sizeof out->why, "error answer, not a listing: %s", error_meaning(o));
    } else if (k == K_FOREIGN) {
        snprintf(out->why, sizeof out->why,
                 "answered %s, outside 127.0.0.0/8: not a DNSBL code (a resolver rewriting "
                 "answers?)",
                 addr);
    } else if (s->status == DNS_NXDOMAIN || s->status == DNS_NODATA) {
        out->verdict = DNSBL_CLEAR;
        snprintf(out->why, sizeof out->why, "not listed");
    } else {
        snprintf(out->why, sizeof out->why, "no answer (%s)", no_answer(s));
    }
}

void dnsbl_judge(const dnsbl_zone *z, const dns_addr_result *listed_point,
                 const dns_addr_result *clean_point, const dns_addr_result *subject,
                 const char *txt, dnsbl_result *out)
{
    out->zone = z;
    out->verdict = DNSBL_UNKNOWN;
    out->bad_answer = 0;
    out->txt = NULL;
    if (!subject) {
        out->verdict = DNSBL_SKIPPED;
        snprintf(out->why, sizeof out->why,
                 "the zone publishes no IPv6 data: an IPv6 query would read as \"not listed\"");
        return;
    }
    if (selftest(listed_point, clean_point, out) < 0)
        return;
    judge_subject(z, subject, txt, out);
}

void dnsbl_result_clear(dnsbl_result *r)
{
    free(r->txt);
    r->txt = NULL;
}
