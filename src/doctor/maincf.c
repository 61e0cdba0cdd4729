/* maincf.c - reading Postfix's main.cf (maincf.h): logical lines, "name = value" entries,
 * the problems Postfix would complain about, and $name expansion.  The table of known
 * parameters and their defaults is maincf_params.c; master.cf is maincf_master.c.
 * Written from Postfix's documented syntax (postconf(5)); no Postfix code. */
#include "doctor/maincf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/readfile.h"
#include "common/xmalloc.h"
#include "doctor/maincf_params.h"

#define MAINCF_MAX_FILE (4u << 20)
#define EXPAND_DEPTH 10
#define PROBLEM_TEXT 80

/* is_blank - Postfix's idea of whitespace in configuration files */
static int is_blank(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Logical-line state: the line being gathered. */
typedef struct gather {
    dbuf buf;
    int first, last, flags, open;
    maincf_line_fn fn;
    void *arg;
} gather;

/* gather_flush - hand the gathered logical line over */
static void gather_flush(gather *g)
{
    if (g->open)
        g->fn(g->arg, g->buf.len ? (const char *)g->buf.data : "", g->buf.len, g->first, g->last, g->flags);
    dbuf_reset(&g->buf);
    g->open = 0;
    g->flags = 0;
}

/* gather_add - one physical line (no newline) with its number */
static void gather_add(gather *g, const char *s, size_t n, int ln)
{
    size_t i = 0;
    while (i < n && is_blank(s[i]))
        i++;
    if (i == n || s[i] == '#')
        return;   /* blank or comment: ignored, and the logical line goes on */
    if (i == 0 || !g->open) {
        gather_flush(g);
        g->open = 1;
        g->first = ln;
        g->flags = i > 0 ? MCL_ORPHAN : 0;
    }
    g->last = ln;
    if (memchr(s, 0, n))
        g->flags |= MCL_NUL;
    dbuf_put(&g->buf, s, n);
}

void maincf_logical_lines(const char *text, size_t len, maincf_line_fn fn, void *arg)
{
    gather g = {.fn = fn, .arg = arg};
    int ln = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
        gather_add(&g, text + off, n, ++ln);
        off += n + (nl != NULL);
    }
    gather_flush(&g);
    dbuf_free(&g.buf);
}

/* add_problem - remember what Postfix would say about a line */
static void add_problem(maincf *m, int line, enum maincf_issue kind, const char *s, size_t n)
{
    XGROW(m->p, m->np, m->pcap, 8);
    size_t k = strnlen(s, n < PROBLEM_TEXT ? n : PROBLEM_TEXT);
    m->p[m->np++] = (maincf_problem){line, kind, xstrndup(s, k)};
}

/* add_entry - a name and value; an earlier entry of the same name is marked overridden */
static void add_entry(maincf *m, const char *name, size_t nl, const char *val, size_t vl, int first, int last)
{
    char *nm = xstrndup(name, nl);
    for (int i = 0; i < m->n; i++)
        if (!m->e[i].overridden && !strcmp(m->e[i].name, nm))
            m->e[i].overridden = 1;
    XGROW(m->e, m->n, m->cap, 32);
    m->e[m->n++] = (maincf_entry){nm, xstrndup(val, vl), first, last, 0};
}

/* on_logical - one logical line of main.cf */
static void on_logical(void *arg, const char *s, size_t n, int first, int last, int flags)
{
    maincf *m = arg;
    if (flags & MCL_NUL) {
        add_problem(m, first, MCI_NUL, s, n);
        n = strnlen(s, n);
    }
    if (flags & MCL_ORPHAN) {
        add_problem(m, first, MCI_LEADING_SPACE, s, n);
        return;
    }
    size_t i = 0;
    while (i < n && !is_blank(s[i]) && s[i] != '=')
        i++;
    size_t nl = i;
    while (i < n && is_blank(s[i]))
        i++;
    if (i == n || s[i] != '=' || nl == 0) {
        add_problem(m, first, MCI_NO_EQUALS, s, n);
        return;
    }
    i++;
    while (i < n && is_blank(s[i]))
        i++;
    size_t e = n;
    while (e > i && is_blank(s[e - 1]))
        e--;
    add_entry(m, s, nl, s + i, e - i, first, last);
}

maincf *maincf_parse(const char *text, size_t len, const char *path)
{
    maincf *m = xcalloc(1, sizeof *m);
    m->path = xstrdup(path ? path : "main.cf");
    maincf_logical_lines(text, len, on_logical, m);
    return m;
}

maincf *maincf_load(const char *path, char *err, int errlen)
{
    size_t n = 0;
    char *text = read_file_all(path, MAINCF_MAX_FILE, &n, err, errlen);
    if (!text)
        return NULL;
    maincf *m = maincf_parse(text, n, path);
    free(text);
    return m;
}

void maincf_free(maincf *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->e[i].name);
        free(m->e[i].value);
    }
    for (int i = 0; i < m->np; i++)
        free(m->p[i].text);
    free(m->e);
    free(m->p);
    free(m->path);
    free(m);
}

const maincf_entry *maincf_get(const maincf *m, const char *name)
{
    for (int i = m ? m->n : 0; i-- > 0;)
        if (!strcmp(m->e[i].name, name))
            return &m->e[i];
    return NULL;
}

const char *maincf_raw(const maincf *m, const char *name, int *line)
{
    const maincf_entry *e = maincf_get(m, name);
    if (line)
        *line = e ? e->line : 0;
    if (e)
        return e->value;
    const maincf_param *p = maincf_param_find(name);
    return p ? p->def : NULL;
}

static void expand_into(const maincf *m, const char *s, dbuf *out, int depth);

/* ref_parse - parse a reference at s (after '$'): name span, the ?/: operator and its text;
 * returns the length consumed after '$', 0 when s is no reference */
static size_t ref_parse(const char *s, const char **name, size_t *nl, char *op, const char **txt, size_t *tl)
{
    *op = 0;
    *txt = NULL;
    *tl = 0;
    if (*s == '{' || *s == '(') {
        char close = *s == '{' ? '}' : ')';
        const char *end = strchr(s + 1, close);
        if (!end)
            return 0;
        *name = s + 1;
        *nl = strcspn(s + 1, "?:}) ");
        if (s + 1 + *nl < end && (s[1 + *nl] == '?' || s[1 + *nl] == ':')) {
            *op = s[1 + *nl];
            *txt = s + 2 + *nl;
            *tl = (size_t)(end - *txt);
        } else if (s + 1 + *nl != end) {
            return 0;
        }
        return *nl ? (size_t)(end - s) + 1 : 0;
    }
    *name = s;
    *nl = 0;
    while (isalnum((unsigned char)s[*nl]) || s[*nl] == '_')
        (*nl)++;
    return *nl;
}

/* expand_ref - one reference: its value, the conditional text, or the reference as written */
static void expand_ref(const maincf *m, const char *ref, size_t reflen, const char *name, size_t nl, char op,
                       const char *txt, size_t tl, dbuf *out, int depth)
{
    char *nm = xstrndup(name, nl);
    const char *v = maincf_raw(m, nm, NULL);
    free(nm);
    if (!v || depth >= EXPAND_DEPTH) {
        dbuf_put(out, ref, reflen);
        return;
    }
    if (op) {
        int set = *v != 0;
        if ((op == '?') == set) {
            char *t = xstrndup(txt, tl);
            expand_into(m, t, out, depth + 1);
            free(t);
        }
        return;
    }
    expand_into(m, v, out, depth + 1);
}

/* expand_into - s with its references expanded, appended to out */
static void expand_into(const maincf *m, const char *s, dbuf *out, int depth)
{
    while (*s) {
        const char *d = strchr(s, '$');
        if (!d) {
            dbuf_puts(out, s);
            return;
        }
        dbuf_put(out, s, (size_t)(d - s));
        if (d[1] == '$') {
            dbuf_putc(out, '$');
            s = d + 2;
            continue;
        }
        const char *name, *txt;
        size_t nl, tl;
        char op;
        size_t used = ref_parse(d + 1, &name, &nl, &op, &txt, &tl);
        if (!used) {
            dbuf_putc(out, '$');
            s = d + 1;
            continue;
        }
        expand_ref(m, d, used + 1, name, nl, op, txt, tl, out, depth);
        s = d + 1 + used;
    }
}

char *maincf_expand(const maincf *m, const char *value)
{
    dbuf out = {0};
    expand_into(m, value ? value : "", &out, 0);
    return (char *)dbuf_steal(&out, NULL);
}

char *maincf_value(const maincf *m, const char *name, int *line)
{
    const char *raw = maincf_raw(m, name, line);
    return raw ? maincf_expand(m, raw) : NULL;
}
