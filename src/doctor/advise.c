/* advise.c - the advice engine's frame (advise.h): items, changes and per-destination wants,
 * and advise_run calling each topic in order (advise_int.h).  Values come from
 * advise_values.c, the report from advise_report.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/advise_int.h"

adv_item *adv_item_new(advise *a, enum check_status st, const char *id, const char *title, const char *expected,
                       const char *actual, const char *fmt, ...)
{
    XGROW(a->items, a->nitems, a->capitems, 16);
    adv_item *it = &a->items[a->nitems++];
    memset(it, 0, sizeof *it);
    it->st = st;
    it->id = xstrdup(id);
    it->title = xstrdup(title);
    it->expected = expected ? xstrdup(expected) : NULL;
    it->actual = actual ? xstrdup(actual) : NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&it->explanation, fmt, ap) < 0)
        it->explanation = xstrdup("");
    va_end(ap);
    it->figures = json_object();
    return it;
}

void adv_evidence(adv_item *it, const char *line)
{
    if (line && it->nevidence < ADV_EVIDENCE)
        it->evidence[it->nevidence++] = xstrdup(line);
}

void adv_evidencef(adv_item *it, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    adv_evidence(it, buf);
}

void adv_explain(adv_item *it, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = xasprintf("%s%s%s", it->explanation, it->explanation[0] ? " " : "", buf);
    free(it->explanation);
    it->explanation = s;
}

/* change_slot - the change of (t, name), reset, or a new one */
static adv_change *change_slot(advise *a, enum adv_target t, const char *name)
{
    for (int i = 0; i < a->nch; i++) {
        adv_change *c = &a->ch[i];
        if (c->target == t && !strcmp(c->name, name)) {
            free(c->name);
            free(c->value);
            free(c->current);
            free(c->from);
            free(c->advice);
            free(c->comment);
            return c;
        }
    }
    XGROW(a->ch, a->nch, a->capch, 16);
    return &a->ch[a->nch++];
}

/* same_value - the suggestion is what is in effect already */
static int same_value(const advise *a, enum adv_target t, const char *name, const char *value)
{
    char from[160];
    const char *sfrom;
    char *cur = t == AT_SLUICE ? adv_sluice_value(a->in, name, &sfrom)
                : t == AT_MAIN ? adv_postfix_value(a->in, name, from, sizeof from)
                               : NULL;
    int same = cur && value && !strcmp(cur, value);
    free(cur);
    return same;
}

void adv_change_add(advise *a, enum adv_target t, const char *name, const char *value, const char *advice,
                    const char *comment)
{
    if (same_value(a, t, name, value))
        return;
    adv_change *c = change_slot(a, t, name);
    memset(c, 0, sizeof *c);
    c->target = t;
    c->name = xstrdup(name);
    c->value = value ? xstrdup(value) : NULL;
    c->advice = xstrdup(advice);
    c->comment = comment ? xstrdup(comment) : NULL;
    if (t == AT_SLUICE) {
        const char *from = NULL;
        c->current = adv_sluice_value(a->in, name, &from);
        c->from = from ? xstrdup(from) : NULL;
    } else if (t == AT_MAIN) {
        char from[160];
        c->current = adv_postfix_value(a->in, name, from, sizeof from);
        c->from = xstrdup(from);
    }
}

adv_want *adv_want_get(advise *a, const char *domain)
{
    for (int i = 0; i < a->nwants; i++)
        if (!strcmp(a->wants[i].domain, domain))
            return &a->wants[i];
    XGROW(a->wants, a->nwants, a->capwants, 8);
    adv_want *w = &a->wants[a->nwants++];
    memset(w, 0, sizeof *w);
    w->domain = domain;
    return w;
}

/* count_dests - destinations with attempts (what "most destinations" is measured against) */
static int count_dests(const loganalyzer *la)
{
    int n = 0;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        n += d->attempts > 0 && d->domain[0] != '(';
    }
    return n;
}

advise *advise_run(const advise_in *in)
{
    advise *a = xcalloc(1, sizeof *a);
    a->in = in;
    a->ndests = count_dests(in->la);
    advise_lint_changes(a);
    advise_retry(a);
    advise_dests(a);
    advise_plan(a);
    advise_pointers(a);
    advise_learned(a);
    return a;
}

void advise_free(advise *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->nitems; i++) {
        adv_item *it = &a->items[i];
        free(it->id);
        free(it->title);
        free(it->expected);
        free(it->actual);
        free(it->explanation);
        for (int k = 0; k < it->nevidence; k++)
            free(it->evidence[k]);
        json_decref(it->figures);
    }
    for (int i = 0; i < a->nch; i++) {
        adv_change *c = &a->ch[i];
        free(c->name);
        free(c->value);
        free(c->current);
        free(c->from);
        free(c->advice);
        free(c->comment);
    }
    free(a->items);
    free(a->ch);
    free(a->wants);
    free(a);
}

const adv_item *advise_item(const advise *a, const char *id)
{
    for (int i = 0; i < a->nitems; i++)
        if (!strcmp(a->items[i].id, id))
            return &a->items[i];
    return NULL;
}

const adv_change *advise_change(const advise *a, enum adv_target t, const char *name)
{
    for (int i = 0; i < a->nch; i++)
        if (a->ch[i].target == t && !strcmp(a->ch[i].name, name))
            return &a->ch[i];
    return NULL;
}

const char *advise_target_name(enum adv_target t)
{
    static const char *const names[AT_NTARGETS] = {"sluice", "postfix:main.cf", "postfix:master.cf",
                                                   "postfix:transport"};
    return t < AT_NTARGETS ? names[t] : "?";
}
