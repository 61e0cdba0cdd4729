/* sink_hooks.c - the server engine's hooks for `sluice sink`: a sink_sess per session
 * (created at on_connect, freed at on_close), the per-IP connection counts of the policy set
 * and of the summary, the policy decision at each stage, and a record line plus a summary
 * count for every refusal (on_refusal sees all of them, the engine's own too: those count as
 * policy "protocol") and every drop (which the engine does not report).
 *
 * Every session of a sink listener passes through on_connect: the engine's own connection
 * limits are left off, the sink applies --max-conn-per-ip itself so that listeners sharing a
 * policy set share the count. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "sink/sink_int.h"
#include "sink/sink_record.h"
#include "sink/sink_stats.h"

static const char *const stage_names[] = {
    [SMTPD_CONNECT] = "connect", [SMTPD_HELO] = "helo", [SMTPD_MAIL] = "mail",
    [SMTPD_RCPT] = "rcpt", [SMTPD_DATA] = "data", [SMTPD_EOM] = "eom",
    [SMTPD_OTHER] = "other",
};

int64_t sink_elapsed_us(const sink *k)
{
    return clock_mono_us() - k->start_mono;
}

/* sess_of - the session's sink state (NULL only if on_connect never ran) */
static sink_sess *sess_of(smtpd_session *s)
{
    return smtpd_session_user(s);
}

/* stash - keep the address a hook refuses, for the refusal's record line (the engine's
 * own refusals, which no hook saw, are recorded without it) */
static int stash(char *buf, const char *addr, const smtpd_reply *r)
{
    if (r->code < 400 && r->code != -1)
        return 0;
    snprintf(buf, SMTP_PATH_MAX + 1, "%s", addr);
    return 1;
}

/* record_refusal - one record line and one summary count; code 0 is a drop */
static void record_refusal(sink_sess *ss, smtpd_session *s, enum smtpd_stage st, int code,
                           const char *text, const char *policy)
{
    sink_rec_refusal f = {
        .time_us = clock_now_us(), .listener = ss->lis->name, .client_ip = smtpd_session_ip(s),
        .helo = smtpd_session_helo(s), .sender = smtpd_session_sender(s),
        .rcpt = st == SMTPD_RCPT && ss->have_rcpt ? ss->ref_rcpt : NULL,
        .stage = stage_names[st], .code = code, .text = text,
        .policy = policy ? policy : "protocol", .session = smtpd_session_id(s),
    };
    if ((st == SMTPD_MAIL || st == SMTPD_EOM) && ss->have_sender)
        f.sender = ss->ref_sender;
    sink_record_refusal(ss->k->rec, &f);
    sink_stats_refusal(ss->k->stats, f.policy, code == 0);
    ss->have_rcpt = ss->have_sender = 0;
}

void sink_note_eom(sink_sess *ss, const char *sender, const smtpd_reply *r)
{
    ss->have_sender = stash(ss->ref_sender, sender, r);
}

/* sink_note_drop - a hook decided to close without a reply */
void sink_note_drop(sink_sess *ss, smtpd_session *s, enum smtpd_stage st,
                    const smtpd_reply *r)
{
    if (r->code == -1)
        record_refusal(ss, s, st, 0, NULL, r->policy);
}

/* on_connect - count the connection, then the greeting policies */
static void on_connect(smtpd_session *s, smtpd_reply *r)
{
    sink_lis *lis = smtpd_session_ctx(s);
    sink_sess *ss = xcalloc(1, sizeof *ss);
    ss->k = lis->k;
    ss->lis = lis;
    ss->set = lis->set;
    netaddr_key(smtpd_session_peer(s), ss->ipkey);
    void **slot = sink_map_slot(ss->set->ips, ss->ipkey, sizeof ss->ipkey);
    if (!*slot)
        *slot = xcalloc(1, sizeof(sink_ipstate));
    ss->ips = *slot;
    ss->ips->open++;
    ss->conn_no = ++ss->ips->seen;
    ss->client = sink_stats_connect(ss->k->stats, ss->ipkey, smtpd_session_ip(s));
    smtpd_session_set_user(s, ss);
    sink_policy_connect(ss, s, r);
    sink_note_drop(ss, s, SMTPD_CONNECT, r);
}

/* on_helo - the reply script's helo rules */
static void on_helo(smtpd_session *s, const char *name, smtpd_reply *r)
{
    sink_sess *ss = sess_of(s);
    sink_policy_helo(ss, s, name, r);
    sink_note_drop(ss, s, SMTPD_HELO, r);
}

/* on_mail - a new transaction */
static void on_mail(smtpd_session *s, const char *sender, smtpd_reply *r)
{
    sink_sess *ss = sess_of(s);
    sink_policy_mail(ss, s, sender, r);
    ss->have_sender = stash(ss->ref_sender, sender, r);
    sink_note_drop(ss, s, SMTPD_MAIL, r);
}

/* on_rcpt - one recipient */
static void on_rcpt(smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    sink_sess *ss = sess_of(s);
    sink_policy_rcpt(ss, s, rcpt, r);
    ss->have_rcpt = stash(ss->ref_rcpt, rcpt, r);
    sink_note_drop(ss, s, SMTPD_RCPT, r);
}

/* on_data - DATA */
static void on_data(smtpd_session *s, smtpd_reply *r)
{
    sink_sess *ss = sess_of(s);
    sink_policy_data(ss, s, r);
    sink_note_drop(ss, s, SMTPD_DATA, r);
}

/* on_refusal - every 4xx/5xx the session sends */
static void on_refusal(smtpd_session *s, enum smtpd_stage stage, int code, const char *text,
                       const char *policy)
{
    sink_sess *ss = sess_of(s);
    if (ss)
        record_refusal(ss, s, stage, code, text, policy);
}

/* on_close - give back what the session held */
static void on_close(smtpd_session *s)
{
    sink_sess *ss = sess_of(s);
    if (!ss)
        return;
    sink_policy_release(ss);
    ss->ips->open--;
    sink_stats_disconnect(ss->k->stats, ss->client);
    smtpd_session_set_user(s, NULL);
    free(ss);
}

const smtpd_hooks sink_hooks = {
    .on_connect = on_connect,
    .on_helo = on_helo,
    .on_mail = on_mail,
    .on_rcpt = on_rcpt,
    .on_data = on_data,
    .on_message = sink_on_message,
    .on_refusal = on_refusal,
    .on_close = on_close,
};
