/* advise_values.c - the values advice is measured against: sluice's parameters (the loaded
 * configuration, compared with the built-in defaults to say where a value came from),
 * Postfix's (main.cf, else Postfix's defaults), durations as both write them, the ladder of
 * round retry times, and what sluiced's status learned about a destination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "common/xmalloc.h"
#include "doctor/advise_int.h"
#include "doctor/maincf_params.h"

char *adv_sluice_value(const advise_in *in, const char *name, const char **from)
{
    char *v = config_param_value(in->cfg, name);
    char *d = in->defaults ? config_param_value(in->defaults, name) : NULL;
    *from = !v ? NULL : d && !strcmp(v, d) ? "built-in default" : in->cfg_name;
    free(d);
    return v;
}

long long adv_sluice_secs(const advise_in *in, const char *name)
{
    char *v = config_param_value(in->cfg, name);
    int64_t ms = -1000;
    if (!v || units_parse_time(v, 's', &ms) < 0)
        ms = -1000;
    free(v);
    return ms / 1000;
}

/* family_default - for a per-transport name missing everywhere, default_SUFFIX's value */
static char *family_default(const advise_in *in, const char *name, char *from, size_t fromlen)
{
    int plen = 0;
    const char *sfx = maincf_param_transport(name, &plen);
    if (!sfx)
        return NULL;
    char dname[200];
    snprintf(dname, sizeof dname, "default%s", sfx);
    int line = 0;
    char *v = maincf_value(in->pf, dname, &line);
    if (line)
        snprintf(from, fromlen, "%s, line %d", dname, line);
    else
        snprintf(from, fromlen, "%s (Postfix default)", dname);
    return v;
}

char *adv_postfix_value(const advise_in *in, const char *name, char *from, size_t fromlen)
{
    int line = 0;
    char *v = maincf_value(in->pf, name, &line);
    if (v) {
        if (line)
            snprintf(from, fromlen, "line %d", line);
        else
            snprintf(from, fromlen, "Postfix default");
        return v;
    }
    v = family_default(in, name, from, fromlen);
    if (!v)
        snprintf(from, fromlen, "not set");
    return v;
}

long long adv_postfix_secs(const advise_in *in, const char *name)
{
    char from[64];
    char *v = adv_postfix_value(in, name, from, sizeof from);
    const maincf_param *p = maincf_param_find(name);
    long long s = -1;
    if (!v || maincf_time_parse(v, p ? p->unit : 's', &s) < 0)
        s = -1;
    free(v);
    return s;
}

long long adv_postfix_int(const advise_in *in, const char *name)
{
    char from[64];
    char *v = adv_postfix_value(in, name, from, sizeof from);
    long long n = -1;
    if (!v || maincf_int_parse(v, &n) < 0)
        n = -1;
    free(v);
    return n;
}

const char *adv_dur(long long secs, char *buf, size_t n)
{
    if (secs < 0) {
        snprintf(buf, n, "?");
        return buf;
    }
    return maincf_dur(secs, buf, (int)n);
}

long long adv_ladder(double secs)
{
    static const long long steps[] = {60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
                                      10800, 14400};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] >= secs)
            return steps[i];
    long long h = (long long)(secs / 3600);
    return (h + ((double)h * 3600 < secs)) * 3600;
}

/* first_label - the domain's first label when it says something (not mail/mx/smtp) */
static int first_label(const char *domain, char *out, size_t n)
{
    const char *p = domain;
    for (int i = 0; i < 2; i++) {
        size_t k = strcspn(p, ".");
        if (!p[k])
            break;
        if (k >= 4 && k < n && strncmp(p, "mail", k) && strncmp(p, "smtp", k)) {
            memcpy(out, p, k);
            out[k] = 0;
            return 1;
        }
        p += k + 1;
    }
    return 0;
}

json_t *adv_dest_learned(const advise_in *in, const char *domain)
{
    size_t i;
    json_t *d;
    char label[64];
    int has_label = first_label(domain, label, sizeof label);
    json_array_foreach(json_object_get(in->status, "destinations"), i, d) {
        const char *key = json_string_value(json_object_get(d, "destination"));
        if (key && (strstr(key, domain) || (has_label && strstr(key, label))))
            return d;
    }
    return NULL;
}

const char *adv_learned_text(json_t *d, char *buf, size_t n)
{
    json_t *rate = json_object_get(d, "rate_limit");
    json_t *grey = json_object_get(d, "greylist_window_s");
    char r[80] = "not learned", g[48] = "not learned";
    if (json_is_object(rate))
        snprintf(r, sizeof r, "%lld per %.0fs", (long long)json_integer_value(json_object_get(rate, "messages")),
                 json_number_value(json_object_get(rate, "per_seconds")));
    if (json_is_number(grey))
        snprintf(g, sizeof g, "%.0fs", json_number_value(grey));
    snprintf(buf, n, "state %s, concurrency %lld of %lld (learned %lld), rate %s, greylist window %s",
             json_string_value(json_object_get(d, "state")) ? json_string_value(json_object_get(d, "state")) : "?",
             (long long)json_integer_value(json_object_get(d, "concurrency_limit")),
             (long long)json_integer_value(json_object_get(d, "concurrency_max")),
             (long long)json_integer_value(json_object_get(d, "concurrency_learned")), r, g);
    return buf;
}

int adv_shaping(const advise_in *in)
{
    return in->cfg->shaping != 0;
}
