/* smtpc.h - the outbound SMTP client: one connection to one server, on the daemon's loop.
 * It connects (from an optional source address), reads the greeting, says EHLO (HELO when
 * EHLO is refused), upgrades with STARTTLS as the TLS level asks, and then runs
 * transactions one at a time, pipelined when the server offers PIPELINING, for as long as
 * the owner keeps the connection (connection reuse).  Every recipient's result is reported
 * on its own.  Policy (which server, when, how many) is the scheduler's; the client only
 * speaks the protocol and reports precisely what happened.
 *
 * Ownership: the owner creates a connection with smtpc_connect and ends it with smtpc_quit
 * (polite) or smtpc_free (abort).  Callbacks run on the loop, never from inside the call
 * that caused them.  After SMTPC_EV_CLOSED (or SMTPC_EV_FAILED) the owner must call
 * smtpc_free; a callback may call smtpc_free on its own connection (the free then happens
 * when the callback returns; nothing is called afterwards).
 * The implementation: src/client/smtpc_int.h lists the files. */
#ifndef SLUICE_SMTPC_H
#define SLUICE_SMTPC_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "common/netaddr.h"

typedef struct smtpc smtpc;

enum smtpc_tls { SMTPC_TLS_NONE, SMTPC_TLS_MAY, SMTPC_TLS_ENCRYPT, SMTPC_TLS_VERIFY };

/* Where in the conversation something happened (for logs and for the classifier). */
enum smtpc_stage {
    SMTPC_ST_CONNECT, SMTPC_ST_GREETING, SMTPC_ST_EHLO, SMTPC_ST_STARTTLS, SMTPC_ST_MAIL,
    SMTPC_ST_RCPT, SMTPC_ST_DATA, SMTPC_ST_BODY, SMTPC_ST_QUIT
};

/* A server reply, or a local failure described as one (code 0: no reply at all, e.g. a
 * refused connection or a timeout; text then says what happened, in Postfix's words:
 * "connect to host[ip]:25: Connection refused", "conversation with host[ip] timed out while
 * sending RCPT TO", "lost connection with host[ip] while sending message body", "TLS
 * handshake with host[ip] failed: ...").  For a local failure enh holds the status Postfix
 * would log (4.4.1 connect, 4.4.2 timeout or lost connection, 4.5.0 protocol error, 4.7.4
 * TLS required but not offered, 4.7.5 TLS failure or certificate not verified).  Two local
 * refusals carry a code: 552 5.3.4 (over the server's SIZE) and 550 5.6.7 (SMTPUTF8 needed,
 * not offered).  text is NULL only in a reply that was never given (code 0 in txn->mail or
 * txn->data when not reached). */
typedef struct smtpc_reply {
    int code;                  /* 250, 421, ...; 0 when the server said nothing */
    char enh[16];              /* "4.7.0" or "" */
    char *text;                /* the reply text, lines joined with ' ', without codes */
    enum smtpc_stage stage;
    int closed;                /* the server closed (or the connection failed) with this */
} smtpc_reply;

typedef struct smtpc_opts {
    const char *helo_name;     /* smtp_helo_name (myhostname) */
    const netaddr *source;     /* smtp_bind_address, or NULL */
    enum smtpc_tls tls;        /* smtp_tls_security_level */
    SSL_CTX *tls_ctx;          /* client context (CA store for verify) */
    const char *verify_name;   /* the name the certificate must match (verify) */
    /* Postfix's smtp_*_timeout; 0 takes Postfix's default (30s, 300s, 300s, 300s, 300s, 120s,
     * 180s, 600s, 300s).  helo also covers the greeting, mail also RSET; data_xfer is the
     * longest time without progress while the body is written. */
    int64_t connect_timeout_ms, helo_timeout_ms, starttls_timeout_ms, mail_timeout_ms,
        rcpt_timeout_ms, data_init_timeout_ms, data_xfer_timeout_ms, data_done_timeout_ms,
        quit_timeout_ms;
    int no_chunking;           /* never BDAT, even where CHUNKING is offered */
    /* SMTP AUTH (RFC 4954) where the server offers it; auth_user NULL: never.  auth_mechs:
     * SMTPC_AUTH_PLAIN and/or SMTPC_AUTH_LOGIN allowed (0: both); auth_plain_ok: they may
     * be used without TLS */
    const char *auth_user, *auth_pass;
    unsigned auth_mechs;
    int auth_plain_ok;
    int auth_tls_plain_ok;     /* they may be used over TLS (smtp_sasl_tls_security_options
                                  without noplaintext) */
} smtpc_opts;

/* smtpc_login_failed - a reply (code, enh, text) is the client's own report of a refused or
 * impossible SMTP AUTH: code 0, 4.7.0, "SASL authentication failed..." (smtpc_auth.c) */
int smtpc_login_failed(int code, const char *enh, const char *text);

#define SMTPC_AUTH_PLAIN 1u
#define SMTPC_AUTH_LOGIN 2u
#define SMTPC_AUTH_OTHER 4u

/* Where the server offers PIPELINING and CHUNKING, a body up to this size goes as one
 * "BDAT n LAST" chunk (RFC 3030); a bigger one is streamed with DATA. */
#define SMTPC_BDAT_MAX (1024 * 1024)

/* What the server offered after EHLO (valid from SMTPC_EV_READY). */
typedef struct smtpc_features {
    int esmtp, pipelining, eightbitmime, smtputf8, starttls, enhancedstatuscodes, tls_active;
    int chunking;              /* CHUNKING (BDAT, RFC 3030) */
    int64_t size_limit;        /* SIZE n; 0 when not announced or unlimited */
    char tls_info[96];         /* "TLSv1.3 with cipher ..." when tls_active */
    int tls_verified;          /* the certificate matched verify_name */
    unsigned auth;             /* AUTH mechanisms offered: SMTPC_AUTH_* bits */
    int authenticated;         /* logged in with AUTH */
} smtpc_features;

enum smtpc_event {
    SMTPC_EV_READY,            /* greeting, EHLO and TLS done: ready for a transaction */
    SMTPC_EV_FAILED,           /* could not get to READY: reply says why (connect refused,
                                  timeout, 421 greeting, TLS required but not offered ...) */
    SMTPC_EV_CLOSED,           /* the server closed an idle connection, or it broke */
};
typedef void (*smtpc_event_cb)(void *arg, smtpc *c, enum smtpc_event ev, const smtpc_reply *r);

/* A transaction.  The body is the canonical message (CRLF lines, not dot-stuffed): the
 * client stuffs it on the wire.  Results are filled in before done is called (the result
 * fields are overwritten by smtpc_send: clear a reused transaction first).
 * rcpt[i] is recipient i's final answer: its RCPT reply when refused or when the message was
 * accepted; for an accepted RCPT whose message was not, the reply that decided (DATA's
 * refusal, the end of data's refusal, or the 421/EOF/timeout that ended the conversation,
 * with closed set).  So when accepted is 0 no rcpt[i] is 2xx.  MAIL refused: every rcpt[i]
 * is MAIL's reply. */
typedef struct smtpc_txn {
    const char *sender;
    const char *const *rcpts;
    int nrcpt;
    const uint8_t *body;
    size_t body_len;
    int body_8bit, smtputf8;
    int hold_data;             /* pipelining: send DATA only once a recipient is accepted
                                  (when recipients are likely refused, e.g. greylisting: a
                                  pipelined DATA would add an error that counts towards
                                  the server's error limit) */
    int envelope_only;         /* MAIL and RCPT only (address checks, the doctor's probe):
                                  never DATA; nrcpt may be 0 (MAIL alone); after the last
                                  reply RSET is sent and its reply read, then done is called
                                  (accepted 0, data.code 0, rcpt[i] the RCPT replies) */
    /* results */
    smtpc_reply mail;          /* MAIL FROM's reply */
    smtpc_reply *rcpt;         /* one per recipient (allocated by the client) */
    smtpc_reply data;          /* DATA's (or end of data's) reply: what decides the
                                  accepted recipients; code 0 when never reached */
    int accepted;              /* 1: the end of data got 2xx: rcpt[i].code 2xx are delivered */
    int naccepted;             /* RCPTs that got 2xx (whatever became of the message) */
    int conn_lost;             /* the connection ended during the transaction */
} smtpc_txn;
typedef void (*smtpc_txn_cb)(void *arg, smtpc *c, smtpc_txn *t);

/* smtpc_connect - start connecting to addr (port set); server_name for logs and TLS */
smtpc *smtpc_connect(struct event_base *base, const netaddr *addr, const char *server_name,
                     const smtpc_opts *o, smtpc_event_cb cb, void *arg);
/* smtpc_send - run one transaction on a READY connection; 0, or -1 when not READY (or the
 * previous transaction's done callback has not run yet, or smtpc_quit was called), or when
 * the envelope is unusable (no recipient, a NULL address, control bytes in an address) */
int smtpc_send(smtpc *c, smtpc_txn *t, smtpc_txn_cb done, void *arg);
/* smtpc_features_of - what the server offered */
const smtpc_features *smtpc_features_of(const smtpc *c);
/* smtpc_peer - "host[ip]:port" for logs (Postfix's relay= field) */
const char *smtpc_peer(const smtpc *c);
/* smtpc_quit - send QUIT, then close and report SMTPC_EV_CLOSED (after a running
 * transaction has finished; before READY, once the greeting and EHLO are done; while still
 * connecting, at once) */
void smtpc_quit(smtpc *c);
/* smtpc_free - close at once (no callbacks afterwards) and free */
void smtpc_free(smtpc *c);
/* An observer sees the conversation as it happens, step by step (the doctor's probe times
 * each phase and keeps a transcript with it).  It is called synchronously from inside the
 * client, unlike the owner's callbacks: it must not call any smtpc_* function but the
 * accessors (smtpc_features_of, smtpc_peer, smtpc_tls_ssl). */
enum smtpc_step {
    SMTPC_STEP_CONNECTED,      /* the TCP connection is up */
    SMTPC_STEP_COMMAND,        /* line: a command queued for the server (no CRLF) */
    SMTPC_STEP_REPLY,          /* reply: a complete reply (stage set), raw/rawlen its bytes */
    SMTPC_STEP_TLS,            /* the TLS handshake finished (before any certificate policy
                                  is applied): smtpc_tls_ssl gives the session */
};
typedef struct smtpc_step_info {
    enum smtpc_step step;
    const char *line;
    const smtpc_reply *reply;
    const char *raw;
    size_t rawlen;
} smtpc_step_info;
typedef void (*smtpc_observe_cb)(void *arg, const smtpc *c, const smtpc_step_info *s);
/* smtpc_observe - set (or with NULL clear) the observer; call it right after smtpc_connect */
void smtpc_observe(smtpc *c, smtpc_observe_cb cb, void *arg);
/* smtpc_tls_ssl - the TLS session while TLS is up (borrowed: valid until the connection
 * ends, e.g. for the peer certificate), else NULL */
SSL *smtpc_tls_ssl(const smtpc *c);

/* smtpc_txn_clear - free the results of a transaction (rcpt array and texts) */
void smtpc_txn_clear(smtpc_txn *t);
/* smtpc_tls_client_ctx - a client context: system CA store (or ca_file), TLS 1.2+ */
SSL_CTX *smtpc_tls_client_ctx(const char *ca_file, char *err, int errlen);

/* smtp_reply_parse - parse one complete (possibly multi-line) reply in buf[0,len):
 * code, enhanced code (when the text starts with one of the code's class), text joined with
 * ' ' (at most max_text bytes of it, 0: 4096).  Returns the bytes used, 0 when incomplete,
 * -1 when malformed (also more than 1000 lines).  r is overwritten, stage and closed zero;
 * on success r->text is malloc'd (smtpc_reply_clear).  (The client's reply parser, exposed
 * for the classifier, the doctor's probe and fuzzing; rules in smtpc_reply.c.) */
int smtp_reply_parse(const char *buf, size_t len, smtpc_reply *r, size_t max_text);
void smtpc_reply_clear(smtpc_reply *r);

#endif
