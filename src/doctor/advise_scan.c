/* advise_scan.c - reading mail logs for the facts of advise_scan.h: each delivery line gives
 * one event per recipient, kept per destination; refusals are classified (classify.h, with a
 * cache) and refined by their wording.  Figures are computed in advise_scan_figures.c. */
#include "doctor/advise_scan.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "doctor/logparse_int.h"
#include "shaping/classify.h"

#define AS_MAX_EVENTS 4000000L   /* all destinations together (24 bytes each) */
#define AS_MAX_SENDERS 256
#define AS_CACHE_MAX 20000

struct advise_scan {
    const classifier *cls;
    int year;
    lp_ctx ctx;
    hmap *dests, *conns, *senders, *cache;
    as_dest **dv;
    size_t ndv, capdv;
    uint32_t nconns;
    long events, dropped, ncache;
    const char *line;
    size_t linelen;
};

/* A cached classification. */
typedef struct as_class {
    int cat;
    char provider[32];
} as_class;

advise_scan *as_new(const classifier *cls, int year)
{
    advise_scan *s = xcalloc(1, sizeof *s);
    s->cls = cls;
    s->year = year;
    s->dests = hmap_new();
    s->conns = hmap_new();
    s->senders = hmap_new();
    s->cache = hmap_new();
    lp_ctx_init(&s->ctx, 0, year);
    return s;
}

/* dest_free - one destination */
static void dest_free(void *p)
{
    as_dest *d = p;
    for (int k = 0; k < AK_NKINDS; k++)
        for (int i = 0; i < AS_LINES; i++)
            free(d->line[k][i]);
    free(d->ev);
    free(d->domain);
    free(d);
}

void as_free(advise_scan *s)
{
    if (!s)
        return;
    hmap_free(s->dests, dest_free);
    hmap_free(s->conns, NULL);
    hmap_free(s->senders, free);
    hmap_free(s->cache, free);
    free(s->dv);
    free(s);
}

/* dest_get - the destination of domain, new when needed */
static as_dest *dest_get(advise_scan *s, const char *domain)
{
    as_dest *d = hmap_get(s->dests, domain);
    if (d)
        return d;
    d = xcalloc(1, sizeof *d);
    d->domain = xstrdup(domain);
    hmap_put(s->dests, domain, d);
    XGROW(s->dv, s->ndv, s->capdv, 32);
    s->dv[s->ndv++] = d;
    return d;
}

/* domain_of - the lower-case domain of one recipient (n bytes), else of the relay's last
 * two labels, as the log analyzer names destinations */
static void domain_of(const char *r, size_t n, const logrec *rec, char *out, size_t cap)
{
    const char *at = n ? memrchr(r, '@', n) : NULL;
    const char *src = at ? at + 1 : rec->relay;
    size_t k = at ? (size_t)(r + n - src) : strlen(src);
    if (!at) {
        int dots = 0;
        for (size_t i = k; i-- > 0;)
            if (src[i] == '.' && ++dots == 2) {
                src += i + 1;
                k -= i + 1;
                break;
            }
    }
    while (k && src[k - 1] == '.')
        k--;
    if (!k || k >= cap || (!at && (!strcmp(rec->relay, "none") || rec->relay[0] == '['))) {
        snprintf(out, cap, "(unknown)");
        return;
    }
    for (size_t i = 0; i < k; i++)
        out[i] = (char)tolower((unsigned char)src[i]);
    out[k] = 0;
}

/* conn_id - the connection's id (interned), 0 when the log shows none */
static uint32_t conn_id(advise_scan *s, const logrec *rec)
{
    char key[96];
    if (rec->conn[0])
        snprintf(key, sizeof key, "c:%s", rec->conn);
    else if (rec->pid >= 0 && (rec->fmt == LPF_POSTFIX || rec->fmt == LPF_SENDMAIL))
        snprintf(key, sizeof key, "p:%.40s[%ld]", rec->prog, rec->pid);
    else
        return 0;
    uintptr_t id = (uintptr_t)hmap_get(s->conns, key);
    if (!id) {
        id = ++s->nconns;
        hmap_put(s->conns, key, (void *)id);
    }
    return (uint32_t)id;
}

/* hash32 - FNV-1a of a queue id, never 0 */
static uint32_t hash32(const char *q)
{
    uint32_t h = 2166136261u;
    for (; *q; q++)
        h = (h ^ (uint8_t)*q) * 16777619u;
    return h ? h : 1;
}

/* conn_use - Postfix's conn_use=N in the raw line, 0 when absent */
static uint16_t conn_use(const char *line, size_t n)
{
    const char *p = lp_ci_find(line, n, "conn_use=");
    if (!p)
        return 0;
    long v = 0;
    for (p += 9; p < line + n && isdigit((unsigned char)*p) && v < 65535; p++)
        v = v * 10 + (*p - '0');
    return (uint16_t)v;
}

/* has_any - the text contains one of the (lower-case) phrases */
static int has_any(const char *t, const char *const *phrases)
{
    size_t n = strlen(t);
    for (; *phrases; phrases++)
        if (lp_ci_find(t, n, *phrases))
            return 1;
    return 0;
}

/* counted_word - a word that says what a number counts: messages or recipients */
static int counted_word(const char *q)
{
    return !strncasecmp(q, "message", 7) || !strncasecmp(q, "mail", 4) || !strncasecmp(q, "recipient", 9) ||
           !strncasecmp(q, "rcpt", 4);
}

/* number_counts - within the three words after q there is a counted word */
static int number_counts(const char *q)
{
    for (int words = 0; words < 3 && *q; words++) {
        while (*q == ' ' || *q == '(')
            q++;
        if (counted_word(q))
            return 1;
        while (*q && *q != ' ')
            q++;
    }
    return 0;
}

/* stated_number - a count the text states for "N ... messages/recipients" (2..100000), 0;
 * the reply code at the start and enhanced codes are no counts */
static int stated_number(const char *t)
{
    const char *p = t;
    while (*p) {
        if (!isdigit((unsigned char)*p) || (p > t && (isalnum((unsigned char)p[-1]) || p[-1] == '.'))) {
            p++;
            continue;
        }
        const char *start = p;
        long v = 0;
        while (isdigit((unsigned char)*p) && v < 1000000)
            v = v * 10 + (*p++ - '0');
        while (isdigit((unsigned char)*p))
            p++;
        if (start != t && *p != '.' && number_counts(p))
            return v >= 2 && v <= 100000 ? (int)v : 0;
    }
    return 0;
}

static const char *const conn_cap_words[] = {"per connection", "per session", "this connection", "this session",
                                             "single connection", "single session", "one connection",
                                             "message threshold", "messages per smtp", NULL};
static const char *const rcpt_cap_words[] = {"too many recipients", "recipient limit", "too many rcpt",
                                             "maximum number of recipients", NULL};
static const char *const mailbox_rate_words[] = {"receiving mail too quickly", "receiving mail at a rate",
                                                 "recipient thread limit", NULL};

/* refine - a failure's kind from its class and wording */
static enum as_kind refine(const lp_reply *r, int cat)
{
    if (has_any(r->text, rcpt_cap_words) || !strcmp(r->enh, "4.5.3") || !strcmp(r->enh, "5.5.3"))
        return AK_RCPT_CAP;
    if (has_any(r->text, conn_cap_words))
        return AK_CONN_CAP;
    if (has_any(r->text, mailbox_rate_words) || (cat == RC_RATE_LIMITED && !strncmp(r->enh, "4.2.", 4)))
        return AK_MAILBOX_RATE;
    switch (cat) {
    case RC_GREYLISTING: return AK_GREY;
    case RC_TOO_MANY_CONNECTIONS: return AK_TMC;
    case RC_RATE_LIMITED: return AK_RATE;
    case RC_REPUTATION: return AK_REPUTATION;
    case RC_AUTHENTICATION: return AK_AUTH;
    case LC_LOST: return AK_LOST;
    case RC_OTHER: return (r->code >= 400 && r->code < 500) || r->enh[0] == '4' ? AK_SOFT : AK_OTHER;
    default: return AK_OTHER;
    }
}

/* classify_cached - a reply's category and provider */
static void classify_cached(advise_scan *s, const lp_reply *r, as_class *out)
{
    memset(out, 0, sizeof *out);
    if (r->fail != LF_REPLY) {
        out->cat = lp_fail_cat(r->fail);
        return;
    }
    char key[400];
    snprintf(key, sizeof key, "%d|%s|%d|%.300s", r->code, r->enh, r->stage, r->text);
    as_class *c = hmap_get(s->cache, key);
    if (!c) {
        if (s->ncache >= AS_CACHE_MAX) {
            hmap_free(s->cache, free);
            s->cache = hmap_new();
            s->ncache = 0;
        }
        c = xcalloc(1, sizeof *c);
        c->cat = r->code >= 500 || r->enh[0] == '5' ? RC_PERMANENT : RC_OTHER;
        if (s->cls) {
            classify_input in = {r->code, r->enh, r->text, r->stage, r->closed};
            classify_result res;
            classify(s->cls, &in, &res);
            c->cat = (int)res.cls;
            snprintf(c->provider, sizeof c->provider, "%s", res.provider ? res.provider : "");
        }
        hmap_put(s->cache, key, c);
        s->ncache++;
    }
    *out = *c;
}

/* keep_line - the raw line as an example of kind k for d */
static void keep_line(advise_scan *s, as_dest *d, enum as_kind k)
{
    for (int i = 0; i < AS_LINES; i++)
        if (!d->line[k][i]) {
            size_t n = s->linelen;
            while (n && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r'))
                n--;
            d->line[k][i] = xmalloc((n > 600 ? 600 : n) + 1);
            lp_copy(d->line[k][i], 601, s->line, n);
            return;
        }
}

/* reputation_ip - the first IPv4 address a reputation reply names */
static void reputation_ip(as_dest *d, const char *t)
{
    for (const char *p = t; *p && !d->reputation_ip[0]; p++) {
        if (!isdigit((unsigned char)*p) || (p > t && (isdigit((unsigned char)p[-1]) || p[-1] == '.')))
            continue;
        size_t n = strspn(p, "0123456789.");
        char ip[20];
        struct in_addr a;
        if (n >= 7 && n < sizeof ip) {
            memcpy(ip, p, n);
            ip[n] = 0;
            if (inet_pton(AF_INET, ip, &a) == 1)
                snprintf(d->reputation_ip, sizeof d->reputation_ip, "%s", ip);
        }
        p += n - 1;
    }
}

/* note_failure - what a refusal tells beyond its kind */
static void note_failure(as_dest *d, const lp_reply *r, enum as_kind k, const as_class *c)
{
    if (k == AK_CONN_CAP || k == AK_RCPT_CAP) {
        int v = stated_number(r->text);
        int *slot = k == AK_CONN_CAP ? &d->conn_cap_stated : &d->rcpt_cap_stated;
        if (v && (!*slot || v < *slot))
            *slot = v;
    }
    if ((k == AK_CONN_CAP || k == AK_RATE || k == AK_REPUTATION) && c->provider[0] && !d->provider[0])
        snprintf(d->provider, sizeof d->provider, "%s", c->provider);
    if (k == AK_REPUTATION || k == AK_AUTH)
        reputation_ip(d, r->text);
}

/* add_event - one recipient's outcome */
static void add_event(advise_scan *s, as_dest *d, const logrec *rec, enum as_kind k, uint32_t conn, uint16_t use)
{
    d->kinds[k]++;
    if (!d->line[k][AS_LINES - 1])
        keep_line(s, d, k);
    if (!rec->has_time || s->events >= AS_MAX_EVENTS) {
        s->dropped += rec->has_time;
        return;
    }
    XGROW(d->ev, d->n, d->cap, 64);
    d->ev[d->n++] = (as_event){rec->t_us, conn, rec->qid[0] ? hash32(rec->qid) : 0, use, (uint8_t)k,
                               (uint8_t)rec->status};
    s->events++;
}

/* on_delivery - every recipient of a delivery line */
static void on_delivery(advise_scan *s, const logrec *rec)
{
    if (rec->local || rec->status == LS_NONE || rec->r.suspended)
        return;
    as_class c = {.cat = -1};
    enum as_kind k = AK_SENT;
    if (rec->status != LS_SENT) {
        classify_cached(s, &rec->r, &c);
        k = refine(&rec->r, c.cat);
    }
    uint32_t conn = conn_id(s, rec);
    uint16_t use = conn_use(s->line, s->linelen);
    const char *p = rec->rcpt;
    do {
        size_t n = strcspn(p, ",");
        char dom[256];
        domain_of(p, n, rec, dom, sizeof dom);
        as_dest *d = dest_get(s, dom);
        add_event(s, d, rec, k, conn, use);
        if (k != AK_SENT)
            note_failure(d, &rec->r, k, &c);
        p += n + (p[n] == ',');
    } while (*p);
}

/* on_sender - a sender address on the line (Postfix/Sendmail from=<...>, Exim <=) */
static void on_sender(advise_scan *s, const char *line, size_t n)
{
    const char *p = lp_ci_find(line, n, " from=<");
    const char *e;
    if (p)
        p += 7;
    else if ((p = lp_ci_find(line, n, " <= ")))
        p += 4;
    else
        return;
    for (e = p; e < line + n && *e != '>' && *e != ' ' && *e != ','; e++)
        ;
    const char *at = memrchr(p, '@', (size_t)(e - p));
    if (!at || e - at < 4 || e - at > 250)
        return;
    char dom[256];
    size_t k = (size_t)(e - at - 1);
    for (size_t i = 0; i < k; i++)
        dom[i] = (char)tolower((unsigned char)at[1 + i]);
    dom[k] = 0;
    long *cnt = hmap_get(s->senders, dom);
    if (!cnt && hmap_count(s->senders) < AS_MAX_SENDERS)
        hmap_put(s->senders, dom, cnt = xcalloc(1, sizeof *cnt));
    if (cnt)
        (*cnt)++;
}

void as_feed_line(advise_scan *s, const char *line, size_t len)
{
    logrec rec;
    s->line = line;
    s->linelen = len;
    enum lp_kind k = lp_parse(&s->ctx, line, len, &rec);
    if (k == LK_DELIVERY)
        on_delivery(s, &rec);
    else if (k == LK_OTHER || k == LK_UNRECOGNISED)
        on_sender(s, line, len);
}

/* on_line / on_open - lp_read_lines callbacks */
static void on_line(void *arg, const char *line, size_t len)
{
    as_feed_line(arg, line, len);
}

static void on_open(void *arg, int64_t mtime)
{
    advise_scan *s = arg;
    lp_ctx_init(&s->ctx, mtime, s->year);
}

int as_feed_file(advise_scan *s, const char *path, char *err, int errlen)
{
    lp_read_info info = {.before = on_open};
    return lp_read_lines(path, on_line, s, &info, err, errlen);
}

/* by_time - qsort order of events */
static int by_time(const void *a, const void *b)
{
    const as_event *x = a, *y = b;
    return x->t_us < y->t_us ? -1 : x->t_us > y->t_us;
}

void as_finish(advise_scan *s)
{
    for (size_t i = 0; i < s->ndv; i++)
        if (s->dv[i]->n > 1)
            qsort(s->dv[i]->ev, s->dv[i]->n, sizeof *s->dv[i]->ev, by_time);
}

const as_dest *as_dest_find(const advise_scan *s, const char *domain)
{
    return s ? hmap_get(s->dests, domain) : NULL;
}

/* Finding the most frequent sender domain. */
typedef struct best_sender {
    const char *key;
    long n;
} best_sender;

/* on_sender_count - keep the most frequent (ties: the smaller name) */
static void on_sender_count(const char *key, void *val, void *arg)
{
    best_sender *b = arg;
    long n = *(long *)val;
    if (n > b->n || (n == b->n && b->key && strcmp(key, b->key) < 0)) {
        b->n = n;
        b->key = key;
    }
}

const char *as_sender_domain(const advise_scan *s)
{
    best_sender b = {NULL, 0};
    if (s)
        hmap_foreach(s->senders, on_sender_count, &b);
    return b.key;
}

long as_events_dropped(const advise_scan *s)
{
    return s ? s->dropped : 0;
}

const char *as_kind_name(enum as_kind k)
{
    static const char *const names[AK_NKINDS] = {"sent",      "greylisting",    "too_many_connections",
                                                 "rate_limited", "unexplained_4xx", "connection_cap",
                                                 "recipient_cap", "mailbox_rate",  "lost_connection",
                                                 "reputation",   "authentication", "other"};
    return k < AK_NKINDS ? names[k] : "?";
}
