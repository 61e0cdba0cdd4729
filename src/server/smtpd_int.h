/* smtpd_int.h - the engine's private structures and the calls between its files
 * (smtpd_listen.c, smtpd_session.c, smtpd_cmds.c, smtpd_data.c, smtpd_tls.c).  Nothing
 * outside src/server/ includes it, except tests and fuzz targets that reach inside.
 *
 * Session life: created at accept (or adopt), attached to its listener's list, freed by
 * smtpd_session_settle once the connection is gone or closed-after-flush and no
 * on_message call is outstanding.  Only smtpd_session_settle and smtpd_session_abort free a
 * session, and settle does nothing while the session is inside smtpd_session_run, so no
 * frame ever sees its session freed under it. */
#ifndef SLUICE_SMTPD_INT_H
#define SLUICE_SMTPD_INT_H
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "server/smtpd.h"
#include "smtp/smtp_cmd.h"

#define SMTPD_LINE_DEFAULT 2048          /* line_limit 0: Postfix's line_length_limit */
#define SMTPD_OUT_HIGH (256 * 1024)      /* stop reading while this much output waits */
#define SMTPD_READ_AHEAD (64 * 1024)     /* input read while a message is committed */
#define SMTPD_HELO_MAX 255

/* Where the protocol stands (RFC 5321 §4.1.4 ordering). */
enum smtpd_state {
    SMTPD_ST_INIT,       /* greeted, no HELO/EHLO yet (also right after STARTTLS) */
    SMTPD_ST_READY,      /* HELO/EHLO done, no transaction */
    SMTPD_ST_MAIL,       /* MAIL accepted */
    SMTPD_ST_RCPT,       /* at least one RCPT accepted */
    SMTPD_ST_REFUSED     /* greeting refused but not closed: only QUIT and NOOP work */
};

/* What the input bytes are. */
enum smtpd_mode {
    SMTPD_MODE_COMMAND,  /* command lines */
    SMTPD_MODE_DATA,     /* message body, until <CRLF>.<CRLF> */
    SMTPD_MODE_DISCARD,  /* the rest of an over-long line, up to LF */
    SMTPD_MODE_BDAT      /* a BDAT chunk's bytes (smtpd_bdat.c) */
};

/* The DATA body scanner: canonical CRLF body, dot-unstuffed, size-limited. */
typedef struct smtpd_scan {
    int state;
    int64_t size;        /* canonical bytes seen, stored or not */
    int64_t limit;       /* 0: none */
    int overflow;        /* size passed limit: nothing more is stored, body freed */
    int raw;             /* BDAT data: dots are text, there is no end marker */
    dbuf body;
} smtpd_scan;

/* Flags for smtpd_send. */
enum {
    SMTPD_R_ERROR = 1,   /* a 4xx/5xx answer to a command: counts toward the error limits */
    SMTPD_R_CLOSE = 2,   /* close the session once this reply is out */
    SMTPD_R_PLAIN = 4    /* no default enhanced code (greeting, HELO/EHLO) */
};

/* smtpd_answer results */
enum { SMTPD_ACCEPTED, SMTPD_REFUSED, SMTPD_DROPPED };

typedef struct ipcount ipcount;

struct smtpd_listener {
    struct event_base *base;
    struct evconnlistener *lev;     /* NULL for an unbound listener (adopt only) */
    struct event *resume_ev;        /* re-enables accepting after an accept error */
    smtpd_opts o;                   /* strings below are owned copies */
    smtpd_hooks hooks;
    char *greeting;                 /* banner with $myhostname expanded */
    int port;
    int nodelay_inherited;          /* accepted sockets get TCP_NODELAY from the listener */
    int nadmitted;                  /* sessions counted against the limits */
    int nattached;                  /* all sessions on the list */
    smtpd_session *sessions;        /* doubly linked through prev/next */
    ipcount **ipv;                  /* per-IP session counts, chained */
    size_t ipbuckets, ipn;
    uint64_t ipseed;
};

struct smtpd_session {
    smtpd_listener *l;              /* NULL once the listener is gone */
    smtpd_session *prev, *next;
    smtpd_hooks hooks;              /* copies, valid after the listener is freed */
    void *hook_ctx;
    struct event_base *base;
    struct bufferevent *bev;        /* NULL once disconnected */
    struct event *timer;            /* releases a held (delayed) reply */
    struct event *rev;              /* plain socket: our read event (smtpd_read.c), else NULL */
    uint64_t id;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    char ip[64];
    uint8_t ipkey[17];
    int admitted;                   /* counted in the listener's limits */
    enum smtpd_state state;
    enum smtpd_mode mode;
    unsigned held : 1;              /* out holds a delayed reply; nothing is sent until then */
    unsigned msg_pending : 1;       /* on_message owns a message of this session */
    unsigned closing : 1;           /* close once out and the socket buffer are flushed */
    unsigned gone : 1;              /* connection closed (or dropped) */
    unsigned running : 1;           /* inside smtpd_session_run */
    unsigned out_full : 1;          /* waiting for the client to read our replies */
    unsigned tls : 1;               /* TLS handshake completed */
    unsigned tls_pending : 1;       /* 220 to STARTTLS queued; upgrade once it is out */
    unsigned handshaking : 1;
    unsigned plain_socket : 1;      /* s->bev is a socket bufferevent: replies may go straight out */
    unsigned closed : 1;            /* on_close called */
    unsigned rev_on : 1;            /* rev is added (reading, with the idle timeout) */
    char helo[SMTPD_HELO_MAX + 1];
    int esmtp;
    char tls_info[128];
    /* the transaction */
    char *sender;
    char **rcpts;
    int nrcpt, rcap;
    int64_t overshoot;             /* RCPTs refused past max_rcpts in this transaction */
    int64_t size_param;
    int body_8bitmime;
    int smtputf8;
    smtpd_scan scan;
    /* BDAT (smtpd_bdat.c) */
    int bdat_active;                /* the transaction's data comes in BDAT chunks */
    int bdat_allowed;               /* on_data has accepted it */
    uint64_t bdat_chunk;            /* the current chunk's size */
    uint64_t bdat_left;             /* bytes of the current chunk still to read */
    int bdat_last;                  /* the current chunk is the LAST */
    const char *bdat_refusal;       /* the chunk is being discarded: its 503 text */
    /* I/O */
    dbuf out;                       /* replies not yet handed to the bufferevent */
    dbuf line;                      /* the command line being handled */
    int64_t errors;
    int64_t messages;
    enum smtp_verb last;            /* the last command, for "after X" logs */
    unsigned cnt_all[SMTP_NVERBS], cnt_ok[SMTP_NVERBS];
    void *user;
};

/* smtpd_listen.c */
/* smtpd_listener_attach - put s on l's list; admitted sessions count toward the limits */
void smtpd_listener_attach(smtpd_listener *l, smtpd_session *s);
/* smtpd_listener_detach - take s off its listener's list and out of the counts */
void smtpd_listener_detach(smtpd_session *s);

/* smtpd_session.c */
/* smtpd_session_start - run a session on a connected socket; refuse non-NULL: greet with
 * this 421 text and close */
void smtpd_session_start(smtpd_listener *l, int fd, const struct sockaddr *sa,
                         socklen_t salen, const char *refuse);
/* smtpd_session_abort - the listener goes away: close now, free unless on_message is out */
void smtpd_session_abort(smtpd_session *s);
/* smtpd_session_run - handle every complete buffered command or body while not blocked */
void smtpd_session_run(smtpd_session *s);
/* smtpd_session_settle - after an event: send, pick what to wait for, or free s */
void smtpd_session_settle(smtpd_session *s);
/* smtpd_session_disconnect - close the connection now; s lives on until settled */
void smtpd_session_disconnect(smtpd_session *s);
/* smtpd_session_readable - the socket (plain) has input, reached EOF or failed, or the idle
 * timeout expired (what: BEV_EVENT_* as for a bufferevent event, 0 for new input) */
void smtpd_session_readable(smtpd_session *s, short what);

/* smtpd_read.c: reading a plain socket without the bufferevent (see there) */
/* smtpd_read_start - create the read event of a plain socket session (not yet added) */
void smtpd_read_start(smtpd_session *s);
/* smtpd_read_enable - add or delete the read event (with the idle timeout) */
void smtpd_read_enable(smtpd_session *s, int on);
/* smtpd_read_stop - free the read event (before the socket is closed or handed to TLS) */
void smtpd_read_stop(smtpd_session *s);

/* smtpd_session_use_bev - make b the session's connection (callbacks, timeouts) */
void smtpd_session_use_bev(smtpd_session *s, struct bufferevent *b);
/* smtpd_send - queue one reply; tells on_refusal, counts errors, delays, closes */
void smtpd_send(smtpd_session *s, enum smtpd_stage st, int code, const char *text,
                 const char *policy, int64_t delay_ms, unsigned flags);
/* smtpd_answer - send a hook's decision r, or (dcode, dtext) when r->code is 0 */
int smtpd_answer(smtpd_session *s, enum smtpd_stage st, const smtpd_reply *r, int dcode,
                 const char *dtext, unsigned flags);
/* smtpd_peer_name - "unknown[ip]" for logs */
const char *smtpd_peer_name(const smtpd_session *s, char *buf, size_t len);

/* smtpd_cmds.c */
/* smtpd_command - handle one command line (without its line end) */
void smtpd_command(smtpd_session *s, const char *line, size_t len);
/* smtpd_transaction_reset - forget sender, recipients and body; back to READY (or INIT) */
void smtpd_transaction_reset(smtpd_session *s);

/* smtpd_data.c */
/* smtpd_scan_init - start scanning a body; limit 0 is none; hint pre-sizes the buffer */
void smtpd_scan_init(smtpd_scan *sc, int64_t limit, int64_t hint);
/* smtpd_scan_feed - scan n bytes; returns how many were used; *done set after the final
 * <CRLF>.<CRLF> (the bytes after it are not used) */
size_t smtpd_scan_feed(smtpd_scan *sc, const uint8_t *p, size_t n, int *done);
void smtpd_scan_free(smtpd_scan *sc);
/* smtpd_scan_flush - the data ended (BDAT LAST): store a CR still held back */
void smtpd_scan_flush(smtpd_scan *sc);
/* smtpd_data_finish - the data is complete: refuse an oversized message (552), else hand it
 * to on_message (or answer it) */
void smtpd_data_finish(smtpd_session *s);

/* smtpd_bdat.c */
/* smtpd_cmd_bdat - BDAT size [LAST]: arrange to read (or discard) the chunk */
void smtpd_cmd_bdat(smtpd_session *s, const smtp_cmd *c);
/* smtpd_bdat_step - read buffered chunk bytes; at the chunk's end, reply; 1 when any used */
int smtpd_bdat_step(smtpd_session *s);
/* smtpd_data_step - feed buffered input to the scanner; 1 when progress was made */
int smtpd_data_step(smtpd_session *s);

/* smtpd_tls.c */
/* smtpd_tls_start - the 220 is out: switch the socket to a TLS bufferevent; 0 or -1 */
int smtpd_tls_start(smtpd_session *s);
/* smtpd_tls_established - the handshake is done: record version and cipher */
void smtpd_tls_established(smtpd_session *s);

#endif
