/* config_sasl.c - smtp_sasl_password_maps: the credentials sluiced logs in to a relay with
 * (SMTP AUTH, for an ESP's smarthost).  Each item is either an entry "NEXTHOP USER:PASSWORD"
 * or a file of such lines - "texthash:/path", "hash:/path" (the text file Postfix's postmap
 * reads, so an existing /etc/postfix/sasl_passwd works as it is) or "/path" - read when the
 * configuration is loaded (so `sluice reload` picks up a changed file).  NEXTHOP is written
 * as in relayhost ("[smtp.example.com]:587") or as a host name.  The password is everything
 * after the first ':' of the value; a file keeps commas, an inline entry cannot. */
#include "config/config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/readfile.h"
#include "common/xmalloc.h"

#define SASL_FILE_MAX (1u << 20)

/* file_of - the path an item names, or NULL when it is an inline entry */
static const char *file_of(const char *v)
{
    if (!strncmp(v, "texthash:", 9))
        return v + 9;
    if (!strncmp(v, "hash:", 5))
        return v + 5;
    return v[0] == '/' ? v : NULL;
}

int config_sasl_check_item(const char *v, const char **err)
{
    if (file_of(v))
        return 0;
    const char *sp = strpbrk(v, " \t");
    const char *val = sp ? sp + strspn(sp, " \t") : NULL;
    if (!sp || !*val || !strchr(val, ':') || strpbrk(val, " \t")) {
        *err = "expected NEXTHOP USER:PASSWORD, or a file (texthash:/path, hash:/path, /path)";
        return -1;
    }
    return 0;
}

/* add - one entry "KEY VALUE" to l */
static void add(strlist *l, const char *key, size_t klen, const char *val, size_t vlen)
{
    l->v = xrealloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
    l->v[l->n++] = xasprintf("%.*s %.*s", (int)klen, key, (int)vlen, val);
}

int config_sasl_parse(strlist *l, char *text, const char *name, char *err, int errlen)
{
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        size_t n = strlen(line);
        while (n && isspace((unsigned char)line[n - 1]))
            line[--n] = 0;
        line += strspn(line, " \t");
        if (!*line || *line == '#')
            continue;
        size_t klen = strcspn(line, " \t");
        const char *val = line + klen + strspn(line + klen, " \t");
        if (!line[klen] || !strchr(val, ':')) {
            snprintf(err, (size_t)errlen, "%s:%d: expected NEXTHOP USER:PASSWORD", name, lineno);
            return -1;
        }
        add(l, line, klen, val, strlen(val));
    }
    return 0;
}

/* load_file - every "KEY USER:PASSWORD" line of path into l; 0 or -1 with err */
static int load_file(strlist *l, const char *path, char *err, int errlen)
{
    size_t len = 0;
    char *text = read_file_all(path, SASL_FILE_MAX, &len, err, errlen);
    if (!text)
        return -1;
    int rc = strlen(text) == len ? config_sasl_parse(l, text, path, err, errlen) : -1;
    if (strlen(text) != len)
        snprintf(err, (size_t)errlen, "%s: a NUL byte: not a text file", path);
    explicit_bzero(text, len);
    free(text);
    return rc;
}

int config_sasl_load(sl_config *cfg, char *err, int errlen)
{
    const strlist *m = &cfg->smtp_sasl_password_maps;
    for (int i = 0; i < m->n; i++) {
        const char *path = file_of(m->v[i]);
        if (path && load_file(&cfg->smtp_sasl_entries, path, err, errlen) < 0)
            return -1;
        if (!path) {
            size_t klen = strcspn(m->v[i], " \t");
            const char *val = m->v[i] + klen + strspn(m->v[i] + klen, " \t");
            add(&cfg->smtp_sasl_entries, m->v[i], klen, val, strlen(val));
        }
    }
    return 0;
}

char *config_sasl_mask(const char *item)
{
    const char *val = item + strcspn(item, " \t");   /* a file's name has no value part */
    const char *colon = strchr(val, ':');   /* the value's: the key may have a port */
    return colon ? xasprintf("%.*s:********", (int)(colon - item), item) : xstrdup(item);
}
