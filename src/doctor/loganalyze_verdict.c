/* loganalyze_verdict.c - a destination's verdict and the reasons for it (loganalyze.h has the
 * list).  First the failures' categories are summed into verdict families (reply classes,
 * failures without replies, host replies included) and the largest family wins, ties going
 * to the more specific one.  When that family is greylisting or "unexplained" temporary
 * replies, the recipients' timelines decide, as the seed's step 5 says: deferred once or
 * twice and then delivered a minute or more later, few recipients needing three or more
 * retries -> greylisting; the same 4xx again and again across retry intervals while other
 * deliveries to the destination go through -> rate limiting.  Text that names greylisting
 * keeps the greylisting verdict, with a warning when the mail never passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/xmalloc.h"
#include "doctor/loganalyze_int.h"

/* The verdict family of each failure category. */
static const enum la_verdict family[LC_NCATS] = {
    [RC_GREYLISTING] = LV_GREYLISTING,   [RC_TOO_MANY_CONNECTIONS] = LV_TOO_MANY_CONNECTIONS,
    [RC_RATE_LIMITED] = LV_RATE_LIMITING, [RC_REPUTATION] = LV_REPUTATION,
    [RC_AUTHENTICATION] = LV_AUTHENTICATION, [RC_OVERLOADED] = LV_OVERLOAD,
    [RC_MAILBOX] = LV_MAILBOX,           [RC_PERMANENT] = LV_PERMANENT,
    [RC_OTHER] = LV_UNCLEAR,             [LC_CONNECT_TIMEOUT] = LV_NETWORK,
    [LC_REFUSED] = LV_NETWORK,           [LC_UNREACHABLE] = LV_NETWORK,
    [LC_GREETING_TIMEOUT] = LV_NETWORK,  [LC_TIMEOUT] = LV_NETWORK,
    [LC_LOST] = LV_NETWORK,              [LC_DNS] = LV_DNS,
    [LC_TLS] = LV_TLS,                   [LC_LOCAL] = LV_LOCAL,
};

/* Ties go to the first in this list. */
static const enum la_verdict priority[] = {
    LV_REPUTATION, LV_AUTHENTICATION, LV_TOO_MANY_CONNECTIONS, LV_RATE_LIMITING, LV_GREYLISTING,
    LV_OVERLOAD, LV_NETWORK, LV_DNS, LV_TLS, LV_MAILBOX, LV_PERMANENT, LV_LOCAL, LV_UNCLEAR};

static const char *const advice[LV_NVERDICTS] = {
    [LV_NONE] = "",
    [LV_HEALTHY] = "",
    [LV_GREYLISTING] = "nothing to fix: greylisted mail passes on retry; keep the first retry 5-30 "
                       "minutes later (minimal_backoff_time = 300s) and retry from the same IP address",
    [LV_RATE_LIMITING] = "send slower to this destination: smtp_destination_rate_delay (e.g. 1s-10s) and "
                         "fewer recipients per connection; retrying sooner or later does not help",
    [LV_TOO_MANY_CONNECTIONS] = "open fewer connections: smtp_destination_concurrency_limit = 2 (Postfix: "
                                "the same name, or <transport>_destination_concurrency_limit)",
    [LV_REPUTATION] = "the receiver distrusts the sending IP or domain: check `sluice doctor ip`, the "
                      "provider's postmaster pages, complaint rates; slow down and warm up",
    [LV_AUTHENTICATION] = "fix the sender's authentication: SPF, DKIM, DMARC alignment, PTR/FCrDNS "
                          "(`sluice doctor domain`, `sluice doctor ip`)",
    [LV_OVERLOAD] = "nothing to change here: the receiver is busy or in maintenance; retries deliver "
                    "when it recovers",
    [LV_MAILBOX] = "the recipients' mailboxes are full or unavailable: tell the senders; nothing to tune",
    [LV_PERMANENT] = "read the bounce texts: permanent refusals are not fixed by retrying",
    [LV_NETWORK] = "",
    [LV_DNS] = "check the destination's MX and A records and this host's resolver",
    [LV_TLS] = "check the TLS policy for this destination (smtp_tls_security_level, smtp_tls_policy_maps)",
    [LV_LOCAL] = "fix this host: the MTA's own configuration or local delivery failed",
    [LV_UNCLEAR] = "watch more retries: the replies give no cause and the timelines do not show a pattern yet",
};

static const char *const names[LV_NVERDICTS] = {
    "none", "healthy", "greylisting", "rate_limiting", "too_many_connections", "reputation",
    "authentication", "overload", "mailbox", "permanent", "network", "dns", "tls", "local", "unclear"};

static const char *const titles[LV_NVERDICTS] = {
    "no attempts", "healthy", "greylisting", "rate limiting", "too many connections", "reputation",
    "authentication", "overload or maintenance", "mailbox problems", "permanent failures",
    "network", "DNS", "TLS", "local problem", "unclear"};

enum la_verdict la_family(int cat)
{
    return cat >= 0 && cat < LC_NCATS ? family[cat] : LV_UNCLEAR;
}

const char *la_verdict_name(enum la_verdict v)
{
    return (unsigned)v < LV_NVERDICTS ? names[v] : "?";
}

const char *la_verdict_title(enum la_verdict v)
{
    return (unsigned)v < LV_NVERDICTS ? titles[v] : "?";
}

/* dur - a duration as text */
static const char *dur(double s, char *buf, size_t n)
{
    return la_dur_text(s, buf, n);
}

/* cat_total - failures of category c, host replies included */
static long cat_total(const la_dest *p, int c)
{
    return p->deferred_by[c] + p->bounced_by[c] + p->hostreply_by[c];
}

/* by_class - the verdict family with the most failures */
static enum la_verdict by_class(const la_dest *p)
{
    long score[LV_NVERDICTS] = {0};
    for (int c = 0; c < LC_NCATS; c++)
        score[family[c]] += cat_total(p, c);
    enum la_verdict best = LV_UNCLEAR;
    long bs = -1;
    for (size_t i = 0; i < sizeof priority / sizeof priority[0]; i++)
        if (score[priority[i]] > bs) {
            bs = score[priority[i]];
            best = priority[i];
        }
    return best;
}

/* top_cat - the category of family v with the most failures */
static int top_cat(const la_dest *p, enum la_verdict v)
{
    int best = -1;
    for (int c = 0; c < LC_NCATS; c++)
        if (family[c] == v && (best < 0 || cat_total(p, c) > cat_total(p, best)))
            best = c;
    return best < 0 ? RC_OTHER : best;
}

/* Timeline signatures (how the verdict was reached). */
enum how { BY_TEXT, BY_GREY_TIMELINE, BY_RATE_TIMELINE, GREY_NEVER_PASSES };

/* by_timeline - greylisting or rate limiting from the recipients' histories */
static enum la_verdict by_timeline(const la_dest_int *d, enum la_verdict v, enum how *how)
{
    const la_dest *p = &d->pub;
    int grey_tl = p->grey_pattern >= 1 && p->persistent * 2 < p->grey_pattern;
    int rate_tl = p->delivered > 0 && p->persistent >= 1 && p->persistent * 2 >= p->grey_pattern &&
                  (p->persistent_varied >= 1 || p->retry_deferred * 2 > p->retry_attempts);
    *how = BY_TEXT;
    if (d->explicit_grey || v == LV_GREYLISTING) {
        if (rate_tl && !grey_tl && !d->explicit_grey) {
            *how = BY_RATE_TIMELINE;
            return LV_RATE_LIMITING;
        }
        if (!grey_tl && p->persistent > 0)
            *how = GREY_NEVER_PASSES;
        return LV_GREYLISTING;
    }
    if (grey_tl) {
        *how = BY_GREY_TIMELINE;
        return LV_GREYLISTING;
    }
    if (rate_tl) {
        *how = BY_RATE_TIMELINE;
        return LV_RATE_LIMITING;
    }
    return v;
}

/* quote - the first reply text of category c, cut */
static void quote(dbuf *b, const la_dest_int *d, int c)
{
    if (d->first_text[c])
        dbuf_printf(b, " ('%.140s%s')", d->first_text[c], strlen(d->first_text[c]) > 140 ? "..." : "");
}

/* retries_text - "retries after 5m to 40m" */
static void retries_text(dbuf *b, const la_dest *p)
{
    char x[24], y[24];
    if (p->retry_interval.n)
        dbuf_printf(b, "; retries came %s to %s after a failure (median %s)",
                    dur(p->retry_interval.min, x, sizeof x), dur(p->retry_interval.max, y, sizeof y),
                    dur(p->retry_interval.median, x, sizeof x));
}

/* why_grey - the greylisting paragraph */
static void why_grey(dbuf *b, const la_dest_int *d, enum how how)
{
    const la_dest *p = &d->pub;
    char x[24], y[24];
    long passed = p->after_retry_ok[0] + p->after_retry_ok[1];
    dbuf_printf(b, "%ld of %ld attempts were deferred", p->deferred, p->attempts);
    quote(b, d, top_cat(p, d->explicit_grey || p->deferred_by[RC_GREYLISTING] ? LV_GREYLISTING : LV_UNCLEAR));
    if (passed)
        dbuf_printf(b, "; %ld recipient(s) deferred once or twice were delivered on a retry %s to %s later "
                       "(median %s)", passed, dur(p->pass_delay.min, x, sizeof x),
                    dur(p->pass_delay.max, y, sizeof y), dur(p->pass_delay.median, x, sizeof x));
    if (how == BY_GREY_TIMELINE)
        dbuf_printf(b, ". The text gives no cause, but the timelines show greylisting's signature "
                       "(deferred at first, accepted on a later retry, seed step 5)");
    else
        dbuf_printf(b, ". The receiver greylists: the first attempt from an unknown sender is deferred "
                       "and a retry after its delay is accepted");
    if (how == GREY_NEVER_PASSES)
        dbuf_printf(b, ". But %ld recipient(s) were still refused after 3 or more retries: the retries "
                       "may come from other IP addresses than the first attempt, or too soon",
                    p->persistent);
    if (!passed)
        retries_text(b, p);
}

/* why_rate - the rate limiting paragraph */
static void why_rate(dbuf *b, const la_dest_int *d, enum how how)
{
    const la_dest *p = &d->pub;
    dbuf_printf(b, "%ld of %ld attempts were deferred (%ld with 421)", p->deferred, p->attempts, p->n421);
    quote(b, d, top_cat(p, how == BY_RATE_TIMELINE ? by_class(p) : LV_RATE_LIMITING));
    if (p->persistent)
        dbuf_printf(b, "; %ld recipient(s) were refused 3 or more times", p->persistent);
    if (p->persistent_varied)
        dbuf_printf(b, ", %ld of them across different retry intervals", p->persistent_varied);
    if (p->retry_attempts)
        dbuf_printf(b, "; %ld of %ld retries failed again", p->retry_deferred, p->retry_attempts);
    if (p->delivered)
        dbuf_printf(b, "; meanwhile %ld deliveries were accepted (at most %.0f per minute, %.0f per hour)",
                    p->delivered, p->peak_per_min, p->peak_per_hour);
    retries_text(b, p);
    dbuf_printf(b, ". %s: the receiver caps how fast it accepts mail, whatever the retry interval "
                   "(seed step 5)", how == BY_RATE_TIMELINE ? "The text gives no cause, but the failures "
                   "persist while other mail gets through" : "The replies say so");
}

/* why_network - the network paragraph, by the dominant failure */
static void why_network(dbuf *b, const la_dest_int *d, int c)
{
    const la_dest *p = &d->pub;
    long n = p->deferred_by[c] + p->bounced_by[c];
    if (!n)
        n = p->hostreply_by[c];
    switch (c) {
    case LC_CONNECT_TIMEOUT:
        dbuf_printf(b, "%ld connection attempt(s) timed out: nothing answered on port 25%s", n,
                    p->delivered ? "" : " and no delivery succeeded. Outbound port 25 is probably blocked "
                    "(by the provider or a firewall), or the receiver drops this IP's packets");
        break;
    case LC_REFUSED:
        dbuf_printf(b, "%ld connection(s) were refused: nothing accepts connections on port 25 of that "
                       "MX, or a firewall rejects them", n);
        break;
    case LC_UNREACHABLE:
        dbuf_printf(b, "%ld attempt(s) found no route to the MX: a routing or firewall problem", n);
        break;
    case LC_GREETING_TIMEOUT:
        dbuf_printf(b, "%ld connection(s) were accepted but the server never greeted: a tarpit for "
                       "unknown or poorly rated IP addresses, or a middlebox eating SMTP", n);
        break;
    case LC_TIMEOUT:
        dbuf_printf(b, "%ld session(s) timed out after the greeting: a slow receiver or a broken path "
                       "(MTU, firewall inspecting SMTP)", n);
        break;
    default:
        dbuf_printf(b, "%ld session(s) were closed by the server in the middle: it drops this sender, "
                       "often right after a 421", n);
        break;
    }
    quote(b, d, c);
}

/* why_class - the other verdicts: what the replies say */
static void why_class(dbuf *b, const la_dest_int *d, enum la_verdict v)
{
    const la_dest *p = &d->pub;
    int c = top_cat(p, v);
    static const char *const says[LV_NVERDICTS] = {
        [LV_TOO_MANY_CONNECTIONS] = "say this host opens too many connections at once",
        [LV_REPUTATION] = "tie the refusal to the sending IP's or domain's reputation",
        [LV_AUTHENTICATION] = "point at SPF, DKIM, DMARC or reverse DNS",
        [LV_OVERLOAD] = "say the receiver is overloaded or in maintenance",
        [LV_MAILBOX] = "concern the recipients' mailboxes",
        [LV_PERMANENT] = "are permanent refusals",
        [LV_DNS] = "are name service failures",
        [LV_TLS] = "are TLS failures",
        [LV_LOCAL] = "are problems of this host",
        [LV_UNCLEAR] = "give no cause, and the timelines show no pattern yet",
    };
    dbuf_printf(b, "%ld of %ld attempts failed; %ld replies %s", p->deferred + p->bounced + p->expired,
                p->attempts, cat_total(p, c), says[v] ? says[v] : "");
    quote(b, d, c);
    if (v == LV_TOO_MANY_CONNECTIONS && p->peak_concurrency > 0)
        dbuf_printf(b, "; up to %d deliveries to it ran at once", p->peak_concurrency);
    if (d->pub.provider_code)
        dbuf_printf(b, "; %s code %s", d->pub.provider ? d->pub.provider : "provider", d->pub.provider_code);
}

/* status_of - how bad the verdict is */
static enum check_status status_of(const la_dest *p, enum la_verdict v, enum how how)
{
    long f = p->deferred + p->bounced + p->expired;
    enum check_status s;
    switch (v) {
    case LV_HEALTHY: return CK_PASS;
    case LV_NONE: return CK_INFO;
    case LV_GREYLISTING: s = how == GREY_NEVER_PASSES ? CK_WARN : CK_INFO; break;
    case LV_REPUTATION: case LV_AUTHENTICATION: return CK_FAIL;
    case LV_NETWORK: s = p->delivered ? CK_WARN : CK_FAIL; break;
    case LV_MAILBOX: case LV_PERMANENT: s = f * 10 < p->attempts ? CK_INFO : CK_WARN; break;
    default: s = CK_WARN;
    }
    if (s == CK_WARN && f * 50 < p->attempts)
        s = CK_INFO;   /* under 2% of attempts: noted, not a problem of the destination */
    if (s < CK_WARN && !p->delivered && f > 0 && v != LV_GREYLISTING)
        s = CK_WARN;
    return s;
}

/* provider_of - provider tag and code for the verdict's categories */
static void provider_of(la_dest_int *d, enum la_verdict v)
{
    int cats[LC_NCATS], n = 0;
    for (int c = 0; c < LC_NCATS; c++)
        if (family[c] == v)
            cats[n++] = c;
    d->pub.provider = la_tally_best(d->prov, d->nprov, cats, n);
    d->pub.provider_code = la_tally_best(d->codes, d->ncodes, cats, n);
    if (!d->pub.provider_code)
        d->pub.provider_code = la_tally_best(d->enhs, d->nenhs, cats, n);
    d->pub.top_reply = d->first_text[top_cat(&d->pub, v)];
}

/* network_advice - by the dominant network failure */
static const char *network_advice(int c, long delivered)
{
    if (c == LC_CONNECT_TIMEOUT && !delivered)
        return "test outbound port 25 (`sluice doctor probe DOMAIN`); ask the provider to open it, or "
               "relay through a smarthost (relayhost) on port 587";
    if (c == LC_REFUSED)
        return "check the destination's MX hosts and any local firewall; `sluice doctor probe DOMAIN`";
    if (c == LC_GREETING_TIMEOUT)
        return "check the sending IP's reputation (`sluice doctor ip`): tarpits hold unknown senders";
    return "`sluice doctor probe DOMAIN` shows which step of the session fails";
}

void la_verdict(loganalyzer *la, la_dest_int *d)
{
    (void)la;
    la_dest *p = &d->pub;
    dbuf b = {0};
    enum how how = BY_TEXT;
    enum la_verdict v;
    long f = p->deferred + p->bounced + p->expired;
    if (!p->attempts) {
        v = LV_NONE;
        dbuf_printf(&b, "no delivery attempts in the log (%ld deferrals without a connection)", p->suspended);
    } else if (!f) {
        v = LV_HEALTHY;
        dbuf_printf(&b, "all %ld attempts were delivered", p->attempts);
    } else {
        v = by_class(p);
        if (v == LV_GREYLISTING || v == LV_UNCLEAR)
            v = by_timeline(d, v, &how);
        provider_of(d, v);
        if (v == LV_GREYLISTING)
            why_grey(&b, d, how);
        else if (v == LV_RATE_LIMITING)
            why_rate(&b, d, how);
        else if (v == LV_NETWORK)
            why_network(&b, d, top_cat(p, v));
        else
            why_class(&b, d, v);
    }
    p->verdict = v;
    p->status = status_of(p, v, how);
    d->why = xstrdup(dbuf_cstr(&b));
    dbuf_free(&b);
    d->advice = xstrdup(v == LV_NETWORK ? network_advice(top_cat(p, v), p->delivered) : advice[v]);
    p->why = d->why;
    p->advice = d->advice;
}
