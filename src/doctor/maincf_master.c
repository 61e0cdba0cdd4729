/* maincf_master.c - reading Postfix's master.cf (maincf.h): one service per logical line,
 * "service type private unpriv chroot wakeup maxproc command [args]", with its "-o
 * name=value" overrides ("-o { name = value }" too, Postfix 3.0).  Only what doctor advise
 * needs: which delivery transports exist, which command they run, what they override. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/readfile.h"
#include "common/xmalloc.h"
#include "doctor/maincf.h"

#define MASTER_MAX_FILE (4u << 20)
#define MAX_TOKENS 256

/* One logical line cut into tokens ("{ ... }" groups are one token, braces kept). */
typedef struct tokens {
    char *v[MAX_TOKENS];
    int n;
} tokens;

/* tokenize - split s (len bytes, copied) at whitespace, keeping brace groups whole */
static void tokenize(const char *s, size_t len, tokens *t)
{
    t->n = 0;
    size_t i = 0;
    while (i < len && t->n < MAX_TOKENS) {
        while (i < len && isspace((unsigned char)s[i]))
            i++;
        if (i == len)
            break;
        size_t b = i;
        if (s[i] == '{') {
            const char *e = memchr(s + i, '}', len - i);
            i = e ? (size_t)(e - s) + 1 : len;
        } else {
            while (i < len && !isspace((unsigned char)s[i]))
                i++;
        }
        t->v[t->n++] = xstrndup(s + b, i - b);
    }
}

/* trim_copy - s[0..n) without outer blanks, as a new string */
static char *trim_copy(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

/* add_opt - one "name=value" (or "{ name = value }") override of service sv */
static void add_opt(mastercf_service *sv, const char *tok)
{
    size_t n = strlen(tok);
    if (tok[0] == '{' && n >= 2 && tok[n - 1] == '}') {
        tok++;
        n -= 2;
    }
    const char *eq = memchr(tok, '=', n);
    if (!eq)
        return;
    sv->o = xrealloc(sv->o, sizeof *sv->o * (size_t)(sv->no + 1));
    sv->o[sv->no].name = trim_copy(tok, (size_t)(eq - tok));
    sv->o[sv->no].value = trim_copy(eq + 1, n - (size_t)(eq + 1 - tok));
    sv->no++;
}

/* add_service - a logical line's service, from its tokens */
static void add_service(mastercf *m, const tokens *t, int line)
{
    XGROW(m->s, m->n, m->cap, 16);
    mastercf_service *sv = &m->s[m->n++];
    memset(sv, 0, sizeof *sv);
    sv->name = xstrdup(t->v[0]);
    sv->type = xstrdup(t->v[1]);
    sv->command = xstrdup(t->v[7]);
    sv->line = line;
    for (int i = 8; i < t->n; i++) {
        const char *a = t->v[i];
        if (!strcmp(a, "-o") && i + 1 < t->n)
            add_opt(sv, t->v[++i]);
        else if (!strncmp(a, "-o", 2) && a[2])
            add_opt(sv, a + 2);
    }
}

/* on_logical - one logical line of master.cf */
static void on_logical(void *arg, const char *s, size_t n, int first, int last, int flags)
{
    mastercf *m = arg;
    (void)last;
    if (flags & MCL_ORPHAN)
        return;
    if (flags & MCL_NUL)
        n = strnlen(s, n);
    tokens t;
    tokenize(s, n, &t);
    if (t.n >= 8)
        add_service(m, &t, first);
    else
        m->bad_lines++;
    for (int i = 0; i < t.n; i++)
        free(t.v[i]);
}

mastercf *mastercf_parse(const char *text, size_t len, const char *path)
{
    mastercf *m = xcalloc(1, sizeof *m);
    m->path = xstrdup(path ? path : "master.cf");
    maincf_logical_lines(text, len, on_logical, m);
    return m;
}

mastercf *mastercf_load(const char *path, char *err, int errlen)
{
    size_t n = 0;
    char *text = read_file_all(path, MASTER_MAX_FILE, &n, err, errlen);
    if (!text)
        return NULL;
    mastercf *m = mastercf_parse(text, n, path);
    free(text);
    return m;
}

void mastercf_free(mastercf *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        mastercf_service *sv = &m->s[i];
        for (int k = 0; k < sv->no; k++) {
            free(sv->o[k].name);
            free(sv->o[k].value);
        }
        free(sv->o);
        free(sv->name);
        free(sv->type);
        free(sv->command);
    }
    free(m->s);
    free(m->path);
    free(m);
}

const mastercf_service *mastercf_find(const mastercf *m, const char *name)
{
    for (int i = 0; m && i < m->n; i++)
        if (!strcmp(m->s[i].type, "unix") && !strcmp(m->s[i].name, name))
            return &m->s[i];
    return NULL;
}
