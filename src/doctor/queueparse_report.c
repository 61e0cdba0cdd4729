/* queueparse_report.c - the qshape grid as a doctor report: where the listing came from,
 * the queue's size and age against thresholds, held mail, the grid (destinations x age
 * buckets, totals), and one check per destination with waiting recipients whose reasons
 * say something: the top reason's class, what it means and what to change.  The JSON data:
 * "source", "grid" (docs/doctor.md). */
#include <stdio.h>
#include <string.h>

#include "doctor/loganalyze.h"
#include "doctor/queueparse_report.h"

/* What a class of delay reasons means for the mail in the queue. */
static const struct {
    int cat;
    enum check_status st;
    const char *means;
} meaning[] = {
    {RC_GREYLISTING, CK_INFO, "the receiver greylists: these recipients pass on a retry after its delay (usually "
                              "5-30 minutes); nothing to fix unless they wait for hours"},
    {RC_RATE_LIMITED, CK_WARN, "the receiver limits how fast it accepts mail from this host: retrying sooner does "
                               "not help; lower the rate (smtp_destination_rate_delay, fewer recipients per "
                               "connection). `sluice doctor logs` tells rate limiting from greylisting by timelines"},
    {RC_TOO_MANY_CONNECTIONS, CK_WARN, "the receiver refuses extra connections from this host: lower "
                                       "smtp_destination_concurrency_limit (e.g. 2)"},
    {RC_REPUTATION, CK_FAIL, "the receiver refuses on the sending IP's or domain's reputation: check `sluice doctor "
                             "ip`, the provider's postmaster pages and complaint rates"},
    {RC_AUTHENTICATION, CK_FAIL, "the receiver wants SPF, DKIM, DMARC or reverse DNS in order: `sluice doctor "
                                 "domain`, `sluice doctor ip`"},
    {RC_OVERLOADED, CK_WARN, "the receiver is overloaded or in maintenance: the mail passes when it recovers"},
    {RC_MAILBOX, CK_INFO, "the recipients' mailboxes are full or unavailable: nothing to tune here"},
    {RC_PERMANENT, CK_WARN, "permanent (5xx) refusals still queued: soft_bounce, or the bounce has not gone yet"},
    {RC_OTHER, CK_WARN, "temporary failures without a stated cause: `sluice doctor logs` shows whether retries pass "
                        "(greylisting) or keep failing (rate limiting)"},
    {LC_CONNECT_TIMEOUT, CK_WARN, "connections time out: outbound port 25 blocked or a firewall, or the MX is down "
                                  "(`sluice doctor probe DOMAIN`)"},
    {LC_REFUSED, CK_WARN, "connections are refused: nothing listens on port 25 of the MX, or a firewall rejects"},
    {LC_UNREACHABLE, CK_WARN, "no route to the MX hosts"},
    {LC_GREETING_TIMEOUT, CK_WARN, "the server accepts connections but never greets: a tarpit for unknown IPs"},
    {LC_TIMEOUT, CK_WARN, "sessions time out after the greeting"},
    {LC_LOST, CK_WARN, "the server drops the connection during the session, often right after a 421"},
    {LC_DNS, CK_WARN, "the destination's MX or address records do not resolve"},
    {LC_TLS, CK_WARN, "TLS fails or is required and missing (smtp_tls_security_level, TLS policy)"},
    {LC_LOCAL, CK_WARN, "a problem of this host (configuration, local delivery)"},
};

/* meaning_of - the entry of a class */
static int meaning_of(int cat)
{
    for (size_t i = 0; i < sizeof meaning / sizeof meaning[0]; i++)
        if (meaning[i].cat == cat)
            return (int)i;
    return -1;
}

/* source_check - where the listing came from and what was in it */
static void source_check(report *r, const qparser *p, const qshape *s, const char *source)
{
    char actual[200];
    snprintf(actual, sizeof actual, "%s format, %ld messages, %ld recipients", qp_format_name(qp_detected(p)),
             qs_messages(s), qs_totals(s)->total);
    int i = report_checkf(r, CK_INFO, "source", "queue listing", NULL, actual, "read from %s; %ld unrecognised line(s)",
                          source, qp_unrecognised(p));
    for (int k = 0; k < 3 && qp_unrecognised_example(p, k); k++)
        report_evidence(r, i, qp_unrecognised_example(p, k));
    if (qp_detected(p) == QF_EXIM)
        report_check(r, CK_INFO, "reasons", "delay reasons", NULL, "not in exim -bp",
                     "exim -bp does not show why mail waits: `sluice doctor logs /var/log/exim4/mainlog` does");
}

/* size_check - messages in the queue against the thresholds */
static void size_check(report *r, const qshape *s, const qreport_opts *o)
{
    const qs_dest *t = qs_totals(s);
    long n = qs_messages(s);
    enum check_status st = n >= o->fail_size ? CK_FAIL : n >= o->warn_size ? CK_WARN : CK_PASS;
    char exp[64], actual[200];
    snprintf(exp, sizeof exp, "fewer than %ld messages", o->warn_size);
    snprintf(actual, sizeof actual, "%ld messages, %ld recipients (%ld active, %ld deferred, %ld on hold)", n, t->total,
             t->active, t->deferred, t->hold);
    report_checkf(r, st, "size", "queue size", exp, actual, "%s (warn at %ld, fail at %ld messages)",
                  st == CK_PASS ? "the queue is small" : "mail is piling up: the destinations below say why",
                  o->warn_size, o->fail_size);
}

/* age_check - the oldest recipient against the thresholds */
static void age_check(report *r, const qshape *s, const qreport_opts *o)
{
    const qs_dest *t = qs_totals(s);
    char a[32], w[32], f[32], exp[64], actual[120];
    long old = 0;
    for (int b = qs_bucket_of(3600); b < QS_NBUCKETS; b++)
        old += t->buckets[b];
    enum check_status st = t->oldest_s >= o->fail_age_s ? CK_FAIL : t->oldest_s >= o->warn_age_s ? CK_WARN : CK_PASS;
    snprintf(exp, sizeof exp, "nothing older than %s", la_dur_text((double)o->warn_age_s, w, sizeof w));
    if (t->oldest_s < 0)
        snprintf(actual, sizeof actual, "empty queue");
    else
        snprintf(actual, sizeof actual, "oldest %s; %ld recipient(s) waiting over 1h",
                 la_dur_text((double)t->oldest_s, a, sizeof a), old);
    report_checkf(r, st, "age", "time in the queue", exp, actual, "%s (warn at %s, fail at %s)",
                  st == CK_PASS ? "mail moves" : "mail waits for hours: its reasons are below", w,
                  la_dur_text((double)o->fail_age_s, f, sizeof f));
}

/* grid_text - the qshape table */
static void grid_text(report *r, const qshape *s, const qreport_opts *o)
{
    char line[400];
    int k = snprintf(line, sizeof line, "%-28s %6s", "destination", "total");
    for (int b = 0; b < QS_NBUCKETS; b++)
        k += snprintf(line + k, sizeof line - (size_t)k, " %8s", qs_bucket_label(b));
    report_section(r, "Queue shape (recipients by destination and time in the queue)");
    report_text(r, "%s", line);
    size_t n = qs_ndests(s);
    for (size_t i = 0; i <= n; i++) {
        const qs_dest *d = i == 0 ? qs_totals(s) : qs_dest_at(s, i - 1);
        if (i > (size_t)o->max_rows && o->max_rows) {
            report_text(r, "... and %zu more destinations (see --json)", n - i + 1);
            break;
        }
        k = snprintf(line, sizeof line, "%-28.28s %6ld", d->domain, d->total);
        for (int b = 0; b < QS_NBUCKETS; b++)
            k += snprintf(line + k, sizeof line - (size_t)k, " %8ld", d->buckets[b]);
        report_text(r, "%s", line);
    }
}

/* dest_status - the status of a destination by its top class and age */
static enum check_status dest_status(const qs_dest *d, int m)
{
    enum check_status st = m >= 0 ? meaning[m].st : CK_INFO;
    if (d->top_cat == RC_GREYLISTING && d->oldest_s >= 3600)
        st = CK_WARN;   /* greylisted mail should have passed by now */
    if (d->top_cat == RC_OTHER && d->oldest_s < 3600 && d->by_cat[RC_OTHER] < 10)
        st = CK_INFO;
    if (st == CK_WARN && d->top_cat >= RC_NCLASSES && d->oldest_s >= 86400)
        st = CK_FAIL;
    return st;
}

/* dest_check - one destination whose mail waits with reasons */
static void dest_check(report *r, const qs_dest *d)
{
    int m = meaning_of(d->top_cat);
    long reasons = d->total - d->no_reason;
    char id[300], title[320], actual[240], age[32];
    snprintf(id, sizeof id, "dest:%s", d->domain);
    snprintf(title, sizeof title, "%s: %s", d->domain, lp_cat_name(d->top_cat));
    snprintf(actual, sizeof actual, "%ld recipient(s) waiting, oldest %s; %ld of %ld reasons are %s%s", d->total,
             d->oldest_s >= 0 ? la_dur_text((double)d->oldest_s, age, sizeof age) : "?", d->by_cat[d->top_cat],
             reasons, lp_cat_name(d->top_cat), d->n421 ? " (421 replies among them)" : "");
    int dominated = d->by_cat[d->top_cat] * 2 >= reasons;
    char prov[80] = "";
    if (d->provider)
        snprintf(prov, sizeof prov, " (provider: %s)", d->provider);
    int i = report_checkf(r, dest_status(d, m), id, title, "no mail waiting on a refusal", actual, "%s %s%s: %s",
                          dominated ? "Dominated by" : "Mostly", lp_cat_name(d->top_cat), prov,
                          m >= 0 ? meaning[m].means : "");
    if (d->top_text)
        report_evidence(r, i, d->top_text);
    for (int k = 0; k < d->ntexts && k < 3; k++)
        if (d->texts[k].text != d->top_text)
            report_evidence(r, i, d->texts[k].text);
    report_check_data(r, i, json_pack("{s:o,s:s}", "domain", la_jstr(d->domain), "class", lp_cat_name(d->top_cat)));
}

/* dest_json - one grid row */
static json_t *dest_json(const qs_dest *d)
{
    json_t *b = json_array(), *cats = json_object(), *texts = json_array();
    for (int k = 0; k < QS_NBUCKETS; k++)
        json_array_append_new(b, json_integer(d->buckets[k]));
    for (int c = 0; c < LC_NCATS; c++)
        if (d->by_cat[c])
            json_object_set_new(cats, lp_cat_name(c), json_integer(d->by_cat[c]));
    for (int k = 0; k < d->ntexts; k++)
        json_array_append_new(texts, json_pack("{s:o,s:s,s:I}", "text", la_jstr(d->texts[k].text), "class",
                                               lp_cat_name(d->texts[k].cat), "count", (json_int_t)d->texts[k].n));
    json_t *o = json_pack("{s:o,s:I,s:o,s:I,s:I,s:I,s:I,s:o,s:I,s:o}", "domain", la_jstr(d->domain), "total",
                          (json_int_t)d->total, "buckets", b, "active", (json_int_t)d->active, "deferred",
                          (json_int_t)d->deferred, "hold", (json_int_t)d->hold, "oldest_s", (json_int_t)d->oldest_s,
                          "reasons_by_class", cats, "n421", (json_int_t)d->n421, "reasons", texts);
    json_object_set_new(o, "top_class", d->top_cat >= 0 ? json_string(lp_cat_name(d->top_cat)) : json_null());
    json_object_set_new(o, "top_reason", la_jstr(d->top_text));
    json_object_set_new(o, "provider", la_jstr(d->provider));
    return o;
}

/* grid_json - the grid as data */
static json_t *grid_json(const qshape *s)
{
    json_t *labels = json_array(), *rows = json_array();
    for (int b = 0; b < QS_NBUCKETS; b++)
        json_array_append_new(labels, json_string(qs_bucket_label(b)));
    for (size_t i = 0; i < qs_ndests(s); i++)
        json_array_append_new(rows, dest_json(qs_dest_at(s, i)));
    return json_pack("{s:o,s:o,s:o,s:I}", "buckets", labels, "destinations", rows, "total", dest_json(qs_totals(s)),
                     "messages", (json_int_t)qs_messages(s));
}

void qreport_build(report *r, const qparser *p, const qshape *s, const char *source, const qreport_opts *o)
{
    source_check(r, p, s, source);
    size_check(r, s, o);
    age_check(r, s, o);
    if (qs_totals(s)->hold)
        report_checkf(r, CK_INFO, "hold", "mail on hold", NULL, NULL,
                      "%ld recipient(s) on hold (or frozen): they wait until released", qs_totals(s)->hold);
    grid_text(r, s, o);
    int shown = 0;
    for (size_t i = 0; i < qs_ndests(s); i++) {
        const qs_dest *d = qs_dest_at(s, i);
        if (d->top_cat < 0 || (o->max_rows && shown >= o->max_rows))
            continue;
        if (!shown++)
            report_section(r, "Why mail waits, per destination");
        dest_check(r, d);
    }
    report_data(r, "source", json_pack("{s:s,s:s,s:I}", "from", source, "format", qp_format_name(qp_detected(p)),
                                       "unrecognised_lines", (json_int_t)qp_unrecognised(p)));
    report_data(r, "grid", grid_json(s));
}
