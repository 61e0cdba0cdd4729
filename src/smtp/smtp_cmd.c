/* smtp_cmd.c - the SMTP command-line parser (RFC 5321 §4.1.1, §4.1.2; RFC 6531 for 8-bit
 * addresses).  Called by the server engine for every line it reads and by anything that
 * needs to take a command apart.
 *
 * Invariants: nothing is allocated; no byte at or past line+len is read; on return c->verb
 * is always set and c->addr is always NUL-terminated.  Tolerance, as Postfix's: spaces after
 * "FROM:"/"TO:", a path without angle brackets, trailing white space, verbs in any case.
 * A source route (<@a,@b:user@c>) is accepted and dropped; "RCPT TO:<postmaster>" needs no
 * domain. */
#include "smtp/smtp_cmd.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* A cursor over the line: p moves towards end, never past it. */
typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

static const struct verb_def {
    const char *name;
    enum smtp_verb verb;
} verb_table[] = {
    {"HELO", SMTP_HELO}, {"EHLO", SMTP_EHLO}, {"MAIL", SMTP_MAIL}, {"RCPT", SMTP_RCPT},
    {"DATA", SMTP_DATA}, {"RSET", SMTP_RSET}, {"NOOP", SMTP_NOOP}, {"QUIT", SMTP_QUIT},
    {"VRFY", SMTP_VRFY}, {"EXPN", SMTP_EXPN}, {"HELP", SMTP_HELP},
    {"STARTTLS", SMTP_STARTTLS}, {"AUTH", SMTP_AUTH}, {"BDAT", SMTP_BDAT},
};

/* is_alpha - ASCII letter */
static int is_alpha(unsigned char ch)
{
    return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
}

/* is_digit - ASCII digit */
static int is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* is_space - the separators tolerated between words */
static int is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* is_atext - RFC 5322 atext, plus UTF-8 bytes (checked for well-formedness later) */
static int is_atext(unsigned char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch >= 0x80 ||
           (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* is_letdig - a domain label character that may start or end a label */
static int is_letdig(unsigned char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch >= 0x80;
}

/* at - the byte under the cursor, or 0 at the end (0 is never valid where it is tested) */
static unsigned char at(const cursor *k)
{
    return k->p < k->end ? (unsigned char)*k->p : 0;
}

/* eat - consume ch if it is next; 1 when consumed */
static int eat(cursor *k, char ch)
{
    if (k->p < k->end && *k->p == ch) {
        k->p++;
        return 1;
    }
    return 0;
}

/* skip_space - consume blanks */
static void skip_space(cursor *k)
{
    while (k->p < k->end && is_space((unsigned char)*k->p))
        k->p++;
}

/* has_control - 1 when the span holds a control byte other than HTAB (or DEL) */
static int has_control(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 1;
    }
    return 0;
}

/* parse_subdomain - Let-dig [Ldh-str]: no leading or trailing hyphen; 0 or -1 */
static int parse_subdomain(cursor *k)
{
    if (!is_letdig(at(k)))
        return -1;
    unsigned char last = 0;
    while (is_letdig(at(k)) || at(k) == '-')
        last = (unsigned char)*k->p++;
    return last == '-' ? -1 : 0;
}

/* parse_domain - sub-domain *("." sub-domain); 0 or -1 */
static int parse_domain(cursor *k)
{
    if (parse_subdomain(k) < 0)
        return -1;
    while (eat(k, '.'))
        if (parse_subdomain(k) < 0)
            return -1;
    return 0;
}

/* is_dcontent - a byte allowed inside an address literal (%d33-90 / %d94-126) */
static int is_dcontent(unsigned char ch)
{
    return ch >= 33 && ch <= 126 && ch != '[' && ch != '\\' && ch != ']';
}

/* literal_general - General-address-literal: Ldh-str ":" 1*dcontent; 0 or -1 */
static int literal_general(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alpha((unsigned char)p[i]) || is_digit((unsigned char)p[i]) ||
                     p[i] == '-'))
        i++;
    if (i == 0 || p[i - 1] == '-' || i >= n || p[i] != ':' || i + 1 == n)
        return -1;
    return 0;
}

/* parse_literal - "[" IPv4 / "IPv6:" IPv6 / tag:content "]"; 0 or -1 */
static int parse_literal(cursor *k)
{
    char tmp[64];
    const char *start = ++k->p;   /* past "[" */
    while (is_dcontent(at(k)))
        k->p++;
    size_t n = (size_t)(k->p - start);
    if (!eat(k, ']') || n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, start, n);
    tmp[n] = 0;
    unsigned char bin[16];
    if (n > 5 && strncasecmp(tmp, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, tmp + 5, bin) == 1 ? 0 : -1;
    if (is_digit((unsigned char)tmp[0]))
        return inet_pton(AF_INET, tmp, bin) == 1 ? 0 : -1;
    return literal_general(tmp, n);
}

/* parse_quoted - Quoted-string with qtextSMTP and quoted-pairSMTP; 0 or -1 */
static int parse_quoted(cursor *k)
{
    k->p++;   /* the opening quote */
    for (;;) {
        unsigned char ch = at(k);
        if (ch == '"') {
            k->p++;
            return 0;
        }
        if (ch == '\\') {
            k->p++;
            ch = at(k);
            if (ch < 32 || ch > 126)
                return -1;
        } else if (ch < 32 || ch == 127) {
            return -1;   /* control bytes, and the end of the line */
        }
        k->p++;
    }
}

/* parse_dotstring - Atom *("." Atom); 0 or -1 */
static int parse_dotstring(cursor *k)
{
    do {
        if (!is_atext(at(k)))
            return -1;
        while (is_atext(at(k)))
            k->p++;
    } while (eat(k, '.'));
    return 0;
}

/* parse_route - A-d-l ":" (a source route, dropped); 0 or -1 */
static int parse_route(cursor *k)
{
    do {
        if (!eat(k, '@') || parse_domain(k) < 0)
            return -1;
    } while (eat(k, ','));
    return eat(k, ':') ? 0 : -1;
}

/* is_postmaster - the bare local part "postmaster", in any case */
static int is_postmaster(const char *p, size_t n)
{
    return n == 10 && strncasecmp(p, "postmaster", 10) == 0;
}

/* parse_mailbox - Local-part ["@" (Domain / address-literal)]; the span into *box; the
 * domain may be missing only for a recipient "postmaster"; 0 or -1 */
static int parse_mailbox(cursor *k, int is_rcpt, smtp_span *box)
{
    box->p = k->p;
    if (at(k) == '"' ? parse_quoted(k) < 0 : parse_dotstring(k) < 0)
        return -1;
    if (!eat(k, '@')) {
        box->n = (size_t)(k->p - box->p);
        return is_rcpt && is_postmaster(box->p, box->n) ? 0 : -1;
    }
    if (at(k) == '[' ? parse_literal(k) < 0 : parse_domain(k) < 0)
        return -1;
    box->n = (size_t)(k->p - box->p);
    return 0;
}

/* parse_path - "<>", "<" [A-d-l ":"] Mailbox ">", or a bare Mailbox; fills c->addr */
static enum smtp_cmd_err parse_path(cursor *k, int is_rcpt, smtp_cmd *c)
{
    enum smtp_cmd_err bad = is_rcpt ? SMTP_CMD_BAD_RCPT : SMTP_CMD_BAD_SENDER;
    const char *start = k->p;
    smtp_span box = {k->p, 0};
    int bracket = eat(k, '<');
    if (bracket && at(k) == '>') {
        k->p++;
        if (is_rcpt)
            return bad;
    } else {
        if (bracket && at(k) == '@' && parse_route(k) < 0)
            return bad;
        if (parse_mailbox(k, is_rcpt, &box) < 0 || (bracket && !eat(k, '>')))
            return bad;
    }
    if (k->p < k->end && !is_space(at(k)))
        return bad;
    if ((size_t)(k->p - start) + (bracket ? 0 : 2) > SMTP_PATH_MAX)
        return SMTP_CMD_PATH_TOO_LONG;
    if (!smtp_utf8_valid((const unsigned char *)box.p, box.n))
        return bad;
    memcpy(c->addr, box.p, box.n);
    c->addr[box.n] = 0;
    c->addrlen = box.n;
    for (size_t i = 0; i < box.n && !c->addr_8bit; i++)
        c->addr_8bit = (unsigned char)box.p[i] >= 0x80;
    return SMTP_CMD_OK;
}

/* parse_param - one esmtp-keyword ["=" esmtp-value] up to a blank; 0 or -1 */
static int parse_param(cursor *k, smtp_param *prm)
{
    prm->key.p = k->p;
    if (!is_alpha(at(k)) && !is_digit(at(k)))
        return -1;
    while (is_alpha(at(k)) || is_digit(at(k)) || at(k) == '-')
        k->p++;
    prm->key.n = (size_t)(k->p - prm->key.p);
    prm->value.p = NULL;
    prm->value.n = 0;
    if (!eat(k, '='))
        return k->p == k->end || is_space(at(k)) ? 0 : -1;
    prm->value.p = k->p;
    while (at(k) >= 33 && at(k) <= 126 && at(k) != '=')
        k->p++;
    prm->value.n = (size_t)(k->p - prm->value.p);
    return prm->value.n > 0 && (k->p == k->end || is_space(at(k))) ? 0 : -1;
}

/* parse_params - Mail-parameters / Rcpt-parameters after the path */
static enum smtp_cmd_err parse_params(cursor *k, smtp_cmd *c)
{
    for (;;) {
        skip_space(k);
        if (k->p == k->end)
            return SMTP_CMD_OK;
        if (c->nparam == SMTP_CMD_MAXPARAMS || parse_param(k, &c->param[c->nparam]) < 0)
            return SMTP_CMD_SYNTAX;
        c->nparam++;
    }
}

/* parse_mail_rcpt - "FROM:" or "TO:", a path, then parameters */
static enum smtp_cmd_err parse_mail_rcpt(smtp_cmd *c, const char *prefix, int is_rcpt)
{
    size_t plen = strlen(prefix);
    if (c->arg.n < plen || strncasecmp(c->arg.p, prefix, plen) != 0)
        return SMTP_CMD_SYNTAX;
    cursor k = {c->arg.p + plen, c->arg.p + c->arg.n};
    skip_space(&k);
    if (k.p == k.end)
        return SMTP_CMD_SYNTAX;
    enum smtp_cmd_err e = parse_path(&k, is_rcpt, c);
    return e != SMTP_CMD_OK ? e : parse_params(&k, c);
}

/* args_mail - MAIL FROM:<path> [params] */
static enum smtp_cmd_err args_mail(smtp_cmd *c)
{
    return parse_mail_rcpt(c, "FROM:", 0);
}

/* args_rcpt - RCPT TO:<path> [params] */
static enum smtp_cmd_err args_rcpt(smtp_cmd *c)
{
    return parse_mail_rcpt(c, "TO:", 1);
}

/* args_none - the verb takes no argument */
static enum smtp_cmd_err args_none(smtp_cmd *c)
{
    return c->arg.n ? SMTP_CMD_SYNTAX : SMTP_CMD_OK;
}

/* args_required - the verb needs a printable argument */
static enum smtp_cmd_err args_required(smtp_cmd *c)
{
    return c->arg.n && !has_control(c->arg.p, c->arg.n) ? SMTP_CMD_OK : SMTP_CMD_SYNTAX;
}

/* args_optional - any printable argument, or none */
static enum smtp_cmd_err args_optional(smtp_cmd *c)
{
    return has_control(c->arg.p, c->arg.n) ? SMTP_CMD_SYNTAX : SMTP_CMD_OK;
}

/* args_bdat - chunk-size [SP "LAST"] (RFC 3030) */
static enum smtp_cmd_err args_bdat(smtp_cmd *c)
{
    cursor k = {c->arg.p, c->arg.p + c->arg.n};
    const char *digits = k.p;
    uint64_t v = 0;
    while (is_digit(at(&k))) {
        if (v > (UINT64_MAX - 9) / 10)
            return SMTP_CMD_SYNTAX;
        v = v * 10 + (uint64_t)(*k.p++ - '0');
    }
    if (k.p == digits)
        return SMTP_CMD_SYNTAX;
    c->chunk_size = v;
    skip_space(&k);
    size_t rest = (size_t)(k.end - k.p);
    if (rest == 4 && strncasecmp(k.p, "LAST", 4) == 0)
        c->chunk_last = 1;
    else if (rest)
        return SMTP_CMD_SYNTAX;
    return SMTP_CMD_OK;
}

/* The argument grammar of each verb. */
static enum smtp_cmd_err (*const args_table[SMTP_NVERBS])(smtp_cmd *) = {
    [SMTP_UNKNOWN] = args_optional, [SMTP_HELO] = args_required, [SMTP_EHLO] = args_required,
    [SMTP_MAIL] = args_mail, [SMTP_RCPT] = args_rcpt, [SMTP_DATA] = args_none,
    [SMTP_RSET] = args_none, [SMTP_NOOP] = args_optional, [SMTP_QUIT] = args_optional,
    [SMTP_VRFY] = args_required, [SMTP_EXPN] = args_required, [SMTP_HELP] = args_optional,
    [SMTP_STARTTLS] = args_none, [SMTP_AUTH] = args_required, [SMTP_BDAT] = args_bdat,
};

/* lookup_verb - the verb named by the n bytes at p, any case */
static enum smtp_verb lookup_verb(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof verb_table / sizeof verb_table[0]; i++)
        if (strlen(verb_table[i].name) == n && strncasecmp(p, verb_table[i].name, n) == 0)
            return verb_table[i].verb;
    return SMTP_UNKNOWN;
}

enum smtp_cmd_err smtp_cmd_parse(const char *line, size_t len, smtp_cmd *c)
{
    cursor k = {line, line + len};
    c->verb = SMTP_UNKNOWN;
    c->addr[0] = 0;
    c->addrlen = 0;
    c->addr_8bit = c->nparam = c->chunk_last = 0;
    c->chunk_size = 0;
    while (k.end > k.p && is_space((unsigned char)k.end[-1]))
        k.end--;
    skip_space(&k);
    c->name.p = k.p;
    while (k.p < k.end && !is_space(at(&k)))
        k.p++;
    c->name.n = (size_t)(k.p - c->name.p);
    skip_space(&k);
    c->arg.p = k.p;
    c->arg.n = (size_t)(k.end - k.p);
    if (c->name.n == 0 || (c->verb = lookup_verb(c->name.p, c->name.n)) == SMTP_UNKNOWN)
        return SMTP_CMD_UNKNOWN;
    return args_table[c->verb](c);
}

/* syntax_text - the usage hint for a 501 reply */
static const char *syntax_text(enum smtp_verb v)
{
    static const char *const usage[SMTP_NVERBS] = {
        [SMTP_HELO] = "5.5.4 Syntax: HELO hostname",
        [SMTP_EHLO] = "5.5.4 Syntax: EHLO hostname",
        [SMTP_MAIL] = "5.5.4 Syntax: MAIL FROM:<address> [parameters]",
        [SMTP_RCPT] = "5.5.4 Syntax: RCPT TO:<address> [parameters]",
        [SMTP_DATA] = "5.5.4 Syntax: DATA",
        [SMTP_RSET] = "5.5.4 Syntax: RSET",
        [SMTP_VRFY] = "5.5.4 Syntax: VRFY address",
        [SMTP_EXPN] = "5.5.4 Syntax: EXPN list",
        [SMTP_STARTTLS] = "5.5.4 Syntax: STARTTLS",
        [SMTP_AUTH] = "5.5.4 Syntax: AUTH mechanism",
        [SMTP_BDAT] = "5.5.4 Syntax: BDAT size [LAST]",
    };
    return usage[v] ? usage[v] : "5.5.4 Syntax error in arguments";
}

int smtp_cmd_error_reply(enum smtp_cmd_err e, enum smtp_verb v, const char **text)
{
    switch (e) {
    case SMTP_CMD_OK:
        *text = "2.0.0 Ok";
        return 250;
    case SMTP_CMD_UNKNOWN:
        *text = "5.5.2 Error: command not recognized";
        return 500;
    case SMTP_CMD_SYNTAX:
        *text = syntax_text(v);
        return 501;
    case SMTP_CMD_BAD_SENDER:
        *text = "5.1.7 Bad sender address syntax";
        return 501;
    case SMTP_CMD_BAD_RCPT:
        *text = "5.1.3 Bad recipient address syntax";
        return 501;
    case SMTP_CMD_PATH_TOO_LONG:
        *text = v == SMTP_RCPT ? "5.1.3 Error: path too long" : "5.1.7 Error: path too long";
        return 501;
    }
    *text = "5.5.4 Syntax error";
    return 501;
}

const char *smtp_verb_name(enum smtp_verb v)
{
    for (size_t i = 0; i < sizeof verb_table / sizeof verb_table[0]; i++)
        if (verb_table[i].verb == v)
            return verb_table[i].name;
    return "UNKNOWN";
}

int smtp_param_is(const smtp_param *p, const char *key)
{
    size_t n = strlen(key);
    return p->key.n == n && strncasecmp(p->key.p, key, n) == 0;
}

/* hexval - a hex digit's value (upper case only, as xtext requires), or -1 */
static int hexval(unsigned char ch)
{
    if (is_digit(ch))
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int smtp_xtext_decode(smtp_span in, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        unsigned char ch = (unsigned char)in.p[i];
        if (ch == '+') {
            if (i + 2 >= in.n)
                return -1;
            int hi = hexval((unsigned char)in.p[i + 1]);
            int lo = hexval((unsigned char)in.p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (ch < 33 || ch > 126 || ch == '=') {
            return -1;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)ch;
    }
    if (outlen)
        out[o] = 0;
    return (int)o;
}

/* utf8_seq_len - the length of the sequence that lead byte ch starts, 0 when ch can't lead */
static int utf8_seq_len(unsigned char ch)
{
    if (ch < 0x80)
        return 1;
    if (ch >= 0xc2 && ch <= 0xdf)
        return 2;
    if (ch >= 0xe0 && ch <= 0xef)
        return 3;
    if (ch >= 0xf0 && ch <= 0xf4)
        return 4;
    return 0;
}

int smtp_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int len = utf8_seq_len(s[i]);
        if (len == 0 || i + (size_t)len > n)
            return 0;
        for (int j = 1; j < len; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        /* overlong 3/4-byte forms, surrogates, and code points past U+10FFFF */
        if ((s[i] == 0xe0 && s[i + 1] < 0xa0) || (s[i] == 0xed && s[i + 1] > 0x9f) ||
            (s[i] == 0xf0 && s[i + 1] < 0x90) || (s[i] == 0xf4 && s[i + 1] > 0x8f))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

int smtp_path_safe(const char *a)
{
    int quoted = 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p < 0x20 || *p == 0x7f || (*p == ' ' && !quoted) || *p == '<' || *p == '>')
            return 0;
    }
    return 1;
}
