/* classify.h - what a receiver's reply means.  Every 4xx/5xx reply (code, enhanced code,
 * text, the stage it came at, whether the server closed) gets one class, the rule that
 * decided it, an optional provider tag and, when the text says when to come back, a retry
 * hint in seconds.  The rules are data: a shipped file compiled into the program, plus the
 * administrator's own files (reply_class_rules), which are consulted first.  When no rule
 * matches, the enhanced status code's meaning (RFC 3463) and families of wording decide.
 * Used by the scheduler's shaping, `sluice classify` and `sluice doctor`. */
#ifndef SLUICE_CLASSIFY_H
#define SLUICE_CLASSIFY_H
#include <stdint.h>

enum reply_class {
    RC_GREYLISTING,
    RC_TOO_MANY_CONNECTIONS,
    RC_RATE_LIMITED,
    RC_REPUTATION,
    RC_AUTHENTICATION,        /* SPF, DKIM, DMARC, PTR / reverse DNS */
    RC_OVERLOADED,            /* overloaded_or_maintenance */
    RC_MAILBOX,               /* the recipient's side: full, over quota, unavailable */
    RC_PERMANENT,             /* any 5xx */
    RC_OTHER,
    RC_NCLASSES
};

/* Where the reply came (the client's stages, see src/client/smtpc.h). */
enum classify_stage { CS_ANY = -1, CS_CONNECT = 0, CS_GREETING, CS_EHLO, CS_STARTTLS, CS_MAIL,
                      CS_RCPT, CS_DATA, CS_BODY, CS_QUIT };

typedef struct classify_input {
    int code;                 /* 421; 0 when only an enhanced code or text is known */
    const char *enh;          /* "4.7.28" or NULL/"" (extracted from text when absent) */
    const char *text;         /* the reply text (may start with the code; may be multi-line
                                 flattened as "421-4.7.0 ... 421-4.7.0 ...") */
    int stage;                /* enum classify_stage, CS_ANY when unknown */
    int closed;               /* the server closed the connection with it (-1 unknown) */
} classify_input;

typedef struct classify_result {
    enum reply_class cls;
    const char *rule;         /* "FILE:LINE" of the rule, or "fallback:..." (static or owned by
                                 the classifier; valid while it lives) */
    const char *provider;     /* "gmail", "yahoo", "microsoft", ... or NULL */
    int64_t retry_hint_s;     /* seconds the text asks to wait, or -1 */
} classify_result;

typedef struct classifier classifier;

/* classifier_new - a classifier with the shipped rules; NULL with err if they don't load */
classifier *classifier_new(char *err, int errlen);
/* classifier_load - add an administrator's rules file (consulted before the shipped
 * rules, in the order loaded); 0, or -1 with "FILE:LINE: what" in err */
int classifier_load(classifier *c, const char *path, char *err, int errlen);
/* classifier_load_text - the same from text named name */
int classifier_load_text(classifier *c, const char *text, const char *name, char *err, int errlen);
void classifier_free(classifier *c);

/* classify - decide; never fails (an unknown reply is RC_OTHER, any 5xx RC_PERMANENT
 * unless a rule says otherwise) */
void classify(const classifier *c, const classify_input *in, classify_result *out);

/* retry_hint_parse - "try again in 5 minutes", "retry after 300 seconds", "in a few hours",
 * "Greylisted for 60 seconds" ... -> seconds, or -1 when the text gives no time */
int64_t retry_hint_parse(const char *text);

/* What classify() understood a reply as, after normalisation: the code and enhanced code
 * found in the text or its wrappers, the stage a "(in reply to ...)" suffix names. */
typedef struct classify_seen {
    int code;                 /* 0 when unknown */
    char enh[16];             /* "" when none (or when its class contradicts the code) */
    int stage;                /* enum classify_stage, CS_ANY when unknown */
    int closed;               /* 1, 0, or -1 when unknown (a 421 counts as closed) */
} classify_seen;

/* classify_seen_as - classify(), and say what the reply was understood as (seen may be NULL) */
void classify_seen_as(const classifier *c, const classify_input *in, classify_result *out,
                      classify_seen *seen);

/* classify_stage_parse - "greeting", "rcpt", "eom", ... to enum classify_stage; CS_ANY - 1
 * when unknown.  classify_stage_name - the other way ("any" for CS_ANY). */
int classify_stage_parse(const char *name);
const char *classify_stage_name(int stage);

const char *reply_class_name(enum reply_class c);
/* reply_class_parse - a class name to its value; -1 when unknown */
int reply_class_parse(const char *name);

#endif
