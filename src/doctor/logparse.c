/* logparse.c - lp_parse: a line's prefix (time stamp, RFC 5424 header, "HOST PROG[PID]: ")
 * and the choice of grammar for the rest, by program name or, without one, by structure.
 * See logparse.h for the formats; the grammars are logparse_<family>.c. */
#include <string.h>

#include "doctor/logparse_int.h"

void lp_ctx_init(lp_ctx *c, int64_t ref_s, int year)
{
    c->ref_s = ref_s;
    c->year = year;
}

/* rec_init - an empty record */
static void rec_init(logrec *r)
{
    memset(r, 0, sizeof *r);
    r->pid = -1;
    r->delay_s = -1;
    r->r.stage = CS_ANY;
    r->r.closed = -1;
}

/* tag - "prog[pid]: ", "prog: " or "prog [pid]: " at c; advances past it */
static bool tag(lcur *c, logrec *rec)
{
    lcur s = *c;
    const char *p = s.p;
    while (s.p < s.e && *s.p != '[' && *s.p != ':' && *s.p != ' ')
        s.p++;
    size_t pn = (size_t)(s.p - p);
    if (!pn || pn >= sizeof rec->prog)
        return false;
    long pid = -1;
    lcur t = s;
    lc_char(&t, ' ');
    if (lc_char(&t, '[')) {
        if (!lc_num(&t, 1, 10, &pid) || !lc_char(&t, ']'))
            return false;
        s = t;
    }
    if (!lc_char(&s, ':') || (s.p < s.e && !lc_char(&s, ' ')))
        return false;
    lp_copy(rec->prog, sizeof rec->prog, p, pn);
    rec->pid = pid;
    *c = s;
    return true;
}

/* known_prog - a program name this parser has a grammar for */
static bool known_prog(const char *p)
{
    return !strncmp(p, "postfix", 7) || strstr(p, "postfix/") || !strncmp(p, "sluice", 6) ||
           !strncmp(p, "exim", 4) || !strcmp(p, "sendmail") || !strncmp(p, "sm-", 3) ||
           !strcmp(p, "smtpd") || !strcmp(p, "postgrey");
}

/* level - skip sluice's "info: " (any of its level names) */
static size_t level(const char *s, size_t n)
{
    static const char *const names[] = {"debug: ", "info: ", "notice: ", "warning: ", "error: ", "fatal: "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t k = strlen(names[i]);
        if (n >= k && !memcmp(s, names[i], k))
            return k;
    }
    return 0;
}

/* postfix_local - Postfix delivery agents that deliver on this host */
static bool postfix_local(const char *prog)
{
    const char *b = strrchr(prog, '/');
    b = b ? b + 1 : prog;
    return !strcmp(b, "local") || !strcmp(b, "virtual") || !strcmp(b, "pipe") || !strcmp(b, "lmtp");
}

/* mta - the grammar of a known program family; -1 when prog is no MTA of ours */
static int mta(const lp_ctx *ctx, const char *prog, const char *s, size_t n, logrec *rec)
{
    enum lp_kind k;
    if (!strncmp(prog, "postfix", 7) || strstr(prog, "postfix/")) {
        k = lp_body_postfix(s, n, rec);
        if (k == LK_DELIVERY && postfix_local(prog))
            rec->local = 1;
    } else if (!strcmp(prog, "sluiced") || !strcmp(prog, "sluice")) {
        size_t l = level(s, n);
        k = n > l && s[l] == '{' ? lp_body_json(ctx, s + l, n - l, rec) : lp_body_postfix(s + l, n - l, rec);
        rec->fmt = LPF_SLUICE;
    } else if (!strncmp(prog, "exim", 4)) {
        k = lp_body_exim(ctx, s, n, rec);
    } else if (!strcmp(prog, "sendmail") || !strncmp(prog, "sm-", 3)) {
        k = lp_body_sendmail(s, n, rec);
        rec->fmt = LPF_SENDMAIL;
    } else if (!strcmp(prog, "smtpd")) {
        k = lp_body_opensmtpd(s, n, rec);
        rec->fmt = LPF_OPENSMTPD;
    } else if (!strcmp(prog, "postgrey")) {
        k = lp_body_postgrey(s, n, rec);
        rec->fmt = LPF_POSTGREY;
    } else {
        return -1;
    }
    return k == LK_UNRECOGNISED ? LK_OTHER : (int)k;
}

enum lp_kind lp_dispatch(const lp_ctx *ctx, const char *prog, const char *s, size_t n, logrec *rec)
{
    int k = mta(ctx, prog, s, n, rec);
    if (k >= 0)
        return (enum lp_kind)k;
    enum lp_kind a = lp_body_any(ctx, s, n, rec);
    return a == LK_UNRECOGNISED ? LK_IGNORED : a;
}

/* sd_skip - RFC 5424 structured data: "-" or one or more "[...]" */
static void sd_skip(lcur *c)
{
    if (lc_char(c, '-'))
        return;
    while (lc_char(c, '[')) {
        while (c->p < c->e && *c->p != ']') {
            if (*c->p == '\\' && c->p + 1 < c->e)
                c->p++;
            c->p++;
        }
        lc_char(c, ']');
    }
}

/* rfc5424 - "1 TS HOST APP PROCID MSGID SD [MSG]" after the PRI */
static enum lp_kind rfc5424(const lp_ctx *ctx, lcur *c, logrec *rec)
{
    int64_t t;
    const char *tok;
    size_t n;
    if (lpt_iso(c, &t)) {
        rec->has_time = 1;
        rec->t_us = t;
    } else if (!lc_char(c, '-')) {
        return LK_UNRECOGNISED;
    }
    lc_spaces(c);
    lc_token(c, &tok);   /* host */
    lc_spaces(c);
    n = lc_token(c, &tok);
    if (!(n == 1 && tok[0] == '-'))
        lp_copy(rec->prog, sizeof rec->prog, tok, n);
    lc_spaces(c);
    n = lc_token(c, &tok);
    long pid;
    lcur pc = {tok, tok + n};
    if (lc_num(&pc, 1, 10, &pid) && pc.p == pc.e)
        rec->pid = pid;
    lc_spaces(c);
    lc_token(c, &tok);   /* msgid */
    lc_spaces(c);
    sd_skip(c);
    lc_spaces(c);
    lc_lit(c, "\xEF\xBB\xBF");
    return lp_dispatch(ctx, rec->prog, c->p, lc_left(c), rec);
}

/* after_stamp - "HOST PROG[PID]: body", "PROG[PID]: body", or Exim's own log */
static enum lp_kind after_stamp(const lp_ctx *ctx, lcur *c, logrec *rec)
{
    lcur s = *c;
    if (tag(&s, rec))
        return lp_dispatch(ctx, rec->prog, s.p, lc_left(&s), rec);
    const char *host;
    lc_token(&s, &host);
    lc_spaces(&s);
    if (tag(&s, rec))
        return lp_dispatch(ctx, rec->prog, s.p, lc_left(&s), rec);
    enum lp_kind k = lp_body_exim(ctx, c->p, lc_left(c), rec);
    if (k != LK_UNRECOGNISED)
        return k;
    return lp_body_any(ctx, c->p, lc_left(c), rec);
}

/* pri - skip "<PRI>"; true when an RFC 5424 version follows */
static bool pri(lcur *c)
{
    lcur s = *c;
    long v;
    if (!lc_char(&s, '<') || !lc_num(&s, 1, 3, &v) || !lc_char(&s, '>'))
        return false;
    *c = s;
    if (lc_lit(&s, "1 ")) {
        *c = s;
        return true;
    }
    return false;
}

enum lp_kind lp_parse(const lp_ctx *ctx, const char *line, size_t len, logrec *out)
{
    rec_init(out);
    const char *s = line, *e = line + len;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    lcur c = {s, e};
    int64_t t;
    enum lp_kind k;
    if (s == e) {
        k = LK_UNRECOGNISED;
    } else if (pri(&c)) {
        k = rfc5424(ctx, &c, out);
    } else if (lpt_prefix(&c, ctx, &t)) {
        out->has_time = 1;
        out->t_us = t;
        lc_spaces(&c);
        k = after_stamp(ctx, &c, out);
    } else {
        lcur tc = c;
        if (tag(&tc, out) && (out->pid >= 0 || known_prog(out->prog))) {
            k = lp_dispatch(ctx, out->prog, tc.p, lc_left(&tc), out);
        } else {
            out->prog[0] = 0;
            out->pid = -1;
            k = lp_body_any(ctx, c.p, lc_left(&c), out);
        }
    }
    out->kind = k;
    return k;
}
