/* sink_message.c - a complete message at the sink: the end-of-data decision, and for an
 * accepted one its queue id, Message-ID, SHA-256 (only when a record is written), the
 * --store file, the record line, the summary counts and the --rate window; then the reply,
 * and --exit-after-messages.
 *
 * Called by the engine as on_message; answers at once (smtpd_message_done), so nothing here
 * outlives the call.  The session may be freed inside smtpd_message_done, so nothing of it
 * is touched afterwards. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "sink/sink_int.h"
#include "sink/sink_record.h"
#include "sink/sink_stats.h"
#include "smtp/rfc5322.h"

#define MSGID_MAX 998

/* sha256_hex - the body's SHA-256 in hex into out[65] */
static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        return;
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* accept_message - the bookkeeping of an accepted message; its queue id into qid */
static void accept_message(sink_sess *ss, smtpd_session *s, smtpd_message *m, const char *qid)
{
    sink *k = ss->k;
    char msgid[MSGID_MAX + 1], sha[65] = "", stored[4096];
    const char *body = m->body.data ? (const char *)m->body.data : "";
    rfc5322_message_id(body, m->body.len, msgid, sizeof msgid);
    int record = sink_record_active(k->rec);
    if (record)
        sha256_hex(body, m->body.len, sha);
    int did_store = k->c.store &&
                    sink_record_store(k->rec, qid, body, m->body.len, stored, sizeof stored) == 0;
    sink_rec_accept a = {
        .time_us = clock_now_us(), .listener = ss->lis->name, .client_ip = smtpd_session_ip(s),
        .helo = smtpd_session_helo(s), .sender = m->sender, .rcpts = m->rcpts,
        .nrcpt = m->nrcpt, .message_id = msgid, .size = (int64_t)m->body.len, .sha256 = sha,
        .queue_id = qid, .tls = smtpd_session_tls(s), .session = smtpd_session_id(s),
        .stored = did_store ? stored : NULL,
    };
    sink_record_accept(k->rec, &a);
    sink_stats_accept(k->stats, ss->client, msgid, m->rcpts, m->nrcpt, clock_mono_us());
    sink_policy_commit(ss);
}

void sink_on_message(smtpd_session *s, smtpd_message *m)
{
    sink_sess *ss = smtpd_session_user(s);
    sink *k = ss->k;
    smtpd_reply r = {0};
    char qid[40];
    sink_policy_eom(ss, s, m, &r);
    if (r.code >= 200 && r.code < 300) {
        snprintf(qid, sizeof qid, "%08llX%08llX", (unsigned long long)(k->start_wall / 1000000),
                 (unsigned long long)++k->qid_seq);
        if (!r.text[0])
            snprintf(r.text, sizeof r.text, "2.0.0 Ok: queued as %s", qid);
        accept_message(ss, s, m, qid);
    } else {
        sink_policy_release(ss);
        sink_note_eom(ss, m->sender, &r);
        sink_note_drop(ss, s, SMTPD_EOM, &r);
    }
    int accepted = r.code >= 200 && r.code < 300;
    smtpd_message_done(s, m, &r);   /* may free s and ss */
    if (accepted && k->c.exit_after_msgs && sink_stats_accepted(k->stats) >= k->c.exit_after_msgs)
        sink_stop(k, "--exit-after-messages reached");
}
