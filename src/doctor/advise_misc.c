/* advise_misc.c - the advice that points elsewhere, and the rest:
 *   warmup          reputation verdicts: the seed's warm-up (`doctor warmup --target N`, N
 *                   the recipients a day these logs show) and `doctor ip`; sluiced's own
 *                   ip_warmup_schedule for the address when it is one of its sending
 *                   addresses
 *   authentication  authentication verdicts: `doctor domain SENDER-DOMAIN --ip ADDR` and
 *                   `doctor ip ADDR` (the sender domain from the logs' from=<...>, else
 *                   myorigin; the address a refusal names, else smtp_bind_address)
 *   not-settings    overload, network, DNS, TLS, local problems: what to look at instead
 *   learned         each destination sluiced's status shows (shaping's learned limits)
 *   lint fixes      the main.cf lint's fixes as main.cf changes */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "doctor/advise_int.h"

/* days_spanned - the days the logs cover (at least 1) */
static double days_spanned(const la_summary *s)
{
    double d = (double)(s->last_us - s->first_us) / 86400e6;
    return d < 1 ? 1 : d;
}

/* quoted_ip - an address a reputation or authentication refusal names, or NULL */
static const char *quoted_ip(const advise *a, const la_dest *d)
{
    const as_dest *sd = as_dest_find(a->in->scan, d->domain);
    return sd && sd->reputation_ip[0] ? sd->reputation_ip : NULL;
}

/* source_ip - the sending address to check: quoted by a receiver, else configured */
static const char *source_ip(const advise *a, const la_dest *d)
{
    const char *ip = quoted_ip(a, d);
    if (ip)
        return ip;
    return a->in->cfg->smtp_bind_address[0] ? a->in->cfg->smtp_bind_address : "ADDR";
}

/* ours - sluiced sends from ip by its configuration (smtp_bind_address(6) or a class) */
static int ours(const sl_config *c, const char *ip)
{
    int found = !strcmp(c->smtp_bind_address, ip) || !strcmp(c->smtp_bind_address6, ip);
    for (int i = 0; !found && i < c->smtp_source_classes.n; i++) {
        char *copy = xstrdup(c->smtp_source_classes.v[i]), *save = NULL;
        strtok_r(copy, " \t", &save);   /* the class name */
        for (char *w = strtok_r(NULL, " \t", &save); w && !found; w = strtok_r(NULL, " \t", &save))
            found = !strcmp(w, ip);
        free(copy);
    }
    return found;
}

/* today - the UTC date (of the injectable clock) as YYYY-MM-DD, and *ym as YYYYMM */
static const char *today(char *buf, size_t n, int *ym)
{
    time_t t = (time_t)clock_now();
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d", &tm);
    *ym = (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
    return buf;
}

/* warmup_change - have sluiced enforce the schedule for ip (when it sends from it) */
static void warmup_change(advise *a, adv_item *it, const char *ip, long per_day)
{
    const sl_config *c = a->in->cfg;
    if (!strcmp(ip, "ADDR"))
        return;
    if (!ours(c, ip)) {
        adv_explain(it, "To have sluiced keep to the schedule, send from a configured address (smtp_bind_address, "
                        "or smtp_source_classes with bulk mail on addresses of its own) and list it in "
                        "ip_warmup_schedule.");
        return;
    }
    if (config_map_get(&c->ip_warmup_schedule, ip)) {
        adv_explain(it, "ip_warmup_schedule already has %s: sluiced keeps to its schedule.", ip);
        return;
    }
    char v[200], day[16];
    int ym;
    snprintf(v, sizeof v, "%s %s %ld", ip, today(day, sizeof day, &ym), per_day);
    adv_change_add(a, AT_SLUICE, "ip_warmup_schedule", v, "warmup",
                   "sluiced caps the address's recipients a day: 50, doubling weekly, up to this volume");
    adv_explain(it, "sluiced keeps to the schedule itself: the change below sets ip_warmup_schedule for %s.", ip);
}

/* warmup - reputation: grow the volume slowly */
static void warmup(advise *a)
{
    const loganalyzer *la = a->in->la;
    char list[400] = "";
    const la_dest *first = NULL;
    long firsts = 0;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        firsts += d->first_attempts;
        if (d->verdict != LV_REPUTATION)
            continue;
        first = first ? first : d;
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s%s%s%s%s", o ? ", " : "", d->domain, d->provider_code ? " (" : "",
                 d->provider_code ? d->provider_code : "", d->provider_code ? ")" : "");
    }
    if (!first)
        return;
    long per_day = (long)ceil((double)firsts / days_spanned(la_get_summary(la)));
    adv_item *it = adv_item_new(a, CK_FAIL, "warmup", "Reputation: warm up the sending address",
                                "receivers that accept this address's volume", list,
                                "these receivers throttle mail for the sending address's reputation or volume: no "
                                "concurrency or rate setting fixes that.  Grow the volume slowly - the seed: 50 a "
                                "day, doubling weekly - with `sluice doctor warmup --target %ld` (the recipients a "
                                "day these logs show), and check the address with `sluice doctor ip %s` (PTR, "
                                "DNSBLs).  sluice pauses such a destination by itself (reputation_backoff_time) and "
                                "sends through smtp_fallback_relay when one is set.",
                                per_day < 1 ? 1 : per_day, source_ip(a, first));
    for (int k = 0; k < first->nevidence && k < 3; k++)
        adv_evidence(it, first->evidence[k]);
    warmup_change(a, it, source_ip(a, first), per_day < 1 ? 1 : per_day);
    json_object_set_new(it->figures, "recipients_per_day", json_integer(per_day));
    json_object_set_new(it->figures, "destinations", json_string(list));
}

/* authentication - SPF/DKIM/DMARC/PTR refusals */
static void authentication(advise *a)
{
    const loganalyzer *la = a->in->la;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        if (d->verdict != LV_AUTHENTICATION)
            continue;
        const char *dom = as_sender_domain(a->in->scan);
        dom = dom ? dom : a->in->cfg->myorigin;
        char id[300];
        snprintf(id, sizeof id, "authentication:%s", d->domain);
        adv_item *it = adv_item_new(a, CK_FAIL, id, "Authentication", "SPF, DKIM, DMARC and PTR that pass",
                                    d->domain,
                                    "%s refuses mail it cannot authenticate; no delivery setting helps.  Check the "
                                    "sending domain with `sluice doctor domain %s --ip %s` and the address with "
                                    "`sluice doctor ip %s`.",
                                    d->domain, dom, source_ip(a, d), source_ip(a, d));
        for (int k = 0; k < d->nevidence && k < 3; k++)
            adv_evidence(it, d->evidence[k]);
        if (dom && dom[0] && !config_map_get(&a->in->cfg->dkim_signing_keys, dom)) {
            char v[600], day[16];
            int ym;
            today(day, sizeof day, &ym);
            snprintf(v, sizeof v, "%s s%d /etc/sluice/dkim/%s.pem", dom, ym, dom);
            adv_change_add(a, AT_SLUICE, "dkim_signing_keys", v, id,
                           "make the key with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "
                           "FILE` and publish its public key as SELECTOR._domainkey.DOMAIN TXT \"v=DKIM1; k=rsa; p=...\"");
            adv_explain(it, "sluiced signs nothing from %s yet: the change below sets dkim_signing_keys.", dom);
        }
    }
}

/* elsewhere - what to look at for a verdict no setting fixes, or NULL */
static const char *elsewhere(enum la_verdict v)
{
    switch (v) {
    case LV_OVERLOAD: return "the receiver is overloaded or in maintenance: not about you; queued mail goes later";
    case LV_NETWORK: return "connections fail: run `sluice doctor probe DOMAIN` (port 25 blocked, firewall, a dead MX)";
    case LV_DNS: return "lookups fail: check the resolver and the domain's MX records";
    case LV_TLS: return "TLS fails: run `sluice doctor probe DOMAIN` and check smtp_tls_security_level";
    case LV_LOCAL: return "the sending host's own problem: see the log lines";
    default: return NULL;
    }
}

/* has_want - advice already asks something for the destination */
static int has_want(const advise *a, const char *domain)
{
    for (int i = 0; i < a->nwants; i++)
        if (!strcmp(a->wants[i].domain, domain))
            return 1;
    return 0;
}

/* not_settings - verdicts that no setting here fixes */
static void not_settings(advise *a)
{
    const loganalyzer *la = a->in->la;
    for (size_t i = 0; la && i < la_ndests(la); i++) {
        const la_dest *d = la_dest_at(la, i);
        const char *what = elsewhere(d->verdict);
        if (!what || has_want(a, d->domain))
            continue;
        char id[300];
        snprintf(id, sizeof id, "elsewhere:%s", d->domain);
        adv_item *it = adv_item_new(a, CK_INFO, id, "Not a setting", "nothing to change here",
                                    la_verdict_title(d->verdict), "%s: %s", d->domain, what);
        for (int k = 0; k < d->nevidence && k < 2; k++)
            adv_evidence(it, d->evidence[k]);
    }
}

void advise_pointers(advise *a)
{
    warmup(a);
    authentication(a);
    not_settings(a);
}

void advise_learned(advise *a)
{
    size_t i;
    json_t *d;
    json_t *dests = json_object_get(a->in->status, "destinations");
    if (!a->in->status)
        return;
    if (!json_array_size(dests)) {
        adv_item_new(a, CK_INFO, "learned", "What sluice learned", NULL, "no destinations yet",
                     "sluiced runs but has not delivered anywhere since it started");
        return;
    }
    json_array_foreach(dests, i, d) {
        char id[400], buf[400];
        const char *key = json_string_value(json_object_get(d, "destination"));
        snprintf(id, sizeof id, "learned:%s", key ? key : "?");
        adv_item *it = adv_item_new(a, CK_INFO, id, "What sluice learned", NULL, adv_learned_text(d, buf, sizeof buf),
                                    "sluiced's shaping for %s: it keeps these limits by itself", key ? key : "?");
        size_t k;
        json_t *dec;
        json_array_foreach(json_object_get(d, "decisions"), k, dec)
            adv_evidence(it, json_string_value(json_object_get(dec, "decision")));
        json_object_set(it->figures, "status", d);
    }
}

void advise_lint_changes(advise *a)
{
    const maincf_lint *l = a->in->lint;
    for (int i = 0; l && i < l->n; i++)
        for (int k = 0; k < l->f[i].nfix; k++)
            adv_change_add(a, AT_MAIN, l->f[i].fix_name[k], l->f[i].fix_value[k], l->f[i].id, l->f[i].title);
}
