/* smtpc_int.h - the inside of the outbound SMTP client, shared by its files only.
 *
 * The files:
 *   smtpc_reply.c   the reply parser (smtp_reply_parse), reply helpers, the EHLO line walker
 *   smtpc_state.c   the state table: per state its stage, timeout, wording and reply handler
 *   smtpc_conn.c    the connection: socket, connect, bufferevent callbacks, reading replies,
 *                   timers, losing the connection, QUIT, free
 *   smtpc_report.c  the deferred callbacks (the owner is only ever called from the loop)
 *   smtpc_hello.c   greeting, EHLO/HELO, capabilities, the STARTTLS decision, READY
 *   smtpc_tls.c     the client SSL_CTX and the STARTTLS upgrade with certificate checks
 *   smtpc_txn.c     transactions: RSET, MAIL, RCPT, DATA, end of data, the results
 *   smtpc_body.c    streaming the dot-stuffed body with watermarks
 *
 * Invariants:
 *  - c->state says which reply is awaited next; replies are handled in order by the state's
 *    handler (pipelined commands simply move the state along as their replies come).
 *  - c->bev is NULL exactly when the connection is gone (state SMTPC_S_CLOSED).
 *  - The owner's callbacks run only from the report event (smtpc_report.c), never from
 *    inside smtpc_connect/smtpc_send/smtpc_quit or from the bufferevent callbacks; so the
 *    protocol code never has to expect the connection to vanish under it.
 *  - A transaction's results are final once its report is queued (c->t is NULL again), but
 *    the next smtpc_send is accepted only after its done callback (c->txn_open). */
#ifndef SLUICE_SMTPC_INT_H
#define SLUICE_SMTPC_INT_H
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>

#include "client/smtpc.h"
#include "common/dbuf.h"

#define SMTPC_TEXT_MAX 2048               /* reply text kept per reply */
#define SMTPC_INPUT_MAX (256 * 1024)      /* an unfinished reply longer than this is garbage */
#define SMTPC_BODY_CHUNK (64 * 1024)      /* body bytes stuffed into the output at a time */
#define SMTPC_BODY_HIGH (256 * 1024)      /* refill the output only while below this */
#define SMTPC_REPORTS 4                   /* queued callbacks: READY, txn, CLOSED at most */

/* What the connection waits for; one handler per state (smtpc_state.c). */
enum smtpc_state {
    SMTPC_S_CONNECTING,  /* TCP connect */
    SMTPC_S_GREETING,    /* the 220 banner */
    SMTPC_S_EHLO,
    SMTPC_S_HELO,
    SMTPC_S_STARTTLS,    /* the reply to STARTTLS */
    SMTPC_S_HANDSHAKE,   /* the TLS handshake */
    SMTPC_S_AUTH,        /* the replies to AUTH (smtpc_auth.c) */
    SMTPC_S_READY,       /* idle between transactions */
    SMTPC_S_RSET,
    SMTPC_S_MAIL,
    SMTPC_S_RCPT,        /* c->rcpt_next says whose reply */
    SMTPC_S_DATA,
    SMTPC_S_BODY,        /* writing the body (and the final ".") */
    SMTPC_S_DOT,         /* the reply to the final "." */
    SMTPC_S_QUIT,
    SMTPC_S_CLOSED,
    SMTPC_S_COUNT
};

typedef struct smtpc_state_info {
    const char *doing;         /* "sending RCPT TO": for timeout and lost-connection texts */
    enum smtpc_stage stage;
    size_t timeout_off;        /* offsetof(smtpc_opts, X_timeout_ms), or SMTPC_NO_TIMEOUT */
    int64_t timeout_default;   /* Postfix's default, used when the owner passed 0 */
    void (*on_reply)(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
} smtpc_state_info;

#define SMTPC_NO_TIMEOUT ((size_t)-1)

extern const smtpc_state_info smtpc_states[SMTPC_S_COUNT];

/* One queued callback to the owner. */
typedef struct smtpc_report {
    int is_txn;
    enum smtpc_event ev;
    smtpc_reply r;             /* owned by the queue until handed to the callback */
    smtpc_txn *t;
    smtpc_txn_cb done;
    void *done_arg;
} smtpc_report;

struct smtpc {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer;       /* the current state's timeout */
    struct event *report_ev;   /* runs the queued callbacks */
    smtpc_opts o;              /* the owner's options, strings copied */
    netaddr addr, source;
    char *server_name, *helo_name, *verify_name;
    char host[NETADDR_STRLEN + 260];   /* "host[ip]" */
    char peer[NETADDR_STRLEN + 270];   /* "host[ip]:port" */
    smtpc_event_cb cb;
    void *arg;
    smtpc_observe_cb observe;  /* smtpc_observe: told of every step, may be NULL */
    void *observe_arg;
    enum smtpc_state state;
    smtpc_features f;
    dbuf raw;                  /* the reply being handled, as received */
    /* the deferred callbacks */
    smtpc_report rep[SMTPC_REPORTS];
    int nrep, in_cb, dead;
    /* ending */
    int quit_wanted;           /* smtpc_quit: QUIT as soon as nothing else is running */
    int failing;               /* QUIT after a refusal: then FAILED with c->fail */
    smtpc_reply fail;
    /* the transaction */
    int txn_open;              /* from smtpc_send until its done callback is called */
    smtpc_txn *t;              /* the one on the wire; NULL once its results are final */
    smtpc_txn_cb done;
    void *done_arg;
    int size_offered;          /* SIZE was announced (size_limit 0 may mean "no limit") */
    int pipelined, mail_failed, rcpt_next, naccepted, dot_only, need_rset;
    int data_piped;            /* DATA went out with MAIL and RCPT (pipelined, not held) */
    int bdat;                  /* the body went out as "BDAT n LAST" with MAIL and RCPT */
    int rset_ends;             /* an envelope-only transaction ends with this RSET's reply */
    size_t body_off;
    int body_bol, body_done;
    int plain_socket;          /* a socket bufferevent: the output is pushed straight out */
    struct event *push_ev;     /* pushes what this turn of the loop wrote, in one write */
    struct event *rev;         /* plain socket, connected: our read event (evread_fd) */
    int push_pending;
    int auth_login, auth_step; /* AUTH LOGIN: which 334 comes next (0 user, 1 password) */
};

/* smtpc_read_stop - stop reading with our own event (before the socket is closed or
 * handed to TLS) */
void smtpc_read_stop(smtpc *c);

/* smtpc_reply.c */
/* smtpc_reply_set - a local reply (no server text): code 0 unless a local refusal */
void smtpc_reply_set(smtpc_reply *r, int code, const char *enh, enum smtpc_stage stage,
                     int closed, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* smtpc_reply_copy - dst becomes an independent copy of src (dst is overwritten) */
void smtpc_reply_copy(smtpc_reply *dst, const smtpc_reply *src);
/* smtpc_reply_line - the next line of a complete reply at raw[*off]: its text after
 * "NNN-" (CR and LF removed) in *text and *len; 0 when there are no more lines */
int smtpc_reply_line(const char *raw, size_t rawlen, size_t *off, const char **text,
                     size_t *len);

/* smtpc_conn.c */
/* smtpc_set_state - move to state s and (re)start its timeout */
void smtpc_set_state(smtpc *c, enum smtpc_state s);
/* smtpc_restart_timer - the current state's timeout starts again (progress was made) */
void smtpc_restart_timer(smtpc *c);
/* smtpc_write - queue n bytes for the server */
void smtpc_write(smtpc *c, const void *p, size_t n);
/* smtpc_command - queue one command line (CRLF added), logged at debug */
void smtpc_command(smtpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* smtpc_lost - the conversation ended abnormally (EOF, error, timeout, 421, protocol
 * error) with reason r (taken over): finish what runs, report, drop the connection */
void smtpc_lost(smtpc *c, smtpc_reply *r);
/* smtpc_lost_text - smtpc_lost with a local reason "... with HOST while DOING" */
void smtpc_lost_text(smtpc *c, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* smtpc_fail_polite - the server refused us before READY: QUIT, then FAILED with r */
void smtpc_fail_polite(smtpc *c, smtpc_reply *r);
/* smtpc_send_quit - send QUIT and wait for its reply (state QUIT) */
void smtpc_send_quit(smtpc *c);
/* smtpc_observed - tell the observer (if any) of a step */
void smtpc_observed(const smtpc *c, enum smtpc_step step, const char *line,
                    const smtpc_reply *r, const char *raw, size_t rawlen);
/* smtpc_drop - close the connection now (no more I/O, no timer) */
void smtpc_drop(smtpc *c);
/* smtpc_use_bev - make b the connection (callbacks, reading on) */
void smtpc_use_bev(smtpc *c, struct bufferevent *b);
/* smtpc_push - a plain socket: write the output now; the write event only for what the
 * kernel does not take.  1 when the output is empty afterwards */
int smtpc_push(smtpc *c);
/* smtpc_destroy - release everything now (smtpc_free outside callbacks) */
void smtpc_destroy(smtpc *c);

/* smtpc_report.c */
/* smtpc_report_event - queue the owner's event callback with r (taken over) */
void smtpc_report_event(smtpc *c, enum smtpc_event ev, smtpc_reply *r);
/* smtpc_report_txn - queue the transaction's done callback; c->t is free again */
void smtpc_report_txn(smtpc *c);
/* smtpc_report_init - create the report event */
void smtpc_report_init(smtpc *c);
/* smtpc_report_clear - drop queued reports (no callbacks) */
void smtpc_report_clear(smtpc *c);

/* smtpc_hello.c */
void smtpc_on_greeting(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_ehlo(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_helo(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_starttls(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
/* smtpc_auth.c */
/* smtpc_parse_auth - the mechanisms of an EHLO "AUTH ..." line (after the keyword) */
void smtpc_parse_auth(smtpc *c, const char *s, size_t n);
/* smtpc_auth_or_ready - log in when the owner gave a login and the server offers AUTH, else
 * READY */
void smtpc_auth_or_ready(smtpc *c);
void smtpc_on_auth(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_idle(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_quit(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
/* smtpc_send_ehlo - say EHLO (again after TLS) */
void smtpc_send_ehlo(smtpc *c);
/* smtpc_ready - nothing left before transactions: READY (or QUIT when asked to) */
void smtpc_ready(smtpc *c);
/* smtpc_parse_features - the capabilities in an EHLO reply into c->f */
void smtpc_parse_features(smtpc *c, const char *raw, size_t rawlen);

/* smtpc_tls.c */
/* smtpc_tls_start - take the plain socket over with TLS (after "220" to STARTTLS) */
void smtpc_tls_start(smtpc *c);
/* smtpc_tls_established - the handshake finished: check, record, EHLO again */
void smtpc_tls_established(smtpc *c);
/* smtpc_tls_failed - the handshake failed (what: the libevent event flags) */
void smtpc_tls_failed(smtpc *c, short what);

/* smtpc_txn.c */
void smtpc_on_rset(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_mail(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_rcpt(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_data(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_body(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
void smtpc_on_dot(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen);
/* smtpc_txn_lost - the connection ended in state st during the transaction with r:
 * finish it (every recipient without a final answer gets r) */
void smtpc_txn_lost(smtpc *c, enum smtpc_state st, const smtpc_reply *r);

/* smtpc_body.c */
/* smtpc_body_start - after 354: stream the body */
void smtpc_body_start(smtpc *c);
/* smtpc_body_more - the output drained: add more body, or the end */
void smtpc_body_more(smtpc *c);
/* smtpc_body_stuff - append p[0,n) to out dot-stuffed; *bol: at a line start (in, out) */
void smtpc_body_stuff(struct evbuffer *out, const uint8_t *p, size_t n, int *bol);

#endif
