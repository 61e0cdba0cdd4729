/* maincf_params.h - the Postfix parameters `doctor advise` knows: the seed's retry, concurrency
 * and rate parameters and their neighbours, with Postfix's defaults and default time units.
 * A small table, not Postfix's full list (postconf -d has ~1000): a name missing here is not
 * wrong, only unchecked.  Also the value grammar of time and integer parameters, the
 * transport-specific parameter families ("TRANSPORT_destination_concurrency_limit"), and
 * near-miss spelling suggestions. */
#ifndef SLUICE_MAINCF_PARAMS_H
#define SLUICE_MAINCF_PARAMS_H

enum mcp_type { MCP_TIME, MCP_INT, MCP_BOOL, MCP_STR };

typedef struct maincf_param {
    const char *name;
    enum mcp_type type;
    const char *def;       /* Postfix's default as postconf -d shows it ("$name" kept) */
    char unit;             /* MCP_TIME: the unit of a bare number (s, m, h, d, w) */
    const char *what;      /* one line: what it does */
} maincf_param;

/* maincf_param_find - the table entry of name, or NULL */
const maincf_param *maincf_param_find(const char *name);
/* maincf_param_similar - a known name name is probably a misspelling of, or NULL */
const char *maincf_param_similar(const char *name);
/* maincf_param_transport - for "TRANSPORT_destination_concurrency_limit" and the other
 * per-transport families: the family's suffix ("_destination_concurrency_limit") with the
 * prefix length in *plen; NULL when name is none of them */
const char *maincf_param_transport(const char *name, int *plen);
/* maincf_param_qmgr - the family is read by the queue manager (so it belongs in main.cf,
 * and "-o" on a master.cf delivery service does not reach it) */
int maincf_param_qmgr(const char *suffix);

/* maincf_time_parse - a Postfix time value: digits and at most one unit letter (s m h d w);
 * a bare number is in unit.  Seconds into *secs; 0, 1 when the value was a bare number,
 * -1 when Postfix would refuse it */
int maincf_time_parse(const char *v, char unit, long long *secs);
/* maincf_int_parse - a Postfix integer (digits only); 0, or -1 */
int maincf_int_parse(const char *v, long long *out);
/* maincf_unit_name - "seconds", "days" ... */
const char *maincf_unit_name(char unit);
/* maincf_dur - seconds as Postfix writes them, the largest exact unit ("300s", "5m", "5d") */
const char *maincf_dur(long long secs, char *buf, int n);

#endif
