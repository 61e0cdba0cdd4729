/* smtpd.h - the SMTP server engine: listeners, sessions, the RFC 5321 state machine,
 * STARTTLS, limits.  Shared by sluiced (submission into the spool) and `sluice sink`
 * (the test receiver).  Policy lives outside: the engine asks its hooks at every stage and
 * they may refuse, delay or close; the engine itself enforces only protocol and limits.
 *
 * Threading: everything runs on one libevent loop; no locks.
 * Ownership: the caller owns listeners (smtpd_listener_free); the engine owns sessions and
 * frees each one when its connection ends and no hook call is pending.  A smtpd_message
 * handed to on_message belongs to the hook until it calls smtpd_message_done. */
#ifndef SLUICE_SMTPD_H
#define SLUICE_SMTPD_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "common/netaddr.h"

typedef struct smtpd_listener smtpd_listener;
typedef struct smtpd_session smtpd_session;

/* The stage at which a reply is given (also used in sink records). */
enum smtpd_stage {
    SMTPD_CONNECT, SMTPD_HELO, SMTPD_MAIL, SMTPD_RCPT, SMTPD_DATA, SMTPD_EOM, SMTPD_OTHER
};

/* A hook's decision.  The engine zeroes it before each hook call; code 0 means "carry on
 * with the engine's default reply"; code -1 drops the connection at once without any reply
 * (a receiver that vanishes mid-transaction; replies already queued for earlier pipelined
 * commands still go out first).  text is "X.Y.Z text" (an enhanced code first), lines
 * separated by '\n' for a multi-line reply.  close: close after sending.  delay_ms: hold the
 * reply that long (tarpit).  policy: a static name of the rule that fired, for records. */
typedef struct smtpd_reply {
    int code;
    char text[512];
    int close;
    int64_t delay_ms;
    const char *policy;
} smtpd_reply;

/* A received message.  body is the canonical message: CRLF line ends, dot-unstuffed, without
 * the terminating ".", with nothing added by the engine. */
typedef struct smtpd_message {
    char *sender;          /* "" for the null sender <> */
    char **rcpts;
    int nrcpt;
    dbuf body;             /* the hook may steal body.data (dbuf_steal) */
    int64_t size_param;    /* MAIL FROM SIZE=, or -1 */
    int body_8bitmime;     /* BODY=8BITMIME */
    int smtputf8;          /* SMTPUTF8 given */
} smtpd_message;

/* Hooks: all optional.  on_connect .. on_data may fill *r to refuse (4xx/5xx), delay or close.
 * on_message receives the finished message and must call smtpd_message_done(s, m, reply)
 * exactly once, now or later (e.g. after the spool's group commit).  on_refusal sees every
 * 4xx/5xx reply the session sends, whoever decided it.  on_close is called once per session,
 * before it is freed. */
typedef struct smtpd_hooks {
    void (*on_connect)(smtpd_session *s, smtpd_reply *r);
    void (*on_helo)(smtpd_session *s, const char *name, smtpd_reply *r);
    void (*on_mail)(smtpd_session *s, const char *sender, smtpd_reply *r);
    void (*on_rcpt)(smtpd_session *s, const char *rcpt, smtpd_reply *r);
    void (*on_data)(smtpd_session *s, smtpd_reply *r);
    void (*on_message)(smtpd_session *s, smtpd_message *m);
    void (*on_refusal)(smtpd_session *s, enum smtpd_stage stage, int code, const char *text,
                       const char *policy);
    void (*on_close)(smtpd_session *s);
} smtpd_hooks;

/* Listener options; strings are copied.  0 for a limit means unlimited. */
typedef struct smtpd_opts {
    const char *hostname;          /* myhostname, in greeting, EHLO and error replies */
    const char *banner;            /* greeting text after "220 " ("$myhostname ESMTP ...") */
    int64_t max_connections;       /* total sessions on this listener */
    int64_t max_conn_per_ip;       /* simultaneous sessions per client IP */
    const char *per_ip_reply;      /* full text for the per-IP 421, or NULL for the default
                                      "4.7.0 HOSTNAME Error: too many connections from IP" */
    int64_t timeout_ms;            /* idle time per command (smtpd_timeout) */
    int64_t max_message_size;      /* message_size_limit */
    int64_t max_rcpts;             /* smtpd_recipient_limit */
    int64_t rcpt_overshoot_limit;  /* smtpd_recipient_overshoot_limit: RCPTs past max_rcpts
                                      that get 452 without counting as errors (0: 1000) */
    int64_t hard_error_limit;      /* smtpd_hard_error_limit */
    int64_t soft_error_limit;      /* smtpd_soft_error_limit: after it, errors are delayed */
    int64_t error_sleep_ms;        /* smtpd_error_sleep_time */
    int64_t line_limit;            /* longest command line accepted */
    SSL_CTX *tls;                  /* non-NULL: offer STARTTLS (the listener takes a reference) */
    int tls_required;              /* refuse MAIL before STARTTLS (530 5.7.0) */
    int no_chunking;               /* do not offer CHUNKING (BDAT, RFC 3030) */
    const smtpd_hooks *hooks;
    void *hook_ctx;                /* smtpd_session_ctx() returns it */
    const char *name;              /* listener name for logs/records, default "ip:port" */
} smtpd_opts;

/* smtpd_listen - bind and listen on addr; NULL with a message in err.  addr NULL makes an
 * unbound listener that only runs sockets handed to smtpd_listener_adopt.  line_limit 0
 * means Postfix's default of 2048 (a command line can't be unlimited).  The process ignores
 * SIGPIPE from then on: a write to a vanished client must be an error, not a signal. */
smtpd_listener *smtpd_listen(struct event_base *base, const netaddr *addr, const smtpd_opts *o,
                             char *err, int errlen);
/* smtpd_listen_fd - the same on a socket that already listens (one handed over by a
 * previous sluiced across exec); the listener owns fd once it returns non-NULL */
smtpd_listener *smtpd_listen_fd(struct event_base *base, int fd, const smtpd_opts *o,
                                char *err, int errlen);
/* smtpd_listener_hand_over - stop accepting and return a duplicate of the listening socket
 * (not close-on-exec) for a successor; new clients wait in the kernel's backlog meanwhile.
 * -1 when the listener has no socket.  The listener is freed as usual afterwards. */
int smtpd_listener_hand_over(smtpd_listener *l);
/* smtpd_listener_port - the TCP port bound (the real one after binding port 0); 0 unbound */
int smtpd_listener_port(const smtpd_listener *l);
/* smtpd_listener_adopt - run a session on an already-connected socket (an inherited socket,
 * a socketpair in tests and fuzzing), with the same limits and hooks as an accepted one.
 * 0: the engine owns fd from then on; -1 (bad arguments): fd is still the caller's. */
int smtpd_listener_adopt(smtpd_listener *l, int fd, const struct sockaddr *peer,
                         socklen_t peerlen);
/* smtpd_listener_free - stop accepting and close every session of this listener (each gets
 * on_close now, except one whose message is still with on_message: that one is closed now and
 * freed, with on_close, by its smtpd_message_done; smtpd_session_listener is then NULL).
 * Not to be called from inside a hook. */
void smtpd_listener_free(smtpd_listener *l);
/* smtpd_listener_close_door - close the listening socket (sessions go on; a graceful stop) */
void smtpd_listener_close_door(smtpd_listener *l);
/* smtpd_listener_sessions - sessions open now */
int smtpd_listener_sessions(const smtpd_listener *l);
const char *smtpd_listener_name(const smtpd_listener *l);

/* smtpd_message_done - the hook's final answer to a message: r->code 250 accepts (r->text
 * may carry e.g. "2.0.0 Ok: queued as ID"), 4xx/5xx refuses; frees m.  Safe to call after the
 * client has gone away (the session is then freed here). */
void smtpd_message_done(smtpd_session *s, smtpd_message *m, const smtpd_reply *r);
void smtpd_message_free(smtpd_message *m);

/* Session accessors, valid during hook calls. */
void *smtpd_session_ctx(const smtpd_session *s);
void *smtpd_session_user(const smtpd_session *s);     /* per-session slot for the hooks */
void smtpd_session_set_user(smtpd_session *s, void *p);
const smtpd_listener *smtpd_session_listener(const smtpd_session *s);
const struct sockaddr *smtpd_session_peer(const smtpd_session *s);
const char *smtpd_session_ip(const smtpd_session *s);  /* client IP as text */
const char *smtpd_session_helo(const smtpd_session *s); /* "" before HELO/EHLO */
int smtpd_session_esmtp(const smtpd_session *s);
int smtpd_session_tls(const smtpd_session *s);         /* STARTTLS completed */
const char *smtpd_session_tls_info(const smtpd_session *s); /* "TLSv1.3 cipher" or "" */
const char *smtpd_session_sender(const smtpd_session *s); /* current MAIL FROM or NULL */
/* smtpd_session_size - the SIZE= of the MAIL command being answered (in on_mail) or of the
 * open transaction; -1 when none was declared */
int64_t smtpd_session_size(const smtpd_session *s);
int smtpd_session_nrcpt(const smtpd_session *s);       /* accepted RCPTs in this transaction */
int64_t smtpd_session_messages(const smtpd_session *s); /* messages accepted on this session */
uint64_t smtpd_session_id(const smtpd_session *s);     /* unique per process */

/* smtpd_tls_ctx - a server SSL_CTX from PEM files; NULL with err filled */
SSL_CTX *smtpd_tls_ctx(const char *cert_file, const char *key_file, char *err, int errlen);

#endif
