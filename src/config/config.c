/* config.c - loading and validating the configuration.
 * Order of precedence: built-in default < file < -o override.  Every value, whatever its
 * source, goes through the same text parser (param_set), so `-o` and the file accept the
 * same syntax; the file may also use libconfig's native ints, booleans and string lists. */
#include "config/config.h"

#include <ctype.h>
#include <libconfig.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "common/readfile.h"
#include "common/units.h"
#include "config/nexthop.h"
#include "dns/dns.h"
#include "common/xmalloc.h"

enum ptype { P_STR, P_INT, P_SIZE, P_TIME, P_BOOL, P_LIST, P_MAP };

typedef int (*param_check)(const char *value, const char **err);

struct param {
    const char *name;
    enum ptype type;
    const char *def;   /* default as text; "" for empty */
    char unit;         /* P_TIME: Postfix's default unit for a bare number */
    int64_t min, max;  /* P_INT, P_SIZE, P_TIME (ms) */
    size_t off;
    param_check check; /* extra validation of each (list) value, or NULL */
};

static int check_listen(const char *v, const char **err);
static int check_cidr(const char *v, const char **err);
static int check_tls_level(const char *v, const char **err);
static int check_abs_path(const char *v, const char **err);
static int check_log_level(const char *v, const char **err);
static int check_log_target(const char *v, const char **err);
static int check_relayhost(const char *v, const char **err);
static int check_transport(const char *v, const char **err);
static int check_smtp_tls_level(const char *v, const char **err);
/* check_sasl_option - Postfix's smtp_sasl_security_options words (sluice acts on
 * noplaintext; the rest are about mechanisms it does not speak) */
static int check_sasl_option(const char *v, const char **err)
{
    static const char *const ok[] = {"noplaintext", "noanonymous", "noactive", "nodictionary",
                                     "mutual_auth", "forward_secrecy"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcasecmp(v, ok[i]))
            return 0;
    *err = "expected noplaintext, noanonymous, noactive, nodictionary or mutual_auth";
    return -1;
}

/* check_sasl_mech - a mechanism name, "!" for not (as Postfix's; sluice speaks PLAIN and
 * LOGIN, so other names only ever narrow the choice) */
static int check_sasl_mech(const char *v, const char **err)
{
    const char *n = v[0] == '!' ? v + 1 : v;
    if (!strcasecmp(v, "static:rest"))
        return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            *err = "expected mechanism names (PLAIN, LOGIN, CRAM-MD5, !GSSAPI ...)";
            return -1;
        }
    return *n ? 0 : (*err = "an empty mechanism name", -1);
}

static int check_tls_policy(const char *v, const char **err);
static int check_dns_server(const char *v, const char **err);
static int check_log_format(const char *v, const char **err);
static int check_bind(const char *v, const char **err);
static int check_ip(const char *v, const char **err);
static int check_zone(const char *v, const char **err);
static int check_dkim_key(const char *v, const char **err);
static int check_field_name(const char *v, const char **err);

#define OFF(f) offsetof(sl_config, f)
#define BIG INT64_MAX
static const struct param params[] = {
    {"queue_directory", P_STR, "/var/spool/sluice", 0, 0, 0, OFF(queue_directory), check_abs_path},
    {"myhostname", P_STR, "", 0, 0, 0, OFF(myhostname), NULL},
    {"myorigin", P_STR, "", 0, 0, 0, OFF(myorigin), NULL},
    {"mail_owner", P_STR, "", 0, 0, 0, OFF(mail_owner), NULL},
    {"maillog_file", P_STR, "", 0, 0, 0, OFF(maillog_file), check_log_target},
    {"log_level", P_STR, "info", 0, 0, 0, OFF(log_level), check_log_level},
    {"listen", P_LIST, "127.0.0.1:25", 0, 0, 0, OFF(listen), check_listen},
    {"mynetworks", P_LIST, "127.0.0.0/8, [::1]/128", 0, 0, 0, OFF(mynetworks), check_cidr},
    {"smtpd_banner", P_STR, "$myhostname ESMTP sluice", 0, 0, 0, OFF(smtpd_banner), NULL},
    {"message_size_limit", P_SIZE, "10240000", 0, 1024, (int64_t)1 << 40, OFF(message_size_limit), NULL},
    {"queue_minfree", P_SIZE, "0", 0, 0, (int64_t)1 << 50, OFF(queue_minfree), NULL},
    {"smtpd_recipient_limit", P_INT, "1000", 0, 1, 1000000, OFF(smtpd_recipient_limit), NULL},
    {"smtpd_recipient_overshoot_limit", P_INT, "1000", 0, 1, 1000000,
     OFF(smtpd_recipient_overshoot_limit), NULL},
    {"smtpd_client_connection_count_limit", P_INT, "50", 0, 0, 1000000,
     OFF(smtpd_client_connection_count_limit), NULL},
    {"smtpd_connection_limit", P_INT, "500", 0, 1, 1000000, OFF(smtpd_connection_limit), NULL},
    {"smtpd_timeout", P_TIME, "300s", 's', 100, BIG, OFF(smtpd_timeout_ms), NULL},
    {"smtpd_hard_error_limit", P_INT, "20", 0, 1, 100000, OFF(smtpd_hard_error_limit), NULL},
    {"smtpd_soft_error_limit", P_INT, "10", 0, 0, 100000, OFF(smtpd_soft_error_limit), NULL},
    {"smtpd_error_sleep_time", P_TIME, "1s", 's', 0, 600000, OFF(smtpd_error_sleep_time_ms), NULL},
    {"line_length_limit", P_INT, "2048", 0, 512, 1 << 20, OFF(line_length_limit), NULL},
    {"smtpd_tls_cert_file", P_STR, "", 0, 0, 0, OFF(smtpd_tls_cert_file), NULL},
    {"smtpd_tls_key_file", P_STR, "", 0, 0, 0, OFF(smtpd_tls_key_file), NULL},
    {"smtpd_tls_security_level", P_STR, "", 0, 0, 0, OFF(smtpd_tls_security_level), check_tls_level},
    {"relayhost", P_STR, "", 0, 0, 0, OFF(relayhost), check_relayhost},
    {"transport_maps", P_MAP, "", 0, 0, 0, OFF(transport_maps), check_transport},
    {"dns_servers", P_LIST, "", 0, 0, 0, OFF(dns_servers), check_dns_server},
    {"dns_timeout", P_TIME, "10s", 's', 100, 600000, OFF(dns_timeout_ms), NULL},
    {"log_format", P_STR, "text", 0, 0, 0, OFF(log_format), check_log_format},
    /* retries, with Postfix's defaults and default units */
    {"minimal_backoff_time", P_TIME, "300s", 's', 0, BIG, OFF(minimal_backoff_time_ms), NULL},
    {"maximal_backoff_time", P_TIME, "4000s", 's', 0, BIG, OFF(maximal_backoff_time_ms), NULL},
    {"queue_run_delay", P_TIME, "300s", 's', 10, BIG, OFF(queue_run_delay_ms), NULL},
    {"maximal_queue_lifetime", P_TIME, "5d", 'd', 0, BIG, OFF(maximal_queue_lifetime_ms), NULL},
    {"bounce_queue_lifetime", P_TIME, "5d", 'd', 0, BIG, OFF(bounce_queue_lifetime_ms), NULL},
    {"delay_warning_time", P_TIME, "0h", 'h', 0, BIG, OFF(delay_warning_time_ms), NULL},
    {"double_bounce_recipient", P_STR, "", 0, 0, 0, OFF(double_bounce_recipient), NULL},
    /* per-destination scheduling */
    {"smtp_destination_concurrency_limit", P_INT, "20", 0, 1, 10000,
     OFF(smtp_destination_concurrency_limit), NULL},
    {"initial_destination_concurrency", P_INT, "5", 0, 1, 10000, OFF(initial_destination_concurrency), NULL},
    {"smtp_destination_rate_delay", P_TIME, "0s", 's', 0, 3600000, OFF(smtp_destination_rate_delay_ms), NULL},
    {"smtp_destination_recipient_limit", P_INT, "50", 0, 1, 100000,
     OFF(smtp_destination_recipient_limit), NULL},
    {"smtp_connection_limit", P_INT, "100", 0, 1, 100000, OFF(smtp_connection_limit), NULL},
    {"smtp_connection_cache_time_limit", P_TIME, "2s", 's', 0, 3600000,
     OFF(smtp_connection_cache_time_limit_ms), NULL},
    {"smtp_connection_reuse_count_limit", P_INT, "0", 0, 0, 1000000,
     OFF(smtp_connection_reuse_count_limit), NULL},
    {"smtp_connection_reuse_time_limit", P_TIME, "300s", 's', 0, BIG,
     OFF(smtp_connection_reuse_time_limit_ms), NULL},
    /* shaping */
    {"shaping", P_BOOL, "yes", 0, 0, 0, OFF(shaping), NULL},
    {"reply_class_rules", P_LIST, "", 0, 0, 0, OFF(reply_class_rules), check_abs_path},
    {"concurrency_probe_time", P_TIME, "10m", 's', 1000, BIG, OFF(concurrency_probe_time_ms), NULL},
    {"rate_probe_time", P_TIME, "5m", 's', 1000, BIG, OFF(rate_probe_time_ms), NULL},
    {"greylist_min_retry_time", P_TIME, "15s", 's', 100, BIG, OFF(greylist_min_retry_time_ms), NULL},
    {"greylist_max_retry_time", P_TIME, "6m", 's', 100, BIG, OFF(greylist_max_retry_time_ms), NULL},
    {"overload_backoff_time", P_TIME, "3s", 's', 100, BIG, OFF(overload_backoff_time_ms), NULL},
    {"overload_max_backoff_time", P_TIME, "30m", 's', 100, BIG, OFF(overload_max_backoff_time_ms), NULL},
    {"reputation_backoff_time", P_TIME, "1h", 's', 100, BIG, OFF(reputation_backoff_time_ms), NULL},
    {"reputation_max_backoff_time", P_TIME, "12h", 's', 100, BIG, OFF(reputation_max_backoff_time_ms), NULL},
    {"smtp_fallback_relay", P_STR, "", 0, 0, 0, OFF(smtp_fallback_relay), check_relayhost},
    /* blocklist watch */
    {"dnsbl_watch_addresses", P_LIST, "", 0, 0, 0, OFF(dnsbl_watch_addresses), check_ip},
    {"dnsbl_watch_zones", P_LIST, "", 0, 0, 0, OFF(dnsbl_watch_zones), check_zone},
    {"dnsbl_watch_interval", P_TIME, "4h", 's', 0, BIG, OFF(dnsbl_watch_interval_ms), NULL},
    /* DKIM signing */
    {"dkim_signing_keys", P_MAP, "", 0, 0, 0, OFF(dkim_signing_keys), check_dkim_key},
    {"dkim_signed_headers", P_LIST,
     "From, Reply-To, Subject, Date, To, Cc, Message-ID, In-Reply-To, References, MIME-Version, "
     "Content-Type, Content-Transfer-Encoding, Content-Disposition, List-Id, List-Unsubscribe, "
     "List-Unsubscribe-Post, Sender", 0, 0, 0, OFF(dkim_signed_headers), check_field_name},
    {"dkim_oversigned_headers", P_LIST, "From", 0, 0, 0, OFF(dkim_oversigned_headers), check_field_name},
    /* sending addresses */
    {"smtp_source_classes", P_MAP, "", 0, 0, 0, OFF(smtp_source_classes), NULL},
    {"smtp_source_class_maps", P_MAP, "", 0, 0, 0, OFF(smtp_source_class_maps), NULL},
    {"smtp_source_default_class", P_STR, "", 0, 0, 0, OFF(smtp_source_default_class), NULL},
    {"ip_warmup_schedule", P_MAP, "", 0, 0, 0, OFF(ip_warmup_schedule), NULL},
    /* the SMTP client */
    {"smtp_port", P_INT, "25", 0, 1, 65535, OFF(smtp_port), NULL},
    {"smtp_helo_name", P_STR, "", 0, 0, 0, OFF(smtp_helo_name), NULL},
    {"smtp_bind_address", P_STR, "", 0, 0, 0, OFF(smtp_bind_address), check_bind},
    {"smtp_bind_address6", P_STR, "", 0, 0, 0, OFF(smtp_bind_address6), check_bind},
    {"smtp_mx_address_limit", P_INT, "5", 0, 1, 100, OFF(smtp_mx_address_limit), NULL},
    {"smtp_tls_security_level", P_STR, "may", 0, 0, 0, OFF(smtp_tls_security_level), check_smtp_tls_level},
    {"smtp_tls_policy_maps", P_MAP, "", 0, 0, 0, OFF(smtp_tls_policy_maps), check_tls_policy},
    {"smtp_tls_CAfile", P_STR, "", 0, 0, 0, OFF(smtp_tls_CAfile), NULL},
    {"smtp_use_chunking", P_BOOL, "yes", 0, 0, 0, OFF(smtp_use_chunking), NULL},
    {"smtp_sasl_auth_enable", P_BOOL, "no", 0, 0, 0, OFF(smtp_sasl_auth_enable), NULL},
    {"smtp_sasl_password_maps", P_MAP, "", 0, 0, 0, OFF(smtp_sasl_password_maps),
     config_sasl_check_item},
    {"smtp_sasl_security_options", P_LIST, "noplaintext, noanonymous", 0, 0, 0,
     OFF(smtp_sasl_security_options), check_sasl_option},
    {"smtp_sasl_tls_security_options", P_LIST, "noanonymous", 0, 0, 0,
     OFF(smtp_sasl_tls_security_options), check_sasl_option},
    {"smtp_sasl_mechanism_filter", P_LIST, "", 0, 0, 0, OFF(smtp_sasl_mechanism_filter),
     check_sasl_mech},
    {"smtp_connect_timeout", P_TIME, "30s", 's', 1, BIG, OFF(smtp_connect_timeout_ms), NULL},
    {"smtp_helo_timeout", P_TIME, "300s", 's', 1, BIG, OFF(smtp_helo_timeout_ms), NULL},
    {"smtp_starttls_timeout", P_TIME, "300s", 's', 1, BIG, OFF(smtp_starttls_timeout_ms), NULL},
    {"smtp_mail_timeout", P_TIME, "300s", 's', 1, BIG, OFF(smtp_mail_timeout_ms), NULL},
    {"smtp_rcpt_timeout", P_TIME, "300s", 's', 1, BIG, OFF(smtp_rcpt_timeout_ms), NULL},
    {"smtp_data_init_timeout", P_TIME, "120s", 's', 1, BIG, OFF(smtp_data_init_timeout_ms), NULL},
    {"smtp_data_xfer_timeout", P_TIME, "180s", 's', 1, BIG, OFF(smtp_data_xfer_timeout_ms), NULL},
    {"smtp_data_done_timeout", P_TIME, "600s", 's', 1, BIG, OFF(smtp_data_done_timeout_ms), NULL},
    {"smtp_quit_timeout", P_TIME, "300s", 's', 1, BIG, OFF(smtp_quit_timeout_ms), NULL},
    {"spool_segment_size", P_SIZE, "64m", 0, 65536, (int64_t)1 << 34, OFF(spool_segment_size), NULL},
};
#define NPARAMS (sizeof params / sizeof params[0])

/* find_param - the definition of name, or NULL */
static const struct param *find_param(const char *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

static int check_listen(const char *v, const char **err)
{
    netaddr a;
    return netaddr_parse(v, 0, &a, err);
}

static int check_cidr(const char *v, const char **err)
{
    cidr c;
    if (cidr_parse(v, &c) == 0)
        return 0;
    *err = "expected a network like 127.0.0.0/8 or [::1]/128";
    return -1;
}

static int check_tls_level(const char *v, const char **err)
{
    if (!*v || !strcmp(v, "none") || !strcmp(v, "may") || !strcmp(v, "encrypt"))
        return 0;
    *err = "expected none, may or encrypt";
    return -1;
}

static int check_relayhost(const char *v, const char **err)
{
    nexthop nh;
    return nexthop_parse(v, &nh, err);
}

static int check_transport(const char *v, const char **err)
{
    return nexthop_check_map_entry(v, err);
}

static int check_smtp_tls_level(const char *v, const char **err)
{
    static const char *const ok[] = {"none", "may", "encrypt", "verify"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(v, ok[i]))
            return 0;
    *err = "expected none, may, encrypt or verify";
    return -1;
}

static int check_tls_policy(const char *v, const char **err)
{
    const char *sp = v + strcspn(v, " \t");
    if (sp == v || !*sp) {
        *err = "expected \"DOMAIN LEVEL\" (e.g. \"example.com verify\")";
        return -1;
    }
    return check_smtp_tls_level(sp + strspn(sp, " \t"), err);
}

static int check_dns_server(const char *v, const char **err)
{
    char host[64];
    const char *at = strchr(v, '@');
    size_t n = at ? (size_t)(at - v) : strlen(v);
    netaddr a;
    if (n >= sizeof host || (at && (!at[1] || strspn(at + 1, "0123456789") != strlen(at + 1)))) {
        *err = "expected ADDRESS or ADDRESS@PORT (e.g. 127.0.0.1@5353)";
        return -1;
    }
    memcpy(host, v, n);
    host[n] = 0;
    if (netaddr_parse(host, 53, &a, err) < 0 || strchr(host, '[')) {
        *err = "expected a numeric address, optionally @PORT";
        return -1;
    }
    return 0;
}

static int check_log_format(const char *v, const char **err)
{
    if (!strcmp(v, "text") || !strcmp(v, "json"))
        return 0;
    *err = "expected text or json";
    return -1;
}

static int check_bind(const char *v, const char **err)
{
    netaddr a;
    if (!*v || netaddr_parse(v, 1, &a, err) == 0)
        return 0;
    *err = "expected a numeric IP address";
    return -1;
}

static int check_ip(const char *v, const char **err)
{
    if (*v && check_bind(v, err) == 0)
        return 0;
    *err = "expected a numeric IP address";
    return -1;
}

static int check_zone(const char *v, const char **err)
{
    if (dns_valid_name(v))
        return 0;
    *err = "expected a DNS zone name like zen.spamhaus.org";
    return -1;
}

static int check_dkim_key(const char *v, const char **err)
{
    char dom[256], sel[64], path[1024], extra[2];
    if (sscanf(v, "%255s %63s %1023s %1s", dom, sel, path, extra) != 3) {
        *err = "expected \"DOMAIN SELECTOR /path/to/key.pem\"";
        return -1;
    }
    if (!dns_valid_name(dom) || !dns_valid_name(sel)) {
        *err = "the domain and the selector must be valid DNS names";
        return -1;
    }
    if (path[0] != '/') {
        *err = "the key file must be an absolute path";
        return -1;
    }
    return 0;
}

static int check_field_name(const char *v, const char **err)
{
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == ':') {
            *err = "expected a header field name like List-Unsubscribe";
            return -1;
        }
    if (*v)
        return 0;
    *err = "expected a header field name like List-Unsubscribe";
    return -1;
}

static int check_abs_path(const char *v, const char **err)
{
    if (v[0] == '/')
        return 0;
    *err = "must be an absolute path";
    return -1;
}

static int check_log_level(const char *v, const char **err)
{
    if (log_parse_level(v) >= 0)
        return 0;
    *err = "expected debug, info, notice, warning or error";
    return -1;
}

static int check_log_target(const char *v, const char **err)
{
    if (!*v || !strcmp(v, "stderr") || !strcmp(v, "syslog") || v[0] == '/')
        return 0;
    *err = "expected empty (stderr), stderr, syslog or an absolute file path";
    return -1;
}

/* strlist_clear - free the items */
static void strlist_clear(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* strlist_split - items separated by commas and/or white space, appended to l */
static void strlist_split(strlist *l, const char *text)
{
    const char *p = text;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ", \t\r\n");
        if (!n)
            break;
        l->v = xrealloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
        l->v[l->n++] = xstrndup(p, n);
        p += n;
    }
}

/* strlist_split_map - items separated by commas or newlines, spaces inside kept */
static void strlist_split_map(strlist *l, const char *text)
{
    const char *p = text;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ",\r\n");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!n)
            break;
        l->v = xrealloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
        l->v[l->n++] = xstrndup(p, n);
        p += n;
        p += strcspn(p, ",\r\n");
    }
}

/* parse_number - the numeric types of a parameter; 0 or -1 with *err set */
static int parse_number(const struct param *p, const char *text, int64_t *out, const char **err)
{
    int rc;
    if (p->type == P_TIME)
        rc = units_parse_time(text, p->unit, out);
    else if (p->type == P_SIZE)
        rc = units_parse_size(text, out);
    else {
        char *end;
        long long v = strtoll(text, &end, 10);
        rc = (end == text || *end) ? -1 : 0;
        *out = v;
    }
    if (rc < 0) {
        *err = p->type == P_TIME ? "expected a time such as 300s, 5m, 1h, 5d or 1w"
               : p->type == P_SIZE ? "expected a size in bytes (optional k, m or g suffix)"
                                   : "expected an integer";
        return -1;
    }
    if (*out < p->min || *out > p->max) {
        *err = "value out of range";
        return -1;
    }
    return 0;
}

/* param_set - parse text as the value of p into cfg; 0, or -1 with *err set */
static int param_set(sl_config *cfg, const struct param *p, const char *text, const char **err)
{
    void *field = (char *)cfg + p->off;
    switch (p->type) {
    case P_STR:
        if (p->check && p->check(text, err) < 0)
            return -1;
        free(*(char **)field);
        *(char **)field = xstrdup(text);
        return 0;
    case P_BOOL: {
        int b = units_parse_bool(text);
        if (b < 0) {
            *err = "expected yes or no";
            return -1;
        }
        *(int *)field = b;
        return 0;
    }
    case P_LIST:
    case P_MAP: {
        strlist l = {0};
        if (p->type == P_MAP)
            strlist_split_map(&l, text);
        else
            strlist_split(&l, text);
        for (int i = 0; i < l.n; i++)
            if (p->check && p->check(l.v[i], err) < 0) {
                strlist_clear(&l);
                return -1;
            }
        strlist_clear((strlist *)field);
        *(strlist *)field = l;
        return 0;
    }
    default:
        return parse_number(p, text, (int64_t *)field, err);
    }
}

/* setting_text - a libconfig setting as the text param_set takes; NULL for a group */
static char *setting_text(config_setting_t *s)
{
    dbuf b = {0};
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        return xstrdup(config_setting_get_string(s));
    case CONFIG_TYPE_INT:
        return xasprintf("%d", config_setting_get_int(s));
    case CONFIG_TYPE_INT64:
        return xasprintf("%lld", config_setting_get_int64(s));
    case CONFIG_TYPE_FLOAT:
        return xasprintf("%.17g", config_setting_get_float(s));
    case CONFIG_TYPE_BOOL:
        return xstrdup(config_setting_get_bool(s) ? "yes" : "no");
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        for (int i = 0; i < config_setting_length(s); i++) {
            char *t = setting_text(config_setting_get_elem(s, (unsigned)i));
            if (!t) {
                dbuf_free(&b);
                return NULL;
            }
            dbuf_printf(&b, "%s%s", i ? ", " : "", t);
            free(t);
        }
        return (char *)dbuf_steal(&b, NULL);
    default:
        return NULL;
    }
}

#define CONFIG_MAX_FILE (16u << 20)

/* secret - the parameter's values are not to be shown (they hold passwords) */
static int secret(const struct param *p)
{
    return strcmp(p->name, "smtp_sasl_password_maps") == 0;
}

/* load_file - apply every setting of the file (or of text, named path); 0, or -1 with err */
static int load_file(sl_config *cfg, const char *path, const char *text, char *err, int errlen)
{
    config_t cf;
    config_init(&cf);
    int rc = -1;
    char *own = NULL;
    if (!text) {   /* read here, so that large integers can be widened first */
        own = read_file_all(path, CONFIG_MAX_FILE, NULL, err, errlen);
        if (!own) {
            config_destroy(&cf);
            return -1;
        }
        text = own;
    }
    int inc = config_has_include(text);
    char *wide = inc ? NULL : config_widen_ints(text);
    int ok = wide ? config_read_string(&cf, wide) : CONFIG_FALSE;
    free(wide);
    free(own);
    if (inc) {   /* an included file would escape the widening: large values would wrap */
        snprintf(err, (size_t)errlen, "%s:%d: @include is not supported: sluice's configuration is "
                 "one file", path, inc);
        goto out;
    }
    if (ok != CONFIG_TRUE) {
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
            snprintf(err, (size_t)errlen, "%s: cannot read the file", path);
        else
            snprintf(err, (size_t)errlen, "%s:%d: %s",
                     config_error_file(&cf) ? config_error_file(&cf) : path,
                     config_error_line(&cf), config_error_text(&cf));
        goto out;
    }
    config_setting_t *root = config_root_setting(&cf);
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int line = (int)config_setting_source_line(s);
        const struct param *p = find_param(name);
        if (!p) {
            snprintf(err, (size_t)errlen, "%s:%d: unknown parameter '%s'", path, line, name);
            goto out;
        }
        char *val = setting_text(s);
        const char *why = "expected a value, not a group";
        if (!val || param_set(cfg, p, val, &why) < 0) {
            snprintf(err, (size_t)errlen, "%s:%d: %s = %s: %s", path, line, name,
                     !val ? "{...}" : secret(p) ? "(not shown: it holds passwords)" : val, why);
            free(val);
            goto out;
        }
        free(val);
    }
    rc = 0;
out:
    config_destroy(&cf);
    return rc;
}

/* apply_override - one "name=value" */
static int apply_override(sl_config *cfg, const char *kv, char *err, int errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(err, (size_t)errlen, "-o %s: expected name=value", kv);
        return -1;
    }
    char *name = xstrndup(kv, (size_t)(eq - kv));
    size_t nl = strlen(name);
    while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
        name[--nl] = 0;
    const char *value = eq + 1 + strspn(eq + 1, " \t");
    const struct param *p = find_param(name);
    const char *why = NULL;
    int rc = 0;
    if (!p) {
        snprintf(err, (size_t)errlen, "-o %s: unknown parameter '%s'", kv, name);
        rc = -1;
    } else if (param_set(cfg, p, value, &why) < 0) {
        snprintf(err, (size_t)errlen, "-o %s%s: %s", secret(p) ? name : kv,
                 secret(p) ? "=(not shown: it holds passwords)" : "", why);
        rc = -1;
    }
    free(name);
    return rc;
}

/* default_hostname - the host's name, fully qualified when the resolver knows it */
static char *default_hostname(void)
{
    char h[256] = "localhost";
    gethostname(h, sizeof h - 1);
    h[sizeof h - 1] = 0;
    if (!strchr(h, '.')) {
        struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *res = NULL;
        if (getaddrinfo(h, NULL, &hints, &res) == 0 && res && res->ai_canonname &&
            strchr(res->ai_canonname, '.')) {
            char *c = xstrdup(res->ai_canonname);
            freeaddrinfo(res);
            return c;
        }
        if (res)
            freeaddrinfo(res);
    }
    return xstrdup(h);
}

/* derive - fill the derived fields and cross-parameter checks */
static int derive(sl_config *cfg, char *err, int errlen)
{
    if (!cfg->myhostname[0]) {
        free(cfg->myhostname);
        cfg->myhostname = default_hostname();
    }
    if (!cfg->smtp_helo_name[0]) {
        free(cfg->smtp_helo_name);
        cfg->smtp_helo_name = xstrdup(cfg->myhostname);
    }
    if (cfg->maximal_backoff_time_ms < cfg->minimal_backoff_time_ms) {
        snprintf(err, (size_t)errlen, "maximal_backoff_time is less than minimal_backoff_time");
        return -1;
    }
    if (!cfg->myorigin[0]) {
        free(cfg->myorigin);
        cfg->myorigin = xstrdup(cfg->myhostname);
    }
    cfg->mynetworks_cidr = xcalloc((size_t)cfg->mynetworks.n + 1, sizeof(cidr));
    for (int i = 0; i < cfg->mynetworks.n; i++)
        cidr_parse(cfg->mynetworks.v[i], &cfg->mynetworks_cidr[cfg->n_mynetworks_cidr++]);
    cfg->listen_addrs = xcalloc((size_t)cfg->listen.n + 1, sizeof(netaddr));
    for (int i = 0; i < cfg->listen.n; i++) {
        const char *why;
        netaddr_parse(cfg->listen.v[i], 0, &cfg->listen_addrs[cfg->n_listen_addrs++], &why);
    }
    int has_cert = cfg->smtpd_tls_cert_file[0] != 0, has_key = cfg->smtpd_tls_key_file[0] != 0;
    if (has_cert != has_key) {
        snprintf(err, (size_t)errlen, "smtpd_tls_cert_file and smtpd_tls_key_file go together");
        return -1;
    }
    if (!strcmp(cfg->smtpd_tls_security_level, "encrypt") && !has_cert) {
        snprintf(err, (size_t)errlen, "smtpd_tls_security_level = encrypt needs smtpd_tls_cert_file");
        return -1;
    }
    if (!cfg->smtpd_tls_security_level[0]) {
        free(cfg->smtpd_tls_security_level);
        cfg->smtpd_tls_security_level = xstrdup(has_cert ? "may" : "none");
    }
    return config_sasl_load(cfg, err, errlen);
}

/* load - the shared body of config_load and config_load_text */
static sl_config *load(const char *path, const char *text, char *const *overrides,
                       int n_overrides, char *err, int errlen)
{
    sl_config *cfg = xcalloc(1, sizeof *cfg);
    for (size_t i = 0; i < NPARAMS; i++) {
        const char *why;
        if (param_set(cfg, &params[i], params[i].def, &why) < 0)
            panic("default of %s does not parse: %s", params[i].name, why);
    }
    if (path) {
        cfg->path = xstrdup(path);
        if (load_file(cfg, path, text, err, errlen) < 0)
            goto fail;
    }
    for (int i = 0; i < n_overrides; i++)
        if (apply_override(cfg, overrides[i], err, errlen) < 0)
            goto fail;
    if (derive(cfg, err, errlen) < 0)
        goto fail;
    return cfg;
fail:
    config_free(cfg);
    return NULL;
}

sl_config *config_load(const char *path, char *const *overrides, int n_overrides, char *err,
                       int errlen)
{
    return load(path, NULL, overrides, n_overrides, err, errlen);
}

sl_config *config_load_text(const char *text, const char *name, char *const *overrides,
                            int n_overrides, char *err, int errlen)
{
    return load(name, text, overrides, n_overrides, err, errlen);
}

void config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NPARAMS; i++) {
        void *field = (char *)cfg + params[i].off;
        if (params[i].type == P_STR)
            free(*(char **)field);
        else if (params[i].type == P_LIST || params[i].type == P_MAP)
            strlist_clear((strlist *)field);
    }
    free(cfg->mynetworks_cidr);
    free(cfg->listen_addrs);
    strlist_clear(&cfg->smtp_sasl_entries);
    free(cfg->path);
    free(cfg);
}

/* value_text - a parameter's value formatted as text (caller frees) */
static char *value_text(const sl_config *cfg, const struct param *p)
{
    const void *field = (const char *)cfg + p->off;
    char tb[32];
    switch (p->type) {
    case P_STR:
        return xstrdup(*(char *const *)field);
    case P_BOOL:
        return xstrdup(*(const int *)field ? "yes" : "no");
    case P_TIME:
        return xstrdup(units_format_ms(*(const int64_t *)field, tb, sizeof tb));
    case P_LIST:
    case P_MAP: {
        const strlist *l = field;
        dbuf b = {0};
        for (int i = 0; i < l->n; i++) {
            char *shown = secret(p) ? config_sasl_mask(l->v[i]) : NULL;
            dbuf_printf(&b, "%s%s", i ? ", " : "", shown ? shown : l->v[i]);
            free(shown);
        }
        return (char *)dbuf_steal(&b, NULL);
    }
    default:
        return xasprintf("%lld", (long long)*(const int64_t *)field);
    }
}

const char *config_map_get(const strlist *map, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < map->n; i++) {
        const char *e = map->v[i];
        size_t n = strcspn(e, " \t");
        if (n == kl && strncasecmp(e, key, n) == 0)
            return e + n + strspn(e + n, " \t");
    }
    return NULL;
}

char *config_param_value(const sl_config *cfg, const char *name)
{
    const struct param *p = find_param(name);
    return p ? value_text(cfg, p) : NULL;
}

void config_dump(const sl_config *cfg, int nondefault, FILE *out)
{
    sl_config *def = nondefault ? config_load(NULL, NULL, 0, (char[8]){0}, 8) : NULL;
    for (size_t i = 0; i < NPARAMS; i++) {
        char *v = value_text(cfg, &params[i]);
        char *d = def ? value_text(def, &params[i]) : NULL;
        if (!d || strcmp(v, d) != 0)
            fprintf(out, "%s = %s\n", params[i].name, v);
        free(v);
        free(d);
    }
    config_free(def);
}
