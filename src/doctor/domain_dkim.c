/* domain_dkim.c - the DKIM checks of `sluice doctor domain` (domain.h): the key record at
 * SELECTOR._domainkey.DOMAIN, its tags (service, hashes, testing flag), the key's type and
 * size (RSA under 1024 bits fails, under 2048 warns; ed25519 passes), and whether it is the
 * public half of --dkim-key.  Sets c->dkim_ok for the DMARC advice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "common/xmalloc.h"
#include "doctor/dkim.h"
#include "doctor/domain.h"

/* key_record - the TXT record at name, parsed into rec; 0, or -1 after reporting why not */
static int key_record(domain_ctx *c, const char *name, dkim_record *rec)
{
    dns_txt_result *t = dnsq_txt(c->q, name);
    char err[300];
    int rc = -1;
    if (t->status == DNS_TEMPFAIL)
        report_check(c->r, CK_WARN, "dkim-record", "DKIM key record", name,
                     t->why ? t->why : "TEMPFAIL", "the lookup failed; try again");
    else if (t->status != DNS_OK || t->n == 0)
        report_checkf(c->r, CK_FAIL, "dkim-record", "DKIM key record", name,
                      dns_status_name(t->status),
                      "no key at %s: every signature with s=%s fails to verify", name, c->selector);
    else if (dkim_record_parse(t->v[0], rec, err, sizeof err) < 0)
        report_check(c->r, CK_FAIL, "dkim-record", "DKIM key record",
                     "a valid key record (RFC 6376 3.6.1)", err,
                     "verifiers ignore a malformed key record: every signature fails");
    else
        rc = 0;
    if (rc == 0 && t->n > 1)
        report_checkf(c->r, CK_WARN, "dkim-record", "DKIM key record", "one TXT record", "several",
                      "%d TXT records at %s: verifiers may pick any of them; keep one", t->n, name);
    else if (rc == 0)
        report_check(c->r, CK_PASS, "dkim-record", "DKIM key record", name, "found", NULL);
    dnsq_txt_free(t);
    return rc;
}

/* check_tags - s=, h= and t= */
static void check_tags(domain_ctx *c, const dkim_record *rec)
{
    if (!rec->email_ok)
        report_check(c->r, CK_FAIL, "dkim-service", "DKIM key service type", "s=* or s=email",
                     rec->s, "the key is not for email: verifiers refuse it for mail signatures");
    if (rec->sha1_only)
        report_check(c->r, CK_WARN, "dkim-hash", "DKIM hash algorithms", "sha256", rec->h,
                     "sha1-only keys: RFC 8301 tells verifiers to reject rsa-sha1 signatures; "
                     "allow sha256 and sign with it");
    if (rec->testing)
        report_check(c->r, CK_WARN, "dkim-testing", "DKIM testing flag", "no t=y", rec->t,
                     "t=y: RFC 6376 says verifiers must treat your mail like unsigned mail; remove "
                     "it once signing works");
}

/* check_size - the key's type and size */
static int check_size(domain_ctx *c, const EVP_PKEY *k, int bits)
{
    char got[64];
    const char *type = dkim_key_type_name(k);
    snprintf(got, sizeof got, "%s %d bits", type, bits);
    report_data(c->r, "dkim",
                json_pack("{s:s,s:s,s:i}", "selector", c->selector, "type", type, "bits", bits));
    if (!strcmp(type, "ed25519")) {
        report_check(c->r, CK_PASS, "dkim-key", "DKIM key type and size",
                     "rsa >= 2048 bits or ed25519", got,
                     "not every verifier knows ed25519 (RFC 8463) yet: sign with an RSA key too");
        return 1;
    }
    if (bits < 1024) {
        report_check(c->r, CK_FAIL, "dkim-key", "DKIM key type and size",
                     "rsa >= 2048 bits or ed25519", got,
                     "RSA keys under 1024 bits are refused by verifiers (RFC 8301) and can be "
                     "factored: publish a 2048-bit key");
        return 0;
    }
    report_check(c->r, bits < 2048 ? CK_WARN : CK_PASS, "dkim-key", "DKIM key type and size",
                 "rsa >= 2048 bits or ed25519", got,
                 bits < 2048 ? "1024-bit RSA is the minimum verifiers accept and is considered "
                               "weak: rotate to 2048 bits"
                             : NULL);
    return 1;
}

/* check_match - the published key is the public half of --dkim-key */
static int check_match(domain_ctx *c, const EVP_PKEY *pub)
{
    char err[300];
    EVP_PKEY *local = dkim_key_load(c->dkim_key, err, sizeof err);
    if (!local) {
        report_check(c->r, CK_FAIL, "dkim-match", "DKIM key matches the local private key",
                     c->dkim_key, err, NULL);
        return 0;
    }
    int same = dkim_key_same(pub, local);
    EVP_PKEY_free(local);
    if (same)
        report_check(c->r, CK_PASS, "dkim-match", "DKIM key matches the local private key",
                     c->dkim_key, "the same key", NULL);
    else
        report_check(c->r, CK_FAIL, "dkim-match", "DKIM key matches the local private key",
                     c->dkim_key, "a different key",
                     "the DNS key is not the public half of this private key: every signature made "
                     "with it fails (publish the new key, or sign with the old one)");
    return same;
}

/* check_key - decode, size and compare the key */
static void check_key(domain_ctx *c, const dkim_record *rec)
{
    char err[300];
    int bits = 0;
    EVP_PKEY *k = dkim_key_decode(rec, &bits, err, sizeof err);
    if (!k) {
        int revoked = !rec->p[0];
        report_check(c->r, CK_FAIL, "dkim-key", "DKIM key type and size",
                     "rsa >= 2048 bits or ed25519", revoked ? "revoked (empty p=)" : err,
                     revoked ? "an empty p= revokes the key: signatures with this selector fail; "
                               "sign with a current selector"
                             : "verifiers cannot use this key: every signature fails");
        c->dkim_ok = 0;
        return;
    }
    c->dkim_ok = check_size(c, k, bits);
    if (c->dkim_key && !check_match(c, k))
        c->dkim_ok = 0;
    EVP_PKEY_free(k);
}

void domain_check_dkim(domain_ctx *c)
{
    report_section(c->r, "DKIM");
    c->dkim_ok = -1;
    if (!c->selector) {
        report_check(c->r, CK_INFO, "dkim", "DKIM key", NULL, "not checked",
                     "give --selector S (the s= of your signatures; selectors cannot be listed "
                     "through DNS)");
        return;
    }
    char *name = xasprintf("%s._domainkey.%s", c->selector, c->domain);
    dkim_record rec;
    if (key_record(c, name, &rec) == 0) {
        check_tags(c, &rec);
        check_key(c, &rec);
        if (!rec.email_ok)
            c->dkim_ok = 0;
        dkim_record_clear(&rec);
    } else {
        c->dkim_ok = 0;
    }
    free(name);
}
