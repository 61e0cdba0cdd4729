/* smtpd_tls.c - TLS for the server: the SSL_CTX from PEM files, and the STARTTLS upgrade of
 * a session's connection (RFC 3207).
 *
 * The upgrade happens only after the "220 Ready to start TLS" has left the plain
 * bufferevent: its socket is then taken over by a bufferevent_openssl_socket_new on the same
 * descriptor.  A socket-based TLS bufferevent (rather than a filter over the plain one) means
 * "output empty" really means "handed to the kernel", which the close-after-flush rule
 * relies on; with a filter, the final reply could still sit in the underlying buffer when
 * the session is freed.  Whatever plaintext the client sent after STARTTLS is discarded
 * (CVE-2011-0411): the input buffer is drained here, and bytes still in the kernel become
 * handshake garbage, which fails the handshake.
 * Ownership: the TLS bufferevent owns the SSL and the descriptor (BEV_OPT_CLOSE_ON_FREE). */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

#include "common/log.h"
#include "server/smtpd_int.h"

/* tls_error - "what: OpenSSL's reason" into err */
static void tls_error(char *err, int errlen, const char *what, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    snprintf(err, (size_t)errlen, "%s %s: %s", what, file, reason);
}

SSL_CTX *smtpd_tls_ctx(const char *cert_file, const char *key_file, char *err, int errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_error(err, errlen, "SSL_CTX_new", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        tls_error(err, errlen, "certificate", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        tls_error(err, errlen, "private key", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(err, errlen, "key does not match certificate", cert_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int smtpd_tls_start(smtpd_session *s)
{
    struct bufferevent *plain = s->bev;
    evutil_socket_t fd = bufferevent_getfd(plain);
    SSL *ssl = SSL_new(s->l->o.tls);
    if (!ssl || fd < 0) {
        log_warn(LOG_NOQUEUE, "STARTTLS: cannot create a TLS session");
        SSL_free(ssl);
        return -1;
    }
    struct evbuffer *in = bufferevent_get_input(plain);
    evbuffer_drain(in, evbuffer_get_length(in));
    s->plain_socket = 0;
    smtpd_read_stop(s);   /* the TLS bufferevent reads from now on */
    bufferevent_disable(plain, EV_READ | EV_WRITE);
    bufferevent_setfd(plain, -1);   /* keep the socket open past the free */
    bufferevent_free(plain);
    s->bev = NULL;
    struct bufferevent *b = bufferevent_openssl_socket_new(
        s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!b) {   /* libevent may or may not have freed ssl and fd: leave both alone */
        log_warn(LOG_NOQUEUE, "STARTTLS: cannot create a TLS bufferevent");
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
    smtpd_session_use_bev(s, b);
    s->tls_pending = 0;
    s->handshaking = 1;
    smtpd_transaction_reset(s);   /* RFC 3207 §4.2: forget everything said before */
    s->helo[0] = 0;
    s->esmtp = 0;
    s->state = SMTPD_ST_INIT;
    return 0;
}

void smtpd_tls_established(smtpd_session *s)
{
    char peer[96];
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    s->handshaking = 0;
    s->tls = 1;
    snprintf(s->tls_info, sizeof s->tls_info, "%s %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
    log_info(LOG_NOQUEUE, "TLS established from %s: %s", smtpd_peer_name(s, peer, sizeof peer),
             s->tls_info);
}
