/* maincf_lint.c - the main.cf / master.cf rules of maincf_lint.h.  Each rule is one function
 * over the parsed files adding findings; maincf_lint_run calls them in the order the report
 * shows them.  Postfix facts used (postconf(5), qmgr(8)): a deferred message waits its age
 * clamped to [minimal_backoff_time, maximal_backoff_time] (the minimum applied last) and is
 * picked up by the next deferred-queue scan (queue_run_delay); with a rate delay the queue
 * manager delivers to a destination one message at a time; the *_destination_* and
 * *_extra_recipient_limit families are read by the queue manager from main.cf. */
#include "doctor/maincf_lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "doctor/maincf_params.h"

#define DAY 86400LL

/* add - a new finding; explanation from fmt */
static maincf_finding *add(maincf_lint *l, enum check_status st, const char *id, const char *title,
                           const char *expected, const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static maincf_finding *add(maincf_lint *l, enum check_status st, const char *id, const char *title,
                           const char *expected, const char *actual, const char *fmt, ...)
{
    XGROW(l->f, l->n, l->cap, 16);
    maincf_finding *f = &l->f[l->n++];
    memset(f, 0, sizeof *f);
    f->st = st;
    f->id = xstrdup(id);
    f->title = xstrdup(title);
    f->expected = expected ? xstrdup(expected) : NULL;
    f->actual = actual ? xstrdup(actual) : NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&f->explanation, fmt, ap) < 0)
        f->explanation = NULL;
    va_end(ap);
    return f;
}

/* ev - quote an entry's line as evidence */
static void ev(maincf_finding *f, const maincf *m, const maincf_entry *e)
{
    if (!e || f->nevidence == 4)
        return;
    const char *base = strrchr(m->path, '/');
    f->evidence[f->nevidence++] = xasprintf("%s:%d: %s = %s", base ? base + 1 : m->path, e->line, e->name, e->value);
}

/* fix - a main.cf change that mends it (value NULL: delete the line) */
static void fix(maincf_finding *f, const char *name, const char *value)
{
    if (f->nfix == 2)
        return;
    f->fix_name[f->nfix] = xstrdup(name);
    f->fix_value[f->nfix] = value ? xstrdup(value) : NULL;
    f->nfix++;
}

/* time_of - the effective value of a time parameter in seconds: 1 set in the file, 0 the
 * default, -1 not a valid time (or a reference left unexpanded); *bare for a bare number */
static int time_of(const maincf *m, const char *name, long long *secs, int *bare)
{
    const maincf_param *p = maincf_param_find(name);
    char unit = p ? p->unit : 's';
    int line = 0;
    char *v = maincf_value(m, name, &line);
    int rc = v ? maincf_time_parse(v, unit, secs) : -1;
    free(v);
    if (bare)
        *bare = rc == 1;
    return rc < 0 ? -1 : line > 0;
}

/* int_of - the effective value of an integer parameter: as time_of */
static int int_of(const maincf *m, const char *name, long long *out)
{
    int line = 0;
    char *v = maincf_value(m, name, &line);
    int rc = v ? maincf_int_parse(v, out) : -1;
    free(v);
    return rc < 0 ? -1 : line > 0;
}

/* rule_syntax - lines Postfix refuses or ignores */
static void rule_syntax(maincf_lint *l, const maincf *m)
{
    for (int i = 0; i < m->np; i++) {
        const maincf_problem *p = &m->p[i];
        char id[64], where[64];
        snprintf(id, sizeof id, "maincf:syntax:%d", p->line);
        snprintf(where, sizeof where, "line %d: %.40s", p->line, p->text);
        if (p->kind == MCI_NO_EQUALS)
            add(l, CK_FAIL, id, "main.cf line", "name = value", where,
                "Postfix stops at this line (\"missing '=' after attribute name\"): nothing starts until it is "
                "fixed; a master.cf line or a map entry pasted into main.cf looks like this");
        else if (p->kind == MCI_LEADING_SPACE)
            add(l, CK_WARN, id, "main.cf line", "text starting in the first column", where,
                "a line starting with whitespace continues the previous setting; here there is none, so "
                "Postfix warns and ignores it: remove the indentation");
        else if (p->kind == MCI_NUL)
            add(l, CK_WARN, id, "main.cf line", "text without NUL bytes", where,
                "Postfix may ignore what follows a NUL byte");
    }
}

/* rule_duplicates - a name set twice: only the last counts */
static void rule_duplicates(maincf_lint *l, const maincf *m)
{
    for (int i = 0; i < m->n; i++) {
        const maincf_entry *e = &m->e[i];
        if (!e->overridden)
            continue;
        const maincf_entry *last = maincf_get(m, e->name);
        char id[200], actual[64];
        snprintf(id, sizeof id, "maincf:duplicate:%.150s:%d", e->name, e->line);
        snprintf(actual, sizeof actual, "lines %d and %d", e->line, last->line);
        maincf_finding *f = add(l, CK_WARN, id, "parameter set once", "one line per parameter", actual,
                                "%s is set more than once; Postfix uses the last one (line %d), so the value on "
                                "line %d does nothing: delete one of them",
                                e->name, last->line, e->line);
        ev(f, m, e);
        ev(f, m, last);
    }
}

/* rule_comment - "value # comment": Postfix has no end-of-line comments */
static void rule_comment(maincf_lint *l, const maincf *m)
{
    for (int i = 0; i < m->n; i++) {
        const maincf_entry *e = &m->e[i];
        const char *h = strchr(e->value, '#');
        if (!h || (h > e->value && h[-1] != ' ' && h[-1] != '\t'))
            continue;
        char id[200];
        snprintf(id, sizeof id, "maincf:comment:%.150s", e->name);
        maincf_finding *f = add(l, CK_WARN, id, "no comment after a value", "the comment on a line of its own",
                                e->value,
                                "Postfix has no end-of-line comments: \"%s\" is part of the value of %s; move it "
                                "to a line of its own starting with #",
                                h, e->name);
        ev(f, m, e);
        size_t n = (size_t)(h - e->value);
        while (n && (e->value[n - 1] == ' ' || e->value[n - 1] == '\t'))
            n--;
        char *v = xstrndup(e->value, n);
        fix(f, e->name, v);
        free(v);
    }
}

/* is_domain_prefix - "yahoo.com_destination_...": a domain where a transport belongs */
static int is_domain_prefix(const char *name, int plen)
{
    return memchr(name, '.', (size_t)plen) != NULL;
}

/* standard_transport - master.cf's stock delivery services */
static int standard_transport(const char *name, int plen)
{
    static const char *const std[] = {"smtp", "relay", "lmtp", "local", "virtual", "default", "error",
                                      "retry", "discard", "pipe"};
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
        if ((int)strlen(std[i]) == plen && !strncmp(name, std[i], (size_t)plen))
            return 1;
    return 0;
}

/* name_transport - a per-transport name: its transport must exist; a domain cannot be one */
static void name_transport(maincf_lint *l, const maincf *m, const mastercf *mc, const maincf_entry *e,
                           const char *suffix, int plen)
{
    char id[200], tr[160];
    snprintf(tr, sizeof tr, "%.*s", plen < 150 ? plen : 150, e->name);
    snprintf(id, sizeof id, "maincf:transport:%.150s", e->name);
    if (is_domain_prefix(e->name, plen)) {
        char want[200];
        snprintf(want, sizeof want, "TRANSPORT%s", suffix);
        maincf_finding *f = add(l, CK_WARN, id, "per-destination setting", want, e->name,
                                "Postfix has no per-domain parameters: \"%s\" is not a transport; give the domain "
                                "its own transport (master.cf: a copy of the smtp line named e.g. slow; "
                                "transport_maps: \"%s slow:\") and set slow%s in main.cf",
                                tr, tr, suffix);
        ev(f, m, e);
        return;
    }
    if (!strcmp(tr, "default") || !strcmp(tr, "smtp") || mastercf_find(mc, tr))
        return;
    if (mc) {
        maincf_finding *f = add(l, CK_WARN, id, "per-transport setting", "a transport in master.cf", tr,
                                "%s applies to the transport \"%s\", and master.cf (%s) has no such unix service: "
                                "the setting applies to nothing",
                                e->name, tr, mc->path);
        ev(f, m, e);
    } else if (!standard_transport(e->name, plen)) {
        maincf_finding *f = add(l, CK_INFO, id, "per-transport setting", "a transport in master.cf", tr,
                                "%s applies only to mail routed to the master.cf service \"%s\" (not checked: "
                                "master.cf was not found next to main.cf)",
                                e->name, tr);
        ev(f, m, e);
    }
}

/* rule_names - misspelled and per-transport names; the rest not in the table, listed */
static void rule_names(maincf_lint *l, const maincf *m, const mastercf *mc)
{
    char unknown[600] = "";
    int nunknown = 0;
    for (int i = 0; i < m->n; i++) {
        const maincf_entry *e = &m->e[i];
        int plen = 0;
        const char *suffix = maincf_param_transport(e->name, &plen);
        const char *similar = NULL;
        if (e->overridden || maincf_param_find(e->name))
            continue;
        if ((similar = maincf_param_similar(e->name))) {
            char id[200];
            snprintf(id, sizeof id, "maincf:unknown:%.150s", e->name);
            maincf_finding *f = add(l, CK_WARN, id, "parameter name", similar, e->name,
                                    "Postfix has no parameter %s, so this line does nothing (postconf warns "
                                    "\"unused parameter\"); did you mean %s?",
                                    e->name, similar);
            ev(f, m, e);
            fix(f, e->name, NULL);
            if (!maincf_get(m, similar))
                fix(f, similar, e->value);
        } else if (suffix) {
            name_transport(l, m, mc, e, suffix, plen);
        } else if (nunknown++ < 12) {
            size_t o = strlen(unknown);
            snprintf(unknown + o, sizeof unknown - o, "%s%s", o ? ", " : "", e->name);
        }
    }
    if (nunknown)
        add(l, CK_INFO, "maincf:unchecked", "parameters not checked", "parameters the doctor knows", unknown,
            "%d parameter(s) are not in the doctor's table of the retry, concurrency and rate parameters; "
            "they are not checked (which does not make them wrong: postconf -n shows what Postfix uses)",
            nunknown);
}

/* time_value_rule - one time parameter set in the file: valid, its unit, plausible */
static void time_value_rule(maincf_lint *l, const maincf *m, const maincf_entry *e, const maincf_param *p)
{
    long long s = 0;
    int bare = 0;
    char id[200], buf[48], expected[80];
    snprintf(id, sizeof id, "maincf:units:%.150s", e->name);
    snprintf(expected, sizeof expected, "a number with a unit s, m, h, d or w (bare: %s)", maincf_unit_name(p->unit));
    int rc = time_of(m, e->name, &s, &bare);
    if (rc < 0) {
        if (strchr(e->value, '$'))
            return;   /* a reference the doctor cannot resolve */
        maincf_finding *f = add(l, CK_FAIL, id, "time value", expected, e->value,
                                "Postfix refuses this value (a whole number and at most one of s, m, h, d, w, "
                                "no blank between them) and stops: write e.g. %s",
                                p->def[0] == '$' ? "300s" : p->def);
        ev(f, m, e);
        return;
    }
    if (bare && p->unit == 'd' && s >= 30 * DAY) {
        maincf_finding *f = add(l, CK_WARN, id, "time value", expected, e->value,
                                "a bare number in %s is in %s: \"%s\" is %lld days; if you meant seconds write "
                                "%ss, and write the unit in any case",
                                e->name, maincf_unit_name(p->unit), e->value, s / DAY, e->value);
        ev(f, m, e);
        fix(f, e->name, maincf_dur(s / DAY <= 100 ? s : 5 * DAY, buf, sizeof buf));
    } else if (bare && p->unit != 's') {
        maincf_finding *f = add(l, CK_INFO, id, "time value", expected, e->value,
                                "a bare number in %s is in %s: %s means %s; writing the unit makes it plain",
                                e->name, maincf_unit_name(p->unit), e->value, maincf_dur(s, buf, sizeof buf));
        ev(f, m, e);
    }
}

/* rule_values - every known time or integer parameter set in the file parses */
static void rule_values(maincf_lint *l, const maincf *m)
{
    for (int i = 0; i < m->n; i++) {
        const maincf_entry *e = &m->e[i];
        const maincf_param *p = maincf_param_find(e->name);
        long long v;
        if (!p || e->overridden)
            continue;
        if (p->type == MCP_TIME) {
            time_value_rule(l, m, e, p);
        } else if (p->type == MCP_INT && int_of(m, e->name, &v) < 0 && !strchr(e->value, '$')) {
            char id[200];
            snprintf(id, sizeof id, "maincf:units:%.150s", e->name);
            maincf_finding *f = add(l, CK_FAIL, id, "integer value", "a whole number", e->value,
                                    "Postfix refuses this value for %s and stops", e->name);
            ev(f, m, e);
        }
    }
}

/* lifetime_rule - a queue lifetime of 0 or over Postfix's 100-day limit */
static void lifetime_rule(maincf_lint *l, const maincf *m, const char *name)
{
    long long s;
    char id[100];
    snprintf(id, sizeof id, "maincf:lifetime:%s", name);
    if (time_of(m, name, &s, NULL) != 1)
        return;
    const maincf_entry *e = maincf_get(m, name);
    maincf_finding *f = NULL;
    if (s == 0)
        f = add(l, CK_WARN, id, "queue lifetime", "days (Postfix's default 5d)", e->value,
                "0 means one delivery attempt only: a message that is greylisted or rate-limited on its first "
                "attempt goes back to the sender at once");
    else if (s > 100 * DAY)
        f = add(l, CK_FAIL, id, "queue lifetime", "at most 100d", e->value,
                "the queue manager refuses lifetimes above 100 days and stops");
    else if (s < DAY)
        f = add(l, CK_WARN, id, "queue lifetime", "days (Postfix's default 5d)", e->value,
                "under a day: mail held back by a receiver for a few hours (rate limits, reputation "
                "throttling that \"resolves as traffic ramps up over a few days\") goes back to the sender; "
                "the seed keeps 5d");
    if (f) {
        ev(f, m, e);
        fix(f, name, "5d");
    }
}

/* rule_backoff_order - minimal above maximal: the schedule never grows */
static void rule_backoff_order(maincf_lint *l, const maincf *m, long long lo, long long hi)
{
    char a[48], b[48], act[120];
    if (lo <= hi)
        return;
    snprintf(act, sizeof act, "minimal %s > maximal %s", maincf_dur(lo, a, sizeof a), maincf_dur(hi, b, sizeof b));
    maincf_finding *f = add(l, CK_WARN, "maincf:backoff-order", "backoff times", "minimal <= maximal", act,
                            "the wait before a retry is the message's age clamped to the maximum and then to the "
                            "minimum, so every retry waits minimal_backoff_time (%s): the schedule never grows and "
                            "maximal_backoff_time does nothing",
                            a);
    ev(f, m, maincf_get(m, "minimal_backoff_time"));
    ev(f, m, maincf_get(m, "maximal_backoff_time"));
    fix(f, "maximal_backoff_time", maincf_dur(lo * 8 > 4000 ? lo * 8 : 4000, b, sizeof b));
}

/* rule_aggressive - retries within a minute */
static void rule_aggressive(maincf_lint *l, const maincf *m, long long lo)
{
    char a[48];
    maincf_finding *f = add(l, CK_WARN, "maincf:backoff-aggressive", "minimal_backoff_time",
                            "a minute or more (the seed: 300s)", maincf_dur(lo, a, sizeof a),
                            "retries within a minute: greylisting windows are usually 1-5 minutes (postgrey: 300s) "
                            "so these retries fail again, and rate limiters and reputation systems count every one "
                            "of them against you");
    ev(f, m, maincf_get(m, "minimal_backoff_time"));
    fix(f, "minimal_backoff_time", "300s");
}

/* rule_run_delay - deferred mail is only looked at every queue_run_delay */
static void rule_run_delay(maincf_lint *l, const maincf *m, long long run, long long lo)
{
    char a[48], b[48], act[120];
    snprintf(act, sizeof act, "queue_run_delay %s > minimal_backoff_time %s", maincf_dur(run, a, sizeof a),
             maincf_dur(lo, b, sizeof b));
    maincf_finding *f = add(l, CK_WARN, "maincf:queue-run-delay", "deferred queue scans",
                            "queue_run_delay <= minimal_backoff_time", act,
                            "a deferred message is only looked at when the queue manager scans the deferred queue, "
                            "every queue_run_delay: retries come up to %s after their backoff, and the first one "
                            "after about %s rather than %s",
                            a, a, b);
    ev(f, m, maincf_get(m, "queue_run_delay"));
    ev(f, m, maincf_get(m, "minimal_backoff_time"));
    fix(f, "queue_run_delay", b);
}

/* rule_backoff - the backoff times and the scan interval */
static void rule_backoff(maincf_lint *l, const maincf *m)
{
    long long lo, hi, run;
    int slo = time_of(m, "minimal_backoff_time", &lo, NULL), shi = time_of(m, "maximal_backoff_time", &hi, NULL);
    int srun = time_of(m, "queue_run_delay", &run, NULL);
    if (slo < 0 || shi < 0)
        return;
    rule_backoff_order(l, m, lo, hi);
    if (slo == 1 && lo < 60)
        rule_aggressive(l, m, lo);
    if (srun >= 0 && run > lo && lo <= hi)
        rule_run_delay(l, m, run, lo);
}

/* transport_param - "TRANSPORT_SUFFIX" into buf */
static const char *transport_param(const char *tr, const char *suffix, char *buf, size_t n)
{
    snprintf(buf, n, "%.100s%s", tr, suffix);
    return buf;
}

/* tr_int - TRANSPORT_SUFFIX, else default_SUFFIX: as int_of */
static int tr_int(const maincf *m, const char *tr, const char *suffix, long long *v)
{
    char name[200];
    int rc = int_of(m, transport_param(tr, suffix, name, sizeof name), v);
    return rc >= 0 || maincf_get(m, name) ? rc : int_of(m, transport_param("default", suffix, name, sizeof name), v);
}

/* rate_concurrency - one transport with a rate delay: its concurrency and cohort settings */
static void rate_concurrency(maincf_lint *l, const maincf *m, const char *tr, long long delay)
{
    char cname[200], kname[200], rname[200], dname[200], id[220], a[48];
    long long conc = 0, cohort = 1, rcpt = 50;
    transport_param(tr, "_destination_concurrency_limit", cname, sizeof cname);
    transport_param(tr, "_destination_concurrency_failed_cohort_limit", kname, sizeof kname);
    transport_param(tr, "_destination_recipient_limit", rname, sizeof rname);
    transport_param(tr, "_destination_rate_delay", dname, sizeof dname);
    const maincf_entry *ce = maincf_get(m, cname), *de = maincf_get(m, dname);
    if (ce && int_of(m, cname, &conc) == 1) {
        snprintf(id, sizeof id, "maincf:rate-delay-concurrency:%.150s", tr);
        maincf_finding *f = add(
            l, conc == 1 ? CK_INFO : CK_WARN, id, "concurrency with a rate delay",
            conc == 1 ? "one of the two" : "a concurrency that applies", ce->value,
            "%s = %s is set, so Postfix delivers to each destination one message at a time and waits %s between "
            "the end of one delivery and the start of the next: the concurrency is 1 whatever %s says%s (at most "
            "%lld deliveries an hour per destination)",
            dname, maincf_dur(delay, a, sizeof a), a, cname,
            conc == 1 ? "; the setting is redundant" : ", so this setting has no effect", 3600 / delay);
        ev(f, m, de ? de : maincf_get(m, "default_destination_rate_delay"));
        ev(f, m, ce);
    }
    if (tr_int(m, tr, "_destination_concurrency_failed_cohort_limit", &cohort) >= 0 && cohort < 10) {
        snprintf(id, sizeof id, "maincf:rate-delay-cohort:%.150s", tr);
        maincf_finding *f = add(l, CK_WARN, id, "failed cohort limit with a rate delay", "10 or more",
                                maincf_get(m, kname) ? maincf_get(m, kname)->value : "1 (default)",
                                "with a rate delay the destination gets one connection at a time, so a single "
                                "failed connection or handshake is a whole failed cohort and Postfix defers all "
                                "mail for the destination; Postfix's documentation asks for %s = 10 or more",
                                kname);
        ev(f, m, de);
        fix(f, kname, "10");
    }
    if (tr_int(m, tr, "_destination_recipient_limit", &rcpt) >= 0 && rcpt == 1) {
        snprintf(id, sizeof id, "maincf:rate-delay-recipient:%.150s", tr);
        add(l, CK_INFO, id, "rate delay per recipient", "a recipient limit above 1", "1",
            "with %s = 1 a \"destination\" is one recipient, not a domain: the rate delay is kept per "
            "recipient address, and a domain receives many messages at once",
            rname);
    }
}

/* add_transport - tr (plen bytes) into the list of transports, once */
static void add_transport(char names[][64], int *n, const char *tr, int plen)
{
    if (*n == 32 || plen <= 0 || plen >= 64)
        return;
    for (int k = 0; k < *n; k++)
        if ((int)strlen(names[k]) == plen && !strncmp(names[k], tr, (size_t)plen))
            return;
    snprintf(names[(*n)++], 64, "%.*s", plen, tr);
}

/* rule_rate_delay - every transport (smtp and those named in main.cf) with a rate delay */
static void rule_rate_delay(maincf_lint *l, const maincf *m)
{
    char names[32][64];
    int n = 0;
    add_transport(names, &n, "smtp", 4);
    for (int i = 0; i < m->n; i++) {
        int plen = 0;
        const char *sfx = maincf_param_transport(m->e[i].name, &plen);
        if (sfx && !is_domain_prefix(m->e[i].name, plen) && strncmp(m->e[i].name, "default_", 8))
            add_transport(names, &n, m->e[i].name, plen);
    }
    for (int k = 0; k < n; k++) {
        char dname[200];
        long long delay = 0;
        if (time_of(m, transport_param(names[k], "_destination_rate_delay", dname, sizeof dname), &delay, NULL) < 0 &&
            time_of(m, "default_destination_rate_delay", &delay, NULL) < 0)
            continue;
        if (delay > 0)
            rate_concurrency(l, m, names[k], delay);
    }
}

/* rule_extra_recipient - smtp_extra_recipient_limit is memory, not recipients per delivery */
static void rule_extra_recipient(maincf_lint *l, const maincf *m)
{
    static const char *const names[] = {"smtp_extra_recipient_limit", "default_extra_recipient_limit"};
    for (size_t i = 0; i < 2; i++) {
        const maincf_entry *e = maincf_get(m, names[i]);
        long long v = 0;
        if (!e)
            continue;
        int low = int_of(m, names[i], &v) == 1 && v < 1000;
        char id[100];
        snprintf(id, sizeof id, "maincf:extra-recipient-limit:%s", names[i]);
        maincf_finding *f = add(
            l, low ? CK_WARN : CK_INFO, id, "recipients per delivery", "smtp_destination_recipient_limit",
            e->value,
            "%s is how many recipients the queue manager may read into memory beyond a transport's own limit "
            "(default 1000): a memory setting that receivers never see.  Recipients per delivery (per SMTP "
            "transaction) is smtp_destination_recipient_limit (default 50); the seed's \"%s = 10\" does not "
            "limit what a receiver gets%s",
            names[i], names[i], low ? ": remove it, and set smtp_destination_recipient_limit = 10 if that was the "
                                      "intent" : "");
        ev(f, m, e);
        if (low)
            fix(f, names[i], NULL);
    }
}

/* custom_smtp_transport - a master.cf delivery service running smtp under another name,
 * while main.cf tunes smtp_destination_* to a value the service does not get */
static void custom_smtp_transport(maincf_lint *l, const maincf *m, const mastercf_service *sv)
{
    static const char *const sfx[] = {"_destination_concurrency_limit", "_destination_rate_delay",
                                      "_destination_recipient_limit"};
    for (size_t k = 0; k < 3; k++) {
        char own[200], smtp[200], dflt[200], id[260];
        transport_param(sv->name, sfx[k], own, sizeof own);
        transport_param("smtp", sfx[k], smtp, sizeof smtp);
        transport_param("default", sfx[k], dflt, sizeof dflt);
        const maincf_entry *se = maincf_get(m, smtp);
        char *sv_val = se ? maincf_expand(m, se->value) : NULL;
        char *def_val = maincf_value(m, dflt, NULL);
        int differs = sv_val && def_val && strcmp(sv_val, def_val);
        free(sv_val);
        free(def_val);
        if (!differs || maincf_get(m, own))
            continue;
        int stock = !strcmp(sv->name, "relay");
        snprintf(id, sizeof id, "maincf:transport-override:%.100s%s", sv->name, sfx[k]);
        maincf_finding *f = add(l, stock ? CK_INFO : CK_WARN, id, "per-transport setting", own, smtp,
                                "master.cf line %d defines the delivery transport \"%s\" (it runs %s); mail "
                                "routed to it uses %s, not %s: the value %s does not apply to it%s.  Set %s = %s "
                                "in main.cf if it should",
                                sv->line, sv->name, sv->command, own, smtp, se->value,
                                stock ? " (Postfix's stock relay transport: mail for relay_domains)" : "", own,
                                se->value);
        ev(f, m, se);
    }
}

/* master_override - a queue manager parameter given with -o on a master.cf service */
static void master_override(maincf_lint *l, const maincf *m, const mastercf *mc, const mastercf_service *sv,
                            const mastercf_opt *o)
{
    int plen = 0;
    const char *sfx = maincf_param_transport(o->name, &plen);
    if (!sfx || !maincf_param_qmgr(sfx))
        return;
    char id[300], want[200];
    snprintf(id, sizeof id, "maincf:master-o:%.100s:%.150s", sv->name, o->name);
    transport_param(sv->name, sfx, want, sizeof want);
    maincf_finding *f = add(l, CK_WARN, id, "queue manager setting in master.cf", want, o->name,
                            "%s line %d: \"-o %s=%s\" reaches only the %s processes, but %s is read by the "
                            "queue manager, from main.cf: it has no effect.  Put \"%s = %s\" in main.cf",
                            mc->path, sv->line, o->name, o->value, sv->command, o->name, want, o->value);
    (void)m;
    fix(f, want, o->value);
}

/* rule_master - master.cf's smtp-like transports and their -o overrides */
static void rule_master(maincf_lint *l, const maincf *m, const mastercf *mc)
{
    for (int i = 0; mc && i < mc->n; i++) {
        const mastercf_service *sv = &mc->s[i];
        if (strcmp(sv->type, "unix"))
            continue;
        if ((!strcmp(sv->command, "smtp") || !strcmp(sv->command, "lmtp")) && strcmp(sv->name, "smtp") &&
            strcmp(sv->name, "lmtp"))
            custom_smtp_transport(l, m, sv);
        for (int k = 0; k < sv->no; k++)
            master_override(l, m, mc, sv, &sv->o[k]);
    }
}

/* rule_transport_maps - without master.cf: smtp_destination_* with transport_maps in use */
static void rule_transport_maps(maincf_lint *l, const maincf *m, const mastercf *mc)
{
    const maincf_entry *tm = maincf_get(m, "transport_maps");
    const maincf_entry *se = maincf_get(m, "smtp_destination_concurrency_limit");
    if (mc || !tm || !tm->value[0] || !se)
        return;
    maincf_finding *f = add(l, CK_INFO, "maincf:transport-maps", "per-transport settings",
                            "TRANSPORT_destination_concurrency_limit for each transport", se->value,
                            "transport_maps sends some mail to other transports; smtp_destination_* settings apply "
                            "only to the transport named smtp.  A domain mapped to \"slow:\" uses "
                            "slow_destination_concurrency_limit (master.cf was not found next to main.cf, so this "
                            "was not checked)");
    ev(f, m, tm);
    ev(f, m, se);
}

maincf_lint *maincf_lint_run(const maincf *m, const mastercf *mc)
{
    maincf_lint *l = xcalloc(1, sizeof *l);
    rule_syntax(l, m);
    rule_duplicates(l, m);
    rule_names(l, m, mc);
    rule_comment(l, m);
    rule_values(l, m);
    lifetime_rule(l, m, "maximal_queue_lifetime");
    lifetime_rule(l, m, "bounce_queue_lifetime");
    rule_backoff(l, m);
    rule_rate_delay(l, m);
    rule_extra_recipient(l, m);
    rule_master(l, m, mc);
    rule_transport_maps(l, m, mc);
    return l;
}

void maincf_lint_free(maincf_lint *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        maincf_finding *f = &l->f[i];
        free(f->id);
        free(f->title);
        free(f->expected);
        free(f->actual);
        free(f->explanation);
        for (int k = 0; k < f->nevidence; k++)
            free(f->evidence[k]);
        for (int k = 0; k < f->nfix; k++) {
            free(f->fix_name[k]);
            free(f->fix_value[k]);
        }
    }
    free(l->f);
    free(l);
}

const maincf_finding *maincf_lint_find(const maincf_lint *l, const char *prefix)
{
    for (int i = 0; l && i < l->n; i++)
        if (!strncmp(l->f[i].id, prefix, strlen(prefix)))
            return &l->f[i];
    return NULL;
}

/* seed_table - the seed's parameters as main.cf has them (text output) */
static void seed_table(const maincf *m, report *r)
{
    static const char *const seed[] = {"minimal_backoff_time", "maximal_backoff_time", "maximal_queue_lifetime",
                                       "queue_run_delay", "smtp_destination_concurrency_limit",
                                       "smtp_destination_rate_delay", "smtp_destination_recipient_limit",
                                       "smtp_extra_recipient_limit", "smtp_connection_reuse_count_limit"};
    report_text(r, "  %-36s %-14s %s", "parameter", "value", "from");
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++) {
        int line = 0;
        char *v = maincf_value(m, seed[i], &line);
        char from[64];
        snprintf(from, sizeof from, line ? "line %d" : "Postfix default", line);
        report_text(r, "  %-36s %-14s %s", seed[i], v ? v : "?", from);
        free(v);
    }
}

void maincf_lint_report(const maincf_lint *l, const maincf *m, const mastercf *mc, report *r)
{
    int worst = CK_PASS;
    for (int i = 0; i < l->n; i++)
        if ((int)l->f[i].st > worst)
            worst = (int)l->f[i].st;
    char actual[200];
    snprintf(actual, sizeof actual, "%d settings, %d problem(s)%s%s", m->n, m->np, mc ? "; master.cf: " : "",
             mc ? mc->path : "");
    report_checkf(r, worst >= CK_WARN ? CK_INFO : CK_PASS, "maincf", m->path, "the seed's parameters in effect",
                  actual, worst >= CK_WARN ? "see the findings below" : "nothing wrong with the parameters checked");
    seed_table(m, r);
    for (int i = 0; i < l->n; i++) {
        const maincf_finding *f = &l->f[i];
        int k = report_check(r, f->st, f->id, f->title, f->expected, f->actual, f->explanation);
        for (int e = 0; e < f->nevidence; e++)
            report_evidence(r, k, f->evidence[e]);
        json_t *fixes = json_array();
        for (int x = 0; x < f->nfix; x++)
            json_array_append_new(fixes, json_pack("{s:s,s:s?}", "name", f->fix_name[x], "value", f->fix_value[x]));
        report_check_data(r, k, json_pack("{s:o}", "fix", fixes));
    }
}
