/* fuzz_dnsbl.c - libFuzzer target for the DNSBL answer rules (doctor/dnsbl.h) used by
 * `sluice doctor ip` and the daemon's blocklist watch: dnsbl_judge over any three answers
 * (the test points 127.0.0.2 and 127.0.0.1, and the address) and any TXT text, and
 * dnsbl_query_name.  Input: a zone byte (a curated zone or one without code meanings), a
 * flags byte (bit 0: the address was asked), then each answer as a status byte, a count byte
 * and that many addresses (a selector byte, odd for IPv6, then 4 or 16 bytes); the rest is
 * the zone's TXT text.  Beyond "no crash", it checks: "listed" exactly when the self-test
 * passes and the address got only 127/8 codes that are not error codes; "clear" exactly
 * when the self-test passes and the address is not in the zone; a bad answer is never a
 * verdict; the reason is a non-empty string; the TXT text is kept only for a listing; the
 * result goes into JSON as doctor ip and sluice status put it (valid UTF-8); and the query
 * name of an address is a valid DNS name under the zone. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "doctor/dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little reader over the input. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* take - the next byte, 0 past the end */
static uint8_t take(rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* read_answer - one A answer: status, count, addresses (owned addrs) */
static void read_answer(rd *r, dns_addr_result *a)
{
    memset(a, 0, sizeof *a);
    a->status = (enum dns_status)(take(r) % 5);
    a->why = a->status == DNS_OK ? NULL : "fuzz";
    int n = take(r) % 6;
    a->addrs = calloc((size_t)n + 1, sizeof *a->addrs);
    for (int i = 0; i < n; i++) {
        netaddr *x = &a->addrs[a->naddrs++];
        if (take(r) & 1) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->ss;
            s6->sin6_family = AF_INET6;
            for (int k = 0; k < 16; k++)
                s6->sin6_addr.s6_addr[k] = take(r);
            x->len = sizeof *s6;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&x->ss;
            s4->sin_family = AF_INET;
            for (int k = 0; k < 4; k++)
                ((uint8_t *)&s4->sin_addr)[k] = take(r);
            x->len = sizeof *s4;
        }
    }
}

/* codes - an answer made only of 127/8 codes outside the error range 127.255.255.0/24 */
static int codes(const dns_addr_result *a)
{
    if (a->status != DNS_OK || a->naddrs == 0)
        return 0;
    for (int i = 0; i < a->naddrs; i++) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->addrs[i].ss;
        const uint8_t *b = (const uint8_t *)&s4->sin_addr;
        if (s4->sin_family != AF_INET || b[0] != 127 || (b[1] == 255 && b[2] == 255))
            return 0;
    }
    return 1;
}

/* check_verdict - the rules of dnsbl.h, restated */
static void check_verdict(const dns_addr_result *t2, const dns_addr_result *t1,
                          const dns_addr_result *subj, const char *txt, const dnsbl_result *out)
{
    check(memchr(out->why, 0, sizeof out->why) && out->why[0]);
    if (!subj) {
        check(out->verdict == DNSBL_SKIPPED);
        return;
    }
    int selftest = codes(t2) && !(t1->status == DNS_OK && t1->naddrs > 0) && t1->status != DNS_TEMPFAIL;
    int listed = selftest && codes(subj);
    int clear = selftest && (subj->status == DNS_NXDOMAIN || subj->status == DNS_NODATA);
    check((out->verdict == DNSBL_LISTED) == listed && (out->verdict == DNSBL_CLEAR) == clear);
    check(listed || clear || out->verdict == DNSBL_UNKNOWN);
    check(!out->bad_answer || out->verdict == DNSBL_UNKNOWN);
    check(!out->txt || (listed && txt));
}

/* check_json - the row doctor ip writes (and sluice status shows) can be made */
static void check_json(const dnsbl_result *out)
{
    json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s?}", "zone", out->zone->zone, "verdict",
                            dnsbl_verdict_name(out->verdict), "why", out->why, "query", out->query,
                            "bad_answer", out->bad_answer, "txt", out->txt);
    check(row != NULL);
    json_decref(row);
}

/* check_query - the query name of the address's first answer under the zone */
static void check_query(const dns_addr_result *a, const char *zone)
{
    char name[300];
    if (!a->naddrs)
        return;
    check(dnsbl_query_name((const struct sockaddr *)&a->addrs[0].ss, zone, name, sizeof name) == 0);
    size_t n = strlen(name), z = strlen(zone);
    check(n > z && name[n - z - 1] == '.' && !strcmp(name + n - z, zone) && dns_valid_name(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const dnsbl_zone bare = {"bl.example.org", "bl.example.org", 1, "fuzz", NULL, NULL};
    rd r = {data, size};
    uint8_t zi = take(&r), flags = take(&r);
    const dnsbl_zone *z = zi % (dnsbl_ncurated + 1) < dnsbl_ncurated ? &dnsbl_curated[zi % (dnsbl_ncurated + 1)]
                                                                        : &bare;
    dns_addr_result a[3];
    for (int i = 0; i < 3; i++)
        read_answer(&r, &a[i]);
    char *txt = NULL;
    if (r.n) {
        txt = malloc(r.n + 1);
        memcpy(txt, r.p, r.n);
        txt[r.n] = 0;
    }
    dnsbl_result out;
    memset(&out, 0, sizeof out);
    const dns_addr_result *subj = flags & 1 ? &a[2] : NULL;
    dnsbl_judge(z, &a[0], &a[1], subj, txt, &out);
    check_verdict(&a[0], &a[1], subj, txt, &out);
    check_json(&out);
    check_query(&a[2], z->zone);
    dnsbl_result_clear(&out);
    free(txt);
    for (int i = 0; i < 3; i++)
        free(a[i].addrs);
    return 0;
}
