/* smtp_reply.h - building SMTP replies (RFC 5321 §4.2) with enhanced status codes
 * (RFC 2034, RFC 3463).  Both the server engine and anything else that answers SMTP use it.
 * Functions append to a caller-owned dbuf and allocate only through it. */
#ifndef SLUICE_SMTP_REPLY_H
#define SLUICE_SMTP_REPLY_H
#include <stddef.h>

#include "common/dbuf.h"

/* smtp_reply_put - append the reply "CODE text" to out.  text holds lines separated by
 * '\n' (a trailing '\n' is ignored); all but the last go out as "CODE-line", the last as
 * "CODE line", each ended by CRLF.  When the first line starts with an enhanced status code,
 * every line without one gets it, and every code's class digit is made to agree with the
 * reply code.  When the first line has none and add_default is set, a 2xx/4xx/5xx reply gets
 * "C.0.0" on every line.  Control bytes in text become spaces, so a text can never end the
 * reply early or forge another one.  text may be NULL (no text). */
void smtp_reply_put(dbuf *out, int code, const char *text, int add_default);

/* smtp_enhanced_len - the length of the enhanced status code "c.sss.ddd" at the start of
 * the n bytes at s when a space or the end follows it; 0 when there is none */
size_t smtp_enhanced_len(const char *s, size_t n);

#endif
