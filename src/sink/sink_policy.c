/* sink_policy.c - what the sink answers at each stage, and the policy sets' state.
 *
 * Order at every stage (first decision wins): shutting down (421 4.3.2), a --drop armed for
 * this stage, the reply script (a refusal or drop is final; an acceptance only sets the
 * text), then the built-in policies of that stage:
 *   connect  maintenance, max-conn-per-ip, overload; --tarpit delays whatever greeting goes
 *   mail     rate (--rate-stage mail)
 *   rcpt     reject-rcpt, rate (--rate-stage rcpt), greylist
 *   eom      max-msgs-per-conn closes after the 250
 * Random draws happen at fixed points whatever else decides (overload: every connection;
 * drop: every MAIL), so with --seed the same sequence of connections and transactions meets
 * the same decisions.
 * Rate accounting: a transaction that passes the check holds a slot (ipstate.inflight) until
 * its message is accepted (sink_policy_commit: the slot becomes an entry in the window) or
 * it ends otherwise (sink_policy_release: at the next MAIL, a refusal at the end of data, or
 * the connection's close).  The check counts window + slots, so the limit holds even for
 * transactions running in parallel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "sink/sink_int.h"
#include "sink/sink_rand.h"

#define GREY_KEY_MAX (17 + 2 * (SMTP_PATH_MAX + 1))

/* refuse - fill r with a refusal (or drop, code -1) by policy */
static void refuse(smtpd_reply *r, int code, const char *text, const char *policy)
{
    r->code = code;
    snprintf(r->text, sizeof r->text, "%s", text);
    r->policy = policy;
    r->close = 0;
    r->delay_ms = 0;
}

/* facts - what the reply script sees at this stage (the clock is read only for a script) */
static sink_facts facts(sink_sess *ss, smtpd_session *s, enum smtpd_stage st)
{
    sink_facts f = {
        .stage = st, .peer = smtpd_session_peer(s), .ip = smtpd_session_ip(s),
        .helo = smtpd_session_helo(s), .sender = smtpd_session_sender(s),
        .msg = smtpd_session_messages(s) + 1, .conn = ss->conn_no,
        .nrcpt = smtpd_session_nrcpt(s), .rng = &ss->set->rng_script,
        .elapsed_us = ss->set->p.script ? sink_elapsed_us(ss->k) : 0,
    };
    return f;
}

/* script - ask the reply script; 1 when its answer is final (a refusal or a drop) */
static int script(sink_sess *ss, const sink_facts *f, smtpd_reply *r)
{
    sink_action a;
    if (!ss->set->p.script || !sink_script_match(ss->set->p.script, f, &a) ||
        a.kind == SINK_ACT_PASS)
        return 0;
    if (a.kind == SINK_ACT_DROP) {
        refuse(r, -1, "", a.policy);
        return 1;
    }
    r->code = a.code;
    snprintf(r->text, sizeof r->text, "%s", a.text);
    r->policy = a.policy;
    r->close = a.close;
    r->delay_ms = (a.delay_us + 999) / 1000;
    return a.code >= 400;
}

/* shutting_down - 421 while the sink is stopping */
static int shutting_down(sink_sess *ss, smtpd_reply *r)
{
    if (!ss->k->stopping)
        return 0;
    refuse(r, 421, "4.3.2 Service shutting down, closing transmission channel", "shutdown");
    return 1;
}

/* drop_now - the transaction's --drop fires at this stage */
static int drop_now(sink_sess *ss, enum smtpd_stage st, smtpd_reply *r)
{
    if (!ss->drop_armed || ss->set->p.drop_stage != st)
        return 0;
    refuse(r, -1, "", "drop");
    return 1;
}

/* in_maintenance - now falls in a --maintenance window */
static int in_maintenance(const sink_policy *p, int64_t elapsed)
{
    for (int i = 0; i < p->nmaint; i++)
        if (elapsed >= p->maint[i].start_us && elapsed < p->maint[i].end_us)
            return 1;
    return 0;
}

void sink_policy_connect(sink_sess *ss, smtpd_session *s, smtpd_reply *r)
{
    const sink_policy *p = &ss->set->p;
    int overloaded = p->overload > 0 && sink_rand_chance(&ss->set->rng_overload, p->overload);
    sink_facts f = facts(ss, s, SMTPD_CONNECT);
    if (shutting_down(ss, r) || script(ss, &f, r))
        ;
    else if (p->nmaint && in_maintenance(p, sink_elapsed_us(ss->k)))
        refuse(r, 421, "4.3.2 Service temporarily unavailable, maintenance in progress",
               "maintenance");
    else if (p->max_conn_per_ip && ss->ips->open > p->max_conn_per_ip)
        refuse(r, 421, "4.7.0 Too many concurrent connections", "max_conn_per_ip");
    else if (overloaded)
        refuse(r, 421, "4.3.2 Service not available", "overload");
    if (p->tarpit_us && r->code != -1 && r->delay_ms < p->tarpit_us / 1000)
        r->delay_ms = p->tarpit_us / 1000;
}

void sink_policy_helo(sink_sess *ss, smtpd_session *s, const char *name, smtpd_reply *r)
{
    sink_facts f = facts(ss, s, SMTPD_HELO);
    f.helo = name;
    if (!shutting_down(ss, r))
        script(ss, &f, r);
}

/* rate_ok - the --rate check: take a slot for this transaction, or 0 when over the limit */
static int rate_ok(sink_sess *ss)
{
    const sink_policy *p = &ss->set->p;
    if (!p->rate_n || ss->reserved)
        return 1;
    size_t n = sink_window_count(&ss->ips->accepted, clock_mono_us(), p->rate_window_us);
    if ((int64_t)n + ss->ips->inflight >= p->rate_n)
        return 0;
    ss->reserved = 1;
    ss->ips->inflight++;
    return 1;
}

/* rate_refuse - 421 for a client over its rate */
static void rate_refuse(smtpd_reply *r)
{
    refuse(r, 421, "4.7.0 Try again later, rate limit exceeded", "rate");
}

void sink_policy_release(sink_sess *ss)
{
    if (!ss->reserved)
        return;
    ss->reserved = 0;
    ss->ips->inflight--;
}

void sink_policy_commit(sink_sess *ss)
{
    const sink_policy *p = &ss->set->p;
    sink_policy_release(ss);
    if (p->rate_n)
        sink_window_add(&ss->ips->accepted, clock_mono_us(), p->rate_window_us);
}

void sink_policy_mail(sink_sess *ss, smtpd_session *s, const char *sender, smtpd_reply *r)
{
    const sink_policy *p = &ss->set->p;
    sink_policy_release(ss);
    ss->drop_armed = p->drop > 0 && sink_rand_chance(&ss->set->rng_drop, p->drop);
    sink_facts f = facts(ss, s, SMTPD_MAIL);
    f.sender = sender;
    if (shutting_down(ss, r) || drop_now(ss, SMTPD_MAIL, r) || script(ss, &f, r))
        return;
    if (p->rate_stage == SMTPD_MAIL && !rate_ok(ss))
        rate_refuse(r);
}

/* attempt_count - the script's "attempt": count this RCPT for its exact triplet */
static int64_t attempt_count(sink_sess *ss, smtpd_session *s, const char *rcpt)
{
    char key[GREY_KEY_MAX];
    const char *sender = smtpd_session_sender(s);
    size_t n = sink_greylist_key(smtpd_session_peer(s), 32, 128, sender ? sender : "", rcpt,
                                 key, sizeof key);
    void **slot = sink_map_slot(ss->set->attempts, key, n);
    if (!*slot)
        *slot = xcalloc(1, sizeof(int64_t));
    return ++*(int64_t *)*slot;
}

/* greylisted - the --greylist check of this recipient */
static int greylisted(sink_sess *ss, smtpd_session *s, const char *rcpt)
{
    const sink_policy *p = &ss->set->p;
    char key[GREY_KEY_MAX];
    const char *sender = smtpd_session_sender(s);
    size_t n = sink_greylist_key(smtpd_session_peer(s), p->grey_bits4, p->grey_bits6,
                                 sender ? sender : "", rcpt, key, sizeof key);
    return !sink_greylist_check(ss->set->grey, key, n, clock_mono_us());
}

/* rejected_rcpt - the recipient matches --reject-rcpt */
static int rejected_rcpt(sink_sess *ss, const char *rcpt)
{
    pcre2_code *re = ss->set->p.reject_rcpt;
    if (!re)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)rcpt, strlen(rcpt), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* rcpt_builtin - the built-in recipient policies, in order */
static void rcpt_builtin(sink_sess *ss, smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    const sink_policy *p = &ss->set->p;
    char text[SMTP_PATH_MAX + 64];
    if (rejected_rcpt(ss, rcpt)) {
        snprintf(text, sizeof text, "5.1.1 <%s>: Recipient address rejected: User unknown", rcpt);
        refuse(r, 550, text, "reject_rcpt");
    } else if (p->rate_stage == SMTPD_RCPT && !rate_ok(ss)) {
        rate_refuse(r);
    } else if (p->greylist && greylisted(ss, s, rcpt)) {
        refuse(r, p->grey_code, p->grey_text, "greylist");
    }
}

void sink_policy_rcpt(sink_sess *ss, smtpd_session *s, const char *rcpt, smtpd_reply *r)
{
    sink_facts f = facts(ss, s, SMTPD_RCPT);
    f.rcpt = rcpt;
    f.nrcpt++;
    if (ss->set->p.script && (sink_script_uses(ss->set->p.script) & SINK_USES_ATTEMPT))
        f.attempt = attempt_count(ss, s, rcpt);
    if (!shutting_down(ss, r) && !drop_now(ss, SMTPD_RCPT, r) && !script(ss, &f, r))
        rcpt_builtin(ss, s, rcpt, r);
}

void sink_policy_data(sink_sess *ss, smtpd_session *s, smtpd_reply *r)
{
    sink_facts f = facts(ss, s, SMTPD_DATA);
    if (!shutting_down(ss, r) && !drop_now(ss, SMTPD_DATA, r))
        script(ss, &f, r);
}

void sink_policy_eom(sink_sess *ss, smtpd_session *s, const smtpd_message *m, smtpd_reply *r)
{
    const sink_policy *p = &ss->set->p;
    sink_facts f = facts(ss, s, SMTPD_EOM);
    f.sender = m->sender;
    f.nrcpt = m->nrcpt;
    if (shutting_down(ss, r) || drop_now(ss, SMTPD_EOM, r) || script(ss, &f, r))
        return;
    if (r->code == 0)
        r->code = 250;
    if (p->max_msgs_per_conn && smtpd_session_messages(s) + 1 >= p->max_msgs_per_conn) {
        r->close = 1;
        r->policy = "max_msgs_per_conn";
    }
}

sink_set *sink_set_new(const sink_policy *p, int index)
{
    sink_set *set = xcalloc(1, sizeof *set);
    set->index = index;
    set->p = *p;
    set->ips = sink_map_new();
    set->attempts = sink_map_new();
    if (p->greylist)
        set->grey = sink_greylist_new(p->grey_delay_us, p->grey_expire_us);
    return set;
}

void sink_set_seed(sink_set *set, uint64_t seed)
{
    uint64_t s = seed ^ ((uint64_t)set->index * 0x5851f42d4c957f2dULL);
    set->rng_overload = sink_rand_next(&s);
    set->rng_drop = sink_rand_next(&s);
    set->rng_script = sink_rand_next(&s);
}

/* ipstate_free - sink_map_free callback */
static void ipstate_free(void *v)
{
    sink_ipstate *st = v;
    sink_window_free(&st->accepted);
    free(st);
}

void sink_policy_free(sink_policy *p)
{
    pcre2_code_free(p->reject_rcpt);
    sink_script_free(p->script);
    p->reject_rcpt = NULL;
    p->script = NULL;
}

void sink_set_free(sink_set *set)
{
    if (!set)
        return;
    sink_policy_free(&set->p);
    SSL_CTX_free(set->tls);
    sink_map_free(set->ips, ipstate_free);
    sink_map_free(set->attempts, free);
    sink_greylist_free(set->grey);
    free(set);
}
