/* dns_packet.h - internal to src/dns: the DNS answer parser and the name helpers under it.
 *
 * dns_packet_parse reads one raw answer packet (as libunbound hands it over) for the
 * question we asked, follows the CNAME chain in the answer section, and returns the records
 * of the asked type at the end of the chain, already decoded.  The packet is hostile input:
 * every read is bounds-checked, names are decompressed with a capped number of strictly
 * backward pointers, counts and lengths are capped, and anything malformed gives
 * DNS_TEMPFAIL with a static reason, never a crash.  Used by dns_query.c, the unit tests and
 * fuzz/fuzz_dns_packet.c. */
#ifndef SLUICE_DNS_PACKET_H
#define SLUICE_DNS_PACKET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

enum {
    DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12,
    DNS_T_MX = 15, DNS_T_TXT = 16, DNS_T_AAAA = 28,
};
enum { DNS_C_IN = 1 };

#define DNS_WIRE_MAX 255       /* a name in wire form, root label included (RFC 1035 3.1) */
#define DNS_TEXT_MAX 253       /* the same name as text without the trailing dot */
#define DNS_MAX_RR 256         /* records per section we accept; more is "oversized" */
#define DNS_MAX_CNAME 16       /* CNAME links followed before giving up */
#define DNS_MAX_POINTERS 32    /* compression pointers followed inside one name */

/* One decoded record of the asked type. */
typedef struct dns_rr {
    uint32_t ttl;
    uint16_t pref;             /* MX preference */
    uint8_t addr[16];          /* A: 4 bytes, AAAA: 16 */
    char *text;                /* MX/PTR target (lower case, no trailing dot, "" for the
                                * root) or TXT content; owned; NULL when a name has bytes
                                * outside letters, digits, '-' and '_' */
} dns_rr;

/* A parsed answer; owns rr[] and their text.  ttl: the minimum TTL of the records used
 * (CNAME links included); for NXDOMAIN and NODATA the negative TTL from the SOA in the
 * authority section (0 without one). */
typedef struct dns_answer {
    enum dns_status status;
    const char *why;           /* static; NULL when OK */
    uint32_t ttl;
    int n;
    dns_rr *rr;
} dns_answer;

/* dns_packet_parse - decode pkt (len bytes) as the answer to qname/qtype into *out.
 * Always fills *out (free it with dns_answer_clear); returns out->status. */
enum dns_status dns_packet_parse(const uint8_t *pkt, size_t len, const char *qname,
                                 uint16_t qtype, dns_answer *out);
/* dns_answer_fail - set *out to a record-less answer with status and a static reason */
void dns_answer_fail(dns_answer *out, enum dns_status status, const char *why);
/* dns_answer_clear - free what *a owns and zero it */
void dns_answer_clear(dns_answer *a);

/* dns_name_to_wire - text name (optional trailing dot) to lower-case wire form; the wire
 * length, or -1 when a label is empty or too long or the whole is too long */
int dns_name_to_wire(const char *text, uint8_t wire[DNS_WIRE_MAX]);
/* dns_name_from_wire - wire form to text (no trailing dot; "" for the root); 0, or -1 when
 * a byte is outside letters, digits, '-' and '_' (such a name is never shown anywhere) */
int dns_name_from_wire(const uint8_t *wire, char text[DNS_TEXT_MAX + 2]);
/* dns_valid_qname - like dns_valid_name but '_' is allowed (_dmarc, DKIM selectors) */
int dns_valid_qname(const char *name);
/* dns_ptr_name - the in-addr.arpa / ip6.arpa name of an address (IPv4-mapped IPv6 as
 * IPv4) into buf; 0, or -1 for another family or a short buffer */
int dns_ptr_name(const struct sockaddr *sa, char *buf, size_t len);

#endif
