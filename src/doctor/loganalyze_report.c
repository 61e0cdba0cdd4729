/* loganalyze_report.c - an analysis as a doctor report (report.h): what was read, a table of
 * destinations, one check per destination that is not healthy (verdict, expected vs actual,
 * why and what to change, the evidence lines), the 421/4xx series, patterns across
 * destinations (outbound port 25 blocked, reputation at several providers), the inbound
 * side, and message timelines.  The data of the JSON form: "summary", "destinations",
 * "messages" (docs/doctor.md). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/dbuf.h"
#include "doctor/loganalyze_int.h"

/* wanted - the destination passes the --domain filter */
static int wanted(const la_report_opts *ro, const char *domain)
{
    if (!ro->ndomains)
        return 1;
    for (int i = 0; i < ro->ndomains; i++)
        if (!strcasecmp(ro->domains[i], domain))
            return 1;
    return 0;
}

/* input_check - lines read, by format; unrecognised lines (info) */
static void input_check(const loganalyzer *la, report *r)
{
    const la_summary *s = &la->sum;
    dbuf b = {0};
    for (int f = 0; f < LPF_NFORMATS; f++)
        if (s->by_format[f])
            dbuf_printf(&b, "%s%s %ld", b.len ? ", " : "", lp_format_name((enum lp_format)f), s->by_format[f]);
    char actual[160];
    snprintf(actual, sizeof actual, "%ld lines: %s", s->lines, b.len ? dbuf_cstr(&b) : "none recognised");
    int i = report_checkf(r, CK_INFO, "input", "log lines read", NULL, actual,
                          "%ld file(s); %ld line(s) of other programs ignored; %ld unrecognised%s%s", s->files,
                          s->ignored, s->unrecognised, s->truncated_lines ? "; long lines cut: " : "",
                          s->truncated_lines ? "yes" : "");
    for (int k = 0; k < s->nunrecognised_examples; k++)
        report_evidence(r, i, s->unrecognised_examples[k]);
    if (s->timeline_dropped)
        report_checkf(r, CK_INFO, "timelines", "message timelines", NULL, NULL,
                      "%ld attempts were counted but not kept in timelines (memory budget)", s->timeline_dropped);
    if (!s->classifier)
        report_check(r, CK_WARN, "classifier", "reply classifier", "the shipped rules", "not available",
                     "replies were classed only as permanent (5xx) or other; verdicts rest on the timelines");
    dbuf_free(&b);
}

/* table - one line per destination */
static void table(const loganalyzer *la, report *r, const la_report_opts *ro)
{
    report_section(r, "Destinations");
    report_text(r, "%-32s %8s %8s %8s %8s %6s  %s", "destination", "attempts", "sent", "deferred", "bounced", "421",
                "verdict");
    size_t shown = 0;
    for (size_t i = 0; i < la->ndv; i++) {
        const la_dest *p = &la->dv[i]->pub;
        if (!wanted(ro, p->domain) || (ro->max_rows && shown >= (size_t)ro->max_rows))
            continue;
        shown++;
        report_text(r, "%-32.32s %8ld %8ld %8ld %8ld %6ld  %s", p->domain, p->attempts, p->delivered, p->deferred,
                    p->bounced + p->expired, p->n421, la_verdict_title(p->verdict));
    }
    if (shown < la->ndv && !ro->ndomains)
        report_text(r, "... and %zu more (see --json)", la->ndv - shown);
}

/* series_text - the 421/4xx series of a destination (d NULL: all) */
static void series_text(const loganalyzer *la, report *r, const la_dest *d)
{
    la_bucket *b;
    size_t n = la_series(la, d, &b);
    if (n < 2) {
        free(b);
        return;
    }
    char t[40];
    report_text(r, "  %-19s %8s %8s %8s %6s %6s   (buckets of %lds)", "time", "attempts", "sent", "deferred", "4xx",
                "421", (long)la_series_width(la));
    for (size_t i = 0; i < n; i++)
        if (b[i].attempts)
            report_text(r, "  %-19s %8ld %8ld %8ld %6ld %6ld", la_time_text(b[i].t_us, t, sizeof t), b[i].attempts,
                        b[i].delivered, b[i].deferred, b[i].n4xx, b[i].n421);
    free(b);
}

/* classes_text - "rate_limited 10, greylisting 2" */
static void classes_text(dbuf *b, const long *v)
{
    for (int c = 0; c < LC_NCATS; c++)
        if (v[c])
            dbuf_printf(b, "%s%s %ld", b->len ? ", " : "", lp_cat_name(c), v[c]);
}

/* dest_details - the figures behind a destination's verdict */
static void dest_details(const loganalyzer *la, report *r, const la_dest *p)
{
    dbuf b = {0};
    classes_text(&b, p->deferred_by);
    report_text(r, "  deferred by class: %s", b.len ? dbuf_cstr(&b) : "-");
    dbuf_reset(&b);
    classes_text(&b, p->bounced_by);
    if (b.len)
        report_text(r, "  bounced by class:  %s", dbuf_cstr(&b));
    dbuf_free(&b);
    report_text(r, "  recipients: %ld, first try %ld, after 1/2/3/4+ deferrals %ld/%ld/%ld/%ld, still deferred %ld, "
                   "failed %ld", p->rcpts, p->first_try_ok, p->after_retry_ok[0], p->after_retry_ok[1],
                p->after_retry_ok[2], p->after_retry_ok[3], p->pending, p->failed);
    if (p->retry_interval.n)
        report_text(r, "  retry intervals: %ld, min %.0fs, median %.0fs, max %.0fs; deferral to delivery: median %.0fs",
                    p->retry_interval.n, p->retry_interval.min, p->retry_interval.median, p->retry_interval.max,
                    p->pass_delay.median);
    char conc[64] = "not visible in this log";
    if (p->peak_concurrency > 0)
        snprintf(conc, sizeof conc, "up to %d at once", p->peak_concurrency);
    report_text(r, "  accepted: at most %.0f/min, %.0f/hour, %.1f/hour on average; deliveries: %s",
                p->peak_per_min, p->peak_per_hour, p->avg_per_hour, conc);
    series_text(la, r, p);
}

/* dest_check - the verdict of one destination */
static void dest_check(const loganalyzer *la, report *r, const la_dest *p, int details)
{
    char id[300], title[320], actual[200];
    snprintf(id, sizeof id, "dest:%s", p->domain);
    snprintf(title, sizeof title, "%s: %s", p->domain, la_verdict_title(p->verdict));
    snprintf(actual, sizeof actual, "%ld of %ld delivered, %ld deferred (%ld with 421), %ld bounced", p->delivered,
             p->attempts, p->deferred, p->n421, p->bounced + p->expired);
    if (details) {
        report_section(r, p->domain);
        dest_details(la, r, p);
    }
    int i = report_checkf(r, p->status, id, title, "all attempts delivered", actual, "%s%s%s", p->why,
                          p->advice && p->advice[0] ? ". To do: " : "", p->advice ? p->advice : "");
    for (int k = 0; k < p->nevidence; k++)
        report_evidence(r, i, p->evidence[k]);
    report_check_data(r, i, json_pack("{s:o,s:s}", "domain", la_jstr(p->domain), "verdict", la_verdict_name(p->verdict)));
}

/* patterns - what several destinations say together */
static void patterns(const loganalyzer *la, report *r)
{
    long timeouts = 0, reput = 0, auth = 0, delivered = la->sum.delivered;
    for (size_t i = 0; i < la->ndv; i++) {
        const la_dest *p = &la->dv[i]->pub;
        timeouts += p->verdict == LV_NETWORK && (p->deferred_by[LC_CONNECT_TIMEOUT] + p->hostreply_by[LC_CONNECT_TIMEOUT]) > 0;
        reput += p->verdict == LV_REPUTATION;
        auth += p->verdict == LV_AUTHENTICATION;
    }
    if (timeouts >= 2 && !delivered)
        report_checkf(r, CK_FAIL, "port25", "outbound port 25", "connections to receivers",
                      "every connection timed out", "%ld destinations time out and nothing was delivered at all: "
                      "outbound port 25 is blocked (the hosting provider's default) or a firewall drops it. "
                      "To do: `sluice doctor probe DOMAIN`; ask the provider to open port 25 or use a relayhost",
                      timeouts);
    if (reput >= 2)
        report_checkf(r, CK_FAIL, "reputation", "reputation across providers", NULL, NULL,
                      "%ld destinations refuse on reputation grounds: the sending IP or domain itself is the "
                      "common cause (`sluice doctor ip`)", reput);
    if (auth >= 2)
        report_checkf(r, CK_FAIL, "authentication", "authentication across providers", NULL, NULL,
                      "%ld destinations point at SPF/DKIM/DMARC/PTR: fix the sending domain (`sluice doctor domain`)",
                      auth);
}

/* summary_check - the whole log in one line */
static void summary_check(const loganalyzer *la, report *r)
{
    const la_summary *s = &la->sum;
    dbuf b = {0};
    for (int v = 0; v < LV_NVERDICTS; v++)
        if (s->verdicts[v])
            dbuf_printf(&b, "%s%ld %s", b.len ? ", " : "", s->verdicts[v], la_verdict_title((enum la_verdict)v));
    char actual[200];
    snprintf(actual, sizeof actual, "%ld attempts: %ld delivered, %ld deferred (%ld with 421, %ld 4xx), %ld bounced",
             s->attempts, s->delivered, s->deferred, s->n421, s->n4xx, s->bounced + s->expired);
    report_checkf(r, s->attempts ? CK_INFO : CK_WARN, "summary", "deliveries", NULL, actual, "%zu destination(s)%s%s%s",
                  la->ndv, b.len ? ": " : "", b.len ? dbuf_cstr(&b) : "",
                  s->attempts ? "" : "; no delivery attempts found in the log(s)");
    dbuf_free(&b);
    if (s->inbound) {
        dbuf_reset(&b);
        classes_text(&b, s->inbound_by);
        report_checkf(r, CK_INFO, "inbound", "mail this host refused or greylisted", NULL, NULL,
                      "%ld refusals of incoming mail (%s)%s: they concern mail this host receives, not its "
                      "deliveries", s->inbound, b.len ? dbuf_cstr(&b) : "unclassified",
                      s->inbound_grey_passed ? "; greylisted senders that passed later are logged too" : "");
        dbuf_free(&b);
    }
}

/* timeline_text - one message */
static void timeline_text(report *r, const la_message *m)
{
    char t[40];
    report_text(r, "%s (%s): %ld attempt(s), %ld deferral(s)%s", m->qid, lp_format_name(m->fmt), m->nattempts,
                m->ndeferred, m->natt < m->nattempts ? ", the last ones:" : "");
    for (int i = 0; i < m->natt; i++) {
        const la_attempt *a = &m->att[i];
        report_text(r, "  %-19s %-10s %-28.28s %-24.24s %.110s", la_time_text(a->t_us, t, sizeof t),
                    a->status == LS_NONE ? "host-reply" : a->suspended ? "suspended" : lp_status_name(a->status),
                    a->rcpt ? a->rcpt : "-", a->relay ? a->relay : "-", a->reply ? a->reply : "");
    }
}

/* timelines - messages with deferrals first, up to ro->max_timelines in text */
static void timelines(const loganalyzer *la, report *r, const la_report_opts *ro)
{
    json_t *arr = json_array();
    long shown = 0, omitted = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < la->nmv; i++) {
            const la_message *m = &la->mv[i]->pub;
            if ((pass == 0) != (m->ndeferred > 0) || !m->natt)
                continue;
            if (ro->ndomains && (!la->mv[i]->nrs || !wanted(ro, la->mv[i]->rs[0].d->domain)))
                continue;
            if (ro->max_timelines >= 0 && shown >= ro->max_timelines) {
                omitted++;
                continue;
            }
            if (!shown++)
                report_section(r, "Timelines (messages with deferrals first)");
            timeline_text(r, m);
            json_array_append_new(arr, la_message_json(m));
        }
    if (omitted)
        report_text(r, "... and %ld more messages (--timelines N|all)", omitted);
    report_data(r, "messages", arr);
    report_data(r, "messages_omitted", json_integer(omitted));
}

void la_report(const loganalyzer *la, report *r, const la_report_opts *ro)
{
    input_check(la, r);
    summary_check(la, r);
    patterns(la, r);
    table(la, r, ro);
    if (la->sum.n4xx && !ro->ndomains) {
        report_section(r, "4xx and 421 over time, all destinations");
        series_text(la, r, NULL);
    }
    json_t *dests = json_array();
    long checks = 0;
    for (size_t i = 0; i < la->ndv; i++) {
        const la_dest *p = &la->dv[i]->pub;
        if (!wanted(ro, p->domain))
            continue;
        json_array_append_new(dests, la_dest_json(la, p));
        if (p->verdict == LV_HEALTHY && !ro->ndomains)
            continue;
        if (p->verdict == LV_NONE && !ro->ndomains)
            continue;
        dest_check(la, r, p, !ro->max_rows || checks < ro->max_rows);
        checks++;
    }
    report_data(r, "summary", la_summary_json(la));
    report_data(r, "destinations", dests);
    timelines(la, r, ro);
}
