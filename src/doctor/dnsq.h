/* dnsq.h - blocking DNS for the command-line doctor: the daemon's asynchronous resolver
 * (src/dns) driven by a private event loop until the answer arrives.  Each lookup returns a
 * deep copy its caller frees with the matching *_free.  Not for the daemon. */
#ifndef SLUICE_DNSQ_H
#define SLUICE_DNSQ_H
#include "dns/dns.h"

typedef struct dnsq dnsq;

/* dnsq_new - server "127.0.0.1@5353" (or NULL/"" for the system's); NULL with err */
dnsq *dnsq_new(const char *server, int64_t timeout_ms, char *err, int errlen);
void dnsq_free(dnsq *q);

dns_mx_result *dnsq_mx(dnsq *q, const char *name);
dns_addr_result *dnsq_addr(dnsq *q, const char *name, int family);
dns_txt_result *dnsq_txt(dnsq *q, const char *name);
dns_txt_result *dnsq_ptr(dnsq *q, const struct sockaddr *addr);
void dnsq_mx_free(dns_mx_result *r);
void dnsq_addr_free(dns_addr_result *r);
void dnsq_txt_free(dns_txt_result *r);

#endif
