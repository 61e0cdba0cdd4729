/* dmarc.h - DMARC policy records (RFC 7489 6.3, 6.4) at _dmarc.DOMAIN: recognised, parsed
 * into policy, alignment modes and report addresses; and the organizational domain found
 * with a small public-suffix heuristic (no Public Suffix List is shipped: see
 * dmarc_org_domain).  Used by `sluice doctor domain`, the unit tests and fuzz/fuzz_dmarc.c. */
#ifndef SLUICE_DMARC_H
#define SLUICE_DMARC_H
#include <stddef.h>

#include "doctor/taglist.h"

enum dmarc_policy { DMARC_NONE, DMARC_QUARANTINE, DMARC_REJECT };

typedef struct dmarc_record {
    taglist tags;
    enum dmarc_policy p;
    enum dmarc_policy sp; /* the subdomain policy; p when sp= is absent */
    int has_sp;
    int pct;           /* 0..100; 100 when absent */
    char adkim, aspf;  /* 'r' (relaxed, the default) or 's' (strict) */
    char **rua, **ruf; /* report URIs without their "!size" suffix (owned) */
    int nrua, nruf;
    const char *fo; /* failure-report options; "0" when absent */
    long long ri;   /* report interval in seconds; 86400 when absent */
} dmarc_record;

/* dmarc_is_record - the TXT string starts with "v=DMARC1" (RFC 7489 6.6.3 discards others) */
int dmarc_is_record(const char *txt);
/* dmarc_parse - parse a record; 0, or -1 with a one-line reason in err (syntax, v= not
 * first, p= missing or not none/quarantine/reject, a value out of its range).  Unknown tags
 * are ignored.  The caller clears out with dmarc_record_clear. */
int dmarc_parse(const char *txt, dmarc_record *out, char *err, size_t errlen);
void dmarc_record_clear(dmarc_record *r);
const char *dmarc_policy_name(enum dmarc_policy p);

/* dmarc_org_domain - the organizational domain of domain (a pointer into it): its last two
 * labels, or three when the second-to-last is a common registry label under a two-letter
 * country code ("co.uk", "com.au", "ac.jp", ...).  A heuristic, not the Public Suffix List:
 * it misses private suffixes (github.io style) and deeper public ones (city.kawasaki.jp). */
const char *dmarc_org_domain(const char *domain);
/* dmarc_mailto_domain - the domain of a "mailto:local@domain" report URI into buf (lower
 * case); 0, or -1 for another scheme or a malformed address */
int dmarc_mailto_domain(const char *uri, char *buf, size_t len);

#endif
