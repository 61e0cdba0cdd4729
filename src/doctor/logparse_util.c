/* logparse_util.c - the log parser's small tools: a bounded cursor, copying fields into the
 * record (truncated, control bytes replaced), key=value lookup, address lists and relay
 * host forms of the different MTAs.  Nothing here reads outside [p, e). */
#include <ctype.h>
#include <string.h>

#include "doctor/logparse_int.h"

bool lc_lit(lcur *c, const char *s)
{
    size_t n = strlen(s);
    if (lc_left(c) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

bool lc_char(lcur *c, char ch)
{
    if (c->p >= c->e || *c->p != ch)
        return false;
    c->p++;
    return true;
}

size_t lc_spaces(lcur *c)
{
    size_t n = 0;
    while (c->p < c->e && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
        n++;
    }
    return n;
}

bool lc_num(lcur *c, int min, int max, long *v)
{
    long x = 0;
    int k = 0;
    while (k < max && c->p + k < c->e && isdigit((unsigned char)c->p[k]))
        x = x * 10 + (c->p[k++] - '0');
    if (k < min)
        return false;
    c->p += k;
    *v = x;
    return true;
}

size_t lc_token(lcur *c, const char **t)
{
    *t = c->p;
    while (c->p < c->e && *c->p != ' ' && *c->p != '\t')
        c->p++;
    return (size_t)(c->p - *t);
}

bool lc_qid_like(const char *p, size_t n)
{
    if (n < 5 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '-')
            return false;
    return true;
}

void lp_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (!cap)
        return;
    if (n > cap - 1)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[n] = 0;
}

const char *lp_ci_find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (!k || n < k)
        return NULL;
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

/* key_at - is [q) the start of "key=" at a field boundary of [s, ...)? */
static bool key_at(const char *s, const char *q, const char *key, size_t kn)
{
    if (q > s && q[-1] != ' ' && q[-1] != ',' && q[-1] != '\t')
        return false;
    return q[kn] == '=' && memcmp(q, key, kn) == 0;
}

bool lp_kv(const char *s, const char *e, const char *key, const char **v, size_t *vn, const char *stops)
{
    size_t kn = strlen(key);
    for (const char *q = s; q + kn < e; q++) {
        if (*q != key[0] || !key_at(s, q, key, kn))
            continue;
        const char *b = q + kn + 1, *x = b;
        int angle = 0;
        while (x < e) {
            if (*x == '<')
                angle++;
            else if (*x == '>' && angle)
                angle--;
            else if (!angle && strchr(stops, *x) && (*x != ',' || x + 1 >= e || x[1] == ' '))
                break;
            x++;
        }
        *v = b;
        *vn = (size_t)(x - b);
        return true;
    }
    return false;
}

void lp_addr(logrec *rec, const char *v, size_t n)
{
    char buf[LP_ADDR_MAX];
    size_t o = 0;
    int count = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof buf; i++) {
        char ch = v[i];
        if (ch == '<' || ch == '>' || ch == ' ' || ch == '"')
            continue;
        if (ch == ',') {
            if (o && buf[o - 1] != ',')
                buf[o++] = ',';
            continue;
        }
        if (!o || buf[o - 1] == ',')
            count++;
        buf[o++] = ch;
    }
    while (o && buf[o - 1] == ',')
        o--;
    lp_copy(rec->rcpt, sizeof rec->rcpt, buf, o);
    rec->nrcpt = count;
}

/* strip_dot - without a trailing '.' (Sendmail writes "mx.example.com.") */
static size_t strip_dot(const char *s, size_t n)
{
    return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

void lp_relay(logrec *rec, const char *v, size_t n)
{
    const char *lb = memchr(v, '[', n);
    const char *lp = memchr(v, '(', n);
    if (lb) {             /* host[ip]:port, host. [ip], [ip] [ip] */
        const char *rb = memchr(lb, ']', (size_t)(v + n - lb));
        size_t hn = (size_t)(lb - v);
        while (hn && v[hn - 1] == ' ')
            hn--;
        lp_copy(rec->relay, sizeof rec->relay, v, strip_dot(v, hn));
        if (rb)
            lp_copy(rec->relay_ip, sizeof rec->relay_ip, lb + 1, (size_t)(rb - lb - 1));
        if (!hn && rb)   /* "[ip] [ip]": the name is the literal */
            lp_copy(rec->relay, sizeof rec->relay, lb, (size_t)(rb - lb + 1));
    } else if (lp) {      /* OpenSMTPD: "ip (host)" */
        const char *rp = memchr(lp, ')', (size_t)(v + n - lp));
        size_t in = (size_t)(lp - v);
        while (in && v[in - 1] == ' ')
            in--;
        lp_copy(rec->relay_ip, sizeof rec->relay_ip, v, in);
        if (rp)
            lp_copy(rec->relay, sizeof rec->relay, lp + 1, strip_dot(lp + 1, (size_t)(rp - lp - 1)));
    } else {
        lp_copy(rec->relay, sizeof rec->relay, v, strip_dot(v, n));
    }
}

void lp_dsn_fallback(lp_reply *r, const char *dsn, size_t n)
{
    if (r->code || r->enh[0] || n >= sizeof r->enh || lp_enh_len(dsn, n) != n)
        return;
    lp_copy(r->enh, sizeof r->enh, dsn, n);
    if (r->fail == LF_OTHER && strcmp(r->enh + 1, ".0.0") != 0)
        r->fail = LF_REPLY;   /* the MTA's summary of a reply it did not quote */
}
