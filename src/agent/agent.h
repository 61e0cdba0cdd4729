/* agent.h - the SMTP delivery agent: the scheduler's transport (sched_agent) made of the
 * resolver (src/dns) and the SMTP client (src/client).  A session is one connection to a
 * destination: it looks up the addresses of the destination's hosts in MX order, connects
 * to them in turn (up to smtp_mx_address_limit addresses) until one greets and says EHLO,
 * falls back to plaintext once when opportunistic TLS fails, and then runs the jobs the
 * scheduler gives it, one transaction each, until the scheduler closes it or the
 * connection ends (also after smtp_connection_reuse_count_limit messages or
 * smtp_connection_reuse_time_limit). */
#ifndef SLUICE_AGENT_H
#define SLUICE_AGENT_H
#include "dns/dns.h"
#include "sched/sched.h"

typedef struct agent agent;

/* agent_new - an agent; it reads bodies from sp and resolves with dns.  NULL with err */
agent *agent_new(struct event_base *base, const sl_config *cfg, spool *sp, dns_ctx *dns, char *err,
                 int errlen);
/* agent_set_sched - the scheduler to report to (set before any session opens) */
void agent_set_sched(agent *a, sched *s);
/* agent_table - the function table to give sched_new */
sched_agent agent_table(agent *a);
/* agent_shutdown - from now on sessions the scheduler closes are dropped at once (call
 * before sched_free when the daemon stops: no loop will run to finish a polite QUIT) */
void agent_shutdown(agent *a);
/* agent_free - after sched_free (which closes every session) */
void agent_free(agent *a);
/* agent_resolver - a sched_resolver over the same resolver */
sched_resolver agent_resolver(agent *a);

#endif
