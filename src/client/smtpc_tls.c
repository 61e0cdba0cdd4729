/* smtpc_tls.c - TLS for the client: the client SSL_CTX, and the STARTTLS upgrade (RFC 3207)
 * with the certificate check that smtp_tls_security_level asks for.
 *
 * The upgrade: after "220" to STARTTLS, anything the server sent with it is discarded (a
 * reply injected before TLS must not be read as if it came through TLS), the plain
 * bufferevent lets go of its socket, and a bufferevent_openssl_socket_new takes the same
 * descriptor over (socket-based rather than a filter, as the server engine does, so output
 * written means handed to the kernel).  SNI is verify_name, else the server name when it
 * is not an address literal.
 * The check: the chain is always verified against the context's store and, when
 * verify_name is given, the host name (SSL_set1_host, no partial wildcards), but with
 * SSL_VERIFY_NONE so the handshake completes whatever the result: tls_verified records it;
 * level verify then refuses an unverified server with FAILED (code 0, stage STARTTLS) and a
 * QUIT over the new TLS session.  Levels may and encrypt do not look at the result.
 * Ownership: the TLS bufferevent owns the SSL and the descriptor (BEV_OPT_CLOSE_ON_FREE). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "client/smtpc_int.h"
#include "common/log.h"

/* ctx_error - "what: OpenSSL's reason" into err */
static void ctx_error(char *err, int errlen, const char *what)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "%s: %s", what, reason);
}

SSL_CTX *smtpc_tls_client_ctx(const char *ca_file, char *err, int errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ctx_error(err, errlen, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ctx_error(err, errlen, ca_file ? ca_file : "system CA store");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* is_literal - the name is an IP address (no SNI for those) */
static int is_literal(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* new_ssl - an SSL for this server: SNI and the name to check; NULL on failure */
static SSL *new_ssl(smtpc *c)
{
    SSL *ssl = SSL_new(c->o.tls_ctx);
    const char *sni = c->verify_name ? c->verify_name : c->server_name;
    if (!ssl)
        return NULL;
    if (sni && !is_literal(sni))
        SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (c->verify_name) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl, c->verify_name) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}

void smtpc_tls_start(smtpc *c)
{
    struct bufferevent *plain = c->bev;
    struct evbuffer *in = bufferevent_get_input(plain);
    evutil_socket_t fd = bufferevent_getfd(plain);
    size_t junk = evbuffer_get_length(in);
    if (junk) {
        log_info(LOG_NOQUEUE, "%s: discarding %zu bytes sent with the reply to STARTTLS",
                 c->peer, junk);
        evbuffer_drain(in, junk);
    }
    SSL *ssl = new_ssl(c);
    if (!ssl || fd < 0) {
        ERR_clear_error();
        smtpc_lost_text(c, "4.7.5", "cannot start TLS with %s: no TLS session", c->host);
        return;
    }
    smtpc_read_stop(c);   /* the TLS bufferevent reads from now on */
    bufferevent_disable(plain, EV_READ | EV_WRITE);
    bufferevent_setfd(plain, -1);   /* keep the socket open past the free */
    bufferevent_free(plain);
    c->bev = NULL;
    struct bufferevent *b = bufferevent_openssl_socket_new(
        c->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!b) {   /* libevent may or may not have freed ssl and fd: leave both alone */
        smtpc_lost_text(c, "4.7.5", "cannot start TLS with %s: no TLS bufferevent", c->host);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
    smtpc_use_bev(c, b);
    smtpc_set_state(c, SMTPC_S_HANDSHAKE);
}

/* verify_failure - why the certificate is not verified (static text) */
static const char *verify_failure(smtpc *c, SSL *ssl)
{
    if (!c->verify_name)
        return "no name to verify the certificate against";
    if (!SSL_get0_peer_certificate(ssl))
        return "the server sent no certificate";
    return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

void smtpc_tls_established(smtpc *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    c->f.tls_active = 1;
    snprintf(c->f.tls_info, sizeof c->f.tls_info, "%s with cipher %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
    c->f.tls_verified = c->verify_name && SSL_get0_peer_certificate(ssl) &&
                        SSL_get_verify_result(ssl) == X509_V_OK;
    log_debug(LOG_NOQUEUE, "%s: TLS established: %s%s", c->peer, c->f.tls_info,
              c->f.tls_verified ? ", certificate verified" : "");
    smtpc_observed(c, SMTPC_STEP_TLS, NULL, NULL, NULL, 0);
    if (c->o.tls == SMTPC_TLS_VERIFY && !c->f.tls_verified) {
        smtpc_reply r;
        smtpc_reply_set(&r, 0, "4.7.5", SMTPC_ST_STARTTLS, 0,
                        "server certificate not verified for %s: %s", c->host,
                        verify_failure(c, ssl));
        smtpc_fail_polite(c, &r);
        return;
    }
    smtpc_send_ehlo(c);
}

SSL *smtpc_tls_ssl(const smtpc *c)
{
    return c->f.tls_active && c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
}

void smtpc_tls_failed(smtpc *c, short what)
{
    char reason[256] = "";
    unsigned long e, last = 0;
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
        last = e;
    int err = EVUTIL_SOCKET_ERROR();
    if (last)
        ERR_error_string_n(last, reason, sizeof reason);
    else if (what & BEV_EVENT_EOF)
        snprintf(reason, sizeof reason, "the server closed the connection");
    else
        snprintf(reason, sizeof reason, "%s", strerror(err ? err : ECONNRESET));
    ERR_clear_error();
    smtpc_lost_text(c, "4.7.5", "TLS handshake with %s failed: %s", c->host, reason);
}
