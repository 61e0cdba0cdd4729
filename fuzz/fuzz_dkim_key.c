/* fuzz_dkim_key.c - libFuzzer target for the DKIM key files an administrator names in
 * dkim_signing_keys: the signer's loader (dkim_skey_load, which sluiced -n and the daemon
 * run) and the doctor's (dkim_key_load, for `doctor domain` and `doctor dkim`).  The input
 * is the file.  Beyond "no crash, no leak", it checks: a refusal says why; a loaded signing
 * key is RSA of at least 1024 bits or Ed25519, is named for the algorithm it signs with,
 * keeps its domain and selector, and signs a message (up to RSA-4096: larger ones only cost
 * time) into a field that starts "DKIM-Signature: " and ends with CRLF; a key the doctor
 * loads equals itself. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "dkim/dkim.h"
#include "doctor/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* check_signing_key - the loaded key's promises, and one signature */
static void check_signing_key(const dkim_skey *k)
{
    static const char msg[] = "From: a@example.com\r\nSubject: key\r\n\r\nbody\r\n";
    static const char *hdrs[] = {"From", "Subject"};
    const char *alg = dkim_skey_algorithm(k);
    int bits = dkim_skey_bits(k);
    check(!strcmp(dkim_skey_domain(k), "example.com") && !strcmp(dkim_skey_selector(k), "fuzz"));
    check((!strcmp(alg, "rsa-sha256") && bits >= 1024) || (!strcmp(alg, "ed25519-sha256") && bits == 256));
    if (bits > 4096)
        return;
    dbuf out = {0};
    char err[256];
    if (dkim_sign(k, (const uint8_t *)msg, sizeof msg - 1, hdrs, 2, hdrs, 1, 1764324000, &out, err, sizeof err) == 0)
        check(out.len > 18 && !memcmp(out.data, "DKIM-Signature: ", 16) && !memcmp(out.data + out.len - 2, "\r\n", 2));
    else
        check(err[0] != 0);
    dbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz-dkim-key-%d.pem", (int)getpid());
    FILE *f = fopen(path, "wb");
    check(f && (fwrite(data, 1, size, f) == size || !size));
    fclose(f);
    char err[512] = "";
    dkim_skey *k = dkim_skey_load("example.com", "fuzz", path, err, sizeof err);
    if (k)
        check_signing_key(k);
    else
        check(err[0] != 0);
    dkim_skey_free(k);
    err[0] = 0;
    EVP_PKEY *p = dkim_key_load(path, err, sizeof err);
    if (p)
        check(dkim_key_same(p, p) == 1 && dkim_key_type_name(p)[0]);
    else
        check(err[0] != 0);
    EVP_PKEY_free(p);
    unlink(path);
    return 0;
}
