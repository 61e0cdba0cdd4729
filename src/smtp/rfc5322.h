/* rfc5322.h - Internet message format (RFC 5322) header work: splitting a message into
 * header fields and body, parsing address lists, the `sendmail -t` recipient rules and Bcc
 * removal, and building the fields an injector adds (Received, Date, Message-ID, From).
 * Callers: `sluice send` (the sendmail-compatible injector); later DKIM signing.
 *
 * Messages are byte buffers with CRLF line ends (a bare LF is tolerated as a line end).
 * Nothing here needs a NUL terminator, and nothing reads outside [msg, msg + len): NUL
 * bytes, overlong lines and garbage are data, never a crash.  The header block is the run
 * of fields from the start of the message; it ends at the first empty line, at the first
 * line that is not a field ("name:" with a printable name) or continuation, or at the
 * end of the buffer (a message without a body is valid).
 *
 * Ownership: iterators and fields point into the caller's buffer and live as long as it.
 * Functions taking a dbuf append to it; the caller owns and frees it (dbuf_free).
 * rfc5322_addrs owns its strings; rfc5322_addrs_free releases them. */
#ifndef SLUICE_RFC5322_H
#define SLUICE_RFC5322_H
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"

/* Lines built here are kept shorter than this (excluding CRLF) where a fold point allows. */
#define RFC5322_LINE_MAX 78

/* One header field: every pointer is into the message. */
typedef struct rfc5322_field {
    const char *name;  /* field name without the colon or whitespace before it */
    size_t name_len;
    const char *value; /* after the colon up to (not including) the final line end; */
    size_t value_len;  /*   folded continuation lines are included as they are */
    const char *raw;   /* the whole field including its final line end (DKIM, removal) */
    size_t raw_len;
} rfc5322_field;

/* Iterator over the header block.  Once rfc5322_next has returned 0, hdr_end and body are
 * set: the header block is msg[0, hdr_end) and the body starts at msg + body (after the
 * empty line; equal to hdr_end when a non-field line ended the header; len when none). */
typedef struct rfc5322_iter {
    const char *msg;
    size_t len;
    size_t pos;     /* start of the next line to look at */
    size_t hdr_end; /* valid after the end */
    size_t body;    /* valid after the end */
    int done;
} rfc5322_iter;

/* rfc5322_iter_init - start iterating over the header fields of msg[0, len) */
void rfc5322_iter_init(rfc5322_iter *it, const void *msg, size_t len);
/* rfc5322_next - 1 with *f set to the next field; 0 at the end of the header block */
int rfc5322_next(rfc5322_iter *it, rfc5322_field *f);
/* rfc5322_split - header block length and body offset, as described for rfc5322_iter */
void rfc5322_split(const void *msg, size_t len, size_t *hdr_end, size_t *body);
/* rfc5322_name_is - 1 when the field's name equals name, ignoring case */
int rfc5322_name_is(const rfc5322_field *f, const char *name);

/* A list of addr-specs, each a NUL-terminated string owned by the list. */
typedef struct rfc5322_addrs {
    char **v;
    size_t n;
    size_t cap;
} rfc5322_addrs;

/* rfc5322_parse_addrs - append the addr-specs of an address-list field value (To, Cc, Bcc,
 * Resent-*; folded lines allowed) to out.  Display names, comments and group names are
 * skipped; group members are returned; obsolete forms (routes, CFWS around dots, empty
 * list elements) are accepted.  Each address is "local@domain" with the local part quoted
 * only when it is not a dot-atom; one without "@" is returned unqualified for the caller
 * to complete.  Control characters inside quoted strings are dropped.  Returns the number
 * of malformed elements that were skipped (0 when the whole list parsed). */
size_t rfc5322_parse_addrs(const char *value, size_t len, rfc5322_addrs *out);
/* rfc5322_addrs_add - append a copy of addr */
void rfc5322_addrs_add(rfc5322_addrs *a, const char *addr);
/* rfc5322_addrs_free - release the strings and the array; the list is empty afterwards */
void rfc5322_addrs_free(rfc5322_addrs *a);

/* rfc5322_collect_rcpts - `sendmail -t`: append the addresses in To, Cc and Bcc to out;
 * when any Resent-* field is present, those in Resent-To, Resent-Cc and Resent-Bcc
 * instead.  Returns the number of malformed elements skipped (see rfc5322_parse_addrs). */
size_t rfc5322_collect_rcpts(const void *msg, size_t len, rfc5322_addrs *out);
/* rfc5322_remove_bcc - append msg to out without its Bcc and Resent-Bcc fields; every
 * other byte is copied unchanged */
void rfc5322_remove_bcc(const void *msg, size_t len, dbuf *out);

/* Which fields a message has (rfc5322_have).  A message with Resent-* fields is being
 * re-sent: complete its Resent-From, Resent-Date and Resent-Message-ID instead. */
enum {
    RFC5322_HAVE_FROM = 1 << 0,
    RFC5322_HAVE_DATE = 1 << 1,
    RFC5322_HAVE_MSGID = 1 << 2,    /* Message-ID */
    RFC5322_HAVE_RESENT = 1 << 3,   /* any Resent-* field */
    RFC5322_HAVE_RCPT_HDR = 1 << 4, /* To, Cc or Bcc */
    RFC5322_HAVE_RESENT_FROM = 1 << 5,
    RFC5322_HAVE_RESENT_DATE = 1 << 6,
    RFC5322_HAVE_RESENT_MSGID = 1 << 7
};
/* rfc5322_have - a mask of RFC5322_HAVE_* for the fields present in msg's header */
unsigned rfc5322_have(const void *msg, size_t len);

/* rfc5322_format_date - append an RFC 5322 date-time for t (seconds since the epoch) in
 * local time with a numeric zone: "Tue, 3 Jun 2025 14:02:11 +0200" */
void rfc5322_format_date(dbuf *out, int64_t t);
/* rfc5322_put_date - append "NAME: <date of t>\r\n"; name is "Date" or "Resent-Date" */
void rfc5322_put_date(dbuf *out, const char *name, int64_t t);
/* rfc5322_put_message_id - append "NAME: <QID.YYYYMMDDHHMMSS@HOST>\r\n" (t in UTC);
 * name is "Message-ID" or "Resent-Message-ID"; qid is unique within the spool and host
 * is this system's fully qualified name */
void rfc5322_put_message_id(dbuf *out, const char *name, const char *qid, int64_t t,
                            const char *host);
/* rfc5322_put_from - append "NAME: \"Full Name\" <sender>\r\n", or "NAME: sender\r\n"
 * when fullname is NULL or blank; the name is quoted and escaped, control characters
 * become spaces; name is "From" or "Resent-From"; sender is a qualified addr-spec */
void rfc5322_put_from(dbuf *out, const char *name, const char *sender, const char *fullname);

/* What a Received: field records; NULL (or 0 for time) marks a part as unknown, and
 * unknown parts are left out.  Peer-supplied text (helo, client_name) is made safe. */
typedef struct rfc5322_received {
    const char *helo;        /* HELO/EHLO argument */
    const char *client_name; /* verified reverse DNS name of the client */
    const char *client_ip;   /* "192.0.2.1" or "2001:db8::1" */
    const char *host;        /* our own host name */
    const char *uid;         /* local submission: the submitting user id, as text */
    const char *proto;       /* "SMTP", "ESMTP", "ESMTPS", "ESMTPSA", ... */
    const char *qid;         /* queue id */
    const char *rcpt;        /* the one recipient (for a single-recipient message) */
    int64_t time;            /* seconds since the epoch */
} rfc5322_received;

/* rfc5322_put_received - append "Received: from HELO (NAME [IP]) by HOST (sluice) with
 * PROTO id QID for <RCPT>; DATE\r\n" (local: "Received: by HOST (sluice, from userid UID)
 * id QID; DATE"), folded between its parts so lines stay short */
void rfc5322_put_received(dbuf *out, const rfc5322_received *r);

/* rfc5322_put_field - append "name: value\r\n" with value folded at its whitespace so
 * lines stay under RFC5322_LINE_MAX where possible; folds already in value are undone
 * first and any other CR, LF or NUL becomes a space, so one field is always written */
void rfc5322_put_field(dbuf *out, const char *name, const char *value, size_t len);
/* rfc5322_unfold - append value with every line end that precedes whitespace removed */
void rfc5322_unfold(dbuf *out, const char *value, size_t len);
/* rfc5322_message_id - the Message-ID field's value, trimmed, line breaks removed, into buf
 * ("" when there is none) */
void rfc5322_message_id(const void *msg, size_t len, char *buf, size_t buflen);
/* rfc5322_prepend - append fields (whole CRLF-terminated lines) and then msg to out; when
 * msg has a body but no empty line before it, one is inserted so the body stays a body */
void rfc5322_prepend(dbuf *out, const void *fields, size_t flen, const void *msg, size_t len);

#endif
