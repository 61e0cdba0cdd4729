/* dns_packet.c - the DNS answer parser: wire format in, decoded records of one type out.
 *
 * Owns every read of a packet that came from the network.  Invariants:
 *  - no byte is read before checking it lies inside [pkt, pkt+len);
 *  - a name is decompressed into at most 255 bytes of wire form with at most
 *    DNS_MAX_POINTERS pointers, each pointing strictly before the part of the name that
 *    holds it (so a chain always moves backwards and loops are impossible);
 *  - label types other than plain lengths and pointers (0x40, 0x80) are malformed;
 *  - at most DNS_MAX_RR records per section, DNS_MAX_CNAME CNAME links;
 *  - rdata of the types we read must be exactly as long as its RDLENGTH says;
 *  - the question must be the one we asked (name, type, class IN);
 *  - a malformed packet is DNS_TEMPFAIL with a static reason; nothing here logs.
 * Only the header, question, answer and (for negative answers) authority sections are
 * read; the additional section is ignored.  Called by dns_query.c and the fuzzer. */
#include "dns/dns_packet.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/* One record as located in the packet, rdata not yet decoded. */
typedef struct rr_loc {
    size_t owner;              /* offset of the owner name */
    uint16_t type, klass;
    uint32_t ttl;
    size_t rdata;              /* offset of the rdata */
    uint16_t rdlen;
} rr_loc;

typedef struct pkt_view {
    const uint8_t *p;
    size_t len;
} pkt_view;

/* get16 - the big-endian 16-bit value at off; -1 past the end */
static int get16(const pkt_view *v, size_t off, uint16_t *out)
{
    if (off > v->len || v->len - off < 2)
        return -1;
    *out = (uint16_t)(v->p[off] << 8 | v->p[off + 1]);
    return 0;
}

/* get32 - the big-endian 32-bit value at off; -1 past the end */
static int get32(const pkt_view *v, size_t off, uint32_t *out)
{
    if (off > v->len || v->len - off < 4)
        return -1;
    *out = (uint32_t)v->p[off] << 24 | (uint32_t)v->p[off + 1] << 16 |
           (uint32_t)v->p[off + 2] << 8 | v->p[off + 3];
    return 0;
}

/* read_name - decompress the name at *off into lower-case wire form; *off moves past the
 * name as it sits in the packet (after the first pointer, if any); -1 when malformed */
static int read_name(const pkt_view *v, size_t *off, uint8_t wire[DNS_WIRE_MAX])
{
    size_t pos = *off, seg = *off, o = 0, after = 0;
    int pointers = 0;
    for (;;) {
        if (pos >= v->len)
            return -1;
        uint8_t c = v->p[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= v->len || ++pointers > DNS_MAX_POINTERS)
                return -1;
            size_t target = (size_t)(c & 0x3F) << 8 | v->p[pos + 1];
            if (target >= seg)
                return -1;   /* forward or self pointer: possible loop */
            if (!after)
                after = pos + 2;
            pos = seg = target;
            continue;
        }
        if (c & 0xC0)
            return -1;       /* 0x40 / 0x80: extended label types are not used */
        if (c > v->len - pos - 1 || o + c + 1 > DNS_WIRE_MAX)
            return -1;
        wire[o++] = c;
        if (c == 0)
            break;
        for (size_t i = 1; i <= c; i++) {
            uint8_t b = v->p[pos + i];
            wire[o++] = b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
        }
        pos += (size_t)c + 1;
    }
    *off = after ? after : pos + 1;
    return 0;
}

/* name_eq - two lower-case wire names are equal */
static int name_eq(const uint8_t *a, const uint8_t *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i += (size_t)a[i] + 1;
    if (a[i] != b[i])
        return 0;
    return memcmp(a, b, i + 1) == 0;
}

/* read_rr - locate one resource record at *off and move past it */
static int read_rr(const pkt_view *v, size_t *off, rr_loc *rr)
{
    uint8_t wire[DNS_WIRE_MAX];
    rr->owner = *off;
    if (read_name(v, off, wire) < 0 || get16(v, *off, &rr->type) < 0 ||
        get16(v, *off + 2, &rr->klass) < 0 || get32(v, *off + 4, &rr->ttl) < 0 ||
        get16(v, *off + 8, &rr->rdlen) < 0)
        return -1;
    if (rr->ttl & 0x80000000u)
        rr->ttl = 0;         /* RFC 2181 8: a TTL with the top bit set means zero */
    rr->rdata = *off + 10;
    if (rr->rdlen > v->len - rr->rdata)
        return -1;
    *off = rr->rdata + rr->rdlen;
    return 0;
}

/* read_section - locate count records from *off into rrs */
static int read_section(const pkt_view *v, size_t *off, int count, rr_loc *rrs)
{
    for (int i = 0; i < count; i++)
        if (read_rr(v, off, &rrs[i]) < 0)
            return -1;
    return 0;
}

/* owner_is - the record's owner name equals wire */
static int owner_is(const pkt_view *v, const rr_loc *rr, const uint8_t *wire)
{
    uint8_t owner[DNS_WIRE_MAX];
    size_t off = rr->owner;
    return read_name(v, &off, owner) == 0 && name_eq(owner, wire);
}

/* rdata_name - the name filling the rdata from off to its end exactly */
static int rdata_name(const pkt_view *v, const rr_loc *rr, size_t off, uint8_t *wire)
{
    if (read_name(v, &off, wire) < 0)
        return -1;
    return off == rr->rdata + rr->rdlen ? 0 : -1;
}

/* follow_cnames - walk the CNAME chain from cur (updated in place); -1 when too long or
 * malformed; *ttl lowered to each link's TTL */
static int follow_cnames(const pkt_view *v, const rr_loc *an, int n, uint8_t *cur,
                         uint32_t *ttl, const char **why)
{
    for (int hops = 0;; hops++) {
        int i;
        for (i = 0; i < n; i++)
            if (an[i].type == DNS_T_CNAME && an[i].klass == DNS_C_IN && owner_is(v, &an[i], cur))
                break;
        if (i == n)
            return 0;
        if (hops == DNS_MAX_CNAME) {
            *why = "CNAME chain too long";
            return -1;
        }
        if (rdata_name(v, &an[i], an[i].rdata, cur) < 0) {
            *why = "malformed CNAME record";
            return -1;
        }
        if (an[i].ttl < *ttl)
            *ttl = an[i].ttl;
    }
}

/* decode_name_rdata - MX (preference first) or PTR rdata into rr */
static int decode_name_rdata(const pkt_view *v, const rr_loc *loc, dns_rr *rr)
{
    size_t off = loc->rdata;
    uint8_t wire[DNS_WIRE_MAX];
    char text[DNS_TEXT_MAX + 2];
    if (loc->type == DNS_T_MX) {
        if (get16(v, off, &rr->pref) < 0 || loc->rdlen < 3)
            return -1;
        off += 2;
    }
    if (rdata_name(v, loc, off, wire) < 0)
        return -1;
    rr->text = dns_name_from_wire(wire, text) == 0 ? xstrdup(text) : NULL;
    return 0;
}

/* decode_txt - the character-strings of a TXT record concatenated; 1 when the record
 * holds a NUL byte (no C string can carry it: the record is skipped), -1 when malformed */
static int decode_txt(const pkt_view *v, const rr_loc *loc, dns_rr *rr)
{
    const uint8_t *p = v->p + loc->rdata;
    size_t n = loc->rdlen, o = 0;
    char *s = xmalloc(n + 1);
    for (size_t i = 0; i < n; i += (size_t)p[i] + 1) {
        if (p[i] > n - i - 1) {
            free(s);
            return -1;
        }
        memcpy(s + o, p + i + 1, p[i]);
        o += p[i];
    }
    s[o] = 0;
    if (memchr(s, 0, o)) {
        free(s);
        return 1;
    }
    rr->text = s;
    return 0;
}

/* decode_rdata - one record of the asked type into rr; 1 to skip it, -1 when malformed */
static int decode_rdata(const pkt_view *v, const rr_loc *loc, dns_rr *rr)
{
    rr->ttl = loc->ttl;
    switch (loc->type) {
    case DNS_T_A:
    case DNS_T_AAAA:
        if (loc->rdlen != (loc->type == DNS_T_A ? 4 : 16))
            return -1;
        memcpy(rr->addr, v->p + loc->rdata, loc->rdlen);
        return 0;
    case DNS_T_MX:
    case DNS_T_PTR:
        return decode_name_rdata(v, loc, rr);
    case DNS_T_TXT:
        return decode_txt(v, loc, rr);
    }
    return 1;
}

/* collect - decode the records of qtype owned by name into out */
static int collect(const pkt_view *v, const rr_loc *an, int n, const uint8_t *name,
                   uint16_t qtype, dns_answer *out)
{
    out->rr = xcalloc((size_t)n + 1, sizeof *out->rr);
    for (int i = 0; i < n; i++) {
        if (an[i].type != qtype || an[i].klass != DNS_C_IN || !owner_is(v, &an[i], name))
            continue;
        int r = decode_rdata(v, &an[i], &out->rr[out->n]);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if (out->rr[out->n].ttl < out->ttl)
            out->ttl = out->rr[out->n].ttl;
        out->n++;
    }
    return 0;
}

/* negative_ttl - min(SOA TTL, SOA MINIMUM) of the first SOA in the authority section */
static uint32_t negative_ttl(const pkt_view *v, const rr_loc *ns, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t min;
        if (ns[i].type != DNS_T_SOA || ns[i].rdlen < 22 ||
            get32(v, ns[i].rdata + ns[i].rdlen - 4, &min) < 0)
            continue;
        return min < ns[i].ttl ? min : ns[i].ttl;
    }
    return 0;
}

/* rcode_why - the reason for an rcode that is neither NOERROR nor NXDOMAIN */
static const char *rcode_why(int rcode)
{
    static const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                  "REFUSED"};
    return rcode < 6 ? names[rcode] : "unexpected rcode";
}

/* check_question - the header and question say this answers qname/qtype; *off past it */
static const char *check_question(const pkt_view *v, const uint8_t *qwire, uint16_t qtype,
                                  size_t *off)
{
    uint8_t wire[DNS_WIRE_MAX];
    uint16_t flags, qd, type, klass;
    if (get16(v, 2, &flags) < 0 || v->len < 12)
        return "truncated header";
    if (!(flags & 0x8000) || (flags & 0x7800))
        return "not a query response";
    if (get16(v, 4, &qd) < 0 || qd != 1)
        return "bad question count";
    *off = 12;
    if (read_name(v, off, wire) < 0 || get16(v, *off, &type) < 0 ||
        get16(v, *off + 2, &klass) < 0)
        return "malformed question";
    *off += 4;
    if (!name_eq(wire, qwire) || type != qtype || klass != DNS_C_IN)
        return "answer to another question";
    return NULL;
}

/* parse_sections - locate the answer and authority records; why on failure */
static const char *parse_sections(const pkt_view *v, size_t off, rr_loc **an, int *nan,
                                  rr_loc **ns, int *nns)
{
    uint16_t ancount, nscount;
    get16(v, 6, &ancount);
    get16(v, 8, &nscount);
    if (ancount > DNS_MAX_RR || nscount > DNS_MAX_RR)
        return "oversized record count";
    *an = xcalloc((size_t)ancount + 1, sizeof **an);
    *ns = xcalloc((size_t)nscount + 1, sizeof **ns);
    *nan = ancount;
    *nns = nscount;
    if (read_section(v, &off, ancount, *an) < 0)
        return "malformed answer section";
    if (read_section(v, &off, nscount, *ns) < 0)
        return "malformed authority section";
    return NULL;
}

/* build_answer - the CNAME chain, then the records or the negative answer */
static void build_answer(const pkt_view *v, int rcode, const uint8_t *qwire, uint16_t qtype,
                         const rr_loc *an, int nan, const rr_loc *ns, int nns, dns_answer *out)
{
    uint8_t cur[DNS_WIRE_MAX];
    const char *why = NULL;
    memcpy(cur, qwire, DNS_WIRE_MAX);
    out->ttl = UINT32_MAX;
    if (follow_cnames(v, an, nan, cur, &out->ttl, &why) < 0 ||
        collect(v, an, nan, cur, qtype, out) < 0) {
        dns_answer_clear(out);
        dns_answer_fail(out, DNS_TEMPFAIL, why ? why : "malformed record data");
        return;
    }
    if (out->n > 0 && rcode == 0)
        return;
    uint32_t neg = negative_ttl(v, ns, nns), chain = out->ttl;
    dns_answer_clear(out);
    out->ttl = neg < chain ? neg : chain;
    out->status = rcode == 3 ? DNS_NXDOMAIN : DNS_NODATA;
    out->why = rcode == 3 ? "NXDOMAIN" : "no record of that type";
}

enum dns_status dns_packet_parse(const uint8_t *pkt, size_t len, const char *qname,
                                 uint16_t qtype, dns_answer *out)
{
    pkt_view v = {pkt, len};
    uint8_t qwire[DNS_WIRE_MAX] = {0};
    rr_loc *an = NULL, *ns = NULL;
    int nan = 0, nns = 0;
    size_t off = 0;
    const char *why;
    memset(out, 0, sizeof *out);
    if (dns_name_to_wire(qname, qwire) < 0) {
        dns_answer_fail(out, DNS_BADNAME, "invalid name");
        return out->status;
    }
    if ((why = check_question(&v, qwire, qtype, &off)))
        goto fail;
    int rcode = pkt[3] & 15;
    if (rcode != 0 && rcode != 3) {
        why = rcode_why(rcode);
        goto fail;
    }
    if ((why = parse_sections(&v, off, &an, &nan, &ns, &nns)))
        goto fail;
    build_answer(&v, rcode, qwire, qtype, an, nan, ns, nns, out);
    free(an);
    free(ns);
    return out->status;
fail:
    free(an);
    free(ns);
    dns_answer_fail(out, DNS_TEMPFAIL, why);
    return out->status;
}

void dns_answer_fail(dns_answer *out, enum dns_status status, const char *why)
{
    memset(out, 0, sizeof *out);
    out->status = status;
    out->why = why;
}

void dns_answer_clear(dns_answer *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->rr[i].text);
    free(a->rr);
    memset(a, 0, sizeof *a);
}
