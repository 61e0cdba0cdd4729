/* smtpc_hello.c - from the greeting to READY: the banner, EHLO (HELO when EHLO gets a 5xx),
 * the capabilities, the STARTTLS decision by TLS level, and the replies that end a
 * connection (QUIT's, an unsolicited one while idle).
 *
 * Decisions:
 *  - A 2xx greeting goes on; 421 is the server closing (smtpc_conn.c); any other refusal
 *    ends in FAILED with that reply after a polite QUIT.
 *  - EHLO 5xx: HELO (no extensions); EHLO 4xx or HELO refused: FAILED after QUIT.
 *  - TLS none: never STARTTLS.  may: STARTTLS when offered; a refused STARTTLS goes on in
 *    plaintext; a failed handshake is FAILED (stage STARTTLS, code 0: the scheduler may
 *    retry in plaintext).  encrypt/verify: not offered (or no TLS context) is FAILED, and a
 *    refused STARTTLS too.  After TLS the capabilities are asked for again (RFC 3207).
 * Capability keywords are matched case-insensitively, one per EHLO line after the first. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "client/smtpc_int.h"
#include "common/log.h"

/* The flag capabilities: keyword and field. */
static const struct {
    const char *name;
    size_t off;
} flag_caps[] = {
    {"PIPELINING", offsetof(smtpc_features, pipelining)},
    {"8BITMIME", offsetof(smtpc_features, eightbitmime)},
    {"SMTPUTF8", offsetof(smtpc_features, smtputf8)},
    {"STARTTLS", offsetof(smtpc_features, starttls)},
    {"ENHANCEDSTATUSCODES", offsetof(smtpc_features, enhancedstatuscodes)},
    {"CHUNKING", offsetof(smtpc_features, chunking)},
};

/* parse_size - the number after "SIZE"; 0 when absent, bad or unlimited */
static int64_t parse_size(const char *s, size_t n)
{
    int64_t v = 0;
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10)
            return 0;   /* absurdly large: no practical limit */
        v = v * 10 + (s[i] - '0');
    }
    return i == n || s[i] == ' ' ? v : 0;
}

/* feature_line - one EHLO capability line "KEYWORD [params]" */
static void feature_line(smtpc *c, const char *s, size_t n)
{
    size_t kw = 0;
    while (kw < n && s[kw] != ' ')
        kw++;
    if (kw == 4 && strncasecmp(s, "SIZE", 4) == 0) {
        c->size_offered = 1;
        c->f.size_limit = parse_size(s + 4, n - 4);
        return;
    }
    if (kw >= 4 && strncasecmp(s, "AUTH", 4) == 0 && (kw == 4 || s[4] == '=')) {
        smtpc_parse_auth(c, s + 4, n - 4);   /* "AUTH PLAIN LOGIN", old "AUTH=PLAIN LOGIN" */
        return;
    }
    for (size_t i = 0; i < sizeof flag_caps / sizeof flag_caps[0]; i++) {
        if (strlen(flag_caps[i].name) == kw && strncasecmp(s, flag_caps[i].name, kw) == 0) {
            int one = 1;
            memcpy((char *)&c->f + flag_caps[i].off, &one, sizeof one);
        }
    }
}

/* features_reset - forget the capabilities (the TLS facts stay) */
static void features_reset(smtpc *c)
{
    smtpc_features keep = c->f;
    memset(&c->f, 0, sizeof c->f);
    c->f.tls_active = keep.tls_active;
    c->f.tls_verified = keep.tls_verified;
    c->f.authenticated = keep.authenticated;
    memcpy(c->f.tls_info, keep.tls_info, sizeof c->f.tls_info);
    c->size_offered = 0;
}

void smtpc_parse_features(smtpc *c, const char *raw, size_t rawlen)
{
    size_t off = 0, n;
    const char *t;
    int first = 1;
    features_reset(c);
    c->f.esmtp = 1;
    while (smtpc_reply_line(raw, rawlen, &off, &t, &n)) {
        if (!first)
            feature_line(c, t, n);
        first = 0;
    }
}

void smtpc_send_ehlo(smtpc *c)
{
    smtpc_command(c, "EHLO %s", c->helo_name);
    smtpc_set_state(c, SMTPC_S_EHLO);
}

void smtpc_ready(smtpc *c)
{
    smtpc_set_state(c, SMTPC_S_READY);
    if (c->quit_wanted) {
        smtpc_send_quit(c);
        return;
    }
    smtpc_reply r;
    smtpc_reply_set(&r, 0, NULL, SMTPC_ST_EHLO, 0, "%s", "");
    smtpc_report_event(c, SMTPC_EV_READY, &r);
}

/* tls_missing - encrypt/verify, but no STARTTLS to be had: QUIT and FAILED */
static void tls_missing(smtpc *c)
{
    smtpc_reply r;
    smtpc_reply_set(&r, 0, "4.7.4", SMTPC_ST_EHLO, 0, "%s",
                    c->f.starttls ? "TLS is required but no TLS client context is configured"
                                  : "TLS is required but the server does not offer STARTTLS");
    smtpc_fail_polite(c, &r);
}

/* after_hello - EHLO/HELO done: STARTTLS when the level asks, else READY */
static void after_hello(smtpc *c)
{
    if (c->f.tls_active || c->o.tls == SMTPC_TLS_NONE) {
        smtpc_auth_or_ready(c);
    } else if (c->f.starttls && c->o.tls_ctx) {
        smtpc_command(c, "STARTTLS");
        smtpc_set_state(c, SMTPC_S_STARTTLS);
    } else if (c->o.tls == SMTPC_TLS_MAY) {
        smtpc_auth_or_ready(c);
    } else {
        tls_missing(c);
    }
}

void smtpc_on_greeting(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (r->code / 100 != 2) {
        smtpc_fail_polite(c, r);
        return;
    }
    smtpc_reply_clear(r);
    smtpc_send_ehlo(c);
}

void smtpc_on_ehlo(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (r->code / 100 == 2) {
        smtpc_reply_clear(r);
        smtpc_parse_features(c, raw, rawlen);
        after_hello(c);
    } else if (r->code / 100 == 5) {
        smtpc_reply_clear(r);
        smtpc_command(c, "HELO %s", c->helo_name);
        smtpc_set_state(c, SMTPC_S_HELO);
    } else {
        smtpc_fail_polite(c, r);
    }
}

void smtpc_on_helo(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (r->code / 100 != 2) {
        smtpc_fail_polite(c, r);
        return;
    }
    smtpc_reply_clear(r);
    features_reset(c);
    after_hello(c);
}

void smtpc_on_starttls(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    if (r->code / 100 == 2) {
        smtpc_reply_clear(r);
        smtpc_tls_start(c);
    } else if (c->o.tls == SMTPC_TLS_MAY) {
        log_debug(LOG_NOQUEUE, "%s: STARTTLS refused, going on in plaintext", c->peer);
        smtpc_reply_clear(r);
        smtpc_auth_or_ready(c);
    } else {
        smtpc_fail_polite(c, r);
    }
}

void smtpc_on_idle(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    smtpc_lost(c, r);   /* nothing was asked: the server is confused or closing */
}

void smtpc_on_quit(smtpc *c, smtpc_reply *r, const char *raw, size_t rawlen)
{
    smtpc_lost(c, r);   /* the end we wanted: close and report */
}
