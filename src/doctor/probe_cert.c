/* probe_cert.c - what `doctor probe` says about a receiver's certificate: subject and
 * issuer (RFC 2253), the CN and the subjectAltName DNS names and addresses, the validity
 * period and the days left, self-signed or not, the chain's verification result (made by
 * the client's TLS context against the system CA store or smtp_tls_CAfile) and whether the
 * MX host name matches (X509_check_host, no partial wildcards: the rules the client's
 * verify level uses).  Called by probe_session.c at the TLS step and by the unit test. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xmalloc.h"
#include "doctor/probe.h"

/* name_text - an X509 name in its one-line RFC 2253 form (owned) */
static char *name_text(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    long len = BIO_get_mem_data(b, &data);
    char *s = probe_text(data ? data : "", len > 0 ? (size_t)len : 0);
    BIO_free(b);
    return s;
}

/* common_name - the subject's first CN as UTF-8 (owned), or NULL */
static char *common_name(X509 *x)
{
    const X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    if (i < 0)
        return NULL;
    const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
    int len = ASN1_STRING_to_UTF8(&utf8, d);
    if (len < 0)
        return NULL;
    char *s = probe_text((const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    return s;
}

/* add_name - one more subjectAltName */
static void add_name(probe_cert *c, const char *s, size_t n)
{
    c->names = xrealloc(c->names, sizeof *c->names * (size_t)(c->nnames + 1));
    c->names[c->nnames++] = probe_text(s, n);
}

/* san_ip - a subjectAltName address as text into buf; 0 or -1 */
static int san_ip(const ASN1_OCTET_STRING *ip, char *buf, size_t len)
{
    int n = ASN1_STRING_length(ip);
    const unsigned char *p = ASN1_STRING_get0_data(ip);
    if (n != 4 && n != 16)
        return -1;
    return inet_ntop(n == 4 ? AF_INET : AF_INET6, p, buf, (socklen_t)len) ? 0 : -1;
}

/* read_sans - the DNS names and addresses of subjectAltName */
static void read_sans(X509 *x, probe_cert *c)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    char ip[INET6_ADDRSTRLEN];
    for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        if (gn->type == GEN_DNS)
            add_name(c, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                     (size_t)ASN1_STRING_length(gn->d.dNSName));
        else if (gn->type == GEN_IPADD && san_ip(gn->d.iPAddress, ip, sizeof ip) == 0)
            add_name(c, ip, strlen(ip));
    }
    GENERAL_NAMES_free(g);
}

/* time_text - an ASN1 time as "2026-11-28T12:00:00Z" */
static void time_text(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        snprintf(buf, len, "?");
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* read_validity - the period, the days left, expired or not yet valid */
static void read_validity(X509 *x, probe_cert *c)
{
    const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
    int day = 0, sec = 0;
    time_text(nb, c->not_before, sizeof c->not_before);
    time_text(na, c->not_after, sizeof c->not_after);
    if (na && ASN1_TIME_diff(&day, &sec, NULL, na) == 1)
        c->days_left = day;
    c->expired = na && X509_cmp_current_time(na) < 0;
    c->not_yet_valid = nb && X509_cmp_current_time(nb) > 0;
}

/* key_text - "RSA 2048", "EC 256", "ED25519 256" */
static void key_text(X509 *x, char *buf, size_t len)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    if (!k) {
        snprintf(buf, len, "?");
        return;
    }
    int id = EVP_PKEY_get_base_id(k);
    const char *type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC"
                     : id == EVP_PKEY_ED25519 ? "ED25519" : OBJ_nid2sn(id);
    snprintf(buf, len, "%s %d", type ? type : "?", EVP_PKEY_get_bits(k));
}

void probe_cert_read(X509 *x, long verify, const char *name, probe_cert *out)
{
    memset(out, 0, sizeof *out);
    out->subject = name_text(X509_get_subject_name(x));
    out->issuer = name_text(X509_get_issuer_name(x));
    out->cn = common_name(x);
    read_sans(x, out);
    read_validity(x, out);
    out->self_signed = X509_check_issued(x, x) == X509_V_OK;
    out->verify = verify;
    snprintf(out->verify_text, sizeof out->verify_text, "%s",
             X509_verify_cert_error_string(verify));
    out->name_checked = name != NULL;
    out->name_match = name && X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                                              NULL) == 1;
    key_text(x, out->key, sizeof out->key);
}

void probe_cert_clear(probe_cert *c)
{
    free(c->subject);
    free(c->issuer);
    free(c->cn);
    for (int i = 0; i < c->nnames; i++)
        free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

json_t *probe_cert_json(const probe_cert *c)
{
    json_t *names = json_array();
    for (int i = 0; i < c->nnames; i++)
        json_array_append_new(names, json_string(c->names[i]));
    json_t *o = json_pack("{s:s,s:s,s:s?,s:o,s:s,s:s,s:i,s:b,s:b,s:b,s:b,s:s?,s:s}",
                          "subject", c->subject, "issuer", c->issuer, "cn", c->cn, "names",
                          names, "not_before", c->not_before, "not_after", c->not_after,
                          "days_left", c->days_left, "expired", c->expired, "not_yet_valid",
                          c->not_yet_valid, "self_signed", c->self_signed, "chain_verified",
                          c->verify == X509_V_OK, "chain_error",
                          c->verify == X509_V_OK ? NULL : c->verify_text, "key", c->key);
    json_object_set_new(o, "name_match",
                        c->name_checked ? json_boolean(c->name_match) : json_null());
    return o;
}
