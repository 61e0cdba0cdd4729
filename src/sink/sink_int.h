/* sink_int.h - what the files of `sluice sink` share: the parsed command line (global
 * options, policy sets, listeners), the per-IP state of a policy set, the per-session state,
 * and the calls between the files:
 *
 *   sink_opts.c     command line -> sink_conf (and the --help text)
 *   sink_policy.c   the decision at each stage (built-in policies and the reply script)
 *   sink_hooks.c    the server engine's hooks: sessions, refusals, connection counts
 *   sink_message.c  an accepted message: Message-ID, digest, record, store, summary
 *   sink_record.c   the --record JSON Lines writer and the --store files
 *   sink_stats.c    the counters behind the summary, and the summary itself
 *   sink_main.c     sink_main: listeners, signals, timers, the loop, the exit
 *
 * Threading: one libevent loop; nothing here is shared with another thread.
 * Ownership: sink_main owns the sink and everything in it; strings taken from argv are
 * borrowed for the life of the process; a sink_sess belongs to its engine session (freed in
 * on_close). */
#ifndef SLUICE_SINK_INT_H
#define SLUICE_SINK_INT_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <event2/event.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>

#include "server/smtpd.h"
#include "sink/sink_greylist.h"
#include "sink/sink_map.h"
#include "sink/sink_script.h"
#include "sink/sink_window.h"
#include "smtp/smtp_cmd.h"

#define SINK_MAINT_MAX 16

/* A listener's policies, as the command line gave them. */
typedef struct sink_policy {
    const char *hostname, *banner;
    int greylist;                   /* --greylist given */
    int64_t grey_delay_us, grey_expire_us;
    int grey_bits4, grey_bits6;     /* --greylist-net: prefix kept of the client address */
    int grey_code;
    char grey_text[512];
    int64_t max_conn_per_ip;        /* 0: unlimited */
    int64_t rate_n, rate_window_us; /* rate_n 0: off */
    enum smtpd_stage rate_stage;    /* SMTPD_MAIL or SMTPD_RCPT */
    double overload;
    struct { int64_t start_us, end_us; } maint[SINK_MAINT_MAX];
    int nmaint;
    int64_t max_msgs_per_conn;      /* 0: unlimited */
    int64_t tarpit_us;
    double drop;
    enum smtpd_stage drop_stage;
    pcre2_code *reject_rcpt;        /* owned */
    sink_script *script;            /* owned */
    const char *tls_cert, *tls_key;
    int require_tls;
    int64_t max_size, max_rcpts, timeout_us;
} sink_policy;

/* A client IP's state inside one policy set. */
typedef struct sink_ipstate {
    int64_t open;                   /* connections open now (refused ones too) */
    int64_t seen;                   /* connections so far (the script's "conn") */
    int64_t inflight;               /* transactions holding a --rate slot */
    sink_window accepted;           /* accepted messages inside the --rate window */
} sink_ipstate;

/* A policy set and its state.  Listeners without options of their own share the default
 * set, and with it their greylist, rate and connection counts (like one provider's MX hosts);
 * a listener with options of its own has a set to itself. */
typedef struct sink_set {
    int index;
    sink_policy p;
    SSL_CTX *tls;                   /* from --tls-cert/--tls-key; owned */
    sink_map *ips;                  /* netaddr_key -> sink_ipstate */
    sink_greylist *grey;
    sink_map *attempts;             /* script "attempt": triplet key -> int64_t count */
    uint64_t rng_overload, rng_drop, rng_script;
} sink_set;

typedef struct sink sink;

/* One --listen. */
typedef struct sink_lis {
    const char *addr;               /* as given */
    const char *name;               /* the bound "ip:port" (the engine's listener name) */
    sink_set *set;
    smtpd_listener *l;
    sink *k;
} sink_lis;

/* The parsed command line. */
typedef struct sink_conf {
    const char *record, *store;
    int json, verbose;
    uint64_t seed;
    int seed_given;
    int64_t exit_after_us, exit_after_msgs;
    int64_t stats_window_us;        /* 0: the default set's --rate window, else 1 s */
    sink_set **sets;
    int nsets;
    sink_lis *lis;
    int nlis;
} sink_conf;

typedef struct sink_record sink_record;
typedef struct sink_stats sink_stats;

struct sink {
    sink_conf c;
    struct event_base *base;
    sink_record *rec;
    sink_stats *stats;
    int64_t start_mono, start_wall;
    uint64_t qid_seq;
    int stopping;
    int64_t stop_mono;
    struct event *drain_ev;
};

/* A session's state, the engine session's user pointer. */
typedef struct sink_sess {
    sink *k;
    sink_lis *lis;
    sink_set *set;
    sink_ipstate *ips;              /* in set->ips; stable while the entry lives */
    void *client;                   /* the summary's per-IP entry (sink_stats) */
    uint8_t ipkey[17];
    int64_t conn_no;                /* this connection's number from its IP in the set */
    unsigned reserved : 1;          /* holds a --rate slot for this transaction */
    unsigned drop_armed : 1;        /* --drop fires at its stage in this transaction */
    unsigned have_sender : 1;       /* ref_sender is for the refusal being recorded */
    unsigned have_rcpt : 1;         /* ref_rcpt likewise */
    char ref_sender[SMTP_PATH_MAX + 1];
    char ref_rcpt[SMTP_PATH_MAX + 1];
} sink_sess;

/* sink_opts.c */
/* sink_opts_parse - argv (argv[0] is "sink") into c; 0, 1 after --help, -1 with err */
int sink_opts_parse(sink_conf *c, int argc, char **argv, char *err, size_t errlen);
/* sink_opts_free - everything the parse allocated (sets, scripts, patterns, TLS) */
void sink_opts_free(sink_conf *c);
void sink_opts_usage(FILE *f);
/* sink_parse_listen - a --listen address; port 0 (a free port) allowed; 0 or -1 with err */
int sink_parse_listen(const char *s, netaddr *a, const char **err);

/* sink_policy.c: each fills r (code 0: carry on) */
void sink_policy_connect(sink_sess *ss, smtpd_session *s, smtpd_reply *r);
void sink_policy_helo(sink_sess *ss, smtpd_session *s, const char *name, smtpd_reply *r);
void sink_policy_mail(sink_sess *ss, smtpd_session *s, const char *sender, smtpd_reply *r);
void sink_policy_rcpt(sink_sess *ss, smtpd_session *s, const char *rcpt, smtpd_reply *r);
void sink_policy_data(sink_sess *ss, smtpd_session *s, smtpd_reply *r);
/* sink_policy_eom - the answer to a complete message; r->code 250 when it is accepted */
void sink_policy_eom(sink_sess *ss, smtpd_session *s, const smtpd_message *m, smtpd_reply *r);
/* sink_policy_release - give back a --rate slot the transaction holds (not accepted) */
void sink_policy_release(sink_sess *ss);
/* sink_policy_commit - an accepted message counts in its IP's --rate window */
void sink_policy_commit(sink_sess *ss);
/* sink_set_new - a set for policy p (taken over), with its random streams from seed */
sink_set *sink_set_new(const sink_policy *p, int index);
void sink_set_seed(sink_set *set, uint64_t seed);
void sink_set_free(sink_set *set);
/* sink_policy_free - what a policy owns */
void sink_policy_free(sink_policy *p);

/* sink_hooks.c */
extern const smtpd_hooks sink_hooks;
/* sink_note_drop - record a drop (r->code -1) decided at stage st */
void sink_note_drop(sink_sess *ss, smtpd_session *s, enum smtpd_stage st, const smtpd_reply *r);
/* sink_note_eom - keep the sender of a message refused (or dropped) at the end of data */
void sink_note_eom(sink_sess *ss, const char *sender, const smtpd_reply *r);
/* sink_elapsed_us - monotonic time since the sink started */
int64_t sink_elapsed_us(const sink *k);

/* sink_message.c */
/* sink_on_message - the engine's on_message */
void sink_on_message(smtpd_session *s, smtpd_message *m);

/* sink_main.c */
/* sink_listener_opts - the engine options of a listener: its set's settings, the sink's
 * hooks, lis as the hook context */
smtpd_opts sink_listener_opts(sink_lis *lis);
/* sink_stop - begin the orderly exit (summary printed once the loop ends) */
void sink_stop(sink *k, const char *why);

#endif
