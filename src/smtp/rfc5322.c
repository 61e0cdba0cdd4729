/* rfc5322.c - message header work for the injector and DKIM: header iteration, address
 * lists, `sendmail -t` rules, and the fields sluice adds.  See rfc5322.h for the API.
 *
 * Invariants: every scan is bounded by the length it was given and looks at one byte
 * at a time (memchr for line ends), so no input can make it read out of bounds; there is
 * no recursion (nested comments are a depth counter); work is linear in the input.
 * The address parser first cuts the value into tokens (atoms, quoted strings, domain
 * literals, specials; comments and whitespace dropped) and then reads the tokens.
 * Fields written here never contain a CR or LF except the CRLF folds they put in. */
#include "smtp/rfc5322.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/xmalloc.h"

/* is_wsp - space or horizontal tab */
static int is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* is_ftext - a character allowed in a field name: printable ASCII except the colon */
static int is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* ---- header iteration ---- */

void rfc5322_iter_init(rfc5322_iter *it, const void *msg, size_t len)
{
    memset(it, 0, sizeof *it);
    it->msg = msg;
    it->len = msg ? len : 0;
}

/* line_end - offset just past the line that starts at p (past its LF, or len) */
static size_t line_end(const char *m, size_t len, size_t p)
{
    const char *nl = memchr(m + p, '\n', len - p);
    return nl ? (size_t)(nl - m) + 1 : len;
}

/* empty_line - the length of the line end when the line at p is empty, else 0 */
static size_t empty_line(const char *m, size_t len, size_t p)
{
    if (m[p] == '\n')
        return 1;
    if (m[p] == '\r' && p + 1 < len && m[p + 1] == '\n')
        return 2;
    return 0;
}

/* field_head - length of "name *WSP :" at p, or 0 when no field starts there */
static size_t field_head(const char *m, size_t len, size_t p, size_t *name_len)
{
    size_t i = p;
    while (i < len && is_ftext((unsigned char)m[i]))
        i++;
    *name_len = i - p;
    while (i < len && is_wsp((unsigned char)m[i]))
        i++;
    if (*name_len == 0 || i >= len || m[i] != ':')
        return 0;
    return i + 1 - p;
}

/* trim_eol - end offset without the final LF or CRLF, never below start */
static size_t trim_eol(const char *m, size_t start, size_t end)
{
    if (end > start && m[end - 1] == '\n') {
        end--;
        if (end > start && m[end - 1] == '\r')
            end--;
    }
    return end;
}

/* iter_finish - record where the header block ends and the body starts */
static int iter_finish(rfc5322_iter *it, size_t hdr_end, size_t body)
{
    it->hdr_end = hdr_end;
    it->body = body;
    it->pos = body;
    it->done = 1;
    return 0;
}

int rfc5322_next(rfc5322_iter *it, rfc5322_field *f)
{
    const char *m = it->msg;
    size_t p = it->pos, name_len, head, eol;
    if (it->done)
        return 0;
    if (p >= it->len)
        return iter_finish(it, it->len, it->len);
    if ((eol = empty_line(m, it->len, p)) != 0)
        return iter_finish(it, p, p + eol);
    if ((head = field_head(m, it->len, p, &name_len)) == 0)
        return iter_finish(it, p, p);
    size_t end = line_end(m, it->len, p);
    while (end < it->len && is_wsp((unsigned char)m[end]))
        end = line_end(m, it->len, end);
    f->name = m + p;
    f->name_len = name_len;
    f->value = m + p + head;
    f->value_len = trim_eol(m, p + head, end) - (p + head);
    f->raw = m + p;
    f->raw_len = end - p;
    it->pos = end;
    return 1;
}

void rfc5322_split(const void *msg, size_t len, size_t *hdr_end, size_t *body)
{
    rfc5322_iter it;
    rfc5322_field f;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f))
        ;
    *hdr_end = it.hdr_end;
    *body = it.body;
}

int rfc5322_name_is(const rfc5322_field *f, const char *name)
{
    return strlen(name) == f->name_len && strncasecmp(f->name, name, f->name_len) == 0;
}

/* name_in - 1 when the field's name is one of the NULL-terminated names */
static int name_in(const rfc5322_field *f, const char *const *names)
{
    for (; *names; names++)
        if (rfc5322_name_is(f, *names))
            return 1;
    return 0;
}

/* is_resent - 1 for any Resent-* field */
static int is_resent(const rfc5322_field *f)
{
    return f->name_len > 7 && strncasecmp(f->name, "Resent-", 7) == 0;
}

/* ---- address lists: tokens ---- */

enum tok_kind { TK_ATOM, TK_QSTR, TK_DLIT, TK_SPECIAL };

/* A token: atom text, quoted-string or domain-literal contents (raw, without the
 * delimiters), or one special character in c. */
struct tok {
    enum tok_kind kind;
    char c;
    const char *p;
    size_t n;
};

struct toks {
    struct tok *v;
    size_t n, cap;
};

/* is_special - one of the specials that stand alone as tokens */
static int is_special(unsigned char c)
{
    switch (c) {
    case '<': case '>': case '@': case ',': case ';': case ':': case '.':
        return 1;
    default:
        return 0;
    }
}

/* is_atom_char - a character of an atom: printable or 8-bit, not an RFC 5322 special */
static int is_atom_char(unsigned char c)
{
    if (c <= ' ' || c == 0x7f)
        return 0;
    return !is_special(c) && strchr("()[]\\\"", c) == NULL;
}

/* toks_push - append one token */
static void toks_push(struct toks *t, enum tok_kind kind, const char *p, size_t n)
{
    XGROW(t->v, t->n, t->cap, 16);
    t->v[t->n++] = (struct tok){kind, kind == TK_SPECIAL ? *p : 0, p, n};
}

/* skip_comment - offset past the (possibly nested) comment opening at i, or len */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
    size_t depth = 0;
    while (i < len) {
        char c = s[i++];
        if (c == '\\') {
            if (i < len)
                i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth == 0) {
            break;
        }
    }
    return i;
}

/* scan_delimited - push the quoted string or literal opening at i; offset past it */
static size_t scan_delimited(const char *s, size_t len, size_t i, char close,
                             enum tok_kind kind, struct toks *t)
{
    size_t j = i + 1;
    while (j < len && s[j] != close)
        j += (s[j] == '\\' && j + 1 < len) ? 2 : 1;
    toks_push(t, kind, s + i + 1, j - (i + 1));
    return j < len ? j + 1 : len;
}

/* eword_char - a character of an encoded word's charset and encoding (part 0, 1: RFC
 * 2047 token) or of its text (part 2: printable except '?', and '@' so that an encoded
 * word can never swallow the '@' of an address) */
static int eword_char(unsigned char c, int part)
{
    if (c <= ' ' || c >= 0x7f || c == '?' || c == '@')
        return 0;
    return part == 2 || strchr("()<>,;:\"/[].=", c) == NULL;
}

/* eword_end - offset past the RFC 2047 encoded word "=?cs?e?text?=" at i, or i */
static size_t eword_end(const char *s, size_t len, size_t i)
{
    size_t j = i + 2;
    for (int part = 0; part < 3; part++) {
        size_t start = j;
        while (j < len && eword_char((unsigned char)s[j], part))
            j++;
        if (j >= len || s[j] != '?' || (part < 2 && j == start))
            return i;
        j++;
    }
    return (j < len && s[j] == '=') ? j + 1 : i;
}

/* scan_atom - push the atom at i (an encoded word is one atom whatever it holds) */
static size_t scan_atom(const char *s, size_t len, size_t i, struct toks *t)
{
    size_t j = i;
    if (len - i >= 2 && s[i] == '=' && s[i + 1] == '?')
        j = eword_end(s, len, i);
    while (j < len && is_atom_char((unsigned char)s[j]))
        j++;
    toks_push(t, TK_ATOM, s + i, j - i);
    return j;
}

/* tokenize - cut a field value into tokens; whitespace, comments and stray ")]\" go */
static void tokenize(const char *s, size_t len, struct toks *t)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '(')
            i = skip_comment(s, len, i);
        else if (c == '"')
            i = scan_delimited(s, len, i, '"', TK_QSTR, t);
        else if (c == '[')
            i = scan_delimited(s, len, i, ']', TK_DLIT, t);
        else if (is_special(c))
            toks_push(t, TK_SPECIAL, s + i++, 1);
        else if (is_atom_char(c))
            i = scan_atom(s, len, i, t);
        else
            i++;
    }
}

/* is_sp - 1 when the token is the special character c */
static int is_sp(const struct tok *t, char c)
{
    return t->kind == TK_SPECIAL && t->c == c;
}

/* find_sp - index of the first special c in t[i, n), or n */
static size_t find_sp(const struct tok *t, size_t i, size_t n, char c)
{
    while (i < n && !is_sp(&t[i], c))
        i++;
    return i;
}

/* ---- address lists: addr-specs ---- */

/* put_word - append an atom as it is or a quoted string unquoted, controls dropped */
static void put_word(dbuf *b, const struct tok *t)
{
    if (t->kind == TK_ATOM) {
        dbuf_put(b, t->p, t->n);
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (c == '\\') {
            if (++i == t->n)
                break;
            c = (unsigned char)t->p[i];
        }
        if ((c >= ' ' && c != 0x7f) || c == '\t')
            dbuf_putc(b, c);
    }
}

/* put_literal - append a domain literal as "[text]": no whitespace, escapes or brackets */
static void put_literal(dbuf *b, const struct tok *t)
{
    dbuf_putc(b, '[');
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (c > ' ' && c != 0x7f && c != '\\' && c != '[' && c != ']')
            dbuf_putc(b, c);
    }
    dbuf_putc(b, ']');
}

/* is_atext - a character a dot-atom may hold (8-bit allowed for UTF-8 addresses) */
static int is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c >= 0x80 || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* is_dot_atom - 1 when s[0, n) is a dot-atom: atext runs joined by single dots */
static int is_dot_atom(const uint8_t *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i - 1] == '.' : !is_atext(s[i]))
            return 0;
    }
    return 1;
}

/* put_local - append a local part, quoted and escaped unless it is a dot-atom */
static void put_local(dbuf *b, const dbuf *local)
{
    if (is_dot_atom(local->data, local->len)) {
        dbuf_put(b, local->data, local->len);
        return;
    }
    dbuf_putc(b, '"');
    for (size_t i = 0; i < local->len; i++) {
        if (local->data[i] == '"' || local->data[i] == '\\')
            dbuf_putc(b, '\\');
        dbuf_putc(b, local->data[i]);
    }
    dbuf_putc(b, '"');
}

/* local_part - decode words and dots up to '@' (at *i on return); -1 when malformed */
static int local_part(const struct tok *t, size_t n, size_t *i, dbuf *local)
{
    int prev_word = 0, words = 0;
    for (; *i < n && !is_sp(&t[*i], '@'); (*i)++) {
        const struct tok *k = &t[*i];
        if (is_sp(k, '.')) {
            dbuf_putc(local, '.');
            prev_word = 0;
            continue;
        }
        if ((k->kind != TK_ATOM && k->kind != TK_QSTR) || prev_word)
            return -1;
        put_word(local, k);
        prev_word = 1;
        words++;
    }
    return words ? 0 : -1;
}

/* domain - append the domain spelled by t[0, n) (atoms and dots, or one literal) */
static int domain(const struct tok *t, size_t n, dbuf *b)
{
    int prev_word = 0, words = 0;
    if (n == 1 && t[0].kind == TK_DLIT) {
        put_literal(b, &t[0]);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_sp(&t[i], '.')) {
            dbuf_putc(b, '.');
            prev_word = 0;
            continue;
        }
        if (t[i].kind != TK_ATOM || prev_word)
            return -1;
        dbuf_put(b, t[i].p, t[i].n);
        prev_word = 1;
        words++;
    }
    return words ? 0 : -1;
}

/* addr_spec - append the addr-spec spelled by t[0, n) to out; -1 when malformed */
static int addr_spec(const struct tok *t, size_t n, rfc5322_addrs *out)
{
    dbuf local = {0}, addr = {0};
    size_t i = 0;
    int rc = -1;
    if (local_part(t, n, &i, &local) < 0)
        goto fail;
    put_local(&addr, &local);
    if (i < n) {
        dbuf_putc(&addr, '@');
        if (domain(t + i + 1, n - i - 1, &addr) < 0)
            goto fail;
    }
    rfc5322_addrs_add(out, dbuf_cstr(&addr));
    rc = 0;
fail:
    dbuf_free(&local);
    dbuf_free(&addr);
    return rc;
}

/* mailbox - append the address of one mailbox: "<[route:]addr-spec>" after any display
 * name, or a bare addr-spec; -1 when malformed */
static int mailbox(const struct tok *t, size_t n, rfc5322_addrs *out)
{
    size_t lt = find_sp(t, 0, n, '<');
    if (lt == n)
        return addr_spec(t, n, out);
    size_t s = lt + 1, e = find_sp(t, s, n, '>');
    if (s < e && is_sp(&t[s], '@')) {
        size_t colon = find_sp(t, s, e, ':');
        if (colon == e)
            return -1;
        s = colon + 1;
    }
    return addr_spec(t + s, e - s, out);
}

/* element_end - end of the list element starting at i: the next ',' or ';' outside an
 * angle address (a ',' inside one only while in its obs-route); a ':' before any '<'
 * makes the element a group's display name and its index goes to *colon (else n) */
static size_t element_end(const struct tok *t, size_t i, size_t n, size_t *colon)
{
    int angle = 0, route = 0, seen_angle = 0;
    *colon = n;
    for (; i < n; i++) {
        if (angle) {
            if (is_sp(&t[i], '>'))
                angle = 0;
            else if (is_sp(&t[i], ':'))
                route = 0;
            else if (is_sp(&t[i], ';') || (is_sp(&t[i], ',') && !route))
                return i;
        } else if (is_sp(&t[i], '<')) {
            angle = seen_angle = 1;
            route = i + 1 < n && is_sp(&t[i + 1], '@');
        } else if (is_sp(&t[i], ',') || is_sp(&t[i], ';')) {
            return i;
        } else if (is_sp(&t[i], ':') && !seen_angle) {
            *colon = i;
            return i;
        }
    }
    return n;
}

size_t rfc5322_parse_addrs(const char *value, size_t len, rfc5322_addrs *out)
{
    struct toks t = {0};
    size_t bad = 0, i = 0, colon;
    tokenize(value, value ? len : 0, &t);
    while (i < t.n) {
        if (is_sp(&t.v[i], ',') || is_sp(&t.v[i], ';')) {
            i++;
            continue;
        }
        size_t end = element_end(t.v, i, t.n, &colon);
        if (colon < t.n) {
            i = colon + 1; /* a group: its members follow as elements */
            continue;
        }
        if (mailbox(t.v + i, end - i, out) < 0)
            bad++;
        i = end;
    }
    free(t.v);
    return bad;
}

void rfc5322_addrs_add(rfc5322_addrs *a, const char *addr)
{
    XGROW(a->v, a->n, a->cap, 8);
    a->v[a->n++] = xstrdup(addr);
}

void rfc5322_addrs_free(rfc5322_addrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- sendmail -t, Bcc removal, what is present ---- */

size_t rfc5322_collect_rcpts(const void *msg, size_t len, rfc5322_addrs *out)
{
    static const char *const plain[] = {"To", "Cc", "Bcc", NULL};
    static const char *const resent[] = {"Resent-To", "Resent-Cc", "Resent-Bcc", NULL};
    const char *const *names = plain;
    rfc5322_iter it;
    rfc5322_field f;
    size_t bad = 0;
    if (rfc5322_have(msg, len) & RFC5322_HAVE_RESENT)
        names = resent;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f))
        if (name_in(&f, names))
            bad += rfc5322_parse_addrs(f.value, f.value_len, out);
    return bad;
}

void rfc5322_remove_bcc(const void *msg, size_t len, dbuf *out)
{
    static const char *const bcc[] = {"Bcc", "Resent-Bcc", NULL};
    rfc5322_iter it;
    rfc5322_field f;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f))
        if (!name_in(&f, bcc))
            dbuf_put(out, f.raw, f.raw_len);
    if (it.hdr_end < it.len)
        dbuf_put(out, it.msg + it.hdr_end, it.len - it.hdr_end);
}

unsigned rfc5322_have(const void *msg, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {
        {"From", RFC5322_HAVE_FROM},      {"Date", RFC5322_HAVE_DATE},
        {"Message-ID", RFC5322_HAVE_MSGID}, {"To", RFC5322_HAVE_RCPT_HDR},
        {"Cc", RFC5322_HAVE_RCPT_HDR},    {"Bcc", RFC5322_HAVE_RCPT_HDR},
        {"Resent-From", RFC5322_HAVE_RESENT_FROM},
        {"Resent-Date", RFC5322_HAVE_RESENT_DATE},
        {"Resent-Message-ID", RFC5322_HAVE_RESENT_MSGID},
    };
    rfc5322_iter it;
    rfc5322_field f;
    unsigned have = 0;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f)) {
        if (is_resent(&f))
            have |= RFC5322_HAVE_RESENT;
        for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
            if (rfc5322_name_is(&f, tab[i].name))
                have |= tab[i].bit;
    }
    return have;
}

/* ---- folding ---- */

/* A field being written: how long its current line is and whether a word is on it. */
struct folder {
    dbuf *out;
    size_t line;
    int words;
};

/* fold_begin - write "name:" and start counting */
static void fold_begin(struct folder *f, dbuf *out, const char *name)
{
    f->out = out;
    f->words = 0;
    dbuf_puts(out, name);
    dbuf_putc(out, ':');
    f->line = strlen(name) + 1;
}

/* fold_word - write whitespace and a word, folding before the whitespace first when the
 * line would reach RFC5322_LINE_MAX; tab replaces the whitespace of a fold.  The first
 * word always stays on the name's line, after one space. */
static void fold_word(struct folder *f, const char *ws, size_t wn, const char *w, size_t n,
                      int tab)
{
    if (f->words == 0) {
        ws = " ";
        wn = 1;
    } else if (f->line + wn + n >= RFC5322_LINE_MAX) {
        dbuf_puts(f->out, "\r\n");
        f->line = 0;
        if (tab) {
            ws = "\t";
            wn = 1;
        }
    }
    dbuf_put(f->out, ws, wn);
    dbuf_put(f->out, w, n);
    f->line += wn + n;
    f->words++;
}

void rfc5322_unfold(dbuf *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        size_t eol = value[i] == '\n' ? 1 : 0;
        if (value[i] == '\r' && i + 1 < len && value[i + 1] == '\n')
            eol = 2;
        if (eol && i + eol < len && is_wsp((unsigned char)value[i + eol])) {
            i += eol - 1;
            continue;
        }
        dbuf_putc(out, (uint8_t)value[i]);
    }
}

void rfc5322_put_field(dbuf *out, const char *name, const char *value, size_t len)
{
    dbuf v = {0};
    struct folder f;
    size_t i = 0;
    rfc5322_unfold(&v, value, value ? len : 0);
    for (size_t k = 0; k < v.len; k++)
        if (v.data[k] == '\r' || v.data[k] == '\n' || v.data[k] == 0)
            v.data[k] = ' ';
    fold_begin(&f, out, name);
    while (i < v.len) {
        size_t ws = i, w;
        while (i < v.len && is_wsp(v.data[i]))
            i++;
        for (w = i; i < v.len && !is_wsp(v.data[i]); i++)
            ;
        if (w < i)
            fold_word(&f, (char *)v.data + ws, w - ws, (char *)v.data + w, i - w, 0);
    }
    dbuf_puts(out, "\r\n");
    dbuf_free(&v);
}

void rfc5322_prepend(dbuf *out, const void *fields, size_t flen, const void *msg, size_t len)
{
    size_t hdr_end, body;
    rfc5322_split(msg, len, &hdr_end, &body);
    dbuf_put(out, fields, flen);
    dbuf_put(out, msg, hdr_end);
    if (hdr_end == len)
        return;
    if (body == hdr_end)
        dbuf_puts(out, "\r\n");
    dbuf_put(out, (const char *)msg + hdr_end, len - hdr_end);
}

/* ---- fields sluice adds ---- */

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void rfc5322_format_date(dbuf *out, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    dbuf_printf(out, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
                wday_names[(unsigned)tm.tm_wday % 7], tm.tm_mday,
                month_names[(unsigned)tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec, sign, off / 60 % 100, off % 60);
}

void rfc5322_put_date(dbuf *out, const char *name, int64_t t)
{
    dbuf v = {0};
    rfc5322_format_date(&v, t);
    rfc5322_put_field(out, name, (char *)v.data, v.len);
    dbuf_free(&v);
}

/* put_dot_atom - append s with every character a dot-atom cannot hold turned into '-' */
static void put_dot_atom(dbuf *b, const char *s)
{
    for (; *s; s++)
        dbuf_putc(b, (*s == '.' || is_atext((unsigned char)*s)) ? (uint8_t)*s : '-');
}

void rfc5322_put_message_id(dbuf *out, const char *name, const char *qid, int64_t t,
                            const char *host)
{
    time_t tt = (time_t)t;
    struct tm tm;
    dbuf v = {0};
    if (gmtime_r(&tt, &tm) == NULL) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    dbuf_putc(&v, '<');
    if (qid && *qid) {
        put_dot_atom(&v, qid);
        dbuf_putc(&v, '.');
    }
    dbuf_printf(&v, "%04d%02d%02d%02d%02d%02d@", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    put_dot_atom(&v, host && *host ? host : "localhost");
    dbuf_putc(&v, '>');
    rfc5322_put_field(out, name, (char *)v.data, v.len);
    dbuf_free(&v);
}

/* put_display_name - append s trimmed as a quoted string; controls become spaces */
static void put_display_name(dbuf *b, const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && ((unsigned char)s[n - 1] <= ' ' || s[n - 1] == 0x7f))
        n--;
    while (n > 0 && ((unsigned char)*s <= ' ' || *s == 0x7f))
        s++, n--;
    dbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            dbuf_putc(b, '\\');
        dbuf_putc(b, (c < ' ' || c == 0x7f) ? ' ' : c);
    }
    dbuf_putc(b, '"');
}

/* is_blank - NULL, empty, or nothing but spaces and controls */
static int is_blank(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s > ' ' && *s != 0x7f)
            return 0;
    return 1;
}

void rfc5322_put_from(dbuf *out, const char *name, const char *sender, const char *fullname)
{
    dbuf v = {0};
    if (!is_blank(fullname)) {
        put_display_name(&v, fullname);
        dbuf_puts(&v, " <");
        dbuf_puts(&v, sender ? sender : "");
        dbuf_putc(&v, '>');
    } else {
        dbuf_puts(&v, sender ? sender : "");
    }
    rfc5322_put_field(out, name, (char *)v.data, v.len);
    dbuf_free(&v);
}

/* known - 1 when a Received part is given */
static int known(const char *s)
{
    return s != NULL && *s != 0;
}

/* put_token - append peer-supplied text with anything that could break the field's
 * syntax (whitespace, controls, 8-bit, ( ) < > ; \ ") turned into '?' */
static void put_token(dbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        dbuf_putc(b, (c <= ' ' || c >= 0x7f || strchr("()<>;\\\"", c)) ? '?' : c);
    }
}

/* put_ip_literal - append "[192.0.2.1]" or "[IPv6:2001:db8::1]" */
static void put_ip_literal(dbuf *b, const char *ip)
{
    dbuf_puts(b, strchr(ip, ':') ? "[IPv6:" : "[");
    put_token(b, ip);
    dbuf_putc(b, ']');
}

/* put_rcpt - append "for <rcpt>", keeping the spaces a quoted local part may hold */
static void put_rcpt(dbuf *b, const char *rcpt)
{
    dbuf_puts(b, "for <");
    for (; *rcpt; rcpt++) {
        unsigned char c = (unsigned char)*rcpt;
        dbuf_putc(b, (c < ' ' || c == 0x7f || c == '<' || c == '>') ? '?' : c);
    }
    dbuf_putc(b, '>');
}

#define RECEIVED_PARTS 9

/* received_from - the "from HELO" and "(NAME [IP])" parts, when known; how many */
static size_t received_from(const rfc5322_received *r, dbuf *p)
{
    size_t n = 0;
    if (known(r->helo) || known(r->client_ip)) {
        dbuf_puts(&p[n], "from ");
        if (known(r->helo))
            put_token(&p[n], r->helo);
        else
            put_ip_literal(&p[n], r->client_ip);
        n++;
    }
    if (known(r->client_ip)) {
        dbuf_putc(&p[n], '(');
        if (known(r->client_name)) {
            put_token(&p[n], r->client_name);
            dbuf_putc(&p[n], ' ');
        }
        put_ip_literal(&p[n], r->client_ip);
        dbuf_putc(&p[n++], ')');
    }
    return n;
}

/* put_clause - start the next part with "keyword value" when value is known */
static size_t put_clause(dbuf *p, size_t n, const char *keyword, const char *value)
{
    if (!known(value))
        return n;
    dbuf_puts(&p[n], keyword);
    dbuf_putc(&p[n], ' ');
    put_token(&p[n], value);
    return n + 1;
}

/* received_parts - the parts of a Received field in order, each one unbreakable */
static size_t received_parts(const rfc5322_received *r, dbuf *p)
{
    size_t n = received_from(r, p);
    n = put_clause(p, n, "by", r->host);
    dbuf_puts(&p[n], "(sluice");
    if (known(r->uid)) {
        dbuf_puts(&p[n], ", from userid ");
        put_token(&p[n], r->uid);
    }
    dbuf_putc(&p[n++], ')');
    n = put_clause(p, n, "with", r->proto);
    n = put_clause(p, n, "id", r->qid);
    if (known(r->rcpt))
        put_rcpt(&p[n++], r->rcpt);
    dbuf_putc(&p[n - 1], ';');
    rfc5322_format_date(&p[n++], r->time ? r->time : clock_now());
    return n;
}

void rfc5322_put_received(dbuf *out, const rfc5322_received *r)
{
    dbuf parts[RECEIVED_PARTS];
    struct folder f;
    memset(parts, 0, sizeof parts);
    size_t n = received_parts(r, parts);
    fold_begin(&f, out, "Received");
    for (size_t i = 0; i < n; i++) {
        fold_word(&f, " ", 1, (char *)parts[i].data, parts[i].len, 1);
        dbuf_free(&parts[i]);
    }
    dbuf_puts(out, "\r\n");
}

/* trim_span - *p, *n without surrounding blanks and line breaks */
static void trim_span(const char **p, size_t *n)
{
    while (*n && strchr(" \t\r\n", (*p)[0]))
        (*p)++, (*n)--;
    while (*n && strchr(" \t\r\n", (*p)[*n - 1]))
        (*n)--;
}

void rfc5322_message_id(const void *msg, size_t len, char *buf, size_t buflen)
{
    rfc5322_iter it;
    rfc5322_field f;
    buf[0] = 0;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f)) {
        if (!rfc5322_name_is(&f, "Message-ID"))
            continue;
        const char *p = f.value;
        size_t n = f.value_len, o = 0;
        trim_span(&p, &n);
        for (size_t i = 0; i < n && o + 1 < buflen; i++)
            if (p[i] != '\r' && p[i] != '\n' && p[i] != 0)
                buf[o++] = p[i];
        buf[o] = 0;
        return;
    }
}
