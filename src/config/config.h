/* config.h - sluice's parameters: Postfix's names, meanings and units where Postfix has the
 * knob.  One file (libconfig syntax, `name = value;`), then `-o name=value` overrides, on top
 * of built-in defaults.  Errors name the file and line (or the -o argument).
 * A config is owned by whoever loaded it; config_free releases it. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H
#include <stdint.h>
#include <stdio.h>

#include "common/netaddr.h"

typedef struct strlist {
    char **v;
    int n;
} strlist;

typedef struct sl_config {
    /* paths and names */
    char *queue_directory;
    char *myhostname;
    char *myorigin;
    char *mail_owner;
    /* logging */
    char *maillog_file;
    char *log_level;
    /* submission listeners and relay control */
    strlist listen;
    strlist mynetworks;
    char *smtpd_banner;
    int64_t message_size_limit;
    int64_t queue_minfree;             /* bytes; MAIL is refused below max(this, 1.5 x size limit) */
    int64_t smtpd_recipient_limit;
    int64_t smtpd_recipient_overshoot_limit;
    int64_t smtpd_client_connection_count_limit;
    int64_t smtpd_connection_limit;
    int64_t smtpd_timeout_ms;
    int64_t smtpd_hard_error_limit;
    int64_t smtpd_soft_error_limit;
    int64_t smtpd_error_sleep_time_ms;
    int64_t line_length_limit;
    char *smtpd_tls_cert_file;
    char *smtpd_tls_key_file;
    char *smtpd_tls_security_level;
    /* routing and DNS */
    char *relayhost;
    strlist transport_maps;        /* "DOMAIN NEXTHOP" entries */
    strlist dns_servers;
    int64_t dns_timeout_ms;
    char *log_format;              /* text or json (delivery lines) */
    /* retries */
    int64_t minimal_backoff_time_ms, maximal_backoff_time_ms, queue_run_delay_ms;
    int64_t maximal_queue_lifetime_ms, bounce_queue_lifetime_ms, delay_warning_time_ms;
    char *double_bounce_recipient; /* Postfix's 2bounce_notice_recipient; "" logs and drops */
    /* per-destination scheduling */
    int64_t smtp_destination_concurrency_limit;
    int64_t initial_destination_concurrency;
    int64_t smtp_destination_rate_delay_ms;
    int64_t smtp_destination_recipient_limit;
    int64_t smtp_connection_limit;
    int64_t smtp_connection_cache_time_limit_ms;
    int64_t smtp_connection_reuse_count_limit;
    int64_t smtp_connection_reuse_time_limit_ms;
    /* shaping: reading the receiver */
    int shaping;
    strlist reply_class_rules;
    int64_t concurrency_probe_time_ms, rate_probe_time_ms;
    int64_t greylist_min_retry_time_ms, greylist_max_retry_time_ms;
    int64_t overload_backoff_time_ms, overload_max_backoff_time_ms;
    int64_t reputation_backoff_time_ms, reputation_max_backoff_time_ms;
    char *smtp_fallback_relay;
    /* watching our own sending addresses on DNS blocklists (daemon/blwatch.c) */
    strlist dnsbl_watch_addresses;   /* empty: smtp_bind_address(6), else the kernel's choice */
    strlist dnsbl_watch_zones;       /* empty: the doctor's curated list */
    int64_t dnsbl_watch_interval_ms; /* 0: off */
    /* DKIM signing (daemon/signer.c) */
    strlist dkim_signing_keys;       /* "DOMAIN SELECTOR KEYFILE" */
    strlist dkim_signed_headers, dkim_oversigned_headers;
    /* sending addresses: classes and warm-up (sched/sched_source.c) */
    strlist smtp_source_classes;     /* "CLASS ADDR [ADDR...]" */
    strlist smtp_source_class_maps;  /* "SENDER CLASS" */
    char *smtp_source_default_class;
    strlist ip_warmup_schedule;      /* "ADDR YYYY-MM-DD TARGET [START [FACTOR [PERIOD]]]" */
    /* the SMTP client */
    int64_t smtp_port;
    char *smtp_helo_name;
    char *smtp_bind_address, *smtp_bind_address6;
    int64_t smtp_mx_address_limit;
    char *smtp_tls_security_level;
    strlist smtp_tls_policy_maps;  /* "DOMAIN LEVEL" entries */
    char *smtp_tls_CAfile;
    int smtp_use_chunking;        /* send with BDAT (RFC 3030) where CHUNKING is offered */
    int smtp_sasl_auth_enable;    /* log in (SMTP AUTH) where smtp_sasl_password_maps has a login */
    strlist smtp_sasl_password_maps;   /* "NEXTHOP USER:PASSWORD" entries and/or files */
    strlist smtp_sasl_security_options, smtp_sasl_tls_security_options;
    strlist smtp_sasl_mechanism_filter;   /* PLAIN and/or LOGIN; empty: both */
    int64_t smtp_connect_timeout_ms, smtp_helo_timeout_ms, smtp_starttls_timeout_ms,
        smtp_mail_timeout_ms, smtp_rcpt_timeout_ms, smtp_data_init_timeout_ms,
        smtp_data_xfer_timeout_ms, smtp_data_done_timeout_ms, smtp_quit_timeout_ms;
    /* spool */
    int64_t spool_segment_size;

    /* derived, filled by config_load */
    cidr *mynetworks_cidr;
    int n_mynetworks_cidr;
    netaddr *listen_addrs;
    int n_listen_addrs;
    strlist smtp_sasl_entries;    /* smtp_sasl_password_maps with its files read */
    char *path;   /* the file loaded, or NULL */
} sl_config;

/* config_load - defaults, then the file (NULL for none), then each "name=value" override.
 * Returns a new config, or NULL with a message in err (file:line: text). */
sl_config *config_load(const char *path, char *const *overrides, int n_overrides,
                       char *err, int errlen);
/* config_load_text - the same from text in memory, errors naming it name */
sl_config *config_load_text(const char *text, const char *name, char *const *overrides,
                            int n_overrides, char *err, int errlen);
void config_free(sl_config *cfg);
/* config_dump - print every parameter as `name = value` (non-default only when nondefault) */
void config_dump(const sl_config *cfg, int nondefault, FILE *out);
/* config_param_value - the current value of one parameter as text (caller frees); NULL if
 * the name is unknown */
char *config_param_value(const sl_config *cfg, const char *name);
/* config_map_get - the value of the entry keyed key (any case) in a "KEY VALUE" map
 * parameter (transport_maps, smtp_source_class_maps, dkim_signing_keys, ...): the text after
 * the key and its blanks, pointing into the entry; NULL when there is none */
const char *config_map_get(const strlist *map, const char *key);
/* config_sasl_check_item - one smtp_sasl_password_maps item; 0 or -1 with *err */
int config_sasl_check_item(const char *v, const char **err);
/* config_sasl_parse - the lines "NEXTHOP USER:PASSWORD" of a password file (text is cut up
 * in place; name for errors) appended to l as entries; 0 or -1 with err */
int config_sasl_parse(strlist *l, char *text, const char *name, char *err, int errlen);
/* config_sasl_load - read the files of smtp_sasl_password_maps into smtp_sasl_entries */
int config_sasl_load(sl_config *cfg, char *err, int errlen);
/* config_sasl_mask - an item as shown: in "KEY USER:PASSWORD" the password starred (caller
 * frees) */
char *config_sasl_mask(const char *item);
/* config_has_include - the line of the first @include directive (at a line's start, as
 * libconfig reads it), or 0 */
int config_has_include(const char *text);
/* config_widen_ints - a copy of libconfig text (caller frees) in which every decimal integer
 * that does not fit 32 bits has an L suffix, so libconfig 1.5 does not wrap it (5000000000
 * would otherwise be read as 705032704) */
char *config_widen_ints(const char *text);

#endif
