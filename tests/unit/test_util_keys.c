/* test_util_keys.c - see test_util_keys.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "common/xmalloc.h"
#include "test_util_keys.h"

EVP_PKEY *tu_keygen(const char *type, size_t bits)
{
    EVP_PKEY *k = strcmp(type, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, type)
                                      : EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
    assert_non_null(k);
    return k;
}

char *tu_write_pem(EVP_PKEY *k)
{
    char *path = xstrdup("/tmp/sluice-test-key.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return path;
}
