/* classify_fallback.c - what decides when no rule matches.
 *
 * Called by classify() (cl_fallback) and classifier_new (cl_fallback_build, which compiles
 * the wording families once, with the same literal prefilter as the rules).  The order,
 * first decision wins; the result's rule names the step ("fallback:...") and is static:
 *  1. the reply code: 5xx (or, with no code, an enhanced code 5.x.x) is permanent; 2xx and
 *     3xx are not failures (other);
 *  2. strong wording families, in this order: greylisting, authentication, TLS (other),
 *     too_many_connections, reputation, rate_limited, mailbox, overloaded_or_maintenance
 *     (three families: resources, local failures, a service unavailable), and wordings
 *     that name a cause of class other (timeouts, DNS, relaying, protocol);
 *     the order settles texts that hit two families ("rate limited because SPF did not
 *     pass" is authentication; "unusual rate of unsolicited mail" is reputation);
 *  3. enhanced codes whose RFC 3463 / RFC 7372 meaning is specific: X.2.2 mailbox full,
 *     X.5.3 too many recipients, X.7.20-27 and X.7.29-32 authentication, X.7.28 mail flood
 *     (reputation), X.4.5 congestion and X.3.1-2 system full / not accepting (overloaded);
 *  4. weak wording: "quota" (rate_limited), "unavailable" (overloaded_or_maintenance);
 *  5. the enhanced code's subject: X.2.x mailbox (only when the text speaks of the
 *     recipient's side), X.3.x overloaded_or_maintenance, any other subject other;
 *  6. other.
 * The families are regexes on the normalised text (URLs included: their words are
 * evidence too), caseless, written here and nowhere else. */
#include <stdio.h>
#include <string.h>

#include "common/xmalloc.h"
#include "shaping/classify_int.h"

typedef struct family {
    const char *name;         /* the rule id: "fallback:wording:NAME" */
    enum reply_class cls;
    const char *re;
} family;

/* Step 2, in order. */
static const family strong[] = {
    {"fallback:wording:greylisting", RC_GREYLISTING,
     "greylist|graylist|grey-list|gray-list|grey list|\\bgrey\\b|postgrey|sqlgrey"},
    {"fallback:wording:authentication", RC_AUTHENTICATION,
     "\\b(?:spf|dkim|dmarc|fcrdns|ptr|rdns|domainkeys)\\b|reverse[ -]?(?:dns|hostname|host "
     "name|lookup|name|mapping)|sender policy framework|unauthenticated|authentication "
     "(?:results?|checks?|requirements?|level)|name lookup failed|\\blookup failed|cannot "
     "find your (?:reverse )?hostname|forward[ -]confirmed|not aligned|alignment|"
     "unverif[iy]able sending"},
    {"fallback:wording:tls", RC_OTHER,
     "\\b(?:starttls|tls|ssl)\\b(?! sessions?\\b)|encryption|certificate"},
    {"fallback:wording:too-many-connections", RC_TOO_MANY_CONNECTIONS,
     "too many (?:(?:concurrent|simultaneous|parallel|open|active|smtp|inbound|incoming|tcp|"
     "current) )*(?:connections|sessions|conns)\\b|(?:concurren(?:t|cy)|simultaneous|"
     "parallel) (?:smtp )?(?:connections? |sessions? )?(?:limit|exceeded|reached)|maximum "
     "(?:number of )?(?:concurrent |simultaneous |smtp )*(?:connections|sessions)|"
     "(?:connection|session) (?:count )?limit (?:exceeded|reached)|connections? limit"},
    {"fallback:wording:reputation", RC_REPUTATION,
     "reputation|\\bspam|unsolicited|black ?list|block ?list|deny ?list|\\bdnsbl|\\brbl\\b|"
     "(?:is|are|been|was|were) (?:\\w+ )?(?:black|block|deny)?listed|listed (?:on|in|at|by) "
     "(?:the |our |a |an )?(?:\\w+ )?(?:bl\\b|rbl|dnsbl|block|black|deny|spam)|complaint|"
     "suspicious|policy violation|policy restriction|\\bblocked\\b|\\bbanned\\b|filtered|"
     "snowshoe|phish|malware|virus (?:found|detected|infected)|\\binfected\\b|cloudmark|"
     "sender ?score|barracudacentral|too many (?:invalid|unknown|non-?existent|bad) "
     "(?:recipients|users|addresses|rcpt)|(?:mails?|messages?|emails?) from (?:many |"
     "multiple |too many )?different (?:ip|hosts?|servers?)"},
    {"fallback:wording:rate-limit", RC_RATE_LIMITED,
     "rate[ -]?limit|\\brate (?:exceed|of\\b|too high)|too (?:fast|quickly)|too many (?:\\w+ "
     ")?(?:messages?|mails|e-?mails|recipients|rcpts?|requests|auth|logins?|deliveries)\\b|"
     "too many new (?:\\w+ )?(?:sessions|connections)|too many \\w+ commands|too much "
     "(?:mail|traffic|e-?mail)|to many (?:mails|messages)|throttl|excessive (?:volume|mail|"
     "messages|traffic)|\\bvolume\\b|(?:message|recipient|sending|send|submission|delivery|"
     "relay|hourly|daily|thread|queue) (?:rate|limit|quota|threshold)s? (?:exceeded|reached|"
     "exceeds)|exceed(?:ed|s|ing)? (?:the |your |its )?(?:\\w+ )?(?:message|recipient|"
     "sending|rate|hourly|daily|relay|volume) (?:limit|rate|quota|threshold)|(?:max(?:imum)?"
     "|limit of) (?:\\w+ )?(?:messages?|mails?|e-?mails?|recipients?)\\b|messages? "
     "(?:per|an?) (?:hour|minute|second|day|connection|session)|submission rate|sending "
     "limit|overlimit|limits? for how many|frequency limit"},
    {"fallback:wording:mailbox", RC_MAILBOX,
     "mail ?box (?:\\w+ ){0,3}(?:full|busy|locked|disabled|inactive|over ?quota|not "
     "accepting|in use|unavailable)|(?:mailbox|inbox|account|user|recipient)(?:'s)? (?:is "
     ")?(?:full|over ?quota)|over ?quota|out of storage|(?:disk|storage|mailbox|user|"
     "account) quota|storage (?:limit|space|allocation) (?:exceeded|reached|is full)|"
     "insufficient (?:storage|space) (?:for|in) (?:the )?(?:user|mailbox|recipient)|account "
     "storage limit|mailbox unavailable"},
    {"fallback:wording:overloaded", RC_OVERLOADED,
     "\\bbusy\\b|overload|too much load|load average|system load|resources|maintenance|"
     "shutting down|shutdown|restarting|local (?:data )?error|local problem|(?:system|"
     "server|internal|unexpected|transient) (?:error|problem|failure)|temporary (?:system "
     "|server |local )?(?:error|problem)|out of memory|insufficient (?:system|disk|storage|"
     "space|resources|memory)|disk space|space shortage|sigterm|operating system|mail "
     "system failure|\\bqq (?:temporary|trouble|read|write)|qqt failure"},
    {"fallback:wording:local-failure", RC_OVERLOADED,
     "queue file|spool|writ(?:e|ing) (?:error|failure)|cannot write|could not (?:load|read|"
     "write|open|create)|unable to (?:read|write|process|open|create|load)|configuration "
     "(?:error|problem)|config error|(?<!dns )lookup (?:error|failure)|error in processing|"
     "processing[ _](?:error|timeout)|upstream|backend|replicat|healthy|timed out after"},
    {"fallback:wording:unavailable-service", RC_OVERLOADED,
     "not accepting|(?:service|server|system) (?:is )?(?:currently |temporarily )?(?:not "
     "available|unavailable)|temporarily (?:not available|unavailable|interrupted|out of "
     "service)"},
    {"fallback:wording:other-cause", RC_OTHER,
     "time ?out|timed out|\\bdns\\b|name service|resolv|nxdomain|domain (?:not found|failure|"
     "lookup)|relay(?:ing)? (?:access )?(?:denied|not permitted)|protocol|syntax|too many "
     "(?:errors|invalid commands|unrecognized|bad commands)|bad sequence|lost (?:incoming )?"
     "connection|connection (?:lost|dropped|reset|refused|closed)|whitelist|allowlist|"
     "sender (?:domain|address) (?:rejected|verif)|verify (?:the )?sender|sender verif|"
     "callout|expired|\\bloop\\b"},
};

/* Step 4, in order. */
static const family weak[] = {
    {"fallback:wording:quota", RC_RATE_LIMITED, "quota"},
    {"fallback:wording:unavailable", RC_OVERLOADED, "unavailable|not available"},
};

/* The words that let X.2.x mean the recipient's mailbox (step 5). */
static const family recipient_side = {
    "fallback:enh:X.2.x mailbox status", RC_MAILBOX,
    "mail ?box|recipient|\\buser|account|inbox|address|storage|quota"};

#define NSTRONG (int)(sizeof strong / sizeof strong[0])
#define NWEAK (int)(sizeof weak / sizeof weak[0])

/* Steps 3 and 5: meanings of enhanced codes. */
typedef struct enh_meaning {
    int subj, dlo, dhi;
    enum reply_class cls;
    const char *rule;
} enh_meaning;

static const enh_meaning specific[] = {
    {2, 2, 2, RC_MAILBOX, "fallback:enh:X.2.2 mailbox full"},
    {5, 3, 3, RC_RATE_LIMITED, "fallback:enh:X.5.3 too many recipients"},
    {7, 20, 27, RC_AUTHENTICATION, "fallback:enh:X.7.20-27 authentication failed"},
    {7, 28, 28, RC_REPUTATION, "fallback:enh:X.7.28 mail flood"},
    {7, 29, 32, RC_AUTHENTICATION, "fallback:enh:X.7.29-32 ARC or alignment"},
    {4, 5, 5, RC_OVERLOADED, "fallback:enh:X.4.5 mail system congestion"},
    {3, 1, 2, RC_OVERLOADED, "fallback:enh:X.3.1-2 mail system full or not accepting"},
};

static const char *const subject_rule[8] = {
    "fallback:enh:X.0.x other status", "fallback:enh:X.1.x addressing",
    "fallback:enh:X.2.x mailbox status", "fallback:enh:X.3.x mail system status",
    "fallback:enh:X.4.x network and routing", "fallback:enh:X.5.x protocol",
    "fallback:enh:X.6.x content", "fallback:enh:X.7.x security or policy",
};

/* add_family - compile one family into c->fallback */
static int add_family(classifier *c, const family *f, char *err, int errlen)
{
    cl_rule r = {0};
    r.cls = f->cls;
    r.conds = xcalloc(1, sizeof *r.conds);
    r.nconds = 1;
    char what[240];
    if (cl_text_compile(c, r.conds, f->re, strlen(f->re), 1, what, sizeof what) < 0) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen, "%s: %s", f->name, what);
        cl_rule_clear(&r);
        return -1;
    }
    r.id = xstrdup(f->name);
    XGROW(c->fallback.v, c->fallback.n, c->fallback.cap, 16);
    c->fallback.v[c->fallback.n++] = r;
    return 0;
}

/* cl_fallback_build - compile the families: strong, weak, then the recipient words */
int cl_fallback_build(classifier *c, char *err, int errlen)
{
    for (int i = 0; i < NSTRONG; i++)
        if (add_family(c, &strong[i], err, errlen) < 0)
            return -1;
    for (int i = 0; i < NWEAK; i++)
        if (add_family(c, &weak[i], err, errlen) < 0)
            return -1;
    return add_family(c, &recipient_side, err, errlen);
}

/* by_code - step 1; 1 when decided */
static int by_code(const cl_norm *n, classify_result *out)
{
    int digit = n->code ? n->code / 100 : n->ecls;
    if (digit == 5) {
        out->cls = RC_PERMANENT;
        out->rule = n->code ? "fallback:5xx" : "fallback:enh:5.x.x";
        return 1;
    }
    if (digit == 2 || digit == 3) {
        out->cls = RC_OTHER;
        out->rule = "fallback:not-a-failure";
        return 1;
    }
    return 0;
}

/* by_wording - the first family of fallback rules [from, to) that matches; 1 when decided */
static int by_wording(cl_ctx *x, int from, int to, classify_result *out)
{
    for (int i = from; i < to && i < x->c->fallback.n; i++) {
        const cl_rule *r = &x->c->fallback.v[i];
        if (cl_rule_match(x, r)) {
            out->cls = (enum reply_class)r->cls;
            out->rule = r->id;
            return 1;
        }
    }
    return 0;
}

/* by_specific_enh - step 3; 1 when decided */
static int by_specific_enh(const cl_norm *n, classify_result *out)
{
    if (!n->ecls)
        return 0;
    for (size_t i = 0; i < sizeof specific / sizeof specific[0]; i++) {
        const enh_meaning *m = &specific[i];
        if (n->esubj == m->subj && n->edet >= m->dlo && n->edet <= m->dhi) {
            out->cls = m->cls;
            out->rule = m->rule;
            return 1;
        }
    }
    return 0;
}

/* by_subject - step 5; 1 when decided */
static int by_subject(cl_ctx *x, classify_result *out)
{
    const cl_norm *n = x->n;
    if (!n->ecls || n->esubj > 7)
        return 0;
    out->rule = subject_rule[n->esubj];
    out->cls = n->esubj == 3 ? RC_OVERLOADED : RC_OTHER;
    if (n->esubj == 2 && NSTRONG + NWEAK < x->c->fallback.n &&
        cl_rule_match(x, &x->c->fallback.v[NSTRONG + NWEAK]))
        out->cls = RC_MAILBOX;
    else if (n->esubj == 2)
        out->rule = "fallback:enh:X.2.x without the recipient named";
    return 1;
}

/* cl_fallback - decide without rules */
void cl_fallback(cl_ctx *x, classify_result *out)
{
    if (by_code(x->n, out) || by_wording(x, 0, NSTRONG, out) || by_specific_enh(x->n, out) ||
        by_wording(x, NSTRONG, NSTRONG + NWEAK, out) || by_subject(x, out))
        return;
    out->cls = RC_OTHER;
    out->rule = "fallback:none";
}
