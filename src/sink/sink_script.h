/* sink_script.h - the --reply-script rule language: rules that match a stage of the SMTP
 * dialogue, the client, the envelope and counters, and give the reply to send (a refusal, a
 * custom acceptance text, a drop of the connection, or "pass" to the built-in policies).
 *
 * One rule per line; '#' starts a comment line; blank lines are ignored:
 *
 *     STAGE [CONDITION]... => [close] [delay SECONDS] (CODE [X.Y.Z] [TEXT] | drop | pass)
 *
 * STAGE: connect helo mail rcpt data eom.  CONDITIONs (all must hold, tested left to right):
 *     ip CIDR            the client address is inside CIDR (10.0.0.0/8, 127.0.0.2, ::1/128)
 *     helo /RE/[i]       the HELO/EHLO name matches the PCRE2 pattern RE ("i": ignore case)
 *     from /RE/[i]       the MAIL FROM address matches ("" for the null sender)
 *     to /RE/[i]         the recipient matches (rcpt only)
 *     attempt RANGE      RCPTs seen for this (client IP, sender, recipient), this one
 *                        included, on the listener's policy set (rcpt only)
 *     msg RANGE          the message's number on this connection, 1 for the first
 *     conn RANGE         the connection's number from this client IP, 1 for the first
 *     nrcpt RANGE        rcpt: this recipient's number in the transaction; data/eom: how many
 *     time RANGE         seconds since the sink started (fractions allowed; END excluded)
 *     chance P           with probability P (0..1), drawn from the script's seeded stream
 * RANGE is N, N-M (inclusive) or N+ (N or more).  In "/RE/" a "/" is written "\/".
 * TEXT may use "\n" for a multi-line reply, "\\" for a backslash, and ${ip} ${helo} ${from}
 * ${to} for the client's values.  An acceptance (2xx; 3xx at data) only sets the text of the
 * reply the sink would give anyway; a refusal or drop is final.  The first matching rule of
 * the stage decides.  Loading checks everything and reports "FILE:LINE: what" errors.
 *
 * Ownership: sink_script_parse/load return a script the caller frees with sink_script_free.
 * Matching keeps no state except in the random stream the caller passes. */
#ifndef SLUICE_SINK_SCRIPT_H
#define SLUICE_SINK_SCRIPT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/smtpd.h"

typedef struct sink_script sink_script;

/* Counters a script may use; the caller maintains only those it asks for. */
enum { SINK_USES_ATTEMPT = 1, SINK_USES_CONN = 2 };

/* What the rules look at, filled by the caller for one decision. */
typedef struct sink_facts {
    enum smtpd_stage stage;
    const struct sockaddr *peer;
    const char *ip;          /* the client address as text */
    const char *helo;        /* "" before HELO/EHLO */
    const char *sender;      /* from the mail stage on */
    const char *rcpt;        /* at the rcpt stage */
    int64_t attempt, msg, conn, nrcpt;
    int64_t elapsed_us;      /* since the sink started */
    uint64_t *rng;           /* the stream for chance */
} sink_facts;

enum sink_act { SINK_ACT_REPLY, SINK_ACT_DROP, SINK_ACT_PASS };

/* A matching rule's answer. */
typedef struct sink_action {
    enum sink_act kind;
    int code;
    char text[512];          /* expanded, "X.Y.Z text" or "" */
    int close;
    int64_t delay_us;
    const char *policy;      /* "reply_script:LINE", valid while the script lives */
} sink_action;

/* sink_script_parse - rules from len bytes of text (name is used in errors); NULL with
 * "name:LINE: what" in err */
sink_script *sink_script_parse(const char *text, size_t len, const char *name, char *err,
                               size_t errlen);
/* sink_script_load - read and parse a file; NULL with the error in err */
sink_script *sink_script_load(const char *path, char *err, size_t errlen);
void sink_script_free(sink_script *sc);
/* sink_script_uses - SINK_USES_* bits of the counters the rules need */
unsigned sink_script_uses(const sink_script *sc);
/* sink_script_rules - how many rules the script has */
int sink_script_rules(const sink_script *sc);
/* sink_script_match - 1 with *a filled when a rule of f->stage matches, else 0 */
int sink_script_match(const sink_script *sc, const sink_facts *f, sink_action *a);

#endif
