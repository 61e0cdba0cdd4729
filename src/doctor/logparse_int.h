/* logparse_int.h - what the log line parser's files share: a bounded cursor over the line,
 * field copying, time stamps, and one body parser per program family.  Internal to
 * logparse*.c (and their tests). */
#ifndef SLUICE_LOGPARSE_INT_H
#define SLUICE_LOGPARSE_INT_H
#include <stdbool.h>

#include "doctor/logparse.h"

/* A read position in [p, e): nothing ever reads past e. */
typedef struct lcur {
    const char *p, *e;
} lcur;

/* lc_left - bytes left */
static inline size_t lc_left(const lcur *c)
{
    return (size_t)(c->e - c->p);
}

/* lc_peek - the next byte, or 0 at the end */
static inline char lc_peek(const lcur *c)
{
    return c->p < c->e ? *c->p : 0;
}

bool lc_lit(lcur *c, const char *s);            /* consume s when it comes next */
bool lc_char(lcur *c, char ch);                 /* consume ch when it comes next */
size_t lc_spaces(lcur *c);                      /* skip blanks; how many */
bool lc_num(lcur *c, int min, int max, long *v); /* min..max digits */
size_t lc_token(lcur *c, const char **t);       /* up to the next blank */
bool lc_qid_like(const char *p, size_t n);      /* 5..40 chars of [0-9A-Za-z-] */

/* lp_copy - copy n bytes into dst (size cap), NUL-terminated, control bytes as '?' */
void lp_copy(char *dst, size_t cap, const char *s, size_t n);
/* lp_kv - the value of key= in [s, e) up to a ", " or blank (per sep) */
bool lp_kv(const char *s, const char *e, const char *key, const char **v, size_t *vn, const char *stops);
/* lp_addr - a recipient list value into rec->rcpt (strips <>, counts entries) */
void lp_addr(logrec *rec, const char *v, size_t n);
/* lp_relay - "host[ip]:port", "host. [ip]", "ip (host)" into relay and relay_ip */
void lp_relay(logrec *rec, const char *v, size_t n);
/* lp_enh_len - the length of an enhanced status code ("4.7.0") at s, or 0 */
size_t lp_enh_len(const char *s, size_t n);
/* lp_dsn_fallback - a text without a reply code gets the MTA's dsn= as its enhanced code */
void lp_dsn_fallback(lp_reply *r, const char *dsn, size_t n);
/* lp_ci_find - case-insensitive search of needle in [s, s+n) */
const char *lp_ci_find(const char *s, size_t n, const char *needle);

/* Time stamps: lpt_prefix reads one at c (advancing it); 0 when none is there. */
bool lpt_prefix(lcur *c, const lp_ctx *ctx, int64_t *us);
bool lpt_iso(lcur *c, int64_t *us);
int64_t lpt_days(long y, long m, long d);       /* days since 1970-01-01 */
/* lpt_duration - "2h3m4s", "12s", "00:10:31", "1+02:03:04", "54803.2" to seconds; -1 */
double lpt_duration(const char *s, size_t n);

/* Body parsers: each returns the kind (LK_UNRECOGNISED when the body is not its own). */
enum lp_kind lp_body_postfix(const char *s, size_t n, logrec *rec);
enum lp_kind lp_body_exim(const lp_ctx *ctx, const char *s, size_t n, logrec *rec);
enum lp_kind lp_body_sendmail(const char *s, size_t n, logrec *rec);
enum lp_kind lp_body_opensmtpd(const char *s, size_t n, logrec *rec);
enum lp_kind lp_body_postgrey(const char *s, size_t n, logrec *rec);
enum lp_kind lp_body_json(const lp_ctx *ctx, const char *s, size_t n, logrec *rec);
/* lp_body_any - a body from an unknown program or without prefix: try every grammar */
enum lp_kind lp_body_any(const lp_ctx *ctx, const char *s, size_t n, logrec *rec);
/* lp_dispatch - a body from program prog */
enum lp_kind lp_dispatch(const lp_ctx *ctx, const char *prog, const char *s, size_t n, logrec *rec);

#endif
