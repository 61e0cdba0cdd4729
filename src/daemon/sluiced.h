/* sluiced.h - the daemon's shared state.  One instance per process, owned by main; the
 * parts (submission listeners, cleanup, control socket, maildrop pickup) hold a pointer to
 * it and run on its one event loop. */
#ifndef SLUICE_SLUICED_H
#define SLUICE_SLUICED_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "config/config.h"
#include "dkim/dkim.h"
#include "dns/dns.h"
#include "sched/sched.h"
#include "queue/spool.h"
#include "server/smtpd.h"

typedef struct ctl_server ctl_server;
typedef struct maildrop maildrop;
typedef struct blwatch blwatch;
typedef struct signer signer;
typedef struct sign_job sign_job;

typedef struct sluiced {
    sl_config *cfg;
    struct event_base *base;
    spool *sp;
    dns_ctx *dns;
    agent *agent;
    sched *sched;
    classifier *cls;           /* reads receivers' replies: the shipped rules + reply_class_rules */
    smtpd_listener **listeners;
    int nlisteners;
    SSL_CTX *tls;
    ctl_server *ctl;
    maildrop *md;
    blwatch *bl;               /* the watch of our addresses on DNS blocklists */
    signer *signer;            /* DKIM signing, or NULL when no key is configured */
    uid_t owner_uid;           /* the uid the daemon runs as (after dropping privileges) */
    int stopping;              /* a stop signal came: new messages get 421, commits drain */
    int stop_now;              /* a second stop signal: no more waiting */
    int storage_low;           /* the spool's room is under the queue_minfree threshold */
    int reload;                /* SIGHUP with a valid configuration: exec again after the stop */
    int *handover;             /* reload: listening sockets kept open for the next exec */
    int nhandover;
    const char *cfgfile;       /* -c, or NULL */
    char **overrides;          /* -o, kept to load the configuration again on SIGHUP */
    int noverrides;
    uint64_t submitted;        /* messages accepted since start */
} sluiced;

/* cleanup.c - complete a message's headers and queue it */
typedef struct cleanup_in {
    const char *sender;
    const char *const *rcpts;
    int nrcpt;
    const uint8_t *msg;        /* the message as received: CRLF lines */
    size_t len;
    int local;                 /* from `sluice send` (maildrop or control socket) */
    long uid;                  /* local: the submitting user */
    const char *fullname;      /* local: sendmail -F */
    const char *client_ip, *helo, *proto;
    const char *origin;        /* maildrop file name, for idempotent import */
    uint32_t flags;            /* MSGF_8BITMIME, MSGF_SMTPUTF8 */
} cleanup_in;

/* cleanup_submit - prepend Received (and From, Date, Message-ID where missing) and append the
 * message to the spool; cb runs when it is durable (or failed).  Returns the queue id. */
qid_t cleanup_submit(sluiced *d, const cleanup_in *in, spool_add_cb cb, void *arg);

/* cleanup_queue_notice - a notification the scheduler wrote (sched_queue_fn): signed when
 * its From: domain has a key, then queued */
void cleanup_queue_notice(void *ctx, spool_new *n, spool_add_cb cb, void *arg);

/* submit.c - the SMTP submission listeners */
int submit_listen(sluiced *d, char *err, int errlen);
void submit_close(sluiced *d);
/* submit_hand_over - stop accepting; keep a duplicate of every listening socket (handover)
 * for the sluiced a reload execs.  New clients wait in the kernel's backlog meanwhile. */
void submit_hand_over(sluiced *d);
/* submit_export_handover - name the kept sockets in the environment, just before exec */
void submit_export_handover(const sluiced *d);

/* control.c - the local control socket (queue commands and `sluice send`) */
ctl_server *ctl_start(sluiced *d, char *err, int errlen);
void ctl_stop(ctl_server *c);
/* ctl_socket_path - DIR/control.sock for a queue directory (caller frees) */
char *ctl_socket_path(const char *queue_directory);

/* maildrop.c - pickup of messages `sluice send` wrote while the daemon was down */
maildrop *maildrop_start(sluiced *d, char *err, int errlen);
void maildrop_stop(maildrop *m);
/* maildrop_dir - DIR/maildrop (caller frees) */
char *maildrop_dir(const char *queue_directory);

/* signer.c - DKIM signing before the queue (dkim_signing_keys) */
/* signer_start - load the keys and start the workers (nothing when no key is configured);
 * 0, or -1 with err (a key that cannot be used) */
int signer_start(sluiced *d, char *err, int errlen);
/* signer_check_keys - every configured key loads (for sluiced -n); 0, or -1 with err */
int signer_check_keys(const sl_config *c, char *err, int errlen);
/* signer_stop - finish the queued jobs (their callbacks run), then free */
void signer_stop(sluiced *d);
/* signer_key_for - the key for msg's From: domain or its nearest parent, or NULL */
const dkim_skey *signer_key_for(const sluiced *d, const uint8_t *msg, size_t len);
/* The signature of a job, on the loop thread: msg (now the callback's to free) and the
 * DKIM-Signature field to prepend, or NULL when signing failed (logged). */
typedef void (*signer_cb)(void *arg, uint8_t *msg, size_t len, const char *field, size_t flen);
/* signer_busy - messages with the signer now (signed or not, their callbacks not yet run) */
int signer_busy(const sluiced *d);
/* signer_sign_now - the DKIM-Signature field for msg into field, on the calling thread (for
 * the rare notifications whose queueing order matters); 0, or -1 (logged) */
int signer_sign_now(const sluiced *d, const dkim_skey *k, const uint8_t *msg, size_t len, dbuf *field);
/* signer_submit - sign msg (malloc'd; taken over) with k off the loop; cb when done */
void signer_submit(sluiced *d, const dkim_skey *k, uint8_t *msg, size_t len, signer_cb cb, void *arg);

/* blwatch.c - watching our own sending addresses on DNS blocklists (dnsbl_watch_*) */
typedef struct json_t json_t;
blwatch *blwatch_start(sluiced *d);
/* blwatch_stop - cancel the lookups in flight and free (before the resolver is freed) */
void blwatch_stop(blwatch *w);
/* blwatch_status - the watch for `sluice status` (a new reference) */
json_t *blwatch_status(const blwatch *w);

#endif
