/* test_util_keys.h - private keys for the DKIM unit tests (test_dkim_sign, test_doctor_dkim):
 * made in the test with OpenSSL and written to temporary PEM files.  Built into the unit
 * tests' helper library (tests/CMakeLists.txt).  Include it after <cmocka.h>: failures
 * fail the test. */
#ifndef SLUICE_TEST_UTIL_KEYS_H
#define SLUICE_TEST_UTIL_KEYS_H
#include <stddef.h>

#include <openssl/evp.h>

/* tu_keygen - a new key: type "RSA" (of bits) or "ED25519" (bits ignored); caller frees */
EVP_PKEY *tu_keygen(const char *type, size_t bits);
/* tu_write_pem - k's private key in a new temporary file; its path (caller unlinks, frees) */
char *tu_write_pem(EVP_PKEY *k);

#endif
