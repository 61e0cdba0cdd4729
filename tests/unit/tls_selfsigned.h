/* tls_selfsigned.h - a throw-away self-signed certificate for tests and fuzz targets:
 * an EC P-256 key and a one-day certificate for CN=name, written as PEM into dir.
 * Header-only (static functions) so a test or fuzz target includes it directly. */
#ifndef SLUICE_TLS_SELFSIGNED_H
#define SLUICE_TLS_SELFSIGNED_H
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>

/* selfsigned_write - key to key_path, certificate to cert_path; 0 or -1 */
static int selfsigned_write(const char *name, const char *cert_path, const char *key_path)
{
    int rc = -1;
    FILE *kf = NULL, *cf = NULL;
    X509 *x = X509_new();
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (!x || !pkey)
        goto fail;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *subj = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1,
                               0);
    X509_set_issuer_name(x, subj);
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto fail;
    kf = fopen(key_path, "w");
    cf = fopen(cert_path, "w");
    if (!kf || !cf || !PEM_write_PrivateKey(kf, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_X509(cf, x))
        goto fail;
    rc = 0;
fail:
    if (kf)
        fclose(kf);
    if (cf)
        fclose(cf);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

#endif
