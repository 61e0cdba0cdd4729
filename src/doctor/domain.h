/* domain.h - internal to `sluice doctor domain`: the context its check files share.
 * doctor_domain.c parses the arguments, runs the MX, MTA-STS and TLS-RPT checks and calls
 * the SPF (domain_spf.c), DKIM (domain_dkim.c) and DMARC (domain_dmarc.c) checks in that
 * order: DMARC's alignment advice reads what the first two found. */
#ifndef SLUICE_DOMAIN_H
#define SLUICE_DOMAIN_H
#include <sys/socket.h>

#include "doctor/dnsq.h"
#include "doctor/doctor.h"
#include "doctor/report.h"
#include "doctor/spf.h"

typedef struct domain_ctx {
    report *r;
    dnsq *q;
    const char *domain;
    const char *ip_text;        /* --ip as given, or NULL */
    struct sockaddr_storage ip; /* valid when ip_text is set */
    const char *sender;         /* --sender, or NULL for postmaster@DOMAIN */
    const char *helo;           /* --helo, or NULL */
    const char *selector;       /* --selector, or NULL */
    const char *dkim_key;       /* --dkim-key, or NULL */
    /* findings for the DMARC advice */
    int spf_evaluated; /* spf_result holds check_host()'s result for --ip */
    enum spf_result spf_result;
    int dkim_ok; /* -1 not checked; 0 a problem; 1 usable (and matching) */
} domain_ctx;

void domain_check_spf(domain_ctx *c);
void domain_check_dkim(domain_ctx *c);
void domain_check_dmarc(domain_ctx *c);

/* domain_txt - the TXT strings at name that start with prefix (case-blind), into a new
 * result (dnsq_txt_free); the DNS status is kept, records without the prefix dropped */
dns_txt_result *domain_txt(domain_ctx *c, const char *name, const char *prefix);

#endif
