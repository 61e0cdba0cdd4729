/* queueparse.c - the queue listing parser's frame: format detection, the message being
 * assembled (qid, sender, recipients with their reasons), handing it over in chunks, and
 * the JSON format (postqueue -j and sluice).  The text formats are queueparse_<mta>.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xmalloc.h"
#include "doctor/queueparse_int.h"

static const char *const fmt_names[QF_NFORMATS] = {"auto", "json", "postfix", "exim", "sendmail"};
static const char *const state_names[QS_NSTATES] = {"active", "deferred", "hold", "incoming", "unknown"};

const char *qp_format_name(enum qp_format f)
{
    return (unsigned)f < QF_NFORMATS ? fmt_names[f] : "?";
}

const char *qp_state_name(enum qp_state s)
{
    return (unsigned)s < QS_NSTATES ? state_names[s] : "?";
}

qparser *qp_new(enum qp_format f, unsigned allowed, int64_t now, qp_cb cb, void *arg)
{
    qparser *p = xcalloc(1, sizeof *p);
    p->fmt = f;
    p->allowed = allowed ? allowed : ~0u;
    p->now = now;
    p->cb = cb;
    p->arg = arg;
    return p;
}

/* clear_rcpts - forget the recipients handed over */
static void clear_rcpts(qparser *p)
{
    for (int i = 0; i < p->m.nrcpt; i++) {
        free(p->addrs[i]);
        free(p->reasons[i]);
    }
    p->m.nrcpt = 0;
}

void qp_free(qparser *p)
{
    if (!p)
        return;
    clear_rcpts(p);
    free(p->rcpts);
    free(p->addrs);
    free(p->reasons);
    free(p->reason);
    for (int i = 0; i < 3; i++)
        free(p->unrec[i]);
    free(p);
}

void qp_flush(qparser *p)
{
    if (!p->open)
        return;
    p->m.rcpts = p->rcpts;
    p->cb(&p->m, p->arg);
    clear_rcpts(p);
    p->open = 0;
    free(p->reason);
    p->reason = NULL;
}

void qp_begin(qparser *p, const char *qid, size_t qn)
{
    qp_flush(p);
    memset(&p->m, 0, sizeof p->m);
    if (qn >= sizeof p->qid)
        qn = sizeof p->qid - 1;
    memcpy(p->qid, qid, qn);
    p->qid[qn] = 0;
    p->sender[0] = 0;
    p->m.qid = p->qid;
    p->m.sender = p->sender;
    p->m.fmt = p->fmt;
    p->m.state = QS_UNKNOWN;
    p->m.arrival = p->m.age_s = p->m.size = -1;
    p->open = 1;
    p->messages++;
}

void qp_set_sender(qparser *p, const char *s, size_t n)
{
    if (n && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    if (n >= sizeof p->sender)
        n = sizeof p->sender - 1;
    memcpy(p->sender, s, n);
    p->sender[n] = 0;
}

void qp_set_reason(qparser *p, const char *s, size_t n)
{
    free(p->reason);
    p->reason = n ? xstrndup(s, n) : NULL;
}

void qp_add_rcpt(qparser *p, const char *addr, size_t n)
{
    if (!p->open)
        return;
    if (p->m.nrcpt == QP_CHUNK) {
        p->m.rcpts = p->rcpts;
        p->cb(&p->m, p->arg);
        clear_rcpts(p);
        p->m.chunk++;
    }
    if (p->m.nrcpt == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->rcpts = xrealloc(p->rcpts, (size_t)p->cap * sizeof *p->rcpts);
        p->addrs = xrealloc(p->addrs, (size_t)p->cap * sizeof *p->addrs);
        p->reasons = xrealloc(p->reasons, (size_t)p->cap * sizeof *p->reasons);
    }
    if (n > 1 && addr[0] == '<' && addr[n - 1] == '>') {
        addr++;
        n -= 2;
    }
    int i = p->m.nrcpt++;
    p->addrs[i] = xstrndup(addr, n > 1000 ? 1000 : n);
    p->reasons[i] = p->reason ? xstrdup(p->reason) : NULL;
    p->rcpts[i].addr = p->addrs[i];
    p->rcpts[i].reason = p->reasons[i];
}

void qp_bad_line(qparser *p, const char *line, size_t len)
{
    p->unrecognised++;
    for (int i = 0; i < 3; i++)
        if (!p->unrec[i]) {
            p->unrec[i] = xstrndup(line, len > 300 ? 300 : len);
            for (char *c = p->unrec[i]; *c; c++)
                if ((unsigned char)*c < 0x20)
                    *c = '?';
            return;
        }
}

/* month - a three-letter month name, 1..12, 0 when not one */
static int month(const char *s)
{
    static const char m[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (!strncmp(s, m + 3 * i, 3))
            return i + 1;
    return 0;
}

/* local_time - a year-less local time: the latest year that puts it before now + 1 day */
static int64_t local_time(int64_t now, int mon, int day, int h, int mi, int s)
{
    time_t tn = (time_t)now;
    struct tm ref;
    localtime_r(&tn, &ref);
    for (int back = 0; back < 2; back++) {
        struct tm tm = {.tm_year = ref.tm_year - back, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = h,
                        .tm_min = mi, .tm_sec = s, .tm_isdst = -1};
        time_t t = mktime(&tm);
        if (t != (time_t)-1 && (int64_t)t <= now + 86400)
            return (int64_t)t;
    }
    return -1;
}

/* digits - n decimal digits at s into *v; the count read (at most max) */
static size_t digits(const char *s, size_t n, size_t max, int *v)
{
    size_t k = 0;
    *v = 0;
    while (k < n && k < max && isdigit((unsigned char)s[k]))
        *v = *v * 10 + (s[k++] - '0');
    return k;
}

size_t qp_date(const char *s, size_t n, int secs, int64_t now, int64_t *t)
{
    int day, h, mi, sec = 0, mon;
    if (n < (secs ? 19u : 16u) || s[3] != ' ' || s[7] != ' ' || !(mon = month(s + 4)))
        return 0;
    size_t i = 8;
    if (s[i] == ' ')
        i++;
    size_t k = digits(s + i, n - i, 2, &day);
    if (!k || day < 1 || day > 31)
        return 0;
    i += k;
    if (i + 6 > n || s[i] != ' ' || digits(s + i + 1, 2, 2, &h) != 2 || s[i + 3] != ':' ||
        digits(s + i + 4, 2, 2, &mi) != 2)
        return 0;
    i += 6;
    if (secs) {
        if (i + 3 > n || s[i] != ':' || digits(s + i + 1, 2, 2, &sec) != 2)
            return 0;
        i += 3;
    }
    if (i < n && s[i] != ' ')
        return 0;
    *t = local_time(now, mon, day, h, mi, sec);
    return i;
}

void qp_trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

int qp_parse_head(const char *s, size_t n, const char *marks, int secs, int64_t now, qp_head *h)
{
    size_t i = 0;
    memset(h, 0, sizeof *h);
    while (i < n && isalnum((unsigned char)s[i]))
        i++;
    if (i < 5 || i > 40)
        return 0;
    h->qid = s;
    h->qn = i;
    h->marks = s + i;
    while (i < n && s[i] && strchr(marks, s[i]))
        i++;
    h->mn = (size_t)(s + i - h->marks);
    size_t sp = i;
    while (i < n && s[i] == ' ')
        i++;
    int64_t size = 0;
    size_t d0 = i;
    while (i < n && isdigit((unsigned char)s[i]) && i - d0 < 15)
        size = size * 10 + (s[i++] - '0');
    if (i == d0 || i == sp || i >= n || s[i] != ' ')
        return 0;
    while (i < n && s[i] == ' ')
        i++;
    size_t k = qp_date(s + i, n - i, secs, now, &h->arrival);
    if (!k)
        return 0;
    h->size = size;
    h->sender = s + i + k;
    h->sn = n - i - k;
    qp_trim(&h->sender, &h->sn);
    return 1;
}

/* json_state - Postfix's queue names */
static enum qp_state json_state(const char *q)
{
    if (!q)
        return QS_UNKNOWN;
    if (!strcmp(q, "active"))
        return QS_ACTIVE;
    if (!strcmp(q, "deferred"))
        return QS_DEFERRED;
    if (!strcmp(q, "hold"))
        return QS_HOLD;
    if (!strcmp(q, "incoming") || !strcmp(q, "maildrop"))
        return QS_INCOMING;
    return QS_UNKNOWN;
}

void qp_json(qparser *p, json_t *o)
{
    const char *qid = json_string_value(json_object_get(o, "queue_id"));
    json_t *rcpts = json_object_get(o, "recipients");
    if (!qid || !json_is_array(rcpts)) {
        p->unrecognised++;
        return;
    }
    qp_begin(p, qid, strlen(qid));
    p->m.fmt = QF_JSON;
    p->m.state = json_state(json_string_value(json_object_get(o, "queue_name")));
    json_t *t = json_object_get(o, "arrival_time"), *sz = json_object_get(o, "message_size");
    if (json_is_integer(t)) {
        p->m.arrival = json_integer_value(t);
        p->m.age_s = p->now - p->m.arrival;
    }
    if (json_is_integer(sz))
        p->m.size = json_integer_value(sz);
    p->m.forced_expire = json_is_true(json_object_get(o, "forced_expire"));
    const char *s = json_string_value(json_object_get(o, "sender"));
    if (s)
        qp_set_sender(p, s, strlen(s));
    size_t i;
    json_t *r;
    json_array_foreach(rcpts, i, r) {
        const char *a = json_string_value(json_object_get(r, "address"));
        const char *why = json_string_value(json_object_get(r, "delay_reason"));
        qp_set_reason(p, why ? why : "", why ? strlen(why) : 0);
        if (a)
            qp_add_rcpt(p, a, strlen(a));
    }
    qp_flush(p);
}

/* json_line - a line of JSON */
static void json_line(qparser *p, const char *s, size_t n)
{
    json_t *o = json_loadb(s, n, 0, NULL);
    if (json_is_object(o))
        qp_json(p, o);
    else
        qp_bad_line(p, s, n);
    json_decref(o);
}

/* detect - the format of the first telling line */
static enum qp_format detect(qparser *p, const char *s, size_t n)
{
    if ((p->allowed & (1u << QF_JSON)) && s[0] == '{')
        return QF_JSON;
    if ((p->allowed & (1u << QF_SENDMAIL)) && qp_sniff_sendmail(s, n))
        return QF_SENDMAIL;
    if ((p->allowed & (1u << QF_POSTFIX)) && qp_sniff_postfix(s, n))
        return QF_POSTFIX;
    if ((p->allowed & (1u << QF_EXIM)) && qp_sniff_exim(s, n))
        return QF_EXIM;
    return QF_AUTO;
}

void qp_line(qparser *p, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t k = 0;
    while (k < len && isspace((unsigned char)line[k]))
        k++;
    if (p->fmt == QF_AUTO) {
        if (k == len)
            return;
        p->fmt = detect(p, line + k, len - k);
        if (p->fmt == QF_AUTO) {
            qp_bad_line(p, line, len);
            return;
        }
    }
    enum qp_line_kind r = QL_OK;
    switch (p->fmt) {
    case QF_JSON:
        if (k < len)
            json_line(p, line + k, len - k);
        return;
    case QF_POSTFIX: r = qp_postfix_line(p, line, len); break;
    case QF_EXIM: r = qp_exim_line(p, line, len); break;
    case QF_SENDMAIL: r = qp_sendmail_line(p, line, len); break;
    default: break;
    }
    if (r == QL_UNRECOGNISED)
        qp_bad_line(p, line, len);
}

void qp_end(qparser *p)
{
    qp_flush(p);
}

enum qp_format qp_detected(const qparser *p)
{
    return p->fmt;
}

long qp_messages(const qparser *p)
{
    return p->messages;
}

long qp_unrecognised(const qparser *p)
{
    return p->unrecognised;
}

const char *qp_unrecognised_example(const qparser *p, int i)
{
    return i >= 0 && i < 3 ? p->unrec[i] : NULL;
}
