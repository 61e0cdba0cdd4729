/* smtpd_cmds.c - the RFC 5321 state machine: the ordering rules, then one small handler per
 * command, dispatched through cmd_table.  Called by smtpd_session.c for each command line.
 *
 * Order of checks for a command (as Postfix does): the sequence (503), the command's own
 * pre-checks (MAIL: STARTTLS required 530, nested MAIL 503), the argument syntax (500/501),
 * then the handler with its limits and hooks.  A handler changes the session's state only
 * after its reply was an acceptance. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "server/smtpd_int.h"

/* The state a command needs first. */
enum need { NEED_NONE, NEED_HELO, NEED_MAIL, NEED_RCPT };

typedef void (*cmd_fn)(smtpd_session *s, const smtp_cmd *c);
/* a pre-check runs before the syntax check; 0 when it has already replied */
typedef int (*check_fn)(smtpd_session *s);

/* MAIL FROM parameters as understood. */
typedef struct mail_params {
    int64_t size;
    int body8;
    int smtputf8;
} mail_params;

/* cmd_ok - count the current command as successful (for the disconnect summary) */
static void cmd_ok(smtpd_session *s)
{
    s->cnt_ok[s->last]++;
}

/* refuse - a 4xx/5xx of the engine's own, counted as an error */
static void refuse(smtpd_session *s, enum smtpd_stage st, int code, const char *text)
{
    smtpd_send(s, st, code, text, NULL, 0, SMTPD_R_ERROR);
}

/* reply_ok - a 2xx of the engine's own for the current command */
static void reply_ok(smtpd_session *s, int code, const char *text)
{
    smtpd_send(s, SMTPD_OTHER, code, text, NULL, 0, 0);
    cmd_ok(s);
}

void smtpd_transaction_reset(smtpd_session *s)
{
    free(s->sender);
    s->sender = NULL;
    for (int i = 0; i < s->nrcpt; i++)
        free(s->rcpts[i]);
    s->nrcpt = 0;
    s->overshoot = 0;
    s->size_param = -1;
    s->body_8bitmime = s->smtputf8 = 0;
    s->bdat_active = s->bdat_allowed = 0;
    smtpd_scan_free(&s->scan);
    if (s->state == SMTPD_ST_MAIL || s->state == SMTPD_ST_RCPT)
        s->state = SMTPD_ST_READY;
}

/* ehlo_text - the EHLO reply lines: our name, then the extensions offered */
static void ehlo_text(const smtpd_session *s, char *buf, size_t len)
{
    const smtpd_opts *o = &s->l->o;
    char size[40] = "SIZE";
    if (o->max_message_size > 0)
        snprintf(size, sizeof size, "SIZE %lld", (long long)o->max_message_size);
    snprintf(buf, len, "%s\nPIPELINING\n%s\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8%s%s",
             o->hostname, size, o->no_chunking ? "" : "\nCHUNKING",
             o->tls && !s->tls ? "\nSTARTTLS" : "");
}

/* helo_common - HELO and EHLO: ask on_helo, reply, start afresh */
static void helo_common(smtpd_session *s, const smtp_cmd *c, int esmtp)
{
    char name[SMTPD_HELO_MAX + 1], text[700];
    smtpd_reply r = {0};
    size_t n = c->arg.n < SMTPD_HELO_MAX ? c->arg.n : SMTPD_HELO_MAX;
    memcpy(name, c->arg.p, n);
    name[n] = 0;
    if (s->hooks.on_helo)
        s->hooks.on_helo(s, name, &r);
    if (esmtp)
        ehlo_text(s, text, sizeof text);
    else
        snprintf(text, sizeof text, "%s", s->l->o.hostname);
    if (smtpd_answer(s, SMTPD_HELO, &r, 250, text, SMTPD_R_PLAIN) != SMTPD_ACCEPTED)
        return;
    smtpd_transaction_reset(s);
    memcpy(s->helo, name, n + 1);
    s->esmtp = esmtp;
    s->state = SMTPD_ST_READY;
    cmd_ok(s);
}

/* cmd_helo - HELO name */
static void cmd_helo(smtpd_session *s, const smtp_cmd *c)
{
    helo_common(s, c, 0);
}

/* cmd_ehlo - EHLO name */
static void cmd_ehlo(smtpd_session *s, const smtp_cmd *c)
{
    helo_common(s, c, 1);
}

/* param_size - SIZE=digits */
static const char *param_size(const smtp_param *p, mail_params *mp)
{
    if (!p->value.p || p->value.n > 18)
        return "5.5.4 Error: SIZE needs a number";
    int64_t v = 0;
    for (size_t i = 0; i < p->value.n; i++) {
        if (p->value.p[i] < '0' || p->value.p[i] > '9')
            return "5.5.4 Error: SIZE needs a number";
        v = v * 10 + (p->value.p[i] - '0');
    }
    mp->size = v;
    return NULL;
}

/* param_body - BODY=7BIT or BODY=8BITMIME */
static const char *param_body(const smtp_param *p, mail_params *mp)
{
    smtp_param v = {p->value, {NULL, 0}};   /* compare the value like a keyword */
    if (p->value.p && smtp_param_is(&v, "8BITMIME"))
        mp->body8 = 1;
    else if (!p->value.p || !smtp_param_is(&v, "7BIT"))
        return "5.5.4 Error: BODY must be 7BIT or 8BITMIME";
    return NULL;
}

/* param_smtputf8 - SMTPUTF8, without a value */
static const char *param_smtputf8(const smtp_param *p, mail_params *mp)
{
    if (p->value.p)
        return "5.5.4 Error: SMTPUTF8 takes no value";
    mp->smtputf8 = 1;
    return NULL;
}

static const struct mail_param_def {
    const char *key;
    const char *(*fn)(const smtp_param *p, mail_params *mp);
} mail_param_table[] = {
    {"SIZE", param_size}, {"BODY", param_body}, {"SMTPUTF8", param_smtputf8},
};

/* unsupported - 555 for a parameter we don't offer */
static void unsupported(smtpd_session *s, enum smtpd_stage st, const smtp_param *p)
{
    char text[128];
    snprintf(text, sizeof text, "5.5.4 Unsupported option: %.*s",
             (int)(p->key.n > 64 ? 64 : p->key.n), p->key.p);
    refuse(s, st, 555, text);
}

/* parse_mail_params - check MAIL FROM parameters into *mp; 0, or -1 after replying */
static int parse_mail_params(smtpd_session *s, const smtp_cmd *c, mail_params *mp)
{
    for (int i = 0; i < c->nparam; i++) {
        const struct mail_param_def *d = NULL;
        for (size_t j = 0; j < sizeof mail_param_table / sizeof mail_param_table[0]; j++)
            if (smtp_param_is(&c->param[i], mail_param_table[j].key))
                d = &mail_param_table[j];
        if (!d) {
            unsupported(s, SMTPD_MAIL, &c->param[i]);
            return -1;
        }
        const char *err = d->fn(&c->param[i], mp);
        if (err) {
            refuse(s, SMTPD_MAIL, 501, err);
            return -1;
        }
    }
    return 0;
}

/* check_mail - before MAIL's syntax: TLS required? a transaction already open? */
static int check_mail(smtpd_session *s)
{
    if (s->l->o.tls_required && !s->tls)
        refuse(s, SMTPD_MAIL, 530, "5.7.0 Must issue a STARTTLS command first");
    else if (s->state >= SMTPD_ST_MAIL)
        refuse(s, SMTPD_MAIL, 503, "5.5.1 Error: nested MAIL command");
    else
        return 1;
    return 0;
}

/* cmd_mail - MAIL FROM:<sender> [SIZE= BODY= SMTPUTF8] */
static void cmd_mail(smtpd_session *s, const smtp_cmd *c)
{
    mail_params mp = {-1, 0, 0};
    smtpd_reply r = {0};
    int64_t max = s->l->o.max_message_size;
    if (parse_mail_params(s, c, &mp) < 0)
        return;
    if (c->addr_8bit && !mp.smtputf8) {
        refuse(s, SMTPD_MAIL, 553, "5.6.7 Must declare SMTPUTF8 to send unicode address");
        return;
    }
    if (max > 0 && mp.size > max) {
        refuse(s, SMTPD_MAIL, 552, "5.3.4 Message size exceeds fixed limit");
        return;
    }
    s->size_param = mp.size;   /* for smtpd_session_size in the hook */
    if (s->hooks.on_mail)
        s->hooks.on_mail(s, c->addr, &r);
    if (smtpd_answer(s, SMTPD_MAIL, &r, 250, "2.1.0 Ok", 0) != SMTPD_ACCEPTED)
        return;
    s->sender = xstrdup(c->addr);
    s->body_8bitmime = mp.body8;
    s->smtputf8 = mp.smtputf8;
    s->state = SMTPD_ST_MAIL;
    cmd_ok(s);
}

/* cmd_rcpt - RCPT TO:<recipient> */
static void cmd_rcpt(smtpd_session *s, const smtp_cmd *c)
{
    smtpd_reply r = {0};
    int64_t max = s->l->o.max_rcpts;
    if (c->nparam) {
        unsupported(s, SMTPD_RCPT, &c->param[0]);
        return;
    }
    if (c->addr_8bit && !s->smtputf8) {
        refuse(s, SMTPD_RCPT, 553, "5.6.7 Must declare SMTPUTF8 to send unicode address");
        return;
    }
    if (max > 0 && s->nrcpt >= max) {   /* as Postfix: the client is expected to send the */
        int64_t lim = s->l->o.rcpt_overshoot_limit > 0 ? s->l->o.rcpt_overshoot_limit : 1000;
        smtpd_send(s, SMTPD_RCPT, 452, "4.5.3 Error: too many recipients", NULL, 0,   /* rest */
                   s->overshoot++ < lim ? 0 : SMTPD_R_ERROR);   /* later: not an error */
        return;
    }
    if (s->hooks.on_rcpt)
        s->hooks.on_rcpt(s, c->addr, &r);
    if (smtpd_answer(s, SMTPD_RCPT, &r, 250, "2.1.5 Ok", 0) != SMTPD_ACCEPTED)
        return;
    XGROW(s->rcpts, s->nrcpt, s->rcap, 8);
    s->rcpts[s->nrcpt++] = xstrdup(c->addr);
    s->state = SMTPD_ST_RCPT;
    cmd_ok(s);
}

/* cmd_data - DATA: ask on_data, then read the body */
static void cmd_data(smtpd_session *s, const smtp_cmd *c)
{
    smtpd_reply r = {0};
    if (s->bdat_active) {
        refuse(s, SMTPD_DATA, 503, "5.5.1 Error: DATA after BDAT");
        return;
    }
    if (s->hooks.on_data)
        s->hooks.on_data(s, &r);
    if (smtpd_answer(s, SMTPD_DATA, &r, 354, "End data with <CR><LF>.<CR><LF>", 0) !=
        SMTPD_ACCEPTED)
        return;
    s->mode = SMTPD_MODE_DATA;
    smtpd_scan_init(&s->scan, s->l->o.max_message_size, s->size_param);
}

/* cmd_rset - RSET: drop the transaction */
static void cmd_rset(smtpd_session *s, const smtp_cmd *c)
{
    smtpd_transaction_reset(s);
    reply_ok(s, 250, "2.0.0 Ok");
}

/* cmd_noop - NOOP */
static void cmd_noop(smtpd_session *s, const smtp_cmd *c)
{
    reply_ok(s, 250, "2.0.0 Ok");
}

/* cmd_quit - QUIT: 221 and close */
static void cmd_quit(smtpd_session *s, const smtp_cmd *c)
{
    smtpd_send(s, SMTPD_OTHER, 221, "2.0.0 Bye", NULL, 0, SMTPD_R_CLOSE);
    cmd_ok(s);
}

/* cmd_vrfy - VRFY: neither confirm nor deny (RFC 5321 §3.5.3) */
static void cmd_vrfy(smtpd_session *s, const smtp_cmd *c)
{
    reply_ok(s, 252, "2.0.0 Cannot verify the user; send mail to find out");
}

/* cmd_help - HELP */
static void cmd_help(smtpd_session *s, const smtp_cmd *c)
{
    reply_ok(s, 214, s->l->o.no_chunking ? "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP"
                                           " QUIT VRFY HELP STARTTLS"
                                         : "2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET"
                                           " NOOP QUIT VRFY HELP STARTTLS");
}

/* cmd_not_implemented - EXPN, AUTH (and BDAT when CHUNKING is not offered) */
static void cmd_not_implemented(smtpd_session *s, const smtp_cmd *c)
{
    refuse(s, SMTPD_OTHER, 502, "5.5.1 Error: command not implemented");
}

/* discard_pipelined - drop plaintext that followed STARTTLS (CVE-2011-0411) */
static void discard_pipelined(smtpd_session *s)
{
    char peer[96];
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t n = evbuffer_get_length(in);
    if (!n)
        return;
    log_notice(LOG_NOQUEUE, "discarding %zu bytes sent after STARTTLS by %s", n,
               smtpd_peer_name(s, peer, sizeof peer));
    evbuffer_drain(in, n);
}

/* cmd_starttls - STARTTLS: 220, then the socket turns to TLS once the 220 is out */
static void cmd_starttls(smtpd_session *s, const smtp_cmd *c)
{
    if (!s->l->o.tls) {
        cmd_not_implemented(s, c);
        return;
    }
    if (s->tls) {
        refuse(s, SMTPD_OTHER, 554, "5.5.1 Error: TLS already active");
        return;
    }
    if (s->state >= SMTPD_ST_MAIL) {
        refuse(s, SMTPD_OTHER, 503, "5.5.1 Error: MAIL transaction in progress");
        return;
    }
    reply_ok(s, 220, "2.0.0 Ready to start TLS");
    discard_pipelined(s);
    s->tls_pending = 1;
}

static const struct cmd_def {
    cmd_fn fn;
    enum need need;
    check_fn check;
    enum smtpd_stage stage;
} cmd_table[SMTP_NVERBS] = {
    [SMTP_UNKNOWN] = {cmd_not_implemented, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_HELO] = {cmd_helo, NEED_NONE, NULL, SMTPD_HELO},
    [SMTP_EHLO] = {cmd_ehlo, NEED_NONE, NULL, SMTPD_HELO},
    [SMTP_MAIL] = {cmd_mail, NEED_HELO, check_mail, SMTPD_MAIL},
    [SMTP_RCPT] = {cmd_rcpt, NEED_MAIL, NULL, SMTPD_RCPT},
    [SMTP_DATA] = {cmd_data, NEED_RCPT, NULL, SMTPD_DATA},
    [SMTP_RSET] = {cmd_rset, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_NOOP] = {cmd_noop, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_QUIT] = {cmd_quit, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_VRFY] = {cmd_vrfy, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_EXPN] = {cmd_not_implemented, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_HELP] = {cmd_help, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_STARTTLS] = {cmd_starttls, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_AUTH] = {cmd_not_implemented, NEED_NONE, NULL, SMTPD_OTHER},
    [SMTP_BDAT] = {cmd_not_implemented, NEED_NONE, NULL, SMTPD_OTHER},
};

/* sequence_ok - the command may come now; else 503 and 0 */
static int sequence_ok(smtpd_session *s, enum smtp_verb v, const struct cmd_def *d)
{
    const char *text = NULL;
    if (s->state == SMTPD_ST_REFUSED && v != SMTP_QUIT && v != SMTP_NOOP)
        text = "5.5.1 Error: service refused, send QUIT";
    else if (d->need == NEED_HELO && s->state == SMTPD_ST_INIT)
        text = "5.5.1 Error: send HELO/EHLO first";
    else if (d->need == NEED_MAIL && s->state < SMTPD_ST_MAIL)
        text = "5.5.1 Error: need MAIL command";
    else if (d->need == NEED_RCPT && s->state < SMTPD_ST_RCPT)
        text = "5.5.1 Error: need RCPT command";
    if (!text)
        return 1;
    refuse(s, d->stage, 503, text);
    return 0;
}

void smtpd_command(smtpd_session *s, const char *line, size_t len)
{
    smtp_cmd c;
    enum smtp_cmd_err e = smtp_cmd_parse(line, len, &c);
    const struct cmd_def *d = &cmd_table[c.verb];
    s->last = c.verb;
    s->cnt_all[c.verb]++;
    if (c.verb == SMTP_BDAT && e == SMTP_CMD_OK && !s->l->o.no_chunking) {
        smtpd_cmd_bdat(s, &c);   /* its bytes are read whatever the verdict: no 503 first */
        return;
    }
    if (!sequence_ok(s, c.verb, d) || (d->check && !d->check(s)))
        return;
    if (e != SMTP_CMD_OK) {
        const char *text;
        int code = smtp_cmd_error_reply(e, c.verb, &text);
        refuse(s, d->stage, code, text);
        return;
    }
    d->fn(s, &c);
}
