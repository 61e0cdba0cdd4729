/* probe.h - the inside of `sluice doctor probe` (issue 6): the seed's Step 3 ("telnet
 * mail.recipient.com 25 / EHLO ...: an immediate 421 means the server refuses your IP; a
 * hang means a firewall or port 25 blocking") done by a program, for every MX address.
 *
 * The files:
 *   doctor_probe.c   the command: options, HELO name / TLS context / classifier from the
 *                    configuration, one session per address, the overall conclusion
 *   probe_target.c   the argument to addresses: an [IP] literal, a domain's MX hosts in
 *                    order, or a host's A/AAAA; the "target" check
 *   probe_session.c  one SMTP session with the client (src/client) on a private event loop:
 *                    connect, greeting, EHLO, STARTTLS, MAIL/RCPT without DATA, RSET, QUIT;
 *                    a timed transcript through the client's observer
 *   probe_phase.c    the transcript to per-phase times and to what each phase got
 *   probe_cert.c     the peer certificate: names, issuer, validity, chain, name match
 *   probe_verdict.c  a session to pass/warn/fail checks per phase and a verdict
 *   probe_json.c     a session's facts as JSON (data.hosts) and its timings as text
 *
 * Ownership: a probe_target and a probe_session own everything they point to and are
 * released with their *_clear. */
#ifndef SLUICE_PROBE_H
#define SLUICE_PROBE_H
#include <event2/event.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "client/smtpc.h"
#include "common/netaddr.h"
#include "doctor/dnsq.h"
#include "doctor/report.h"
#include "shaping/classify.h"

#define PROBE_MAX_ADDRS 5        /* addresses tried without --all (Postfix's
                                    smtp_mx_address_limit default) */
#define PROBE_SLOW_GREETING_MS 5000.0   /* a banner later than this is worth a warning */
#define PROBE_CERT_WARN_DAYS 14  /* a certificate expiring sooner gets a warning */

/* What the command line and the configuration decided, the same for every address. */
typedef struct probe_env {
    struct event_base *base;
    const char *helo;
    const char *helo_source;     /* "--helo", "smtp_helo_name", "the host name" */
    const char *from;            /* MAIL FROM; NULL: "" when a recipient is asked */
    const char *rcpt;            /* RCPT TO, or NULL */
    int want_txn;                /* --from or --rcpt: MAIL (and RCPT), RSET, never DATA */
    int64_t timeout_ms;          /* per phase */
    SSL_CTX *tls_ctx;            /* NULL: STARTTLS is not tried */
    const char *tls_why;         /* why there is no TLS context (--no-tls, an error) */
    const char *ca_source;       /* "the system CA store" or smtp_tls_CAfile */
    const netaddr *source4, *source6;   /* the source address per family, or NULL */
    const classifier *cls;       /* NULL: replies are not classified */
    int verbose;                 /* the transcript in the text output too */
} probe_env;

/* ---- probe_target.c ---- */

enum probe_kind { PROBE_LITERAL, PROBE_DOMAIN, PROBE_HOST };

/* One address to try, in the order a sending MTA would. */
typedef struct probe_addr {
    char *host;                  /* the MX host, the host, or the literal's text */
    int pref;                    /* MX preference, -1 when not from an MX record */
    netaddr addr;                /* port set */
    double dns_ms;               /* the A/AAAA lookup of host (-1 for a literal) */
    char label[NETADDR_STRLEN + 270];   /* "host[ip]" ("[ip]" for a literal): check ids, headings */
} probe_addr;

typedef struct probe_target {
    enum probe_kind kind;
    char *name;                  /* the argument, brackets removed */
    probe_addr *addrs;
    int naddrs;
    int nskipped;                /* addresses beyond the limit, not tried */
    double mx_ms;                /* the MX lookup (-1 when none was made) */
    json_t *json;                /* the report's data.target */
} probe_target;

/* probe_target_resolve - arg to the addresses to try (at most PROBE_MAX_ADDRS unless all),
 * each with port; adds the "target" check (and "address:HOST" for MX hosts without an
 * address) to r.  0, or -1 when there is nothing to try (the checks say why). */
int probe_target_resolve(dnsq *q, const char *arg, int port, int all, report *r,
                         probe_target *t);
void probe_target_clear(probe_target *t);
/* probe_literal - "[192.0.2.1]", "[IPv6:2001:db8::1]", "[::1]" or a bare address into
 * *out (port 0); 0, or -1 when arg is not an address literal */
int probe_literal(const char *arg, netaddr *out);

/* ---- probe_session.c ---- */

enum probe_ev { PE_CONNECTED, PE_COMMAND, PE_REPLY, PE_TLS };

/* One line of the transcript. */
typedef struct probe_line {
    double t_ms;                 /* since the connect started */
    enum probe_ev ev;
    int code;                    /* a reply's code */
    enum smtpc_stage stage;      /* a reply's stage */
    char *text;                  /* the command, or the reply as received (lines joined
                                    with '\n', no CRLF) */
} probe_line;

/* The peer certificate, as far as the probe judges it. */
typedef struct probe_cert {
    char *subject, *issuer;      /* one-line RFC 2253 forms */
    char *cn;                    /* the subject's CN, or NULL */
    char **names;                /* subjectAltName DNS names and IP addresses */
    int nnames;
    char not_before[32], not_after[32];   /* "2026-11-28T12:00:00Z" */
    int days_left;               /* whole days until notAfter (negative: expired) */
    int not_yet_valid, expired;
    int self_signed;
    long verify;                 /* X509_V_OK or the chain error */
    char verify_text[128];
    int name_checked;            /* 0 for an address literal */
    int name_match;              /* the host name matches (no partial wildcards) */
    char key[32];                /* "RSA 2048", "EC 256" */
} probe_cert;

/* Everything one session found. */
typedef struct probe_session {
    enum smtpc_tls tls;          /* the level it was run with */
    probe_line *lines;
    int nlines, cap;
    int64_t start_us;            /* clock_mono_us at the connect */
    double end_ms;               /* when it ended, since the start */
    int connected, ready, tls_up;
    char tls_version[32], tls_cipher[80];
    probe_cert cert;
    int have_cert;
    smtpc_reply fail;            /* SMTPC_EV_FAILED's reply (failed set) */
    int failed;
    int txn_ran, txn_lost;       /* the envelope-only transaction */
    smtpc_reply mail, rcpt;      /* its replies (code 0: none) */
    smtpc_reply closed;          /* SMTPC_EV_CLOSED's reply after READY (QUIT's 221) */
    int done;
} probe_session;

/* probe_session_run - one session to a (blocks on env->base until it ends) */
void probe_session_run(const probe_env *env, const probe_addr *a, enum smtpc_tls tls,
                       probe_session *s);
void probe_session_clear(probe_session *s);
/* probe_text - an owned copy of n bytes from the server that is valid UTF-8 for the report
 * and JSON: kept when well-formed, else every byte above 0x7f becomes '?' */
char *probe_text(const char *s, size_t n);

/* ---- probe_phase.c ---- */

enum probe_phase { PH_CONNECT, PH_GREETING, PH_EHLO, PH_STARTTLS, PH_TLS, PH_EHLO_TLS,
                   PH_MAIL, PH_RCPT, PH_RSET, PH_QUIT, PH_COUNT };

/* Per phase: the time it took and the last reply that answered it. */
typedef struct probe_phases {
    double ms[PH_COUNT];
    int seen[PH_COUNT];          /* the phase was reached (its time is known) */
    const probe_line *reply[PH_COUNT];   /* the reply that ended it, or NULL */
    int helo_fallback;           /* EHLO refused, HELO used */
    const probe_line *ehlo_refusal;      /* EHLO's refusal when HELO followed */
    double connected_at;         /* PE_CONNECTED's time, -1 when never connected */
} probe_phases;

/* probe_phases_of - the transcript into phases: a reply answers the oldest unanswered
 * command (pipelining); a phase's time runs from its command (or the previous reply, if
 * later) to its reply; connect: to PE_CONNECTED; greeting: from there to the first reply;
 * tls: from STARTTLS's reply to PE_TLS.  Pointers into s->lines. */
void probe_phases_of(const probe_session *s, probe_phases *p);
const char *probe_phase_name(enum probe_phase ph);
/* probe_ehlo_keywords - the extension lines of an EHLO reply's text as a JSON array */
json_t *probe_ehlo_keywords(const char *text);
/* probe_ehlo_offers - an EHLO reply's text has the extension kw (any case) */
int probe_ehlo_offers(const char *text, const char *kw);

/* ---- probe_cert.c ---- */

/* probe_cert_read - the facts of certificate x (verify: the chain's verification result;
 * name: the host name to match, NULL for an address literal) */
void probe_cert_read(X509 *x, long verify, const char *name, probe_cert *out);
void probe_cert_clear(probe_cert *c);
json_t *probe_cert_json(const probe_cert *c);

/* ---- probe_verdict.c ---- */

enum probe_verdict {
    PV_OK, PV_TLS_PROBLEM, PV_CONNECTION_REFUSED, PV_CONNECT_TIMEOUT, PV_UNREACHABLE,
    PV_CONNECT_ERROR, PV_BANNER_TIMEOUT, PV_CLOSED_AT_GREETING, PV_REFUSED_AT_GREETING,
    PV_HELO_REFUSED, PV_MAIL_REFUSED, PV_RCPT_REFUSED, PV_TIMEOUT, PV_LOST_CONNECTION,
    PV_COUNT
};

/* What one address came to. */
typedef struct probe_result {
    enum probe_verdict v;
    enum check_status st;        /* the worst of its checks */
    int classified;
    classify_result cls;         /* the deciding refusal's class, when classified */
    json_t *json;                /* the host's object for data.hosts (owned) */
} probe_result;

/* probe_conclude - the checks of one session into r, its verdict and JSON */
void probe_conclude(report *r, const probe_env *env, const probe_addr *a,
                    const probe_session *s, probe_result *out);
const char *probe_verdict_name(enum probe_verdict v);
/* probe_deliverable - mail can go through this address (no check failed) */
int probe_deliverable(const probe_result *res);

/* ---- probe_json.c ---- */

/* probe_host_json - the facts of one session for data.hosts: address, banner, extensions,
 * TLS and certificate, the envelope replies, timings_ms per phase, the transcript */
json_t *probe_host_json(const probe_addr *a, const probe_session *s, const probe_phases *ph);
/* probe_reply_json - {"code","enh","text","stage"} of a reply */
json_t *probe_reply_json(const smtpc_reply *r);
const char *probe_stage_name(enum smtpc_stage st);
/* probe_text_timings - "connect 0.2 ms, greeting 0.5 ms, ..." for the text output */
void probe_text_timings(report *r, const probe_session *s, const probe_phases *ph);
/* probe_text_transcript - the transcript as text lines ("  12.3 ms  < 220 ...") */
void probe_text_transcript(report *r, const probe_session *s);

#endif
