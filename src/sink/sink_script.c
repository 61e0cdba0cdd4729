/* sink_script.c - the --reply-script language (grammar in sink_script.h): a line parser that
 * checks every rule at load time, and the matcher the sink's hooks call at each stage.
 *
 * The parser works on one line at a time through a cursor (parser.p .. parser.end) and never
 * reads outside the text it was given; NUL bytes are just bytes that make a rule invalid.
 * Patterns are compiled with PCRE2 (UTF, invalid UTF in subjects tolerated) and matched with
 * one shared match-data block under a match limit, so no subject can make a match run long.
 * Ownership: the script owns its rules, their conditions, patterns and texts. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sink/sink_script.h"

#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "sink/sink_rand.h"
#include "smtp/smtp_reply.h"

#define SCRIPT_MAX_BYTES (16 * 1024 * 1024)
#define MATCH_LIMIT 100000
#define TEXT_MAX 511

enum cond_kind {
    C_IP, C_HELO, C_FROM, C_TO, C_ATTEMPT, C_MSG, C_CONN, C_NRCPT, C_TIME, C_CHANCE
};

typedef struct cond {
    enum cond_kind kind;
    cidr net;               /* C_IP */
    pcre2_code *re;         /* C_HELO, C_FROM, C_TO */
    int64_t lo, hi;         /* counters: lo..hi inclusive; C_TIME: [lo, hi) microseconds */
    double p;               /* C_CHANCE */
} cond;

typedef struct rule {
    int line;
    enum smtpd_stage stage;
    cond *c;
    int nc;
    enum sink_act kind;
    int code;
    char *text;             /* unescaped, with ${...} still to expand */
    int close;
    int64_t delay_us;
    char policy[32];
} rule;

struct sink_script {
    rule *r;
    int n, cap;
    unsigned uses;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

/* The parser's cursor over one line, and where errors go. */
typedef struct parser {
    const char *p, *end;
    const char *name;
    int line;
    char *err;
    size_t errlen;
    sink_script *sc;
} parser;

#define STAGE_BIT(s) (1u << (s))
#define ALL_STAGES 0x3fu
#define FROM_MAIL (STAGE_BIT(SMTPD_MAIL) | STAGE_BIT(SMTPD_RCPT) | STAGE_BIT(SMTPD_DATA) | \
                   STAGE_BIT(SMTPD_EOM))

static const struct stage_def {
    const char *name;
    enum smtpd_stage stage;
} stage_table[] = {
    {"connect", SMTPD_CONNECT}, {"helo", SMTPD_HELO}, {"mail", SMTPD_MAIL},
    {"rcpt", SMTPD_RCPT}, {"data", SMTPD_DATA}, {"eom", SMTPD_EOM},
};

/* fail - format "name:line: what" into the error buffer; returns -1 */
__attribute__((format(printf, 2, 3))) static int fail(parser *ps, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, ps->line, msg);
    return -1;
}

/* is_space - a blank inside a line */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* skip_space - move the cursor past blanks */
static void skip_space(parser *ps)
{
    while (ps->p < ps->end && is_space(*ps->p))
        ps->p++;
}

/* word - the next blank-separated token (length 0 at the end of the line) */
static size_t word(parser *ps, const char **w)
{
    skip_space(ps);
    *w = ps->p;
    while (ps->p < ps->end && !is_space(*ps->p))
        ps->p++;
    return (size_t)(ps->p - *w);
}

/* word_is - the token equals s, ignoring case */
static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && strncasecmp(w, s, n) == 0;
}

/* word_copy - the token as a NUL-terminated string in buf; -1 when it doesn't fit */
static int word_copy(const char *w, size_t n, char *buf, size_t len)
{
    if (n >= len || memchr(w, 0, n))
        return -1;
    memcpy(buf, w, n);
    buf[n] = 0;
    return 0;
}

/* parse_count - digits (at most 18) into *v; -1 when not that */
static int parse_count(const char *s, size_t n, int64_t *v)
{
    if (n == 0 || n > 18)
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* decimal_token - the n bytes are digits with at most one '.', not first */
static int decimal_token(const char *s, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return n > 0 && s[0] != '.' && dots <= 1;
}

/* parse_seconds - "12", "0.25" into microseconds (at most a year); -1 when not that */
static int parse_seconds(const char *s, size_t n, int64_t *us)
{
    char buf[32];
    if (!decimal_token(s, n) || word_copy(s, n, buf, sizeof buf))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || v > 366.0 * 86400)
        return -1;
    *us = (int64_t)(v * 1e6 + 0.5);
    return 0;
}

/* split_range - "A-B", "A+" or "A": the pieces; *open set for "A+", hi_n 0 for "A" */
static void split_range(const char *w, size_t n, size_t *lo_n, const char **hi, size_t *hi_n,
                        int *open)
{
    const char *dash = memchr(w, '-', n);
    *open = n > 0 && w[n - 1] == '+';
    *lo_n = dash ? (size_t)(dash - w) : n - (size_t)*open;
    *hi = dash ? dash + 1 : NULL;
    *hi_n = dash ? n - *lo_n - 1 : 0;
}

/* cond_count_range - RANGE of whole numbers: N, N-M, N+ */
static int cond_count_range(parser *ps, cond *c)
{
    const char *w, *hi;
    size_t n = word(ps, &w), lo_n, hi_n;
    int open;
    split_range(w, n, &lo_n, &hi, &hi_n, &open);
    if (parse_count(w, lo_n, &c->lo) < 0)
        return fail(ps, "expected a count (N, N-M or N+), got '%.*s'", (int)n, w);
    c->hi = open ? INT64_MAX : c->lo;
    if (hi && (parse_count(hi, hi_n, &c->hi) < 0 || c->hi < c->lo))
        return fail(ps, "bad count range '%.*s'", (int)n, w);
    return 0;
}

/* cond_time_range - RANGE of seconds since start: A-B (B excluded) or A+ */
static int cond_time_range(parser *ps, cond *c)
{
    const char *w, *hi;
    size_t n = word(ps, &w), lo_n, hi_n;
    int open;
    split_range(w, n, &lo_n, &hi, &hi_n, &open);
    if ((!hi && !open) || parse_seconds(w, lo_n, &c->lo) < 0)
        return fail(ps, "expected seconds START-END or START+, got '%.*s'", (int)n, w);
    c->hi = INT64_MAX;
    if (hi && (parse_seconds(hi, hi_n, &c->hi) < 0 || c->hi <= c->lo))
        return fail(ps, "bad time range '%.*s'", (int)n, w);
    return 0;
}

/* cond_chance - a probability 0..1 */
static int cond_chance(parser *ps, cond *c)
{
    const char *w;
    size_t n = word(ps, &w);
    char buf[32];
    char *end = NULL;
    if (decimal_token(w, n) && !word_copy(w, n, buf, sizeof buf))
        c->p = strtod(buf, &end);
    if (!end || *end || c->p < 0 || c->p > 1)
        return fail(ps, "expected a probability between 0 and 1, got '%.*s'", (int)n, w);
    return 0;
}

/* cond_cidr - an address or network */
static int cond_cidr(parser *ps, cond *c)
{
    const char *w;
    size_t n = word(ps, &w);
    char buf[80];
    if (word_copy(w, n, buf, sizeof buf) < 0 || cidr_parse(buf, &c->net) < 0)
        return fail(ps, "expected an address or network (CIDR), got '%.*s'", (int)n, w);
    return 0;
}

/* regex_end - the closing "/" of a pattern starting after the opening one, or NULL */
static const char *regex_end(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '/')
            return p;
    }
    return NULL;
}

/* cond_regex - /RE/ or /RE/i, compiled */
static int cond_regex(parser *ps, cond *c)
{
    skip_space(ps);
    const char *close = ps->p < ps->end && *ps->p == '/' ? regex_end(ps->p + 1, ps->end) : NULL;
    if (!close)
        return fail(ps, "expected a pattern /RE/");
    const char *body = ps->p + 1;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    ps->p = close + 1;
    for (; ps->p < ps->end && !is_space(*ps->p); ps->p++) {
        if (*ps->p != 'i')
            return fail(ps, "unknown pattern flag '%c' (only 'i')", *ps->p);
        opts |= PCRE2_CASELESS;
    }
    int code;
    PCRE2_SIZE off;
    c->re = pcre2_compile((PCRE2_SPTR)body, (PCRE2_SIZE)(close - body), opts, &code, &off, NULL);
    if (!c->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fail(ps, "bad pattern at offset %zu: %s", (size_t)off, (const char *)msg);
    }
    return 0;
}

static const struct cond_def {
    const char *name;
    enum cond_kind kind;
    int (*parse)(parser *, cond *);
    unsigned stages;
} cond_table[] = {
    {"ip", C_IP, cond_cidr, ALL_STAGES},
    {"helo", C_HELO, cond_regex, ALL_STAGES & ~STAGE_BIT(SMTPD_CONNECT)},
    {"from", C_FROM, cond_regex, FROM_MAIL},
    {"to", C_TO, cond_regex, STAGE_BIT(SMTPD_RCPT)},
    {"attempt", C_ATTEMPT, cond_count_range, STAGE_BIT(SMTPD_RCPT)},
    {"msg", C_MSG, cond_count_range, FROM_MAIL},
    {"conn", C_CONN, cond_count_range, ALL_STAGES},
    {"nrcpt", C_NRCPT, cond_count_range, FROM_MAIL & ~STAGE_BIT(SMTPD_MAIL)},
    {"time", C_TIME, cond_time_range, ALL_STAGES},
    {"chance", C_CHANCE, cond_chance, ALL_STAGES},
};

/* parse_cond - one condition keyword and its argument, appended to r */
static int parse_cond(parser *ps, rule *r, const char *w, size_t n)
{
    const struct cond_def *d = NULL;
    for (size_t i = 0; i < sizeof cond_table / sizeof cond_table[0]; i++)
        if (word_is(w, n, cond_table[i].name))
            d = &cond_table[i];
    if (!d)
        return fail(ps, "unknown condition '%.*s'", (int)(n > 40 ? 40 : n), w);
    if (!(d->stages & STAGE_BIT(r->stage)))
        return fail(ps, "'%s' cannot be used at stage %s", d->name,
                    stage_table[r->stage].name);
    r->c = xrealloc(r->c, (size_t)(r->nc + 1) * sizeof *r->c);
    cond *c = &r->c[r->nc++];
    memset(c, 0, sizeof *c);
    c->kind = d->kind;
    if (d->kind == C_ATTEMPT)
        ps->sc->uses |= SINK_USES_ATTEMPT;
    if (d->kind == C_CONN)
        ps->sc->uses |= SINK_USES_CONN;
    return d->parse(ps, c);
}

/* check_vars - every ${name} in text is one the matcher can expand */
static int check_vars(parser *ps, const char *text)
{
    static const char *const vars[] = {"ip", "helo", "from", "to"};
    for (const char *p = strstr(text, "${"); p; p = strstr(p + 2, "${")) {
        const char *e = strchr(p, '}');
        size_t n = e ? (size_t)(e - p - 2) : 0;
        int ok = 0;
        for (size_t i = 0; e && i < sizeof vars / sizeof vars[0]; i++)
            ok |= strlen(vars[i]) == n && strncmp(p + 2, vars[i], n) == 0;
        if (!ok)
            return fail(ps, "unknown variable in reply text (use ${ip} ${helo} ${from} ${to})");
    }
    return 0;
}

/* unescape - the reply text with "\n" and "\\" turned into a line break and a backslash */
static char *unescape(const char *p, const char *end)
{
    char *out = xmalloc((size_t)(end - p) + 1), *o = out;
    for (; p < end; p++) {
        if (*p == '\\' && p + 1 < end && (p[1] == 'n' || p[1] == '\\')) {
            *o++ = p[1] == 'n' ? '\n' : '\\';
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

/* accept_code_ok - an acceptance code the engine uses at this stage */
static int accept_code_ok(enum smtpd_stage st, int code)
{
    switch (st) {
    case SMTPD_CONNECT: return code == 220;
    case SMTPD_DATA: return code == 354;
    case SMTPD_RCPT: return code == 250 || code == 251;
    case SMTPD_MAIL:
    case SMTPD_EOM: return code == 250;
    default: return 0;
    }
}

/* check_text - the reply text fits, uses known variables and an agreeing enhanced code */
static int check_text(parser *ps, rule *r)
{
    size_t n = strlen(r->text);
    if (n > TEXT_MAX)
        return fail(ps, "reply text longer than %d bytes", TEXT_MAX);
    size_t el = smtp_enhanced_len(r->text, n);
    if (el && (r->code / 100 == 3 || r->text[0] - '0' != r->code / 100))
        return fail(ps, "enhanced code %.*s does not go with reply code %d", (int)el, r->text,
                    r->code);
    return check_vars(ps, r->text);
}

/* parse_reply - CODE [X.Y.Z] [TEXT] to the end of the line */
static int parse_reply(parser *ps, rule *r, const char *w, size_t n)
{
    int64_t code;
    if (n != 3 || parse_count(w, n, &code) < 0 || code < 200 || code > 599)
        return fail(ps, "expected a reply code (200-599), 'drop' or 'pass', got '%.*s'",
                    (int)(n > 40 ? 40 : n), w);
    r->code = (int)code;
    if (r->code < 400 && !accept_code_ok(r->stage, r->code))
        return fail(ps, "an acceptance at stage %s can't be %d", stage_table[r->stage].name,
                    r->code);
    skip_space(ps);
    size_t tn = (size_t)(ps->end - ps->p);
    while (tn && is_space(ps->p[tn - 1]))
        tn--;
    if (memchr(ps->p, 0, tn))
        return fail(ps, "NUL byte in reply text");
    r->text = unescape(ps->p, ps->p + tn);
    return check_text(ps, r);
}

/* parse_action - after "=>": [close] [delay SECONDS] (CODE ... | drop | pass) */
static int parse_action(parser *ps, rule *r)
{
    const char *w;
    size_t n;
    for (;;) {
        n = word(ps, &w);
        if (word_is(w, n, "close")) {
            r->close = 1;
        } else if (word_is(w, n, "delay")) {
            n = word(ps, &w);
            if (parse_seconds(w, n, &r->delay_us) < 0 || r->delay_us > 3600 * 1000000LL)
                return fail(ps, "expected seconds (at most 3600) after 'delay'");
        } else {
            break;
        }
    }
    int special = word_is(w, n, "drop") || word_is(w, n, "pass");
    if (!special)
        return parse_reply(ps, r, w, n);
    r->kind = word_is(w, n, "drop") ? SINK_ACT_DROP : SINK_ACT_PASS;
    if (r->close || r->delay_us)
        return fail(ps, "'close' and 'delay' go with a reply, not with '%.*s'", (int)n, w);
    if ((n = word(ps, &w)))
        return fail(ps, "unexpected '%.*s' after the action", (int)(n > 40 ? 40 : n), w);
    return 0;
}

/* parse_stage - the rule's first word */
static int parse_stage(parser *ps, rule *r)
{
    const char *w;
    size_t n = word(ps, &w);
    for (size_t i = 0; i < sizeof stage_table / sizeof stage_table[0]; i++)
        if (word_is(w, n, stage_table[i].name)) {
            r->stage = stage_table[i].stage;
            return 0;
        }
    return fail(ps, "unknown stage '%.*s' (connect helo mail rcpt data eom)",
                (int)(n > 40 ? 40 : n), w);
}

/* parse_rule - one non-empty, non-comment line into r */
static int parse_rule(parser *ps, rule *r)
{
    const char *w;
    size_t n;
    r->line = ps->line;
    snprintf(r->policy, sizeof r->policy, "reply_script:%d", ps->line);
    if (parse_stage(ps, r) < 0)
        return -1;
    while ((n = word(ps, &w)) && !word_is(w, n, "=>"))
        if (parse_cond(ps, r, w, n) < 0)
            return -1;
    if (!n)
        return fail(ps, "missing '=> REPLY'");
    return parse_action(ps, r);
}

/* rule_free - release what a rule holds */
static void rule_free(rule *r)
{
    for (int i = 0; i < r->nc; i++)
        pcre2_code_free(r->c[i].re);
    free(r->c);
    free(r->text);
}

void sink_script_free(sink_script *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->n; i++)
        rule_free(&sc->r[i]);
    free(sc->r);
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    free(sc);
}

/* script_new - an empty script with its match data */
static sink_script *script_new(void)
{
    sink_script *sc = xcalloc(1, sizeof *sc);
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    if (!sc->md || !sc->mctx)
        panic("pcre2: out of memory");
    pcre2_set_match_limit(sc->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(sc->mctx, MATCH_LIMIT);
    return sc;
}

/* parse_line - the line [p, end): nothing for a blank or comment line, else one rule */
static int parse_line(parser *ps, const char *p, const char *end)
{
    ps->p = p;
    ps->end = end;
    skip_space(ps);
    if (ps->p == end || *ps->p == '#')
        return 0;
    sink_script *sc = ps->sc;
    XGROW(sc->r, sc->n, sc->cap, 8);
    rule *r = &sc->r[sc->n++];
    memset(r, 0, sizeof *r);
    return parse_rule(ps, r);
}

sink_script *sink_script_parse(const char *text, size_t len, const char *name, char *err,
                               size_t errlen)
{
    parser ps = {.name = name, .err = err, .errlen = errlen, .sc = script_new()};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        ps.line++;
        if (parse_line(&ps, p, eol) < 0)
            goto fail;
        p = nl ? nl + 1 : end;
    }
    return ps.sc;
fail:
    sink_script_free(ps.sc);
    return NULL;
}

sink_script *sink_script_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, n;
    sink_script *sc = NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = xmalloc(SCRIPT_MAX_BYTES + 1);
    while ((n = fread(buf + len, 1, SCRIPT_MAX_BYTES + 1 - len, f)) > 0 && len <= SCRIPT_MAX_BYTES)
        len += n;
    if (ferror(f))
        snprintf(err, errlen, "%s: read error", path);
    else if (len > SCRIPT_MAX_BYTES)
        snprintf(err, errlen, "%s: larger than %d bytes", path, SCRIPT_MAX_BYTES);
    else
        sc = sink_script_parse(buf, len, path, err, errlen);
    free(buf);
    fclose(f);
    return sc;
}

unsigned sink_script_uses(const sink_script *sc)
{
    return sc->uses;
}

int sink_script_rules(const sink_script *sc)
{
    return sc->n;
}

/* regex_holds - the pattern matches subject (NULL counts as "") */
static int regex_holds(const sink_script *sc, const pcre2_code *re, const char *subject)
{
    const char *s = subject ? subject : "";
    return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, sc->md, sc->mctx) >= 0;
}

/* cond_holds - one condition against the facts */
static int cond_holds(const sink_script *sc, const cond *c, const sink_facts *f)
{
    switch (c->kind) {
    case C_IP: return f->peer && cidr_match(&c->net, f->peer);
    case C_HELO: return regex_holds(sc, c->re, f->helo);
    case C_FROM: return regex_holds(sc, c->re, f->sender);
    case C_TO: return regex_holds(sc, c->re, f->rcpt);
    case C_ATTEMPT: return f->attempt >= c->lo && f->attempt <= c->hi;
    case C_MSG: return f->msg >= c->lo && f->msg <= c->hi;
    case C_CONN: return f->conn >= c->lo && f->conn <= c->hi;
    case C_NRCPT: return f->nrcpt >= c->lo && f->nrcpt <= c->hi;
    case C_TIME: return f->elapsed_us >= c->lo && f->elapsed_us < c->hi;
    case C_CHANCE: return f->rng && sink_rand_chance(f->rng, c->p);
    }
    return 0;
}

/* var_value - the value of ${name} (n bytes) for these facts */
static const char *var_value(const sink_facts *f, const char *name, size_t n)
{
    const char *v = NULL;
    if (n == 2 && !strncmp(name, "ip", 2))
        v = f->ip;
    else if (n == 4 && !strncmp(name, "helo", 4))
        v = f->helo;
    else if (n == 4 && !strncmp(name, "from", 4))
        v = f->sender;
    else if (n == 2 && !strncmp(name, "to", 2))
        v = f->rcpt;
    return v ? v : "";
}

/* expand - the rule's text with its ${...} replaced, cut to fit out */
static void expand(const char *text, const sink_facts *f, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < len;) {
        const char *e = p[0] == '$' && p[1] == '{' ? strchr(p, '}') : NULL;
        if (!e) {
            out[o++] = *p++;
            continue;
        }
        const char *v = var_value(f, p + 2, (size_t)(e - p - 2));
        size_t vn = strlen(v);
        if (vn > len - 1 - o)
            vn = len - 1 - o;
        memcpy(out + o, v, vn);
        o += vn;
        p = e + 1;
    }
    out[o] = 0;
}

/* rule_holds - every condition of r holds, tested left to right */
static int rule_holds(const sink_script *sc, const rule *r, const sink_facts *f)
{
    for (int i = 0; i < r->nc; i++)
        if (!cond_holds(sc, &r->c[i], f))
            return 0;
    return 1;
}

int sink_script_match(const sink_script *sc, const sink_facts *f, sink_action *a)
{
    for (int i = 0; i < sc->n; i++) {
        const rule *r = &sc->r[i];
        if (r->stage != f->stage || !rule_holds(sc, r, f))
            continue;
        memset(a, 0, sizeof *a);
        a->kind = r->kind;
        a->code = r->code;
        a->close = r->close;
        a->delay_us = r->delay_us;
        a->policy = r->policy;
        if (r->text)
            expand(r->text, f, a->text, sizeof a->text);
        return 1;
    }
    return 0;
}
