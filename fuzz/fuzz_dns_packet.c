/* fuzz_dns_packet.c - the DNS answer parser (dns_packet.c) and the results built on it
 * (dns_result.c: MX sorting and null MX, addresses, TXT, PTR names).
 * Input: one byte choosing the query type, the query name, a NUL, then the answer packet.
 * Seeds (fuzz/corpus/fuzz_dns_packet/) are real answers from Knot and hand-built hostile
 * packets, written by fuzz/corpus/gen_dns_seeds.py. */
#include <stdlib.h>
#include <string.h>

#include "dns/dns_int.h"
#include "dns/dns_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t qtypes[] = {DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_PTR,
                                  DNS_T_CNAME};

/* touch - read every byte of a result string (ASan checks bounds and termination) */
static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

/* build_all - every result type from the parsed answer */
static void build_all(const dns_answer *a, uint16_t qtype)
{
    size_t sum = 0;
    if (qtype == DNS_T_MX) {
        dns_mx_result r;
        dns_mx_build(a, &r);
        for (int i = 0; i < r.nmx; i++)
            if (!dns_valid_name(r.mx[i].host))
                abort();
        dns_mx_release(&r);
    } else if (qtype == DNS_T_A || qtype == DNS_T_AAAA) {
        dns_addr_result r;
        dns_addr_build(a, &qtype, 1, &r);
        dns_addr_release(&r);
    } else {
        dns_txt_result r;
        dns_txt_build(a, qtype == DNS_T_PTR, &r);
        for (int i = 0; i < r.n; i++)
            sum += touch(r.v[i]);
        dns_txt_release(&r);
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint16_t qtype = qtypes[data[0] % (sizeof qtypes / sizeof qtypes[0])];
    const uint8_t *nul = memchr(data + 1, 0, size - 1);
    if (!nul || nul - data > 300)
        return 0;
    const char *qname = (const char *)data + 1;
    (void)dns_valid_name(qname);
    (void)dns_valid_qname(qname);
    size_t off = (size_t)(nul - data) + 1;
    /* a copy of exactly the packet's size, so any over-read is caught */
    uint8_t *pkt = malloc(size - off + 1);
    memcpy(pkt, data + off, size - off);
    dns_answer a;
    enum dns_status st = dns_packet_parse(pkt, size - off, qname, qtype, &a);
    if (st != a.status || (st != DNS_OK && (a.n != 0 || !a.why)))
        abort();
    build_all(&a, qtype);
    dns_answer_clear(&a);
    free(pkt);
    return 0;
}
