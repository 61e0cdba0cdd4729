/* maincf_params.c - the table of Postfix parameters doctor advise checks (maincf_params.h),
 * Postfix's value grammar for times and integers, and spelling suggestions.  Defaults are
 * Postfix 3.x's (postconf(5)); "$name" defaults stay references, expanded by maincf.c. */
#include "doctor/maincf_params.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const maincf_param params[] = {
    /* the queue manager's retry schedule */
    {"queue_run_delay", MCP_TIME, "300s", 's', "how often the queue manager scans the deferred queue"},
    {"minimal_backoff_time", MCP_TIME, "300s", 's', "the least time between attempts to deliver a deferred message"},
    {"maximal_backoff_time", MCP_TIME, "4000s", 's', "the most time between attempts to deliver a deferred message"},
    {"maximal_queue_lifetime", MCP_TIME, "5d", 'd', "how long a message may stay in the queue before it is returned"},
    {"bounce_queue_lifetime", MCP_TIME, "5d", 'd', "the same for bounce messages"},
    {"delay_warning_time", MCP_TIME, "0h", 'h', "when the sender is told of a delay (0: never)"},
    {"transport_retry_time", MCP_TIME, "60s", 's', "how often a failed delivery transport is retried"},
    /* per-destination scheduling (queue manager) */
    {"default_destination_concurrency_limit", MCP_INT, "20", 0, "parallel deliveries to one destination"},
    {"smtp_destination_concurrency_limit", MCP_INT, "$default_destination_concurrency_limit", 0,
     "parallel deliveries to one destination by the smtp transport"},
    {"initial_destination_concurrency", MCP_INT, "5", 0, "the concurrency a destination starts at"},
    {"default_destination_concurrency_failed_cohort_limit", MCP_INT, "1", 0,
     "failed connections in a row before a destination is marked dead"},
    {"smtp_destination_concurrency_failed_cohort_limit", MCP_INT,
     "$default_destination_concurrency_failed_cohort_limit", 0, "the same for the smtp transport"},
    {"default_destination_concurrency_positive_feedback", MCP_STR, "1/concurrency", 0, "concurrency increase"},
    {"default_destination_concurrency_negative_feedback", MCP_STR, "1/concurrency", 0, "concurrency decrease"},
    {"default_destination_rate_delay", MCP_TIME, "0s", 's', "pause between deliveries to one destination"},
    {"smtp_destination_rate_delay", MCP_TIME, "$default_destination_rate_delay", 's',
     "pause between deliveries to one destination by the smtp transport"},
    {"default_destination_recipient_limit", MCP_INT, "50", 0, "recipients per delivery (one SMTP transaction)"},
    {"smtp_destination_recipient_limit", MCP_INT, "$default_destination_recipient_limit", 0,
     "recipients per delivery by the smtp transport"},
    {"default_extra_recipient_limit", MCP_INT, "1000", 0,
     "recipients the queue manager may read into memory beyond a transport's limit"},
    {"smtp_extra_recipient_limit", MCP_INT, "$default_extra_recipient_limit", 0,
     "the same for the smtp transport (memory, not deliveries)"},
    {"default_recipient_limit", MCP_INT, "20000", 0, "recipients in memory per transport"},
    {"qmgr_message_active_limit", MCP_INT, "20000", 0, "messages in the active queue"},
    {"qmgr_message_recipient_limit", MCP_INT, "20000", 0, "recipients in memory"},
    {"default_process_limit", MCP_INT, "100", 0, "processes per service"},
    /* the smtp client */
    {"smtp_connection_cache_on_demand", MCP_BOOL, "yes", 0, "reuse connections to busy destinations"},
    {"smtp_connection_cache_destinations", MCP_STR, "", 0, "destinations whose connections are always reused"},
    {"smtp_connection_cache_time_limit", MCP_TIME, "2s", 's', "how long an idle connection is kept"},
    {"smtp_connection_reuse_count_limit", MCP_INT, "0", 0, "messages per connection (0: no limit; Postfix 3.4)"},
    {"smtp_connection_reuse_time_limit", MCP_TIME, "300s", 's', "how long a connection is reused"},
    {"smtp_mx_address_limit", MCP_INT, "5", 0, "MX addresses tried per delivery"},
    {"smtp_mx_session_limit", MCP_INT, "2", 0, "SMTP sessions per delivery"},
    {"smtp_connect_timeout", MCP_TIME, "30s", 's', "the TCP connect timeout"},
    {"smtp_helo_timeout", MCP_TIME, "300s", 's', "the greeting and HELO timeout"},
    {"smtp_helo_name", MCP_STR, "$myhostname", 0, "the name sent in EHLO"},
    {"smtp_bind_address", MCP_STR, "", 0, "the IPv4 source address"},
    {"smtp_bind_address6", MCP_STR, "", 0, "the IPv6 source address"},
    {"smtp_tls_security_level", MCP_STR, "", 0, "outbound TLS"},
    {"smtp_fallback_relay", MCP_STR, "$fallback_relay", 0, "where mail goes when the MX hosts fail"},
    {"fallback_relay", MCP_STR, "", 0, "the older name of smtp_fallback_relay"},
    /* names, routing */
    {"myhostname", MCP_STR, "", 0, "this host's name"},
    {"mydomain", MCP_STR, "", 0, "this host's domain"},
    {"myorigin", MCP_STR, "$myhostname", 0, "the domain of locally posted mail"},
    {"relayhost", MCP_STR, "", 0, "the next hop for all mail"},
    {"transport_maps", MCP_STR, "", 0, "per-domain transports"},
    {"default_transport", MCP_STR, "smtp", 0, "the transport for mail that is not local"},
    {"inet_interfaces", MCP_STR, "all", 0, "addresses the SMTP server listens on"},
    {"inet_protocols", MCP_STR, "all", 0, "IPv4, IPv6 or both"},
    {"maillog_file", MCP_STR, "", 0, "postlog's log file"},
    {"compatibility_level", MCP_STR, "0", 0, "which defaults apply"},
    /* the receiving side, often confused with the sending side */
    {"smtpd_client_connection_count_limit", MCP_INT, "50", 0, "connections one client may open to this host"},
    {"smtpd_client_connection_rate_limit", MCP_INT, "0", 0, "connections per time unit from one client"},
    {"smtpd_client_message_rate_limit", MCP_INT, "0", 0, "messages per time unit from one client"},
    {"anvil_rate_time_unit", MCP_TIME, "60s", 's', "the time unit of the smtpd rate limits"},
};
#define NPARAMS (sizeof params / sizeof params[0])

/* Per-transport families: TRANSPORT + suffix; qmgr: read by the queue manager. */
static const struct family {
    const char *suffix;
    int qmgr;
} families[] = {
    {"_destination_concurrency_limit", 1},
    {"_destination_rate_delay", 1},
    {"_destination_recipient_limit", 1},
    {"_extra_recipient_limit", 1},
    {"_initial_destination_concurrency", 1},
    {"_destination_concurrency_failed_cohort_limit", 1},
    {"_destination_concurrency_positive_feedback", 1},
    {"_destination_concurrency_negative_feedback", 1},
    {"_recipient_limit", 1},
    {"_delivery_slot_cost", 1},
};

/* Misspellings too far from the right name for the edit distance. */
static const char *const confusions[][2] = {
    {"smtp_destination_rate_limit", "smtp_destination_rate_delay"},
    {"default_destination_rate_limit", "default_destination_rate_delay"},
    {"smtp_recipient_limit", "smtp_destination_recipient_limit"},
    {"smtp_concurrency_limit", "smtp_destination_concurrency_limit"},
    {"smtp_connection_reuse_limit", "smtp_connection_reuse_count_limit"},
    {"queue_lifetime", "maximal_queue_lifetime"},
    {"max_queue_lifetime", "maximal_queue_lifetime"},
    {"min_backoff_time", "minimal_backoff_time"},
    {"max_backoff_time", "maximal_backoff_time"},
};

const maincf_param *maincf_param_find(const char *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].name, name))
            return &params[i];
    return NULL;
}

/* distance - Damerau-Levenshtein (adjacent transpositions) between a and b, capped at 9 */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64 || (n > m ? n - m : m - n) > 3)
        return 9;
    int d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + c < v)
                v = d[i - 1][j - 1] + c;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m] > 9 ? 9 : d[n][m];
}

const char *maincf_param_similar(const char *name)
{
    if (maincf_param_find(name))
        return NULL;
    for (size_t i = 0; i < sizeof confusions / sizeof confusions[0]; i++)
        if (!strcmp(name, confusions[i][0]))
            return confusions[i][1];
    char under[128];
    snprintf(under, sizeof under, "%s", name);
    for (char *p = under; *p; p++)
        *p = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
    const maincf_param *exact = strcmp(under, name) ? maincf_param_find(under) : NULL;
    if (exact)
        return exact->name;
    const char *best = NULL;
    int bd = strlen(name) >= 12 ? 3 : 2;   /* the distance allowed, plus one */
    for (size_t i = 0; i < NPARAMS; i++) {
        int d = distance(name, params[i].name);
        if (d > 0 && d < bd) {
            bd = d;
            best = params[i].name;
        }
    }
    return best;
}

const char *maincf_param_transport(const char *name, int *plen)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        size_t k = strlen(families[i].suffix);
        if (n > k && !strcmp(name + n - k, families[i].suffix)) {
            *plen = (int)(n - k);
            return families[i].suffix;
        }
    }
    return NULL;
}

int maincf_param_qmgr(const char *suffix)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!strcmp(suffix, families[i].suffix))
            return families[i].qmgr;
    return 0;
}

/* unit_secs - seconds in one unit, or 0 for a letter that is no unit */
static long long unit_secs(char u)
{
    switch (u) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 604800;
    default: return 0;
    }
}

int maincf_time_parse(const char *v, char unit, long long *secs)
{
    const char *p = v;
    long long n = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > 1000000000000LL)
            return -1;
        n = n * 10 + (*p - '0');
    }
    char u = *p ? *p : unit;   /* lower case only, as Postfix */
    if (*p && p[1])
        return -1;
    long long k = unit_secs(u);
    if (!k)
        return -1;
    *secs = n * k;
    return *p ? 0 : 1;
}

int maincf_int_parse(const char *v, long long *out)
{
    long long n = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    for (; isdigit((unsigned char)*v); v++) {
        if (n > 1000000000000LL)
            return -1;
        n = n * 10 + (*v - '0');
    }
    if (*v)
        return -1;
    *out = n;
    return 0;
}

const char *maincf_unit_name(char unit)
{
    switch (unit) {
    case 's': return "seconds";
    case 'm': return "minutes";
    case 'h': return "hours";
    case 'd': return "days";
    case 'w': return "weeks";
    default: return "?";
    }
}

const char *maincf_dur(long long secs, char *buf, int n)
{
    static const char units[] = "wdhm";
    for (int i = 0; units[i]; i++) {
        long long k = unit_secs(units[i]);
        if (secs >= k && secs % k == 0) {
            snprintf(buf, (size_t)n, "%lld%c", secs / k, units[i]);
            return buf;
        }
    }
    snprintf(buf, (size_t)n, "%llds", secs);
    return buf;
}
