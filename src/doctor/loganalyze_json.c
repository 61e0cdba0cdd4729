/* loganalyze_json.c - the analyzer's results as data: time series in buckets of a common
 * width, and the JSON forms of a destination, the summary and a message timeline (the
 * schema is in docs/doctor.md, "doctor logs"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

/* utf8_len - the length of a valid UTF-8 sequence at s, or 0 */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || (n == 2 && s[0] < 0xC2) || (n == 4 && s[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && s[0] == 0xE0 && s[1] < 0xA0) || (n == 3 && s[0] == 0xED && s[1] >= 0xA0) ||
        (n == 4 && s[0] == 0xF0 && s[1] < 0x90) || (n == 4 && s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return n;
}

json_t *la_jstr(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    char *c = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const unsigned char *)s + i);
        if (!k) {
            c[o++] = '?';
            i++;
            continue;
        }
        memcpy(c + o, s + i, k);
        o += k;
        i += k;
    }
    json_t *j = json_stringn(c, o);
    free(c);
    return j ? j : json_string("?");
}

const char *la_dur_text(double s, char *buf, size_t n)
{
    long v = (long)(s + 0.5);
    if (v < 60)
        snprintf(buf, n, "%lds", v);
    else if (v < 3600)
        snprintf(buf, n, "%ldm%s", v / 60, v % 60 >= 30 && v < 600 ? "30s" : "");
    else if (v < 86400 && v % 3600 < 60)
        snprintf(buf, n, "%ldh", v / 3600);
    else if (v < 86400)
        snprintf(buf, n, "%ldh%02ldm", v / 3600, v % 3600 / 60);
    else if (v % 86400 < 3600)
        snprintf(buf, n, "%ldd", v / 86400);
    else
        snprintf(buf, n, "%ldd%ldh", v / 86400, v % 86400 / 3600);
    return buf;
}

const char *la_time_text(int64_t us, char *buf, size_t n)
{
    if (!us) {
        snprintf(buf, n, "%s", "");
        return buf;
    }
    time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, n, "%s", "");
    return buf;
}

int64_t la_series_width(const loganalyzer *la)
{
    static const int64_t widths[] = {60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800};
    int64_t span = (la->sum.last_us - la->sum.first_us) / 1000000;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (span / widths[i] < 48)
            return widths[i];
    return span / 47 + 1;
}

/* floor_div - division rounding down */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

size_t la_series(const loganalyzer *la, const la_dest *d, la_bucket **out)
{
    const la_minutes *m = d ? &((const la_dest_int *)d)->series : &la->global;
    *out = NULL;
    if (!m->n)
        return 0;
    int64_t w = la_series_width(la) / 60;
    int64_t b0 = floor_div(m->m[0].min, w), b1 = floor_div(m->m[m->n - 1].min, w);
    size_t nb = (size_t)(b1 - b0 + 1);
    if (nb > 5000)
        nb = 5000;
    la_bucket *b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < nb; i++)
        b[i].t_us = (b0 + (int64_t)i) * w * 60000000;
    for (size_t i = 0; i < m->n; i++) {
        size_t k = (size_t)(floor_div(m->m[i].min, w) - b0);
        if (k >= nb)
            continue;
        b[k].attempts += m->m[i].att;
        b[k].delivered += m->m[i].sent;
        b[k].deferred += m->m[i].def;
        b[k].bounced += m->m[i].bnc;
        b[k].n4xx += m->m[i].n4xx;
        b[k].n421 += m->m[i].n421;
    }
    *out = b;
    return nb;
}

/* series_json - {"bucket_s":W,"buckets":[...]} */
static json_t *series_json(const loganalyzer *la, const la_dest *d)
{
    la_bucket *b;
    size_t n = la_series(la, d, &b);
    json_t *arr = json_array();
    char t[40];
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "t", la_time_text(b[i].t_us, t, sizeof t),
                                             "attempts", (json_int_t)b[i].attempts, "delivered",
                                             (json_int_t)b[i].delivered, "deferred", (json_int_t)b[i].deferred,
                                             "bounced", (json_int_t)b[i].bounced, "4xx", (json_int_t)b[i].n4xx,
                                             "421", (json_int_t)b[i].n421));
    free(b);
    return json_pack("{s:I,s:o}", "bucket_s", (json_int_t)la_series_width(la), "buckets", arr);
}

/* by_cat_json - {"greylisting":3,...} without zeros */
static json_t *by_cat_json(const long *v)
{
    json_t *o = json_object();
    for (int c = 0; c < LC_NCATS; c++)
        if (v[c])
            json_object_set_new(o, lp_cat_name(c), json_integer(v[c]));
    return o;
}

/* stat_json - a duration summary */
static json_t *stat_json(const la_stat *s)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)s->n, "min", s->min, "median", s->median,
                     "p90", s->p90, "max", s->max);
}

/* opt_str - a JSON string (sanitised) or null */
static json_t *opt_str(const char *s)
{
    return la_jstr(s);
}

/* recipients_json - the per-recipient facts */
static json_t *recipients_json(const la_dest *p)
{
    return json_pack("{s:I,s:I,s:[I,I,I,I],s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)p->rcpts, "first_try",
                     (json_int_t)p->first_try_ok, "after_retries", (json_int_t)p->after_retry_ok[0],
                     (json_int_t)p->after_retry_ok[1], (json_int_t)p->after_retry_ok[2],
                     (json_int_t)p->after_retry_ok[3], "pending", (json_int_t)p->pending, "failed",
                     (json_int_t)p->failed, "greylisting_pattern", (json_int_t)p->grey_pattern, "persistent",
                     (json_int_t)p->persistent, "persistent_varied", (json_int_t)p->persistent_varied);
}

json_t *la_dest_json(const loganalyzer *la, const la_dest *p)
{
    char t1[40], t2[40];
    json_t *ev = json_array();
    for (int i = 0; i < p->nevidence; i++)
        json_array_append_new(ev, la_jstr(p->evidence[i]));
    json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:o,s:s}", "domain", la_jstr(p->domain), "verdict",
                          la_verdict_name(p->verdict), "title", la_verdict_title(p->verdict), "status",
                          check_status_name(p->status), "why", la_jstr(p->why ? p->why : ""), "advice",
                          p->advice ? p->advice : "");
    json_object_set_new(o, "provider", opt_str(p->provider));
    json_object_set_new(o, "provider_code", opt_str(p->provider_code));
    json_object_set_new(o, "top_reply", opt_str(p->top_reply));
    json_object_update_new(o, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "attempts", (json_int_t)p->attempts,
                                        "delivered", (json_int_t)p->delivered, "deferred", (json_int_t)p->deferred,
                                        "bounced", (json_int_t)p->bounced, "expired", (json_int_t)p->expired,
                                        "suspended", (json_int_t)p->suspended, "n421", (json_int_t)p->n421,
                                        "n4xx", (json_int_t)p->n4xx, "n5xx", (json_int_t)p->n5xx));
    json_object_set_new(o, "deferred_by", by_cat_json(p->deferred_by));
    json_object_set_new(o, "bounced_by", by_cat_json(p->bounced_by));
    json_object_set_new(o, "host_replies_by", by_cat_json(p->hostreply_by));
    json_object_set_new(o, "recipients", recipients_json(p));
    json_object_set_new(o, "attempt_kinds", json_pack("{s:I,s:I,s:I,s:I}", "first", (json_int_t)p->first_attempts,
                                                      "first_deferred", (json_int_t)p->first_deferred, "retries",
                                                      (json_int_t)p->retry_attempts, "retries_deferred",
                                                      (json_int_t)p->retry_deferred));
    json_object_set_new(o, "retry_interval_s", stat_json(&p->retry_interval));
    json_object_set_new(o, "pass_delay_s", stat_json(&p->pass_delay));
    json_object_set_new(o, "peak_concurrency", p->peak_concurrency >= 0 ? json_integer(p->peak_concurrency) : json_null());
    json_object_set_new(o, "accepted", json_pack("{s:f,s:f,s:f}", "peak_per_min", p->peak_per_min, "peak_per_hour",
                                                 p->peak_per_hour, "avg_per_hour", p->avg_per_hour));
    json_object_set_new(o, "first", json_string(la_time_text(p->first_us, t1, sizeof t1)));
    json_object_set_new(o, "last", json_string(la_time_text(p->last_us, t2, sizeof t2)));
    json_object_set_new(o, "series", series_json(la, p));
    json_object_set_new(o, "evidence", ev);
    return o;
}

/* verdicts_json - destinations per verdict, without zeros */
static json_t *verdicts_json(const la_summary *s)
{
    json_t *o = json_object();
    for (int v = 0; v < LV_NVERDICTS; v++)
        if (s->verdicts[v])
            json_object_set_new(o, la_verdict_name((enum la_verdict)v), json_integer(s->verdicts[v]));
    return o;
}

/* input_json - what was read */
static json_t *input_json(const la_summary *s)
{
    json_t *fmt = json_object(), *ex = json_array();
    for (int f = 0; f < LPF_NFORMATS; f++)
        if (s->by_format[f])
            json_object_set_new(fmt, lp_format_name((enum lp_format)f), json_integer(s->by_format[f]));
    for (int i = 0; i < s->nunrecognised_examples; i++)
        json_array_append_new(ex, la_jstr(s->unrecognised_examples[i]));
    return json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:o}", "files", (json_int_t)s->files, "lines", (json_int_t)s->lines,
                     "truncated_lines", (json_int_t)s->truncated_lines, "by_format", fmt, "ignored",
                     (json_int_t)s->ignored, "unrecognised", (json_int_t)s->unrecognised,
                     "unrecognised_examples", ex);
}

json_t *la_summary_json(const loganalyzer *la)
{
    const la_summary *s = &la->sum;
    char t1[40], t2[40];
    json_t *o = json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "input", input_json(s), "attempts",
                          (json_int_t)s->attempts, "delivered", (json_int_t)s->delivered, "deferred",
                          (json_int_t)s->deferred, "bounced", (json_int_t)s->bounced, "expired",
                          (json_int_t)s->expired, "suspended", (json_int_t)s->suspended, "local_deliveries",
                          (json_int_t)s->local, "n421", (json_int_t)s->n421, "n4xx", (json_int_t)s->n4xx);
    json_object_set_new(o, "deferred_by", by_cat_json(s->deferred_by));
    json_object_set_new(o, "destinations", json_integer((json_int_t)la->ndv));
    json_object_set_new(o, "messages", json_integer(s->messages));
    json_object_set_new(o, "timeline_dropped", json_integer(s->timeline_dropped));
    json_object_set_new(o, "verdicts", verdicts_json(s));
    json_object_set_new(o, "inbound", json_pack("{s:I,s:o,s:I,s:I}", "total", (json_int_t)s->inbound, "by_class",
                                                by_cat_json(s->inbound_by), "greylisted",
                                                (json_int_t)s->inbound_greylisted, "greylist_passed",
                                                (json_int_t)s->inbound_grey_passed));
    json_object_set_new(o, "first", json_string(la_time_text(s->first_us, t1, sizeof t1)));
    json_object_set_new(o, "last", json_string(la_time_text(s->last_us, t2, sizeof t2)));
    json_object_set_new(o, "classifier", json_boolean(s->classifier));
    json_object_set_new(o, "series", series_json(la, NULL));
    return o;
}

json_t *la_message_json(const la_message *m)
{
    json_t *att = json_array();
    char t[40];
    for (int i = 0; i < m->natt; i++) {
        const la_attempt *a = &m->att[i];
        json_t *e = json_pack("{s:s,s:s}", "t", la_time_text(a->t_us, t, sizeof t), "status",
                              a->status == LS_NONE ? "host_reply" : a->suspended ? "suspended" : lp_status_name(a->status));
        json_object_set_new(e, "rcpt", opt_str(a->rcpt));
        json_object_set_new(e, "relay", opt_str(a->relay));
        json_object_set_new(e, "class", a->cat >= 0 ? json_string(lp_cat_name(a->cat)) : json_null());
        json_object_set_new(e, "code", a->code ? json_integer(a->code) : json_null());
        json_object_set_new(e, "reply", opt_str(a->reply));
        json_array_append_new(att, e);
    }
    return json_pack("{s:o,s:s,s:I,s:I,s:o}", "queue_id", la_jstr(m->qid), "format", lp_format_name(m->fmt), "attempts_total",
                     (json_int_t)m->nattempts, "deferrals", (json_int_t)m->ndeferred, "attempts", att);
}
