/* spf.h - Sender Policy Framework (RFC 7208) for the doctor: the record parser
 * (spf_parse.c), macro expansion (spf_macro.c) and check_host() (spf_eval.c) over a lookup
 * table of functions, so tests run it on fake DNS data and the doctor on dnsq.
 *
 * What is covered: mechanisms all, include, a, mx, ptr, ip4, ip6, exists with qualifiers
 * and dual CIDR lengths; modifiers redirect and exp (unknown modifiers are parsed and
 * ignored); every macro letter (s l o d i p v h, and c r t in exp text) with the digit,
 * "r" and delimiter transformers and URL escaping; the limits of 4.6.4: 10 DNS-querying
 * terms, 2 void lookups, 10 MX or PTR names per term.  Results carry the term that decided
 * and a trace for the report.
 * Used by `sluice doctor domain`, tests/unit/test_doctor_spf.c and fuzz/fuzz_spf.c. */
#ifndef SLUICE_SPF_H
#define SLUICE_SPF_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

enum spf_result {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR
};
enum spf_mech { SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6, SPF_EXISTS };

#define SPF_MAX_LOOKUPS 10 /* DNS-querying terms per evaluation (RFC 7208 4.6.4) */
#define SPF_MAX_VOIDS 2    /* lookups answering NXDOMAIN or no records */
#define SPF_MAX_NAMES 10   /* MX hosts or PTR names one term may look at */

/* One term of a record. */
typedef struct spf_term {
    int modifier; /* 1: name=value, 0: a mechanism */
    enum spf_mech mech;
    char qual;        /* '+', '-', '~' or '?' (mechanisms) */
    char *name;       /* modifier name, lower case */
    char *spec;       /* domain-spec or modifier value (a macro-string); NULL */
    int cidr4, cidr6; /* prefix lengths; -1 when not written */
    uint8_t addr[16]; /* ip4 (4 bytes) or ip6 network */
    char *text;       /* the term as written */
} spf_term;

typedef struct spf_record {
    spf_term *t;
    int n;
    int redirect, exp; /* index of that modifier, or -1 */
    int has_all;       /* an "all" mechanism is present (redirect is then ignored) */
} spf_record;

/* spf_is_record - the TXT string is an SPF record: "v=spf1" then a space or the end */
int spf_is_record(const char *txt);
/* spf_parse - a whole record (syntax errors anywhere fail it, RFC 7208 4.6); 0, or -1 with
 * a one-line reason in err.  The caller clears out with spf_record_clear. */
int spf_parse(const char *txt, spf_record *out, char *err, size_t errlen);
void spf_record_clear(spf_record *r);
const char *spf_result_name(enum spf_result r);
const char *spf_mech_name(enum spf_mech m);

/* What macros expand to (RFC 7208 7.2). */
typedef struct spf_macro_env {
    const struct sockaddr *ip; /* the client address: i, c, v */
    const char *sender;        /* s (l and o come from it) */
    const char *domain;        /* d: the current domain */
    const char *helo;          /* h */
    const char *validated;     /* p: a validated name of ip, NULL for "unknown" */
    int exp;                   /* expanding exp= text: c, r and t allowed */
} spf_macro_env;

/* spf_macro_check - the syntax of a macro-string; domain_spec: also the domain-end rule
 * (a last label that is a top label, or a macro); 0, or -1 with err */
int spf_macro_check(const char *s, int domain_spec, char *err, size_t errlen);
/* spf_macro_uses - s contains the macro letter (either case) */
int spf_macro_uses(const char *s, char letter);
/* spf_expand - expand s; a domain (not exp) longer than 253 loses left labels (7.3).  A new
 * string, or NULL with err on a syntax error or a letter not allowed here. */
char *spf_expand(const char *s, const spf_macro_env *env, char *err, size_t errlen);

/* The DNS under check_host: each returns a result the evaluator frees with the matching
 * dnsq_*_free (doctor/dnsq.h), never NULL. */
typedef struct spf_resolver {
    void *arg;
    dns_txt_result *(*txt)(void *arg, const char *name);
    dns_addr_result *(*addr)(void *arg, const char *name, int family);
    dns_mx_result *(*mx)(void *arg, const char *name);
    dns_txt_result *(*ptr)(void *arg, const struct sockaddr *sa);
} spf_resolver;

typedef struct spf_query {
    const struct sockaddr *ip; /* the client address (IPv4-mapped IPv6 counts as IPv4) */
    const char *sender;        /* MAIL FROM; "postmaster@DOMAIN" when NULL or empty */
    const char *helo;          /* HELO name; "unknown" when NULL */
    const spf_resolver *dns;
    int walk; /* audit: nothing but "all" stops a record, nothing matches,
                                * every include is followed: counts the lookups of the
                                * longest path (ip is still needed for macros) */
} spf_query;

typedef struct spf_outcome {
    enum spf_result result;
    char *matched;        /* the deciding term, through includes: "include:x > ip4:y" */
    char *matched_domain; /* the domain whose record held the innermost deciding term */
    char *reason;         /* why: none, permerror, temperror, default neutral */
    char *explanation;    /* the expanded exp= text of a fail, or NULL */
    int lookups, voids;   /* DNS-querying terms evaluated, void lookups seen */
    int ptr_used;         /* a ptr mechanism or %{p} was evaluated */
    char **trace;         /* the records and decisions, indented by include depth */
    int ntrace;
} spf_outcome;

/* spf_check_host - evaluate domain's policy for q (RFC 7208 4); out is cleared first and
 * freed by the caller with spf_outcome_clear */
void spf_check_host(const spf_query *q, const char *domain, spf_outcome *out);
void spf_outcome_clear(spf_outcome *o);

#endif
