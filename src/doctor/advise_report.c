/* advise_report.c - the advice as a doctor report: one check per piece of advice (with its
 * figures as data and its evidence), then the changes as diffs - sluice.conf (`name =
 * value;`), Postfix main.cf, master.cf and the transport map - then the main.cf lint.  A
 * line "- name = value" is replaced, "# name = value (default)" is a default not written in
 * the file, "+ ..." is what to write.  JSON data "advice": {changes, sluice_config,
 * postfix_config, sluiced}. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/advise_int.h"

/* is_number - digits only: written bare in sluice.conf */
static int is_number(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* sluice_line - one sluice.conf setting into buf */
static const char *sluice_line(const char *name, const char *value, char *buf, size_t n)
{
    if (is_number(value))
        snprintf(buf, n, "%s = %s;", name, value);
    else
        snprintf(buf, n, "%s = \"%s\";", name, value);
    return buf;
}

/* is_default_from - the current value is a default, not a line in a file */
static int is_default_from(const char *from)
{
    return !from || strstr(from, "default") || !strcmp(from, "not set");
}

/* diff_sluice - the sluice.conf changes */
static int diff_sluice(const advise *a, report *r)
{
    int n = 0;
    for (int i = 0; i < a->nch; i++) {
        const adv_change *c = &a->ch[i];
        char b1[600], b2[600];
        if (c->target != AT_SLUICE)
            continue;
        report_text(r, "  # %s (%s)", c->comment ? c->comment : c->advice, c->advice);
        if (c->current && is_default_from(c->from))
            report_text(r, "  # %s  (%s)", sluice_line(c->name, c->current, b1, sizeof b1), c->from);
        else if (c->current)
            report_text(r, "- %s  (%s)", sluice_line(c->name, c->current, b1, sizeof b1), c->from);
        if (c->value)
            report_text(r, "+ %s", sluice_line(c->name, c->value, b2, sizeof b2));
        n++;
    }
    return n;
}

/* main_group - the order of main.cf changes: the retry schedule, per destination, lint */
static int main_group(const adv_change *c)
{
    return !strcmp(c->advice, "retry") ? 0 : strncmp(c->advice, "maincf:", 7) ? 1 : 2;
}

/* diff_main - the main.cf changes */
static int diff_main(const advise *a, report *r)
{
    int n = 0;
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < a->nch; i++) {
            const adv_change *c = &a->ch[i];
            if (c->target != AT_MAIN || main_group(c) != g)
                continue;
            if (!n++)
                report_text(r, "--- %s",
                            a->in->pf ? a->in->pf->path : "main.cf (Postfix defaults: no --postfix-config)");
            report_text(r, "  # %s (%s)", c->comment ? c->comment : c->advice, c->advice);
            if (c->current && c->current[0] && is_default_from(c->from))
                report_text(r, "  # %s = %s  (%s)", c->name, c->current, c->from);
            else if (c->current && c->current[0])
                report_text(r, "- %s = %s  (%s)", c->name, c->current, c->from);
            if (c->value)
                report_text(r, "+ %s = %s", c->name, c->value);
        }
    return n;
}

/* diff_lines - additions of one target (master.cf services, transport map entries) */
static int diff_lines(const advise *a, report *r, enum adv_target t, const char *head)
{
    int n = 0;
    for (int i = 0; i < a->nch; i++) {
        const adv_change *c = &a->ch[i];
        if (c->target != t)
            continue;
        if (!n++)
            report_text(r, "--- %s", head);
        if (c->comment)
            report_text(r, "  # %s", c->comment);
        const char *p = c->value ? c->value : "";
        while (*p) {
            size_t k = strcspn(p, "\n");
            report_text(r, "+ %.*s", (int)k, p);
            p += k + (p[k] == '\n');
        }
    }
    return n;
}

/* map_path - where the transport map lives (transport_maps' file, or the default) */
static void map_path(const advise *a, char *buf, size_t n)
{
    char from[64];
    const adv_change *c = advise_change(a, AT_MAIN, "transport_maps");
    char *v = c ? NULL : adv_postfix_value(a->in, "transport_maps", from, sizeof from);
    const char *m = c ? c->value : v;
    const char *colon = m ? strchr(m, ':') : NULL;
    size_t k = colon ? strcspn(colon + 1, " ,") : 0;
    if (colon && k)
        snprintf(buf, n, "%.*s (then: postmap %.*s)", (int)k, colon + 1, (int)k, colon + 1);
    else
        snprintf(buf, n, "/etc/postfix/transport (then: postmap /etc/postfix/transport)");
    free(v);
}

/* diffs - both systems' diffs as text */
static void diffs(const advise *a, report *r)
{
    char head[300];
    snprintf(head, sizeof head, "Changes for sluice (%s)", a->in->cfg_name);
    report_section(r, head);
    if (!diff_sluice(a, r))
        report_text(r, "  (none)");
    report_section(r, "Changes for Postfix");
    int n = diff_main(a, r);
    char master[300];
    snprintf(master, sizeof master, "%s (add; then postfix reload)", a->in->mc ? a->in->mc->path : "master.cf");
    n += diff_lines(a, r, AT_MASTER, master);
    map_path(a, head, sizeof head);
    n += diff_lines(a, r, AT_TRANSPORT, head);
    if (!n)
        report_text(r, "  (none)");
}

json_t *advise_json(const advise *a)
{
    json_t *ch = json_array();
    for (int i = 0; i < a->nch; i++) {
        const adv_change *c = &a->ch[i];
        json_array_append_new(ch, json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s?}", "target",
                                            advise_target_name(c->target), "name", c->name, "value", c->value,
                                            "current", c->current, "from", c->from, "advice", c->advice, "comment",
                                            c->comment));
    }
    return json_pack("{s:o,s:s,s:s?,s:b,s:b}", "changes", ch, "sluice_config", a->in->cfg_name, "postfix_config",
                     a->in->pf ? a->in->pf->path : NULL, "sluiced", a->in->status != NULL, "shaping",
                     adv_shaping(a->in));
}

void advise_report(const advise *a, report *r)
{
    report_section(r, "Advice");
    for (int i = 0; i < a->nitems; i++) {
        const adv_item *it = &a->items[i];
        int k = report_check(r, it->st, it->id, it->title, it->expected, it->actual, it->explanation);
        for (int e = 0; e < it->nevidence; e++)
            report_evidence(r, k, it->evidence[e]);
        report_check_data(r, k, json_deep_copy(it->figures));
    }
    diffs(a, r);
    if (a->in->pf) {
        report_section(r, "Postfix main.cf lint");
        maincf_lint_report(a->in->lint, a->in->pf, a->in->mc, r);
    }
    report_data(r, "advice", advise_json(a));
}
