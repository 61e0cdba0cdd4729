/* loganalyze_int.h - the log analyzer's state, shared by loganalyze*.c: destinations with
 * their running counts, samples and evidence; messages with their recipients' states and
 * the ring of their last attempts.  Internal. */
#ifndef SLUICE_LOGANALYZE_INT_H
#define SLUICE_LOGANALYZE_INT_H
#include "common/hmap.h"
#include "doctor/loganalyze.h"
#include "doctor/logparse_int.h"

#define LA_EX_PER_CAT 2      /* raw lines kept per failure category and destination */
#define LA_LINE_MAX 600      /* raw lines are cut there */
#define LA_REPLY_MAX 200     /* failure replies kept in timelines are cut there */
#define LA_SAMPLES 1024      /* interval samples kept per destination */
#define LA_TALLY 24          /* distinct provider tags / codes counted per destination */
#define LA_CONNS 48          /* recent connections remembered per destination */
#define LA_HOLDERS 64        /* recipients holding a candidate evidence line, per dest */

/* Events per minute (one entry per minute that had any). */
typedef struct la_minute {
    int64_t min;
    uint32_t att, sent, def, bnc, n4xx, n421;
} la_minute;

typedef struct la_minutes {
    la_minute *m;
    size_t n, cap;
} la_minutes;

/* A bounded, deterministic sample of durations with exact min and max. */
typedef struct la_sample {
    double *v;               /* grows to LA_SAMPLES */
    long n, cap, seen;
    uint32_t rnd;
    double min, max;
} la_sample;

typedef struct la_tally {
    char *key;               /* "CAT|token" */
    long n;
} la_tally;

typedef struct la_conn {
    char key[48];
    int64_t t;
} la_conn;

struct la_msg;

typedef struct la_dest_int {
    la_dest pub;
    char *domain;
    la_minutes series;
    la_sample *ivals, *pass;
    char *ex[LC_NCATS][LA_EX_PER_CAT];   /* raw lines, by failure category */
    char *first_text[LC_NCATS];          /* first reply text, by category */
    char *ex_sent;                       /* one delivery line */
    char *pair[2][2];                    /* greylisting: a deferral and its later delivery */
    int npairs, holders;
    la_conn conns[LA_CONNS];
    int nconns, peak;
    la_tally prov[LA_TALLY], codes[LA_TALLY], enhs[LA_TALLY];
    int nprov, ncodes, nenhs;
    long soft_unexplained;               /* 4xx replies of class other */
    long explicit_grey;                  /* replies that say greylist/graylist */
    struct la_msg *worst;                /* the recipient deferred most often */
    int worst_rs, worst_ndef;
    char **ev;
    int nev;
    char *why, *advice;
} la_dest_int;

typedef struct la_rstate {
    char *addr;
    la_dest_int *d;
    int natt, ndef, ndef_reply, ndef_net, nsoft;
    int last;                            /* enum lp_status of the last attempt */
    int varied, persistent;
    int64_t first_t, first_def_t, last_t, last_ival;
    char *ex_line;                       /* raw line of the first deferral (evidence) */
} la_rstate;

/* One MX's failure for a message whose recipients are not known yet (Postfix and Exim log
 * it before the outcome line); counted for the destination once a recipient shows up. */
typedef struct la_pending {
    int cat, code;
    char enh0;
    const char *domain;                  /* the relay's domain (interned), for orphans */
    char *line;                          /* the raw line (the first one only) */
} la_pending;

#define LA_PENDING 4

typedef struct la_msg {
    la_message pub;
    char *qid;
    la_pending pend[LA_PENDING];
    int npend;
    la_rstate *rs;
    int nrs, caprs;
    la_attempt *ring;                    /* oldest at head once full */
    int cap, head, n;
    int done;
} la_msg;

struct loganalyzer {
    const classifier *cls;
    la_opts o;
    lp_ctx ctx;
    hmap *dests, *msgs, *ccache, *strs;
    la_dest_int **dv;
    size_t ndv, capdv;
    la_msg **mv;
    size_t nmv, capmv;
    long ccache_n, kept;
    la_summary sum;
    char *unrec[3];
    la_minutes global;
    int finished;
    int64_t width_s;
    const char *line;                    /* the raw line being fed */
    size_t linelen;
};

/* A classified failure. */
typedef struct la_class {
    int cat;                             /* enum lp_cat */
    const char *provider;
    int soft;                            /* greylisting or unexplained 4xx reply */
    int explicit_grey;
} la_class;

/* loganalyze.c */
la_dest_int *la_dest_get(loganalyzer *la, const char *domain);
void la_classify(loganalyzer *la, const lp_reply *r, la_class *out);
char *la_line_copy(const loganalyzer *la);
void la_pending_flush(loganalyzer *la, la_msg *m, la_dest_int *d);
const char *la_intern(loganalyzer *la, const char *s);

/* loganalyze_stats.c */
la_sample *la_sample_new(void);
void la_sample_free(la_sample *s);
void la_sample_add(la_sample *s, double v);
void la_sample_stat(const la_sample *s, la_stat *out);
void la_minutes_add(la_minutes *m, int64_t t_us, const logrec *rec);
void la_conn_seen(la_dest_int *d, const char *key, int64_t t_us);
void la_rates(la_dest_int *d);
void la_tally_add(la_tally *t, int *n, int cat, const char *token);
const char *la_tally_best(const la_tally *t, int n, const int *cats, int ncats);
void la_codes_of(la_dest_int *d, int cat, const lp_reply *r);

/* loganalyze_msg.c */
/* la_msg_get - the live message with this queue id (a new one when needed) */
la_msg *la_msg_get(loganalyzer *la, const logrec *rec);
void la_msg_event(loganalyzer *la, const logrec *rec, const char *rcpt, la_dest_int *d, const la_class *cl);
void la_msgs_finish(loganalyzer *la);

/* loganalyze_verdict.c */
void la_verdict(loganalyzer *la, la_dest_int *d);
enum la_verdict la_family(int cat);

/* loganalyze_evidence.c: the quoted lines of a destination's verdict */
void la_evidence(loganalyzer *la, la_dest_int *d);

#endif
