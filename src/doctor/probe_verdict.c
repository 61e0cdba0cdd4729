/* probe_verdict.c - one probe session judged phase by phase, as the seed's Step 3 reads a
 * telnet session: checks "PHASE:host[ip]" (connect, greeting, ehlo, starttls, cert-chain,
 * cert-name, cert-expiry, mail, rcpt) with expected vs actual and a one-line explanation,
 * and one verdict per address: the first failure decides (connection refused, connect or
 * banner timeout — the two "hangs" —, closed or refused at the greeting, EHLO/HELO refused,
 * TLS handshake failed, MAIL or RCPT refused, a timeout or lost connection later); without
 * a failure, certificate or STARTTLS trouble makes it tls_problem, else ok.  Refusals are
 * classified (src/shaping/classify.h) and the advice follows the class.
 * Called by doctor_probe.c once per address; the facts' JSON comes from probe_json.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doctor/probe.h"

/* One address being judged. */
typedef struct judge {
    report *r;
    const probe_env *env;
    const probe_addr *a;
    const probe_session *s;
    probe_phases ph;
    probe_result *out;
    int decided;                  /* a failure decided the verdict: stop judging */
    int tls_warned;               /* STARTTLS or certificate trouble */
    const smtpc_reply *deciding;  /* the reply that decided, for the JSON */
} judge;

static const char *const verdict_names[PV_COUNT] = {
    [PV_OK] = "ok",
    [PV_TLS_PROBLEM] = "tls_problem",
    [PV_CONNECTION_REFUSED] = "connection_refused",
    [PV_CONNECT_TIMEOUT] = "connect_timeout",
    [PV_UNREACHABLE] = "unreachable",
    [PV_CONNECT_ERROR] = "connect_error",
    [PV_BANNER_TIMEOUT] = "banner_timeout",
    [PV_CLOSED_AT_GREETING] = "closed_at_greeting",
    [PV_REFUSED_AT_GREETING] = "refused_at_greeting",
    [PV_HELO_REFUSED] = "helo_refused",
    [PV_MAIL_REFUSED] = "mail_refused",
    [PV_RCPT_REFUSED] = "rcpt_refused",
    [PV_TIMEOUT] = "timeout",
    [PV_LOST_CONNECTION] = "lost_connection",
};

/* What to do about a refusal, by its class. */
static const char *const class_advice[RC_NCLASSES] = {
    [RC_GREYLISTING] = "greylisting: the first attempt is refused on purpose and a retry after "
                       "the delay gets through; nothing to fix",
    [RC_TOO_MANY_CONNECTIONS] = "too many connections from your IP at once: lower "
                                "smtp_destination_concurrency_limit for this destination",
    [RC_RATE_LIMITED] = "your IP sends faster than the receiver allows: slow down "
                        "(smtp_destination_rate_delay) and let retries spread the queue",
    [RC_REPUTATION] = "the receiver distrusts the reputation of your IP or domain: check "
                      "blocklists and reverse DNS (sluice doctor ip), complaint rates, and "
                      "warm new IPs up slowly (sluice doctor warmup)",
    [RC_AUTHENTICATION] = "the receiver wants SPF, DKIM, DMARC or reverse DNS in order: "
                          "sluice doctor domain and sluice doctor ip",
    [RC_OVERLOADED] = "the receiver says it is overloaded or in maintenance: not about you; "
                      "queued mail goes later",
    [RC_MAILBOX] = "about the recipient's mailbox (unknown, full, disabled), not your IP",
    [RC_PERMANENT] = "a permanent refusal: mail is returned, not retried; read the text",
    [RC_OTHER] = "the text names no cause the classifier knows: read it",
};

const char *probe_verdict_name(enum probe_verdict v)
{
    return v < PV_COUNT ? verdict_names[v] : "?";
}

int probe_deliverable(const probe_result *res)
{
    return res->st != CK_FAIL;
}

/* check - one check of this address (id "PHASE:host[ip]"), keeping the worst status */
static int check(judge *j, enum check_status st, const char *phase, const char *title,
                 const char *expected, const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int check(judge *j, enum check_status st, const char *phase, const char *title,
                 const char *expected, const char *actual, const char *fmt, ...)
{
    char id[400], expl[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expl, sizeof expl, fmt, ap);
    va_end(ap);
    snprintf(id, sizeof id, "%s:%s", phase, j->a->label);
    if (st > j->out->st)
        j->out->st = st;
    return report_check(j->r, st, id, title, expected, actual, expl);
}

/* evidence - a reply (or any text) as evidence lines, one per line */
static void evidence(judge *j, int i, const char *text)
{
    char line[1100];
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)(n < 1000 ? n : 1000), p);
        report_evidence(j->r, i, line);
        p = nl ? nl + 1 : NULL;
    }
}

/* decide - the verdict, once: the first failure wins */
static void decide(judge *j, enum probe_verdict v, const smtpc_reply *why)
{
    if (j->decided)
        return;
    j->out->v = v;
    j->decided = 1;
    j->deciding = why;
}

/* end_reply - how the session ended (FAILED's reply, else CLOSED's) */
static const smtpc_reply *end_reply(const probe_session *s)
{
    return s->failed ? &s->fail : &s->closed;
}

/* timed_out - the client's text says a timeout ended it */
static int timed_out(const smtpc_reply *r)
{
    return r->text && (strstr(r->text, "timed out") || strstr(r->text, strerror(ETIMEDOUT)));
}

/* reply_line - "421 4.7.0 text" of a reply into buf */
static const char *reply_line(const smtpc_reply *r, char *buf, size_t len)
{
    snprintf(buf, len, "%d%s%s %s", r->code, r->enh[0] ? " " : "", r->enh,
             r->text ? r->text : "");
    return buf;
}

/* permanent_advice - what a 5xx means by its enhanced code's subject (RFC 3463) */
static const char *permanent_advice(const smtpc_reply *r)
{
    if (!strncmp(r->enh, "5.1.", 4))
        return "a permanent refusal of the address (5.1.x: no such mailbox or domain): mail "
               "to it is returned; nothing about your IP";
    if (!strncmp(r->enh, "5.2.", 4))
        return "a permanent refusal by the mailbox (5.2.x: full or disabled): mail to it is "
               "returned";
    if (!strncmp(r->enh, "5.7.", 4))
        return "a permanent refusal by policy (5.7.x): a blocklist, a policy naming your IP, "
               "or authentication; read the text and run sluice doctor ip / doctor domain";
    return class_advice[RC_PERMANENT];
}

/* classify_reply - the class of a refusal into out->cls; the note for explanations */
static const char *classify_reply(judge *j, const smtpc_reply *r, char *note, size_t len)
{
    note[0] = 0;
    if (!j->env->cls)
        return "read the text (the reply classifier is not available)";
    classify_input in = {r->code, r->enh, r->text ? r->text : "", (int)r->stage, r->closed};
    classify(j->env->cls, &in, &j->out->cls);
    j->out->classified = 1;
    const classify_result *c = &j->out->cls;
    int o = snprintf(note, len, " [class %s", reply_class_name(c->cls));
    if (c->provider && o > 0 && (size_t)o < len)
        o += snprintf(note + o, len - (size_t)o, ", %s", c->provider);
    if (c->retry_hint_s >= 0 && o > 0 && (size_t)o < len)
        o += snprintf(note + o, len - (size_t)o, "; the text asks to wait %lld s",
                      (long long)c->retry_hint_s);
    if (o > 0 && (size_t)o < len)
        snprintf(note + o, len - (size_t)o, "]");
    if (c->cls == RC_PERMANENT)
        return permanent_advice(r);
    return c->cls < RC_NCLASSES ? class_advice[c->cls] : class_advice[RC_OTHER];
}

/* class_data - the refusal and its class as check i's data */
static void class_data(judge *j, int i, const smtpc_reply *r)
{
    json_t *d = probe_reply_json(r);
    if (j->out->classified && json_is_object(d)) {
        const classify_result *c = &j->out->cls;
        json_object_set_new(d, "class", json_string(reply_class_name(c->cls)));
        json_object_set_new(d, "rule", json_string(c->rule ? c->rule : ""));
        json_object_set_new(d, "provider", c->provider ? json_string(c->provider) : json_null());
        json_object_set_new(d, "retry_hint_s", json_integer(c->retry_hint_s));
    }
    report_check_data(j->r, i, d);
}

/* refusal - a refused phase: classified, explained, decided; the evidence is the reply as
 * received (raw, from the transcript) when there is one */
static void refusal(judge *j, const char *phase, const char *title, const char *want,
                    const char *why, const smtpc_reply *r, const probe_line *raw,
                    enum probe_verdict v, enum check_status st)
{
    char note[256], got[600];
    const char *advice = classify_reply(j, r, note, sizeof note);
    int i = check(j, st, phase, title, want, reply_line(r, got, sizeof got), "%s: %s%s", why,
                  advice, note);
    class_data(j, i, r);
    evidence(j, i, raw && raw->code == r->code ? raw->text : r->text);
    decide(j, v, r);
}

/* broken - the conversation ended in a phase without its reply: a timeout or a close */
static void broken(judge *j, const char *phase, const char *title, const char *want,
                   const smtpc_reply *r)
{
    int timeout = timed_out(r);
    int i = timeout ? check(j, CK_FAIL, phase, title, want, "no reply in time",
                            "the server did not answer within %.1f s: overloaded, tarpitting, "
                            "or a middlebox holding the connection",
                            (double)j->env->timeout_ms / 1000)
                    : check(j, CK_FAIL, phase, title, want, "the connection was lost", "%s",
                            "the server closed the connection without a reply: overloaded, "
                            "or dropping clients it does not want");
    evidence(j, i, r->text);
    decide(j, timeout ? PV_TIMEOUT : PV_LOST_CONNECTION, r);
}

/* connect_verdict - what a failed connect was */
static enum probe_verdict connect_verdict(const smtpc_reply *r)
{
    const char *t = r->text ? r->text : "";
    if (strstr(t, strerror(ECONNREFUSED)))
        return PV_CONNECTION_REFUSED;
    if (strstr(t, strerror(ETIMEDOUT)))
        return PV_CONNECT_TIMEOUT;
    if (strstr(t, strerror(ENETUNREACH)) || strstr(t, strerror(EHOSTUNREACH)))
        return PV_UNREACHABLE;
    return PV_CONNECT_ERROR;
}

/* connect_failed - no TCP connection: refused, a hang, no route, other */
static void connect_failed(judge *j, const char *want)
{
    const smtpc_reply *r = end_reply(j->s);
    enum probe_verdict v = connect_verdict(r);
    char got[160];
    int v6 = j->a->addr.ss.ss_family == AF_INET6;
    snprintf(got, sizeof got, "%s after %.1f ms",
             v == PV_CONNECTION_REFUSED ? strerror(ECONNREFUSED)
             : v == PV_CONNECT_TIMEOUT  ? "no answer"
             : v == PV_UNREACHABLE      ? "no route"
                                        : "an error",
             j->s->end_ms);
    const char *why =
        v == PV_CONNECTION_REFUSED
            ? "the host answered with a reset: nothing listens on this port (no mail server "
              "there), or a firewall rejects the connection"
        : v == PV_CONNECT_TIMEOUT
            ? "a hang at connect: outbound port 25 blocked (most cloud and home providers "
              "block it: ask them to open it, or relay through a smarthost on port 587), a "
              "firewall dropping the packets, or the host is down"
        : v == PV_UNREACHABLE
            ? (v6 ? "no route to this IPv6 address: this host has no IPv6 connectivity; MTAs "
                    "then use the IPv4 addresses"
                  : "no route to this address: a routing or firewall problem on this side")
            : "the connection could not be made: read the error";
    int i = check(j, CK_FAIL, "connect", "TCP connection", want, got, "%s", why);
    evidence(j, i, r->text);
    decide(j, v, r);
}

/* judge_connect - the TCP connection */
static void judge_connect(judge *j)
{
    char want[120], ip[NETADDR_STRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&j->a->addr.ss;
    snprintf(want, sizeof want, "a connection to %s port %d", netaddr_ip(sa, ip, sizeof ip),
             netaddr_port(sa));
    if (!j->s->connected) {
        connect_failed(j, want);
        return;
    }
    char got[80];
    snprintf(got, sizeof got, "connected in %.1f ms", j->ph.ms[PH_CONNECT]);
    check(j, CK_PASS, "connect", "TCP connection", want, got, "%s",
          "something listens and accepts connections");
}

/* no_greeting - connected, but no banner: a hang or a silent close */
static void no_greeting(judge *j)
{
    const smtpc_reply *r = end_reply(j->s);
    double waited = j->s->end_ms - j->ph.connected_at;
    char got[120];
    int hang = timed_out(r);
    snprintf(got, sizeof got, "%s after %.1f s", hang ? "no greeting" : "closed",
             waited / 1000);
    int i = check(j, CK_FAIL, "greeting", "Greeting (banner)", "a 220 greeting", got, "%s",
                  hang ? "a hang after the TCP connection was made: a tarpit, a firewall or "
                         "provider proxy that intercepts outbound port 25, or an overloaded "
                         "server; if every host hangs like this, outbound port 25 is blocked"
                       : "the server closed (or reset) the connection without a greeting: "
                         "receivers drop clients they refuse this way, or it is overloaded");
    evidence(j, i, r->text);
    decide(j, hang ? PV_BANNER_TIMEOUT : PV_CLOSED_AT_GREETING, r);
}

/* judge_greeting - the banner: 220, a refusal, or nothing */
static void judge_greeting(judge *j)
{
    const probe_line *g = j->ph.reply[PH_GREETING];
    char got[600];
    if (!g) {
        no_greeting(j);
        return;
    }
    if (g->code / 100 != 2) {
        refusal(j, "greeting", "Greeting (banner)", "a 220 greeting",
                "refused at the greeting, before any command was sent", &j->s->fail, g,
                PV_REFUSED_AT_GREETING, CK_FAIL);
        return;
    }
    double ms = j->ph.ms[PH_GREETING];
    snprintf(got, sizeof got, "%d in %.1f ms", g->code, ms);
    int slow = ms > PROBE_SLOW_GREETING_MS;
    int i = check(j, slow ? CK_WARN : CK_PASS, "greeting", "Greeting (banner)",
                  "a 220 greeting", got, "%s",
                  slow ? "a slow greeting: postscreen's greet pause or a tarpit; MTAs wait "
                         "(Postfix 300 s) but every connection costs that much"
                       : "the server accepts this connection");
    evidence(j, i, g->text);
}

/* ehlo_refused - EHLO (and HELO) refused */
static void ehlo_refused(judge *j)
{
    char why[400];
    snprintf(why, sizeof why, "the receiver refused our EHLO/HELO name %s (%s); many check "
             "that it is a FQDN resolving to the sending IP (sluice doctor ip IP --helo %s)",
             j->env->helo, j->env->helo_source, j->env->helo);
    const probe_line *raw = j->ph.reply[PH_EHLO_TLS] ? j->ph.reply[PH_EHLO_TLS]
                                                     : j->ph.reply[PH_EHLO];
    refusal(j, "ehlo", "EHLO", "250 to EHLO", why, end_reply(j->s), raw, PV_HELO_REFUSED,
            CK_FAIL);
}

/* judge_ehlo - EHLO accepted (with its extensions), HELO only, or refused */
static void judge_ehlo(judge *j)
{
    const probe_line *e = j->ph.reply[PH_EHLO];
    char got[600];
    if (!e) {
        broken(j, "ehlo", "EHLO", "250 to EHLO", end_reply(j->s));
        return;
    }
    if (e->code / 100 != 2) {
        ehlo_refused(j);
        return;
    }
    if (j->ph.helo_fallback) {
        snprintf(got, sizeof got, "EHLO refused (%d), HELO accepted",
                 j->ph.ehlo_refusal ? j->ph.ehlo_refusal->code : 0);
        int i = check(j, CK_WARN, "ehlo", "EHLO", "250 to EHLO", got, "%s",
                      "no ESMTP: no STARTTLS, PIPELINING, SIZE or 8BITMIME; mail still goes, "
                      "in cleartext");
        evidence(j, i, j->ph.ehlo_refusal ? j->ph.ehlo_refusal->text : NULL);
        return;
    }
    json_t *kw = probe_ehlo_keywords(e->text);
    snprintf(got, sizeof got, "%d in %.1f ms, %zu extensions", e->code, j->ph.ms[PH_EHLO],
             json_array_size(kw));
    int i = check(j, CK_PASS, "ehlo", "EHLO", "250 to EHLO", got, "the server accepts EHLO %s",
                  j->env->helo);
    report_check_data(j->r, i, json_pack("{s:o}", "extensions", kw));
}

/* cert_chain - the chain verified against the CA store, or a warning */
static void cert_chain(judge *j, const probe_cert *c)
{
    char got[600];
    const char *store = j->env->ca_source ? j->env->ca_source : "the CA store";
    snprintf(got, sizeof got, "%s (issuer %s)", c->verify == 0 ? "verified" : c->verify_text,
             c->issuer);
    j->tls_warned |= c->verify != 0;
    if (c->verify == 0)
        check(j, CK_PASS, "cert-chain", "Certificate chain", "a chain to a trusted CA", got,
              "trusted by %s", store);
    else
        check(j, CK_WARN, "cert-chain", "Certificate chain", "a chain to a trusted CA", got,
              "not trusted by %s: opportunistic TLS (level may, the default of sluice and "
              "Postfix) still delivers, encrypted but unauthenticated; senders that verify "
              "(MTA-STS enforce, DANE, level verify) defer mail to this host",
              store);
}

/* cert_name - the MX host name among the certificate's names (not for a literal) */
static void cert_name(judge *j, const probe_cert *c)
{
    char names[400] = "";
    size_t o = 0;
    if (!c->name_checked)
        return;
    if (c->cn)
        o += (size_t)snprintf(names, sizeof names, "CN=%s", c->cn);
    for (int k = 0; k < c->nnames && o < sizeof names; k++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", c->names[k]);
    j->tls_warned |= !c->name_match;
    check(j, c->name_match ? CK_PASS : CK_WARN, "cert-name", "Certificate name", j->a->host,
          names[0] ? names : "no names", "%s",
          c->name_match ? "the certificate is for this MX host"
                        : "the certificate is not for this MX host: senders that verify names "
                          "(MTA-STS, level verify) defer mail to it");
}

/* cert_expiry - valid now and for a while yet */
static void cert_expiry(judge *j, const probe_cert *c)
{
    char got[120];
    int bad = c->expired || c->not_yet_valid;
    int warn = bad || c->days_left < PROBE_CERT_WARN_DAYS;
    if (c->expired)
        snprintf(got, sizeof got, "expired on %s (%d days ago)", c->not_after, -c->days_left);
    else if (c->not_yet_valid)
        snprintf(got, sizeof got, "not valid before %s", c->not_before);
    else
        snprintf(got, sizeof got, "valid until %s (%d days left)", c->not_after, c->days_left);
    j->tls_warned |= warn;
    check(j, warn ? CK_WARN : CK_PASS, "cert-expiry", "Certificate validity",
          "valid for 14 days or more", got, "%s",
          bad    ? "senders that verify refuse it; opportunistic TLS still delivers"
          : warn ? "renew it soon"
                 : "the dates are fine");
}

/* tls_failed - STARTTLS accepted, the handshake failed */
static void tls_failed(judge *j)
{
    const smtpc_reply *r = end_reply(j->s);
    if (r->stage != SMTPC_ST_STARTTLS || r->code != 0) {
        broken(j, "starttls", "STARTTLS", "a TLS session", r);
        return;
    }
    int i = check(j, CK_FAIL, "starttls", "STARTTLS", "a TLS session", "handshake failed",
                  "%s", "a TLS problem: sluice (level may) retries this host without TLS, "
                  "senders that require TLS cannot deliver; --no-tls probes the rest in "
                  "cleartext");
    evidence(j, i, r->text);
    j->tls_warned = 1;
    decide(j, PV_TLS_PROBLEM, r);
}

/* tls_done - the session is encrypted: protocol, cipher, times, certificate */
static void tls_done(judge *j)
{
    char got[300];
    snprintf(got, sizeof got, "%s, %s in %.1f ms (STARTTLS %.1f ms + handshake %.1f ms)",
             j->s->tls_version, j->s->tls_cipher, j->ph.ms[PH_STARTTLS] + j->ph.ms[PH_TLS],
             j->ph.ms[PH_STARTTLS], j->ph.ms[PH_TLS]);
    check(j, CK_PASS, "starttls", "STARTTLS", "a TLS session", got, "%s",
          "mail to this host is encrypted");
    if (!j->s->have_cert)
        return;
    cert_chain(j, &j->s->cert);
    cert_name(j, &j->s->cert);
    cert_expiry(j, &j->s->cert);
}

/* judge_tls - STARTTLS: not offered, not tried, refused, failed, or up */
static void judge_tls(judge *j)
{
    const probe_line *e = j->ph.reply[PH_EHLO], *st = j->ph.reply[PH_STARTTLS];
    char got[600];
    if (j->ph.helo_fallback || !probe_ehlo_offers(e->text, "STARTTLS")) {
        check(j, CK_INFO, "starttls", "STARTTLS", "STARTTLS offered", "not offered", "%s",
              "mail to this host travels unencrypted; nothing to fix on the sending side");
    } else if (!j->env->tls_ctx) {
        check(j, CK_INFO, "starttls", "STARTTLS", "STARTTLS offered", "offered, not tried",
              "%s", j->env->tls_why ? j->env->tls_why : "no TLS client context");
    } else if (!st) {
        broken(j, "starttls", "STARTTLS", "220 to STARTTLS", end_reply(j->s));
    } else if (st->code / 100 != 2) {
        j->tls_warned = 1;
        snprintf(got, sizeof got, "offered, then refused: %d", st->code);
        int i = check(j, CK_WARN, "starttls", "STARTTLS", "a TLS session", got, "%s",
                      "sluice and Postfix (level may) go on in cleartext; senders that require "
                      "TLS defer mail to this host");
        evidence(j, i, st->text);
    } else if (!j->s->tls_up) {
        tls_failed(j);
    } else {
        tls_done(j);
    }
}

/* judge_unready - the session ended before READY although every phase so far passed
 * (EHLO after TLS refused or unanswered) */
static void judge_unready(judge *j)
{
    const smtpc_reply *r = end_reply(j->s);
    if (r->code / 100 == 4 || r->code / 100 == 5)
        ehlo_refused(j);
    else
        broken(j, "ehlo", "EHLO", "250 to EHLO", r);
}

/* judge_mail - MAIL FROM's reply */
static void judge_mail(judge *j, const char *sender)
{
    const smtpc_reply *m = &j->s->mail;
    char want[400], got[600], line[500];
    snprintf(want, sizeof want, "250 to MAIL FROM:<%s>", sender);
    if (m->code == 0) {
        broken(j, "mail", "MAIL FROM", want, m);
    } else if (m->code / 100 != 2) {
        refusal(j, "mail", "MAIL FROM", want, "the receiver refused the sender", m,
                j->ph.reply[PH_MAIL], PV_MAIL_REFUSED, CK_FAIL);
    } else {
        snprintf(got, sizeof got, "%s in %.1f ms", reply_line(m, line, sizeof line),
                 j->ph.ms[PH_MAIL]);
        check(j, CK_PASS, "mail", "MAIL FROM", want, got, "%s",
              sender[0] ? "the sender is accepted" : "the null sender is accepted");
    }
}

/* judge_rcpt - RCPT TO's reply: accepted, greylisted (warn), refused */
static void judge_rcpt(judge *j)
{
    const smtpc_reply *r = &j->s->rcpt;
    char want[400], got[600], line[500];
    snprintf(want, sizeof want, "250 to RCPT TO:<%s>", j->env->rcpt);
    if (r->code == 0) {
        broken(j, "rcpt", "RCPT TO", want, r);
        return;
    }
    if (r->code / 100 != 2) {
        char note[256];
        classify_reply(j, r, note, sizeof note);
        int grey = j->out->classified && j->out->cls.cls == RC_GREYLISTING && r->code / 100 == 4;
        refusal(j, "rcpt", "RCPT TO", want, "the receiver refused the recipient", r,
                j->ph.reply[PH_RCPT], PV_RCPT_REFUSED, grey ? CK_WARN : CK_FAIL);
        return;
    }
    snprintf(got, sizeof got, "%s in %.1f ms", reply_line(r, line, sizeof line),
             j->ph.ms[PH_RCPT]);
    check(j, CK_PASS, "rcpt", "RCPT TO", want, got, "%s",
          "the recipient is accepted (no DATA was sent: RSET, then QUIT)");
}

/* judge_envelope - MAIL and RCPT, when --from or --rcpt asked for them */
static void judge_envelope(judge *j)
{
    const char *sender = j->env->from ? j->env->from : "";
    if (!j->env->want_txn)
        return;
    if (!j->s->txn_ran) {
        broken(j, "mail", "MAIL FROM", "a 250 reply to MAIL FROM", end_reply(j->s));
        return;
    }
    judge_mail(j, sender);
    if (!j->decided && j->env->rcpt)
        judge_rcpt(j);
}

/* host_json - the facts plus the verdict, the class and the deciding reply */
static json_t *host_json(const judge *j)
{
    const probe_result *o = j->out;
    json_t *h = probe_host_json(j->a, j->s, &j->ph);
    json_object_set_new(h, "verdict", json_string(probe_verdict_name(o->v)));
    json_object_set_new(h, "status", json_string(check_status_name(o->st)));
    json_object_set_new(h, "reply", j->deciding ? probe_reply_json(j->deciding) : json_null());
    json_object_set_new(h, "class", o->classified ? json_string(reply_class_name(o->cls.cls))
                                                  : json_null());
    json_object_set_new(h, "provider", o->classified && o->cls.provider
                                           ? json_string(o->cls.provider) : json_null());
    json_object_set_new(h, "rule", o->classified && o->cls.rule ? json_string(o->cls.rule)
                                                                : json_null());
    json_object_set_new(h, "retry_hint_s",
                        o->classified ? json_integer(o->cls.retry_hint_s) : json_null());
    return h;
}

/* conclude_text - the timings and the verdict under the checks (and the transcript) */
static void conclude_text(const judge *j)
{
    const probe_result *o = j->out;
    probe_text_timings(j->r, j->s, &j->ph);
    report_text(j->r, "      verdict: %s%s%s%s", probe_verdict_name(o->v),
                o->classified ? " (" : "", o->classified ? reply_class_name(o->cls.cls) : "",
                o->classified ? ")" : "");
    if (j->env->verbose)
        probe_text_transcript(j->r, j->s);
}

void probe_conclude(report *r, const probe_env *env, const probe_addr *a,
                    const probe_session *s, probe_result *out)
{
    judge j;
    memset(&j, 0, sizeof j);
    j.r = r;
    j.env = env;
    j.a = a;
    j.s = s;
    j.out = out;
    memset(out, 0, sizeof *out);
    probe_phases_of(s, &j.ph);
    judge_connect(&j);
    if (!j.decided)
        judge_greeting(&j);
    if (!j.decided)
        judge_ehlo(&j);
    if (!j.decided)
        judge_tls(&j);
    if (!j.decided && !s->ready)
        judge_unready(&j);
    if (!j.decided)
        judge_envelope(&j);
    if (!j.decided)
        out->v = j.tls_warned ? PV_TLS_PROBLEM : PV_OK;
    out->json = host_json(&j);
    conclude_text(&j);
}
