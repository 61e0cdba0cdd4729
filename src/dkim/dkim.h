/* dkim.h - DKIM signing (RFC 6376), relaxed/relaxed, with rsa-sha256 or ed25519-sha256
 * (RFC 8463) keys: the canonicalization (dkim_canon.c) and the signature (dkim_sign.c).
 * The daemon signs each message once, as it enters the queue, so every delivery attempt
 * sends the same bytes (daemon/signer.c).  Verification of received mail is not done here:
 * an outbound MTA signs; the doctor checks the published keys (doctor/dkim*.c).
 *
 * Messages are byte buffers with CRLF line ends (a bare LF is read as a line end); nothing
 * reads outside [msg, msg + len) and no input makes a signature fail except a key error.
 * Ownership: a dkim_skey owns its OpenSSL key and strings; functions taking a dbuf append. */
#ifndef SLUICE_DKIM_H
#define SLUICE_DKIM_H
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"

typedef struct dkim_skey dkim_skey;

/* dkim_skey_load - the private key (PEM, RSA of 1024 bits or more, or Ed25519) at path for
 * signing as domain with selector; NULL with err ("cannot read", "not a private key", "RSA
 * key of 512 bits: at least 1024 needed", ...) */
dkim_skey *dkim_skey_load(const char *domain, const char *selector, const char *path, char *err,
                        int errlen);
void dkim_skey_free(dkim_skey *k);
const char *dkim_skey_domain(const dkim_skey *k);
const char *dkim_skey_selector(const dkim_skey *k);
/* dkim_skey_algorithm - "rsa-sha256" or "ed25519-sha256" */
const char *dkim_skey_algorithm(const dkim_skey *k);
/* dkim_skey_bits - the RSA modulus size, 256 for Ed25519 */
int dkim_skey_bits(const dkim_skey *k);

/* dkim_sign - append the DKIM-Signature field (folded, CRLF-ended) for msg to out.
 * hdrs: the field names to sign (case-insensitive); every instance present is signed,
 * bottom-up as RFC 6376 5.4.2 orders them, and each name in oversign once more, so that
 * a field of that name added later breaks the signature.  now: the t= tag.  0, or -1 with
 * err when the key could not sign. */
int dkim_sign(const dkim_skey *k, const uint8_t *msg, size_t len, const char *const *hdrs, int nhdrs,
              const char *const *oversign, int noversign, int64_t now, dbuf *out, char *err,
              int errlen);

/* Canonicalization, relaxed (RFC 6376 3.4.2 and 3.4.4), exposed for tests and fuzzing. */
/* dkim_canon_header - one field, raw as in the message ("Name : value\r\n\tmore\r\n"),
 * appended as "name:value more\r\n" */
void dkim_canon_header(const char *raw, size_t len, dbuf *out);
/* dkim_canon_body - the body (the bytes after the empty line), appended canonicalized */
void dkim_canon_body(const uint8_t *body, size_t len, dbuf *out);

#endif
