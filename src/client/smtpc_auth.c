/* smtpc_auth.c - SMTP AUTH (RFC 4954) before READY, for relays that want a login (an ESP's
 * smarthost): PLAIN (RFC 4616) with its initial response, else LOGIN.  Both send the
 * password as it is, so without TLS they are used only when the owner allows it
 * (auth_plain_ok: Postfix's smtp_sasl_security_options without noplaintext).
 *
 * Decisions:
 *  - no login configured, or the server offers no AUTH: READY without one (as Postfix: the
 *    server decides whether it relays for us);
 *  - AUTH offered but no mechanism we may use: FAILED, 4.7.0, before any secret is sent;
 *  - 235: READY; any other reply ends in FAILED as a local 4.7.0 "SASL authentication
 *    failed; server ... said: ..." (code 0), so the mail is deferred, never bounced, as with
 *    Postfix's smtp_sasl_auth_soft_bounce: a wrong password is the sender's to fix.
 * Secrets never reach a log: the commands are logged as "AUTH PLAIN ********". */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/smtpc_int.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* b64 - base64 of n bytes (caller frees) */
static char *b64(const void *p, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* send_secret - send "shown SECRET" (or the secret alone, shown "") while logging only
 * "shown ********"; secret (malloc'd) is wiped and freed */
static void send_secret(smtpc *c, const char *shown, char *secret)
{
    dbuf line = {0};
    dbuf_printf(&line, "%s%s%s\r\n", shown, shown[0] ? " " : "", secret);
    log_debug(LOG_NOQUEUE, "%s: > %s%s********", c->peer, shown, shown[0] ? " " : "");
    smtpc_observed(c, SMTPC_STEP_COMMAND, shown[0] ? shown : "********", NULL, NULL, 0);
    smtpc_write(c, line.data, line.len);
    explicit_bzero(line.data, line.len);
    dbuf_free(&line);
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

#define FAILED_TEXT "SASL authentication failed"

int smtpc_login_failed(int code, const char *enh, const char *text)
{
    return !code && enh && !strcmp(enh, "4.7.0") && text && !strncmp(text, FAILED_TEXT, strlen(FAILED_TEXT));
}

/* auth_failed - FAILED as a local 4.7.0 (a deferral), naming the server's reply if any */
static void auth_failed(smtpc *c, const smtpc_reply *r, const char *why)
{
    smtpc_reply f;
    if (r)
        smtpc_reply_set(&f, 0, "4.7.0", SMTPC_ST_EHLO, 0,
                        FAILED_TEXT "; server %s said: %d %s%s%s", c->peer, r->code,
                        r->enh, r->enh[0] ? " " : "", r->text ? r->text : "");
    else
        smtpc_reply_set(&f, 0, "4.7.0", SMTPC_ST_EHLO, 0, FAILED_TEXT ": %s", why);
    smtpc_fail_polite(c, &f);
}

/* plain_response - RFC 4616's message, base64: authzid (empty) NUL authcid NUL passwd
 * (caller wipes and frees) */
static char *plain_response(const smtpc *c)
{
    size_t u = strlen(c->o.auth_user), p = strlen(c->o.auth_pass);
    char *raw = xmalloc(u + p + 2);
    raw[0] = 0;
    memcpy(raw + 1, c->o.auth_user, u);
    raw[u + 1] = 0;
    memcpy(raw + u + 2, c->o.auth_pass, p);
    char *enc = b64(raw, u + p + 2);
    explicit_bzero(raw, u + p + 2);
    free(raw);
    return enc;
}

void smtpc_parse_auth(smtpc *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        while (i < n && (s[i] == ' ' || s[i] == '='))
            i++;
        size_t w = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i - w == 5 && !strncasecmp(s + w, "PLAIN", 5))
            c->f.auth |= SMTPC_AUTH_PLAIN;
        else if (i - w == 5 && !strncasecmp(s + w, "LOGIN", 5))
            c->f.auth |= SMTPC_AUTH_LOGIN;
        else if (i > w)
            c->f.auth |= SMTPC_AUTH_OTHER;
    }
}

void smtpc_auth_or_ready(smtpc *c)
{
    if (!c->o.auth_user || !c->f.auth) {
        smtpc_ready(c);
        return;
    }
    unsigned usable = c->f.auth & (c->o.auth_mechs ? c->o.auth_mechs : ~0u) & (SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN);
    if (!c->f.tls_active && !c->o.auth_plain_ok) {
        auth_failed(c, NULL, "no TLS, and PLAIN and LOGIN would send the password in the clear "
                             "(smtp_sasl_security_options has noplaintext)");
        return;
    }
    if (c->f.tls_active && !c->o.auth_tls_plain_ok) {
        auth_failed(c, NULL, "PLAIN and LOGIN are plaintext mechanisms and "
                             "smtp_sasl_tls_security_options has noplaintext");
        return;
    }
    if (!usable) {
        auth_failed(c, NULL, "the server offers no mechanism sluice may use (PLAIN, LOGIN; "
                             "smtp_sasl_mechanism_filter)");
        return;
    }
    c->auth_step = 0;
    c->auth_login = !(usable & SMTPC_AUTH_PLAIN);
    if (c->auth_login) {
        smtpc_command(c, "AUTH LOGIN");
    } else {
        send_secret(c, "AUTH PLAIN", plain_response(c));
    }
    smtpc_set_state(c, SMTPC_S_AUTH);
}

void smtpc_on_auth(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    (void)raw;
    (void)rawlen;
    if (r->code == 235) {
        smtpc_reply_clear(r);
        c->f.authenticated = 1;
        smtpc_ready(c);
    } else if (r->code == 334 && c->auth_login && c->auth_step < 2) {
        const char *v = c->auth_step++ == 0 ? c->o.auth_user : c->o.auth_pass;
        send_secret(c, "", b64(v, strlen(v)));
        smtpc_reply_clear(r);
    } else if (r->code == 334 && !c->auth_login && c->auth_step++ == 0) {
        send_secret(c, "", plain_response(c));   /* a server that ignored the initial response */
        smtpc_reply_clear(r);
    } else {
        if (r->code == 334)
            smtpc_command(c, "*");   /* RFC 4954: cancel an exchange we cannot follow */
        auth_failed(c, r, NULL);
        smtpc_reply_clear(r);
    }
}
