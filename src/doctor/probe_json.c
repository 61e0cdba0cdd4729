/* probe_json.c - one probe session's facts for the report: the host's JSON object in
 * data.hosts (documented in docs/doctor.md: address, banner, extensions, TLS and the
 * certificate, the envelope replies, timings_ms, the transcript) and, for the text
 * output, the timings line and the transcript.  Called by probe_verdict.c. */
#include <stdio.h>
#include <string.h>

#include "common/dbuf.h"
#include "doctor/probe.h"

static const char *const stage_names[] = {"connect", "greeting", "ehlo", "starttls", "mail",
                                          "rcpt",    "data",     "body", "quit"};

const char *probe_stage_name(enum smtpc_stage st)
{
    return (size_t)st < sizeof stage_names / sizeof stage_names[0] ? stage_names[st] : "?";
}

json_t *probe_reply_json(const smtpc_reply *r)
{
    if (!r->text && r->code == 0)
        return json_null();
    return json_pack("{s:i,s:s?,s:s,s:s,s:b}", "code", r->code, "enh",
                     r->enh[0] ? r->enh : NULL, "text", r->text ? r->text : "", "stage",
                     probe_stage_name(r->stage), "closed", r->closed);
}

/* round1 - milliseconds to one decimal */
static json_t *round1(double ms)
{
    return json_real((double)(long long)(ms * 10 + 0.5) / 10);
}

/* timings - timings_ms: every phase reached; a failed connect or greeting gets the time
 * spent waiting for it; total is the whole session */
static json_t *timings(const probe_addr *a, const probe_session *s, const probe_phases *ph)
{
    json_t *o = json_object();
    if (a->dns_ms >= 0)
        json_object_set_new(o, "dns", round1(a->dns_ms));
    for (int i = 0; i < PH_COUNT; i++)
        if (ph->seen[i])
            json_object_set_new(o, probe_phase_name((enum probe_phase)i), round1(ph->ms[i]));
    if (!ph->seen[PH_CONNECT])
        json_object_set_new(o, "connect", round1(s->end_ms));
    else if (!ph->seen[PH_GREETING])
        json_object_set_new(o, "greeting", round1(s->end_ms - ph->connected_at));
    json_object_set_new(o, "total", round1(s->end_ms));
    return o;
}

/* transcript - [{"t_ms","dir","text"}]: ">" ours, "<" the server's, "*" events */
static json_t *transcript(const probe_session *s)
{
    static const char *const dirs[] = {"*", ">", "<", "*"};
    json_t *v = json_array();
    for (int i = 0; i < s->nlines; i++) {
        const probe_line *l = &s->lines[i];
        const char *text = l->ev == PE_CONNECTED ? "connected"
                           : l->ev == PE_TLS     ? "TLS handshake done"
                                                 : l->text;
        json_array_append_new(v, json_pack("{s:o,s:s,s:s}", "t_ms", round1(l->t_ms), "dir",
                                           dirs[l->ev], "text", text ? text : ""));
    }
    return v;
}

/* tls_json - what STARTTLS gave */
static json_t *tls_json(const probe_session *s, const probe_phases *ph)
{
    const probe_line *ehlo = ph->reply[PH_EHLO];
    int offered = ehlo && !ph->helo_fallback && ehlo->code / 100 == 2 &&
                  probe_ehlo_offers(ehlo->text, "STARTTLS");
    json_t *o = json_pack("{s:b,s:b}", "offered", offered, "established", s->tls_up);
    if (s->tls_up)
        json_object_set_new(o, "version", json_string(s->tls_version));
    if (s->tls_up)
        json_object_set_new(o, "cipher", json_string(s->tls_cipher));
    if (s->have_cert)
        json_object_set_new(o, "certificate", probe_cert_json(&s->cert));
    return o;
}

/* envelope_json - MAIL and RCPT replies when the transaction ran */
static void envelope_json(json_t *o, const probe_session *s)
{
    if (!s->txn_ran)
        return;
    json_object_set_new(o, "mail", probe_reply_json(&s->mail));
    json_object_set_new(o, "rcpt", probe_reply_json(&s->rcpt));
}

json_t *probe_host_json(const probe_addr *a, const probe_session *s, const probe_phases *ph)
{
    char ip[NETADDR_STRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&a->addr.ss;
    const probe_line *g = ph->reply[PH_GREETING], *e = ph->reply[PH_EHLO];
    json_t *o = json_pack("{s:s,s:s,s:i,s:s}", "host", a->host, "address",
                          netaddr_ip(sa, ip, sizeof ip), "port", netaddr_port(sa), "label",
                          a->label);
    json_object_set_new(o, "mx_pref", a->pref >= 0 ? json_integer(a->pref) : json_null());
    json_object_set_new(o, "banner", g ? json_string(g->text) : json_null());
    json_object_set_new(o, "esmtp", json_boolean(e && e->code / 100 == 2 && !ph->helo_fallback));
    json_object_set_new(o, "helo_fallback", json_boolean(ph->helo_fallback));
    json_object_set_new(o, "extensions", probe_ehlo_keywords(
                                             e && !ph->helo_fallback ? e->text : NULL));
    json_object_set_new(o, "tls", tls_json(s, ph));
    envelope_json(o, s);
    json_object_set_new(o, "timings_ms", timings(a, s, ph));
    json_object_set_new(o, "transcript", transcript(s));
    return o;
}

void probe_text_timings(report *r, const probe_session *s, const probe_phases *ph)
{
    dbuf d = {0};
    for (int i = 0; i < PH_COUNT; i++)
        if (ph->seen[i])
            dbuf_printf(&d, "%s %s %.1f ms", d.len ? "," : "",
                        probe_phase_name((enum probe_phase)i), ph->ms[i]);
    if (!ph->seen[PH_CONNECT])
        dbuf_printf(&d, " connect %.1f ms (failed)", s->end_ms);
    else if (!ph->seen[PH_GREETING])
        dbuf_printf(&d, ", greeting %.1f ms (none came)", s->end_ms - ph->connected_at);
    dbuf_printf(&d, "%s total %.1f ms", d.len ? "," : "", s->end_ms);
    dbuf_putc(&d, 0);
    report_text(r, "      timings:%s", (const char *)d.data);
    dbuf_free(&d);
}

void probe_text_transcript(report *r, const probe_session *s)
{
    static const char *const dirs[] = {"*", ">", "<", "*"};
    for (int i = 0; i < s->nlines; i++) {
        const probe_line *l = &s->lines[i];
        const char *text = l->ev == PE_CONNECTED ? "connected"
                           : l->ev == PE_TLS     ? "TLS handshake done"
                                                 : l->text;
        const char *p = text ? text : "";
        do {   /* one text line per reply line */
            const char *nl = strchr(p, '\n');
            int n = nl ? (int)(nl - p) : (int)strlen(p);
            report_text(r, "      %8.1f ms %s %.*s", l->t_ms, dirs[l->ev], n, p);
            p = nl ? nl + 1 : NULL;
        } while (p);
    }
}
