/* sink_opts.c - the command line of `sluice sink`: one table of options, the grammar of
 * per-listener policies, every value checked up front, and the --help text.
 *
 * Grammar: global options (output, exit, seed) may come anywhere.  Policy options given
 * before the first --listen are the defaults of every listener; policy options after a
 * --listen apply to that listener only, on top of the defaults.  A listener with no options
 * of its own uses the default policy set itself, sharing its state with the other such
 * listeners; a listener with options of its own gets a set (and state) to itself.
 * Each option is "--name VALUE" or "--name=VALUE".  Policy sets are built only after the
 * whole line is read, so a per-listener set re-applies the defaults' arguments first.
 * Ownership: sink_opts_free releases the sets (policies, scripts, patterns, TLS contexts) and
 * the listener array; option values are borrowed from argv. */
#include <ctype.h>
#include <netinet/in.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/netaddr.h"
#include "common/units.h"
#include "common/xmalloc.h"
#include "sink/sink_int.h"

/* One option occurrence kept for building policy sets. */
typedef struct opt_use {
    const struct opt_def *d;
    const char *arg;
} opt_use;

/* The policy options of the defaults (section 0) or of one listener. */
typedef struct section {
    const char *addr;
    opt_use *u;
    int n;
} section;

typedef int (*policy_fn)(sink_policy *p, const char *arg, char *err, size_t errlen);
typedef int (*global_fn)(sink_conf *c, const char *arg, char *err, size_t errlen);

struct opt_def {
    const char *name;
    int has_arg;
    policy_fn pol;        /* a policy option, or */
    global_fn glob;       /* a global one (NULL both: --listen and --help) */
};

/* bad - format an error about an option's value; returns -1 */
__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt,
                                                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* parse_secs - seconds (fractions, or Postfix units s m h d w) into microseconds */
static int parse_secs(const char *s, int64_t *us)
{
    int64_t ms;
    if (units_parse_time(s, 's', &ms) < 0)
        return -1;
    *us = ms * 1000;
    return 0;
}

/* parse_int - a whole number >= min */
static int parse_int(const char *s, int64_t min, int64_t *v)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < min)
        return -1;
    *v = x;
    return 0;
}

/* parse_prob - a probability 0..1 */
static int parse_prob(const char *s, double *p)
{
    char *end;
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return -1;
    *p = strtod(s, &end);
    return *end || !isfinite(*p) || *p < 0 || *p > 1 ? -1 : 0;
}

/* parse_stage - mail rcpt data eom (as allowed by mask) */
static int parse_stage(const char *s, unsigned mask, enum smtpd_stage *st)
{
    static const struct { const char *name; enum smtpd_stage st; } t[] = {
        {"mail", SMTPD_MAIL}, {"rcpt", SMTPD_RCPT}, {"data", SMTPD_DATA}, {"eom", SMTPD_EOM},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(s, t[i].name) && (mask & (1u << t[i].st))) {
            *st = t[i].st;
            return 0;
        }
    return -1;
}

/* parse_reply - "CODE X.Y.Z text" into code and text (4xx or 5xx) */
static int parse_reply(const char *s, int *code, char *text, size_t len)
{
    int64_t c;
    char digits[4] = {0};
    if (strlen(s) < 3 || (s[3] && s[3] != ' '))
        return -1;
    memcpy(digits, s, 3);
    if (parse_int(digits, 400, &c) < 0 || c > 599)
        return -1;
    const char *t = s + 3;
    while (*t == ' ')
        t++;
    if (strlen(t) >= len)
        return -1;
    *code = (int)c;
    snprintf(text, len, "%s", t);
    return 0;
}

/* ---- policy options ---- */

/* opt_hostname - --hostname NAME */
static int opt_hostname(sink_policy *p, const char *a, char *err, size_t el)
{
    p->hostname = a;
    return 0;
}

/* opt_banner - --banner TEXT (the greeting after "220 ") */
static int opt_banner(sink_policy *p, const char *a, char *err, size_t el)
{
    p->banner = a;
    return 0;
}

/* opt_greylist - DELAY[:EXPIRE] */
static int opt_greylist(sink_policy *p, const char *a, char *err, size_t el)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", a);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon++ = 0;
    p->grey_expire_us = 86400 * 1000000LL;
    if (parse_secs(buf, &p->grey_delay_us) < 0 || (colon && parse_secs(colon, &p->grey_expire_us) < 0))
        return bad(err, el, "--greylist: expected DELAY[:EXPIRE] in seconds, got '%s'", a);
    if (p->grey_expire_us <= p->grey_delay_us)
        return bad(err, el, "--greylist: EXPIRE must be longer than DELAY");
    p->greylist = 1;
    return 0;
}

/* opt_greylist_net - /V4BITS[,/V6BITS] */
static int opt_greylist_net(sink_policy *p, const char *a, char *err, size_t el)
{
    int64_t b4, b6 = 64;
    char buf[32], *six;
    snprintf(buf, sizeof buf, "%s", a);
    if ((six = strchr(buf, ',')))
        *six++ = 0;
    const char *v4 = buf[0] == '/' ? buf + 1 : buf;
    if (parse_int(v4, 0, &b4) < 0 || b4 > 32 ||
        (six && (parse_int(six[0] == '/' ? six + 1 : six, 0, &b6) < 0 || b6 > 128)))
        return bad(err, el, "--greylist-net: expected /BITS (IPv4, 0-32) and optionally ,/BITS "
                            "(IPv6, 0-128), got '%s'", a);
    p->grey_bits4 = (int)b4;
    p->grey_bits6 = (int)b6;
    return 0;
}

/* opt_greylist_reply - --greylist-reply "CODE TEXT" */
static int opt_greylist_reply(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_reply(a, &p->grey_code, p->grey_text, sizeof p->grey_text) < 0)
        return bad(err, el, "--greylist-reply: expected \"CODE TEXT\" with a 4xx or 5xx code");
    return 0;
}

/* opt_max_conn - --max-conn-per-ip N */
static int opt_max_conn(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_int(a, 1, &p->max_conn_per_ip) < 0)
        return bad(err, el, "--max-conn-per-ip: expected a number >= 1, got '%s'", a);
    return 0;
}

/* opt_rate - N/SECONDS */
static int opt_rate(sink_policy *p, const char *a, char *err, size_t el)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", a);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash++ = 0;
    if (!slash || parse_int(buf, 1, &p->rate_n) < 0 || parse_secs(slash, &p->rate_window_us) < 0 ||
        p->rate_window_us <= 0)
        return bad(err, el, "--rate: expected N/SECONDS (e.g. 60/10), got '%s'", a);
    return 0;
}

/* opt_rate_stage - --rate-stage mail|rcpt */
static int opt_rate_stage(sink_policy *p, const char *a, char *err, size_t el)
{
    unsigned mask = 1u << SMTPD_MAIL | 1u << SMTPD_RCPT;
    if (parse_stage(a, mask, &p->rate_stage) < 0)
        return bad(err, el, "--rate-stage: expected mail or rcpt, got '%s'", a);
    return 0;
}

/* opt_overload - --overload P */
static int opt_overload(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_prob(a, &p->overload) < 0)
        return bad(err, el, "--overload: expected a probability 0..1, got '%s'", a);
    return 0;
}

/* opt_maintenance - START:END seconds after start (repeatable) */
static int opt_maintenance(sink_policy *p, const char *a, char *err, size_t el)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", a);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon++ = 0;
    if (p->nmaint == SINK_MAINT_MAX)
        return bad(err, el, "--maintenance: at most %d windows", SINK_MAINT_MAX);
    int64_t s, e;
    if (!colon || parse_secs(buf, &s) < 0 || parse_secs(colon, &e) < 0 || e <= s)
        return bad(err, el, "--maintenance: expected START:END seconds, END after START, got '%s'",
                   a);
    p->maint[p->nmaint].start_us = s;
    p->maint[p->nmaint++].end_us = e;
    return 0;
}

/* opt_max_msgs - --max-msgs-per-conn N */
static int opt_max_msgs(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_int(a, 1, &p->max_msgs_per_conn) < 0)
        return bad(err, el, "--max-msgs-per-conn: expected a number >= 1, got '%s'", a);
    return 0;
}

/* opt_tarpit - --tarpit SECONDS */
static int opt_tarpit(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_secs(a, &p->tarpit_us) < 0 || p->tarpit_us > 3600 * 1000000LL)
        return bad(err, el, "--tarpit: expected seconds (at most 3600), got '%s'", a);
    return 0;
}

/* opt_drop - P[:STAGE] */
static int opt_drop(sink_policy *p, const char *a, char *err, size_t el)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", a);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon++ = 0;
    unsigned mask = 1u << SMTPD_MAIL | 1u << SMTPD_RCPT | 1u << SMTPD_DATA | 1u << SMTPD_EOM;
    p->drop_stage = SMTPD_EOM;
    if (parse_prob(buf, &p->drop) < 0 || (colon && parse_stage(colon, mask, &p->drop_stage) < 0))
        return bad(err, el, "--drop: expected P[:mail|rcpt|data|eom], got '%s'", a);
    return 0;
}

/* opt_reject_rcpt - --reject-rcpt REGEX, compiled (a repeated option replaces it) */
static int opt_reject_rcpt(sink_policy *p, const char *a, char *err, size_t el)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code_free(p->reject_rcpt);
    p->reject_rcpt = pcre2_compile((PCRE2_SPTR)a, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
    if (!p->reject_rcpt) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return bad(err, el, "--reject-rcpt: bad pattern at offset %zu: %s", (size_t)off,
                   (const char *)msg);
    }
    return 0;
}

/* opt_reply_script - --reply-script FILE, loaded and checked (a repeated option replaces it) */
static int opt_reply_script(sink_policy *p, const char *a, char *err, size_t el)
{
    sink_script_free(p->script);
    p->script = sink_script_load(a, err, el);
    return p->script ? 0 : -1;
}

/* opt_tls_cert - --tls-cert FILE (the context is made when the set is built) */
static int opt_tls_cert(sink_policy *p, const char *a, char *err, size_t el)
{
    p->tls_cert = a;
    return 0;
}

/* opt_tls_key - --tls-key FILE */
static int opt_tls_key(sink_policy *p, const char *a, char *err, size_t el)
{
    p->tls_key = a;
    return 0;
}

/* opt_require_tls - --require-tls */
static int opt_require_tls(sink_policy *p, const char *a, char *err, size_t el)
{
    p->require_tls = 1;
    return 0;
}

/* opt_max_size - --max-size BYTES */
static int opt_max_size(sink_policy *p, const char *a, char *err, size_t el)
{
    if (units_parse_size(a, &p->max_size) < 0)
        return bad(err, el, "--max-size: expected bytes (k, m, g suffixes), got '%s'", a);
    return 0;
}

/* opt_max_rcpts - --max-rcpts N */
static int opt_max_rcpts(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_int(a, 0, &p->max_rcpts) < 0)
        return bad(err, el, "--max-rcpts: expected a number, got '%s'", a);
    return 0;
}

/* opt_timeout - --timeout SECONDS (idle time per command) */
static int opt_timeout(sink_policy *p, const char *a, char *err, size_t el)
{
    if (parse_secs(a, &p->timeout_us) < 0 || p->timeout_us < 1000)
        return bad(err, el, "--timeout: expected seconds (at least 0.001), got '%s'", a);
    return 0;
}

/* ---- global options ---- */

/* opt_record - --record FILE */
static int opt_record(sink_conf *c, const char *a, char *err, size_t el)
{
    c->record = a;
    return 0;
}

/* opt_store - --store DIR */
static int opt_store(sink_conf *c, const char *a, char *err, size_t el)
{
    c->store = a;
    return 0;
}

/* opt_json - --json */
static int opt_json(sink_conf *c, const char *a, char *err, size_t el)
{
    c->json = 1;
    return 0;
}

/* opt_verbose - -v, --verbose */
static int opt_verbose(sink_conf *c, const char *a, char *err, size_t el)
{
    c->verbose = 1;
    return 0;
}

/* opt_seed - --seed N (below 2^63, so JSON shows it exactly) */
static int opt_seed(sink_conf *c, const char *a, char *err, size_t el)
{
    char *end;
    errno = 0;
    c->seed = strtoull(a, &end, 10);
    if (errno || *end || !isdigit((unsigned char)a[0]) || c->seed > INT64_MAX)
        return bad(err, el, "--seed: expected a number below 2^63, got '%s'", a);
    c->seed_given = 1;
    return 0;
}

/* opt_exit_after - --exit-after SECONDS */
static int opt_exit_after(sink_conf *c, const char *a, char *err, size_t el)
{
    if (parse_secs(a, &c->exit_after_us) < 0 || c->exit_after_us <= 0)
        return bad(err, el, "--exit-after: expected seconds, got '%s'", a);
    return 0;
}

/* opt_exit_msgs - --exit-after-messages N */
static int opt_exit_msgs(sink_conf *c, const char *a, char *err, size_t el)
{
    if (parse_int(a, 1, &c->exit_after_msgs) < 0)
        return bad(err, el, "--exit-after-messages: expected a number >= 1, got '%s'", a);
    return 0;
}

/* opt_stats_window - --stats-window SECONDS */
static int opt_stats_window(sink_conf *c, const char *a, char *err, size_t el)
{
    if (parse_secs(a, &c->stats_window_us) < 0 || c->stats_window_us <= 0)
        return bad(err, el, "--stats-window: expected seconds, got '%s'", a);
    return 0;
}

static const struct opt_def opt_table[] = {
    {"listen", 1, NULL, NULL},
    {"help", 0, NULL, NULL},
    {"hostname", 1, opt_hostname, NULL},
    {"banner", 1, opt_banner, NULL},
    {"greylist", 1, opt_greylist, NULL},
    {"greylist-net", 1, opt_greylist_net, NULL},
    {"greylist-reply", 1, opt_greylist_reply, NULL},
    {"max-conn-per-ip", 1, opt_max_conn, NULL},
    {"rate", 1, opt_rate, NULL},
    {"rate-stage", 1, opt_rate_stage, NULL},
    {"overload", 1, opt_overload, NULL},
    {"maintenance", 1, opt_maintenance, NULL},
    {"max-msgs-per-conn", 1, opt_max_msgs, NULL},
    {"tarpit", 1, opt_tarpit, NULL},
    {"drop", 1, opt_drop, NULL},
    {"reject-rcpt", 1, opt_reject_rcpt, NULL},
    {"reply-script", 1, opt_reply_script, NULL},
    {"tls-cert", 1, opt_tls_cert, NULL},
    {"tls-key", 1, opt_tls_key, NULL},
    {"require-tls", 0, opt_require_tls, NULL},
    {"max-size", 1, opt_max_size, NULL},
    {"max-rcpts", 1, opt_max_rcpts, NULL},
    {"timeout", 1, opt_timeout, NULL},
    {"record", 1, NULL, opt_record},
    {"store", 1, NULL, opt_store},
    {"json", 0, NULL, opt_json},
    {"verbose", 0, NULL, opt_verbose},
    {"seed", 1, NULL, opt_seed},
    {"exit-after", 1, NULL, opt_exit_after},
    {"exit-after-messages", 1, NULL, opt_exit_msgs},
    {"stats-window", 1, NULL, opt_stats_window},
};

/* find_opt - the definition of "--name" or "--name=value" (*val set for the latter) */
static const struct opt_def *find_opt(const char *a, const char **val)
{
    if (!strcmp(a, "-h"))
        a = "--help";
    else if (!strcmp(a, "-v"))
        a = "--verbose";
    if (strncmp(a, "--", 2) != 0)
        return NULL;
    a += 2;
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    *val = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++)
        if (strlen(opt_table[i].name) == n && !strncmp(opt_table[i].name, a, n))
            return &opt_table[i];
    return NULL;
}

/* policy_defaults - a policy with nothing switched on */
static void policy_defaults(sink_policy *p)
{
    memset(p, 0, sizeof *p);
    p->grey_bits4 = 32;
    p->grey_bits6 = 128;
    p->grey_code = 451;
    snprintf(p->grey_text, sizeof p->grey_text, "4.7.1 Greylisted, please try again later");
    p->rate_stage = SMTPD_MAIL;
    p->drop_stage = SMTPD_EOM;
    p->max_size = 50 * 1024 * 1024;
    p->max_rcpts = 1000;
    p->timeout_us = 300 * 1000000LL;
}

/* apply - run the setters of a section's options on p */
static int apply(sink_policy *p, const section *sec, char *err, size_t errlen)
{
    for (int i = 0; i < sec->n; i++)
        if (sec->u[i].d->pol(p, sec->u[i].arg, err, errlen) < 0)
            return -1;
    return 0;
}

/* policy_check - options that only make sense together */
static int policy_check(const sink_policy *p, char *err, size_t errlen)
{
    if (!p->tls_cert != !p->tls_key)
        return bad(err, errlen, "--tls-cert and --tls-key go together");
    if (p->require_tls && !p->tls_cert)
        return bad(err, errlen, "--require-tls needs --tls-cert and --tls-key");
    return 0;
}

/* build_set - the set for defaults + own (own may be NULL) */
static sink_set *build_set(sink_conf *c, const section *defaults, const section *own,
                           char *err, size_t errlen)
{
    sink_policy p;
    policy_defaults(&p);
    if (apply(&p, defaults, err, errlen) < 0 || (own && apply(&p, own, err, errlen) < 0) ||
        policy_check(&p, err, errlen) < 0)
        goto fail;
    sink_set *set = sink_set_new(&p, c->nsets);
    if (p.tls_cert && !(set->tls = smtpd_tls_ctx(p.tls_cert, p.tls_key, err, (int)errlen))) {
        sink_set_free(set);
        return NULL;
    }
    c->sets = xrealloc(c->sets, (size_t)(c->nsets + 1) * sizeof *c->sets);
    c->sets[c->nsets++] = set;
    return set;
fail:
    sink_policy_free(&p);
    return NULL;
}

/* build_sets - the default set (if some listener uses it) and one per listener with options */
static int build_sets(sink_conf *c, section *secs, int nsecs, char *err, size_t errlen)
{
    sink_set *shared = NULL;
    c->lis = xcalloc((size_t)nsecs, sizeof *c->lis);
    for (int i = 1; i < nsecs; i++) {
        sink_lis *l = &c->lis[c->nlis++];
        l->addr = secs[i].addr;
        if (secs[i].n)
            l->set = build_set(c, &secs[0], &secs[i], err, errlen);
        else
            l->set = shared = shared ? shared : build_set(c, &secs[0], NULL, err, errlen);
        if (!l->set)
            return -1;
    }
    return 0;
}

/* take_arg - the option's value: after "=", or the next argument */
static int take_arg(const struct opt_def *d, const char **val, int argc, char **argv, int *i,
                    char *err, size_t errlen)
{
    if (!d->has_arg)
        return *val ? bad(err, errlen, "--%s takes no value", d->name) : 0;
    if (*val)
        return 0;
    if (*i + 1 >= argc)
        return bad(err, errlen, "--%s needs a value", d->name);
    *val = argv[++*i];
    return 0;
}

/* add_use - remember a policy option in the current section */
static void add_use(section *sec, const struct opt_def *d, const char *val)
{
    sec->u = xrealloc(sec->u, (size_t)(sec->n + 1) * sizeof *sec->u);
    sec->u[sec->n].d = d;
    sec->u[sec->n++].arg = val;
}

/* check_policy_arg - validate a policy option's value at once, so errors name it early */
static int check_policy_arg(const struct opt_def *d, const char *val, char *err, size_t errlen)
{
    sink_policy p;
    policy_defaults(&p);
    int rc = d->pol(&p, val, err, errlen);
    sink_policy_free(&p);
    return rc;
}

/* read_args - sort argv into global settings and sections; 1 for --help */
static int read_args(sink_conf *c, int argc, char **argv, section **secs, int *nsecs,
                     char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *val = NULL;
        const struct opt_def *d = find_opt(argv[i], &val);
        if (!d)
            return bad(err, errlen, "unknown argument '%s'", argv[i]);
        if (take_arg(d, &val, argc, argv, &i, err, errlen) < 0)
            return -1;
        if (!strcmp(d->name, "help"))
            return 1;
        if (d->glob && d->glob(c, val, err, errlen) < 0)
            return -1;
        if (d->pol && check_policy_arg(d, val, err, errlen) < 0)
            return -1;
        if (d->pol)
            add_use(&(*secs)[*nsecs - 1], d, val);
        if (!d->pol && !d->glob) {   /* --listen */
            *secs = xrealloc(*secs, (size_t)(*nsecs + 1) * sizeof **secs);
            (*secs)[(*nsecs)++] = (section){.addr = val};
        }
    }
    return 0;
}

int sink_parse_listen(const char *s, netaddr *a, const char **err)
{
    size_t n = strlen(s);
    if (n < 2 || strcmp(s + n - 2, ":0") != 0)
        return netaddr_parse(s, 0, a, err);
    char *one = xstrdup(s);
    one[n - 1] = '1';   /* netaddr_parse wants a real port: parse with 1, then make it 0 */
    int rc = netaddr_parse(one, 0, a, err);
    free(one);
    if (rc == 0 && a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = 0;
    else if (rc == 0)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = 0;
    return rc;
}

/* check_listeners - every address parses; at least one */
static int check_listeners(const section *secs, int nsecs, char *err, size_t errlen)
{
    if (nsecs < 2)
        return bad(err, errlen, "no --listen ADDR:PORT given");
    for (int i = 1; i < nsecs; i++) {
        netaddr a;
        const char *e;
        if (sink_parse_listen(secs[i].addr, &a, &e) < 0)
            return bad(err, errlen, "--listen %s: %s", secs[i].addr, e);
    }
    return 0;
}

int sink_opts_parse(sink_conf *c, int argc, char **argv, char *err, size_t errlen)
{
    int nsecs = 1, rc;
    section *secs = xcalloc(1, sizeof *secs);
    memset(c, 0, sizeof *c);
    rc = read_args(c, argc, argv, &secs, &nsecs, err, errlen);
    if (rc == 0)
        rc = check_listeners(secs, nsecs, err, errlen);
    if (rc == 0)
        rc = build_sets(c, secs, nsecs, err, errlen);
    for (int i = 0; i < nsecs; i++)
        free(secs[i].u);
    free(secs);
    return rc;
}

void sink_opts_free(sink_conf *c)
{
    for (int i = 0; i < c->nsets; i++)
        sink_set_free(c->sets[i]);
    free(c->sets);
    free(c->lis);
    c->sets = NULL;
    c->lis = NULL;
    c->nsets = c->nlis = 0;
}

static const char usage_text[] =
"usage: sluice sink [GLOBAL OPTIONS] [POLICY OPTIONS] --listen ADDR:PORT [POLICY OPTIONS]...\n"
"\n"
"An SMTP receiver for tests and rehearsals that greylists, throttles and fails like real\n"
"mail servers, records what it accepted and refused, and prints a summary at the end.\n"
"\n"
"Listeners and per-listener policies:\n"
"  --listen ADDR:PORT     listen there (repeatable; 127.0.0.2:2526, [::1]:2526, port 0 picks\n"
"                         a free port; the real address is printed on stderr when ready)\n"
"  Policy options before the first --listen are the defaults of every listener; policy\n"
"  options after a --listen apply to that listener only, on top of the defaults.  Listeners\n"
"  without options of their own share one policy set and its state (greylist, rate and\n"
"  connection counts), like the MX hosts of one provider; a listener with options of its\n"
"  own keeps its state to itself.\n"
"\n"
"Policies (times in seconds, fractions allowed; also Postfix units: 5m, 1h):\n"
"  --greylist DELAY[:EXPIRE]  the first RCPT of a triplet (client IP, sender, recipient)\n"
"                         gets 451 4.7.1; a retry at or after DELAY and before EXPIRE\n"
"                         (default 86400) passes, and the triplet keeps passing while used\n"
"                         again within EXPIRE; each recipient is its own triplet\n"
"  --greylist-net /BITS[,/BITS6]  greylist the client's network instead of its address\n"
"                         (e.g. /24; IPv6 prefix default /64)\n"
"  --greylist-reply \"CODE TEXT\"  the greylisting reply (a 421 also closes)\n"
"  --max-conn-per-ip N    the (N+1)-th simultaneous connection from one IP gets\n"
"                         421 4.7.0 Too many concurrent connections\n"
"  --rate N/SECONDS       at most N accepted messages per client IP in any window of\n"
"                         SECONDS; over it: 421 4.7.0 Try again later, rate limit exceeded\n"
"  --rate-stage mail|rcpt where --rate is checked (default mail).  A message counts when it\n"
"                         is accepted (end of data); a transaction that passed the check\n"
"                         holds a slot until then, so the limit is never exceeded\n"
"  --overload P           each connection has probability P of 421 4.3.2 Service not\n"
"                         available at the greeting\n"
"  --maintenance START:END  connections START..END seconds after start get 421 at the\n"
"                         greeting (repeatable)\n"
"  --max-msgs-per-conn N  close the connection after its N-th accepted message (Yahoo: 20)\n"
"  --tarpit SECONDS       delay the greeting\n"
"  --drop P[:STAGE]       each transaction has probability P of the connection being closed\n"
"                         without a reply at STAGE: mail, rcpt, data or eom (default eom:\n"
"                         after the message, before the reply)\n"
"  --reject-rcpt REGEX    550 5.1.1 for recipients matching the PCRE2 pattern\n"
"  --reply-script FILE    rules giving replies by stage, client, envelope and counters\n"
"                         (see docs/sink.md), e.g.\n"
"                           rcpt to /@gmail\\.test$/ attempt 1 => 450 4.2.1 Try later\n"
"                           mail msg 21+ => 421 4.7.0 [TSS04] Messages from ${ip} deferred\n"
"  --tls-cert FILE --tls-key FILE  offer STARTTLS;  --require-tls  refuse MAIL before it\n"
"  --hostname NAME  --banner TEXT  --max-size BYTES (50m)  --max-rcpts N (1000)\n"
"  --timeout SECONDS (300)\n"
"  Order at each stage: shutdown, drop, reply script, then the built-in policies\n"
"  (connect: maintenance, max-conn-per-ip, overload; rcpt: reject-rcpt, rate, greylist).\n"
"\n"
"Global options:\n"
"  --record FILE          JSON Lines: one line per accepted message and per refusal\n"
"  --store DIR            write every accepted message to DIR/QUEUEID.eml\n"
"  --json                 print the summary as JSON\n"
"  --seed N               seed the random policies (overload, drop, script chance)\n"
"  --exit-after SECONDS   stop after that long\n"
"  --exit-after-messages N  stop after N accepted messages\n"
"  --stats-window SECONDS the window of the summary's busiest-window count per client\n"
"                         (default: the first --rate window, else 1)\n"
"  -v, --verbose          log every connection and refusal on stderr\n"
"  -h, --help\n"
"The summary goes to stdout at SIGTERM, SIGINT, --exit-after or --exit-after-messages.\n";

void sink_opts_usage(FILE *f)
{
    fputs(usage_text, f);
}
