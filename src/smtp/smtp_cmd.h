/* smtp_cmd.h - SMTP command lines as both sides see them (RFC 5321 §4.1): the verb, its
 * argument, the MAIL FROM / RCPT TO path and the ESMTP parameters.
 *
 * smtp_cmd_parse works on one line without its CRLF and allocates nothing: the result
 * points into the caller's line (which must stay alive and unchanged while the result is
 * used), except the mailbox, which is copied into the fixed-size addr field.  It never reads
 * past len, so the line need not be NUL-terminated and may contain NUL bytes.
 *
 * Addresses are kept in their external form: the mailbox between the angle brackets, without
 * a source route, with a quoted local part left quoted ("a b"@example.com), so it can be
 * sent on unchanged. */
#ifndef SLUICE_SMTP_CMD_H
#define SLUICE_SMTP_CMD_H
#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX 256        /* RFC 5321 §4.5.3.1.3, including "<" and ">" */
#define SMTP_CMD_MAXPARAMS 16    /* ESMTP parameters accepted on one MAIL or RCPT */

enum smtp_verb {
    SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_RSET,
    SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP, SMTP_STARTTLS, SMTP_AUTH,
    SMTP_BDAT, SMTP_NVERBS
};

/* What was wrong with a line; each maps to one reply (smtp_cmd_error_reply). */
enum smtp_cmd_err {
    SMTP_CMD_OK,
    SMTP_CMD_UNKNOWN,        /* 500 5.5.2: no such verb (or an empty line) */
    SMTP_CMD_SYNTAX,         /* 501 5.5.4: bad arguments or parameters */
    SMTP_CMD_BAD_SENDER,     /* 501 5.1.7: MAIL FROM path syntax */
    SMTP_CMD_BAD_RCPT,       /* 501 5.1.3: RCPT TO path syntax */
    SMTP_CMD_PATH_TOO_LONG   /* 501 5.1.7 / 5.1.3: path longer than SMTP_PATH_MAX */
};

/* A piece of the caller's line: not NUL-terminated. */
typedef struct smtp_span {
    const char *p;
    size_t n;
} smtp_span;

typedef struct smtp_param {
    smtp_span key;           /* esmtp-keyword, as sent (compare case-insensitively) */
    smtp_span value;         /* esmtp-value; p NULL when the parameter has no "=" */
} smtp_param;

typedef struct smtp_cmd {
    enum smtp_verb verb;     /* set even when the arguments are bad */
    smtp_span name;          /* the verb as sent */
    smtp_span arg;           /* everything after the verb, spaces trimmed (may be empty) */
    /* MAIL / RCPT only: */
    char addr[SMTP_PATH_MAX + 1]; /* the mailbox, NUL-terminated; "" for the null sender */
    size_t addrlen;
    int addr_8bit;           /* the mailbox has bytes >= 0x80 (valid UTF-8) */
    int nparam;
    smtp_param param[SMTP_CMD_MAXPARAMS];
    /* BDAT only: */
    uint64_t chunk_size;
    int chunk_last;
} smtp_cmd;

/* smtp_cmd_parse - parse one command line (no CRLF) of len bytes into *c; returns
 * SMTP_CMD_OK or the kind of error (c->verb is valid either way) */
enum smtp_cmd_err smtp_cmd_parse(const char *line, size_t len, smtp_cmd *c);

/* smtp_cmd_error_reply - the reply code and "X.Y.Z text" for a parse error of verb v */
int smtp_cmd_error_reply(enum smtp_cmd_err e, enum smtp_verb v, const char **text);

/* smtp_verb_name - "MAIL", "EHLO", ..., "UNKNOWN" (a static string) */
const char *smtp_verb_name(enum smtp_verb v);

/* smtp_param_is - 1 when the parameter's keyword is key (case-insensitive) */
int smtp_param_is(const smtp_param *p, const char *key);

/* smtp_xtext_decode - decode an xtext value (RFC 3461 §4: "+XX" hex escapes) into out
 * (NUL-terminated, at most outlen-1 bytes); the decoded length, or -1 when malformed or too
 * long */
int smtp_xtext_decode(smtp_span in, char *out, size_t outlen);

/* smtp_utf8_valid - 1 when the n bytes are well-formed UTF-8 (no overlongs, surrogates) */
int smtp_utf8_valid(const unsigned char *s, size_t n);

/* smtp_path_safe - 1 when an envelope address can go into "MAIL FROM:<...>" or
 * "RCPT TO:<...>" as it is: no control character, no angle bracket, no blank outside a
 * quoted string (what `sluice send` and the daemon's local submissions accept) */
int smtp_path_safe(const char *a);

#endif
