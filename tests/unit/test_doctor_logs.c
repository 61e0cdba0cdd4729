/* test_doctor_logs.c - the mail log line parser (logparse.h), table-driven:
 *   - every real line of the shared corpus (../shared/corpus/logs-dev.jsonl: Postfix, Exim,
 *     Sendmail, OpenSMTPD, postgrey, KumoMTA, Mailman) with the fields it must yield, the
 *     corpus's own queue id and recipient, and the class the reply classifier gives the
 *     parsed reply against the corpus label;
 *   - the multi-line excerpts (the .log files of ../shared/corpus/excerpts) through the analyzer;
 *   - hand-written lines for every prefix (BSD syslog with and without fractions or a year,
 *     ISO 8601 with and without zone, journald short-full/short-unix/JSON, RFC 5424, no
 *     host) and every grammar (Postfix short and long ids, sluice text/JSON, Exim old and
 *     new ids with pid and zone, Sendmail with several recipients, OpenSMTPD, KumoMTA),
 *     garbage included;
 *   - the reply text parser (codes, enhanced codes, stages, failures without replies).
 * The corpus tests are skipped, saying so, when ../shared/corpus is not beside the tree.
 * Mismatches print got and want; the test fails at its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "doctor/loganalyze.h"
#include "doctor/logparse.h"
#include "test_util_doctor.h"

/* want_str - compare a string field */
static void want_str(const char *what, const char *id, const char *got, const char *want)
{
    if (want && strcmp(got, want) != 0) {
        printf("  %s %s: got '%s', want '%s'\n", id, what, got, want);
        mismatches++;
    }
}

/* want_int - compare an integer field */
static void want_int(const char *what, const char *id, long got, long want)
{
    if (got != want) {
        printf("  %s %s: got %ld, want %ld\n", id, what, got, want);
        mismatches++;
    }
}

/* corpus_path - a file of the shared corpus, or NULL when the corpus is not there */
static const char *corpus_path(const char *name, char *buf, size_t n)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    snprintf(buf, n, "%s/../shared/corpus/%s", src ? src : "..", name);
    FILE *f = fopen(buf, "r");
    if (!f)
        return NULL;
    fclose(f);
    return buf;
}

/* The corpus lines: what each must parse into. */
static const struct corpus_case {
    const char *id;
    enum lp_kind kind;
    enum lp_format fmt;
    enum lp_status status;
    const char *qid, *rcpt;
    int code;
    const char *enh;
    enum lp_fail fail;
} corpus_cases[] = {
    {"L003", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "BC495AA0516", "", 0, "", LF_LOST},
    {"L005", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "AB519AA03E7", "jose.rocha.gonzalez@correo.cjf.gob.mx", 0, "4.4.3", LF_DNS},
    {"L010", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "C948D1F7B3A", "zzzzzzzz@tiscali.it", 0, "4.4.2", LF_LOST},
    {"L011", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "DB8CABDC1DB3", "mawari@s-kapi.com", 554, "", LF_REPLY},
    {"L013", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "4JgyGN3kgGzMCn", "quenez.a@free.fr", 421, "", LF_REPLY},
    {"L014", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "", "example@example.com", 421, "4.7.28", LF_REPLY},
    {"L015", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "qBE3l7js123022", "user@foo.com", 421, "4.3.2", LF_REPLY},
    {"L016", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "qBE3l7js123022", "user@foo.com", 452, "4.3.1", LF_REPLY},
    {"L020", LK_DELIVERY, LPF_EXIM, LS_DEFERRED, "", "", 0, "", LF_RETRY_WAIT},
    {"L021", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "2DC5552A34", "user@yahoo.com", 0, "4.4.2", LF_LOST},
    {"L023", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "1234ABCDEF", "", 450, "4.1.8", LF_REPLY},
    {"L024", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "644D53D", "", 421, "4.7.0", LF_REPLY},
    {"L026", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "A0E85200BD", "whatever-user@lists.example.org", 450, "4.2.0", LF_REPLY},
    {"L027", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "40197AA", "", 450, "4.3.2", LF_REPLY},
    {"L029", LK_INBOUND, LPF_POSTFIX, LS_DEFERRED, "", "user@email.co.uk", 450, "4.2.0", LF_REPLY},
    {"L031", LK_INBOUND, LPF_POSTFIX, LS_DEFERRED, "", "recipient@domain.com", 450, "4.2.0", LF_REPLY},
    {"L032", LK_INBOUND, LPF_POSTGREY, LS_DEFERRED, "", "recipient@domain.com", 0, "", LF_NONE},
    {"L033", LK_INBOUND, LPF_POSTGREY, LS_DEFERRED, "", "jane.doe@example.com", 0, "", LF_NONE},
    {"L034", LK_INBOUND, LPF_POSTGREY, LS_SENT, "", "Pipin.touque@lacomte.net", 0, "", LF_NONE},
    {"L037", LK_INBOUND, LPF_POSTFIX, LS_DEFERRED, "436DE5E0E9A", "redacted", 0, "4.7.1", LF_REPLY},
    {"L039", LK_INBOUND, LPF_POSTFIX, LS_DEFERRED, "85AB012F841", "[emailprotected]", 451, "4.7.1", LF_REPLY},
    {"L040", LK_DELIVERY, LPF_MAILMAN, LS_DEFERRED, "", "[emailprotected]", 451, "4.7.1", LF_REPLY},
    {"L041", LK_INBOUND, LPF_EXIM, LS_DEFERRED, "", "email@realaddress.com", 0, "", LF_NONE},
    {"L042", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "421DDF840E6", "redacted@gmx.de", 0, "4.4.2", LF_GREETING_TIMEOUT},
    {"L044", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "81571C2D", "root@mail.mydomain.com", 0, "4.4.1", LF_CONNECT_TIMEOUT},
    {"L046", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "2B756D6A", "root@MYDESKTOP.MYDOMAIN.TLD", 0, "4.4.2", LF_GREETING_TIMEOUT},
    {"L048", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "", "", 0, "4.4.2", LF_LOST},
    {"L049", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "9EB99700176", "abclat", 451, "4.5.0", LF_REPLY},
    {"L050", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "96887C0006", "rob@exemple.com", 452, "4.3.1", LF_REPLY},
    {"L052", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "30D713F81F", "", 450, "4.1.1", LF_REPLY},
    {"L053", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "53C2C140E40", "", 432, "4.3.2", LF_REPLY},
    {"L054", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "2298F5F619", "admin@corp.com", 0, "4.4.1", LF_CONNECT_TIMEOUT},
    {"L055", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "11FDF5F62A", "USER@sub.corp.com", 0, "4.0.0", LF_LOCAL},
    {"L057", LK_DELIVERY, LPF_SENDMAIL, LS_SENT, "qBE3l7js123022", "user@foo.com", 0, "2.0.0", LF_OTHER},
    {"L058", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "n3KFZnc6006553", "xxx@yyy.com", 421, "", LF_REPLY},
    {"L060", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "k67GY74N016364", "ADDRESS@gmail.com", 421, "4.3.0", LF_REPLY},
    {"L061", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "q2SBp4MY002224", "xxx@pxxx.fr", 450, "4.1.8", LF_REPLY},
    {"L066", LK_DELIVERY, LPF_EXIM, LS_DEFERRED, "1mIxbt-0001eM-09", "me@xxxx", 0, "", LF_LOCAL},
    {"L067", LK_DELIVERY, LPF_OPENSMTPD, LS_DEFERRED, "66251a4092099e2d", "XX@XXX.org", 451, "", LF_REPLY},
    {"L071", LK_HOSTREPLY, LPF_KUMOMTA, LS_NONE, "", "", 552, "", LF_REPLY},
    {"L073", LK_DELIVERY, LPF_KUMOMTA, LS_DEFERRED, "", "", 400, "", LF_REPLY},
    {"L074", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "BD825AA04F8", "guillensix@yahoo.com.mx", 421, "4.7.0", LF_REPLY},
    {"L075", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "B18F5AA02B3", "jguerrero@correo.cjf.gob.mx", 0, "4.4.3", LF_DNS},
    {"L076", LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "", "", 450, "4.2.1", LF_REPLY},
    {"L078", LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "n3KFZnc6006553", "xxx@yyy.com", 421, "", LF_REPLY},
    {"L080", LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "4JgyGN3kgGzMCn", "", 421, "", LF_REPLY},
    {"L081", LK_HOSTREPLY, LPF_REPLY, LS_NONE, "", "", 421, "4.7.0", LF_REPLY},
    /* a sentence quoted from a DSN, with nothing of a log line: nothing to take */
    {"L083", LK_UNRECOGNISED, LPF_UNKNOWN, LS_NONE, "", "", 0, "", LF_NONE},
};

/* corpus_case_of - the expectation of a corpus id, or NULL */
static const struct corpus_case *corpus_case_of(const char *id)
{
    for (size_t i = 0; i < NCASES(corpus_cases); i++)
        if (!strcmp(corpus_cases[i].id, id))
            return &corpus_cases[i];
    return NULL;
}

/* class_of - the class name the classifier gives a parsed line (failures without a reply
 * are "other", as the corpus labels them; this host's own problems "overloaded") */
static const char *class_of(const classifier *c, const logrec *r)
{
    if (r->fmt == LPF_POSTGREY)
        return "greylisting";
    if (r->r.fail == LF_LOCAL)
        return "overloaded_or_maintenance";
    if (r->r.fail != LF_REPLY)
        return "other";
    classify_input in = {r->r.code, r->r.enh, r->r.text, r->r.stage, r->r.closed};
    classify_result res;
    classify(c, &in, &res);
    return reply_class_name(res.cls);
}

/* check_corpus_fields - the corpus's own queue id and recipient */
static void check_corpus_fields(const char *id, json_t *o, const logrec *r)
{
    const char *qid = json_string_value(json_object_get(o, "queue_id"));
    const char *rd = json_string_value(json_object_get(o, "recipient_or_domain"));
    if (qid)
        want_str("corpus queue_id", id, r->qid, qid);
    if (rd && strchr(rd, '@') && r->rcpt[0] && strcasecmp(r->rcpt, rd) != 0) {
        printf("  %s corpus recipient: got '%s', want '%s'\n", id, r->rcpt, rd);
        mismatches++;
    }
}

/* check_corpus_line - one corpus entry */
static int check_corpus_line(const classifier *c, json_t *o)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *line = json_string_value(json_object_get(o, "line"));
    const char *label = json_string_value(json_object_get(o, "class"));
    lp_ctx ctx;
    lp_ctx_init(&ctx, 1750000000, 2025);
    size_t n = line[0] == '"' ? strcspn(line, "\n") : strlen(line);   /* a JSON fragment per line */
    logrec r;
    lp_parse(&ctx, line, n, &r);
    const struct corpus_case *w = corpus_case_of(id);
    if (!w) {
        printf("  %s: no expectation in the table (parsed as %s)\n", id, lp_kind_name(r.kind));
        return 0;
    }
    want_int("kind", id, r.kind, w->kind);
    want_int("format", id, r.fmt, w->fmt);
    want_int("status", id, r.status, w->status);
    want_str("qid", id, r.qid, w->qid);
    want_str("rcpt", id, r.rcpt, w->rcpt);
    want_int("code", id, r.r.code, w->code);
    want_str("enh", id, r.r.enh, w->enh);
    want_int("fail", id, r.r.fail, w->fail);
    check_corpus_fields(id, o, &r);
    return r.kind != LK_UNRECOGNISED && !strcmp(class_of(c, &r), label);
}

/* test_corpus_lines - every line of logs-dev.jsonl */
static void test_corpus_lines(void **state)
{
    (void)state;
    char path[4096], err[256];
    if (!corpus_path("logs-dev.jsonl", path, sizeof path)) {
        printf("SKIPPED: the corpus is not beside the tree (../shared/corpus/logs-dev.jsonl)\n");
        skip();
    }
    classifier *c = classifier_new(err, sizeof err);
    assert_non_null(c);
    FILE *f = fopen(path, "r");
    char buf[65536];
    int total = 0, agree = 0;
    while (fgets(buf, sizeof buf, f)) {
        json_t *o = json_loads(buf, 0, NULL);
        assert_non_null(o);
        agree += check_corpus_line(c, o);
        total++;
        json_decref(o);
    }
    fclose(f);
    printf("  corpus: %d lines, the parsed reply's class agrees with the label on %d\n", total, agree);
    assert_true(total >= (int)NCASES(corpus_cases) - 5);
    assert_true(agree * 100 >= total * 85);
    classifier_free(c);
    check_done();
}

/* test_corpus_excerpts - the multi-line greylisting excerpts through the analyzer */
static void test_corpus_excerpts(void **state)
{
    (void)state;
    static const char *const names[] = {"excerpts/03-postfix-rspamd-greylist.log", "excerpts/05-plesk-greylist.log"};
    char path[4096], err[256];
    classifier *c = classifier_new(err, sizeof err);
    for (size_t i = 0; i < NCASES(names); i++) {
        if (!corpus_path(names[i], path, sizeof path)) {
            printf("SKIPPED: the corpus is not beside the tree (../shared/corpus/%s)\n", names[i]);
            classifier_free(c);
            skip();
        }
        loganalyzer *la = la_new(c, &(la_opts){.year = 2025});
        assert_int_equal(la_feed_file(la, path, err, sizeof err), 0);
        la_finish(la);
        const la_summary *s = la_get_summary(la);
        printf("  %s: %ld lines, %ld inbound (%ld greylisting), %ld unrecognised, %ld ignored\n", names[i], s->lines,
               s->inbound, s->inbound_by[RC_GREYLISTING], s->unrecognised, s->ignored);
        /* each shows this host greylisting a sender: a 4.7.1 "try again later" refusal */
        want_int("inbound greylisting", names[i], s->inbound_by[RC_GREYLISTING] >= 1, 1);
        want_int("no deliveries", names[i], s->attempts, 0);
        la_free(la);
    }
    classifier_free(c);
    check_done();
}

/* A hand-written line and what it must parse into (NULL strings, -2 ints: not checked). */
static const struct line_case {
    const char *line;
    enum lp_kind kind;
    enum lp_format fmt;
    enum lp_status status;
    const char *qid, *rcpt, *relay, *ip;
    int code;
    const char *enh;
    int stage;
    enum lp_fail fail;
    const char *time;         /* la_time_text of the stamp */
    long pid;
    int local;
} line_cases[] = {
    /* prefixes */
    {"Apr  1 08:45:22 mail postfix/smtp[1295]: 3F1A2B9C: to=<a@x.org>, relay=mx.x.org[192.0.2.1]:25, delay=1.2, "
     "delays=0.1/0/0.5/0.6, dsn=4.7.1, status=deferred (host mx.x.org[192.0.2.1] said: 450 4.7.1 Try later (in reply "
     "to RCPT TO command))",
     LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "3F1A2B9C", "a@x.org", "mx.x.org", "192.0.2.1", 450, "4.7.1", CS_RCPT,
     LF_REPLY, "2025-04-01 08:45:22", 1295, 0},
    {"Apr 21 08:45:22.123456 mail postfix/smtp[7]: 3F1A2B9C: to=<a@x.org>, relay=mx.x.org[192.0.2.1]:25, delay=1, "
     "delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234)",
     LK_DELIVERY, LPF_POSTFIX, LS_SENT, "3F1A2B9C", "a@x.org", "mx.x.org", NULL, 250, "2.0.0", -2, LF_REPLY,
     "2025-04-21 08:45:22", 7, 0},
    {"2024-04-25T22:17:59.435045+02:00 box postfix/relay/smtp[2819]: 2B756D6A: to=<r@y.tld>, orig_to=<root>, "
     "relay=relay.y.tld[192.168.8.16]:587, delay=3178, delays=2878/0.01/300/0, dsn=4.4.2, status=deferred "
     "(conversation with relay.y.tld[192.168.8.16] timed out while receiving the initial server greeting)",
     LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "2B756D6A", "r@y.tld", "relay.y.tld", "192.168.8.16", 0, "4.4.2",
     CS_GREETING, LF_GREETING_TIMEOUT, "2024-04-25 20:17:59", 2819, 0},
    {"2024-04-25T22:17:59+0200 box postfix/smtp[1]: 2B756D6A: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "2B756D6A",
     NULL, NULL, NULL, 0, NULL, -2, LF_NONE, "2024-04-25 20:17:59", 1, 0},
    {"Thu 2024-04-25 22:17:59 CEST box postfix/qmgr[88]: 2B756D6A: removed", LK_DONE, LPF_POSTFIX, LS_NONE,
     "2B756D6A", NULL, NULL, NULL, 0, NULL, -2, LF_NONE, "2024-04-25 22:17:59", 88, 0},
    {"1714076279.435045 box postfix/qmgr[88]: 2B756D6A: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "2B756D6A", NULL,
     NULL, NULL, 0, NULL, -2, LF_NONE, "2024-04-25 20:17:59", 88, 0},
    {"<22>1 2024-04-25T20:17:59.435Z mail.example.com postfix/smtp 2819 - - 4F1A2B: to=<a@x.org>, relay=none, "
     "delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.x.org[203.0.113.10]:25: Connection "
     "refused)",
     LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "4F1A2B", "a@x.org", "none", NULL, 0, "4.4.1", CS_CONNECT, LF_REFUSED,
     "2024-04-25 20:17:59", 2819, 0},
    {"<22>Apr 21 08:45:22 mail postfix/smtp[1295]: 4F1A2B: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "4F1A2B",
     NULL, NULL, NULL, 0, NULL, -2, LF_NONE, "2025-04-21 08:45:22", 1295, 0},
    {"Apr 21 2023 08:45:22 mail postfix/qmgr[5]: 4F1A2B: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "4F1A2B", NULL,
     NULL, NULL, 0, NULL, -2, LF_NONE, "2023-04-21 08:45:22", 5, 0},
    {"2023 Apr 21 08:45:22 mail postfix/qmgr[5]: 4F1A2B: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "4F1A2B", NULL,
     NULL, NULL, 0, NULL, -2, LF_NONE, "2023-04-21 08:45:22", 5, 0},
    {"Apr 21 08:45:22 postfix/qmgr[5]: 4F1A2B: removed", LK_DONE, LPF_POSTFIX, LS_NONE, "4F1A2B", NULL, NULL, NULL,
     0, NULL, -2, LF_NONE, "2025-04-21 08:45:22", 5, 0},
    {"{\"__REALTIME_TIMESTAMP\":\"1714076279435045\",\"SYSLOG_IDENTIFIER\":\"postfix/smtp\",\"_PID\":\"2819\","
     "\"MESSAGE\":\"4JgyGN3kgGzMCn: to=<q@free.fr>, relay=mx2.free.fr[212.27.42.59]:25, delay=5, delays=1/0/2/2, "
     "dsn=2.0.0, status=sent (250 OK)\"}",
     LK_DELIVERY, LPF_POSTFIX, LS_SENT, "4JgyGN3kgGzMCn", "q@free.fr", "mx2.free.fr", "212.27.42.59", 250, "", -2,
     LF_REPLY, "2024-04-25 20:17:59", 2819, 0},
    /* Postfix: instances, long ids, host lines, inbound, local delivery, bounces */
    {"Mar  4 10:00:00 mail postfix-out/smtp[2300]: 4ZqLk33Q8Kz9xYw: host mx1.x.net[192.0.2.10] refused to talk to "
     "me: 421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel",
     LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "4ZqLk33Q8Kz9xYw", "", "mx1.x.net", "192.0.2.10", 421, "4.3.2",
     CS_GREETING, LF_REPLY, NULL, 2300, 0},
    {"Mar  4 10:00:00 mail postfix/smtp[2300]: connect to mx.x.org[203.0.113.10]:25: No route to host",
     LK_HOSTREPLY, LPF_POSTFIX, LS_NONE, "", "", "mx.x.org", "203.0.113.10", 0, "", CS_CONNECT, LF_UNREACHABLE,
     NULL, 2300, 0},
    {"Mar  4 10:00:00 mail postfix/smtp[2300]: 4F1A2B3C4D: to=<b@x.org>, relay=mx.x.org[192.0.2.1]:25, delay=2, "
     "delays=0/0/1/1, dsn=5.1.1, status=bounced (host mx.x.org[192.0.2.1] said: 550 5.1.1 <b@x.org>: Recipient "
     "address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
     LK_DELIVERY, LPF_POSTFIX, LS_BOUNCED, "4F1A2B3C4D", "b@x.org", "mx.x.org", NULL, 550, "5.1.1", CS_RCPT, LF_REPLY,
     NULL, -2, 0},
    {"Mar  4 10:00:00 mail postfix/qmgr[1187]: 4F1A2B3C4D: to=<b@x.org>, relay=none, delay=432000, delays=432000/0/0/0, "
     "dsn=4.7.0, status=expired, returned to sender",
     LK_DELIVERY, LPF_POSTFIX, LS_EXPIRED, "4F1A2B3C4D", "b@x.org", "none", NULL, 0, "4.7.0", -2, LF_NONE, NULL, 1187,
     0},
    {"Mar  4 10:00:00 mail postfix/error[77]: 4F1A2B3C4D: to=<b@x.org>, relay=none, delay=3000, delays=2999/1/0/0, "
     "dsn=4.7.0, status=deferred (delivery temporarily suspended: host mx.x.org[192.0.2.1] refused to talk to me: "
     "421 4.7.0 Try again later)",
     LK_DELIVERY, LPF_POSTFIX, LS_DEFERRED, "4F1A2B3C4D", "b@x.org", "none", NULL, 421, "4.7.0", CS_GREETING, LF_REPLY,
     NULL, 77, 0},
    {"Mar  4 10:00:00 mail postfix/local[90]: 4F1A2B3C4D: to=<root@mail.x.org>, orig_to=<root>, relay=local, delay=0.1, "
     "delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)",
     LK_DELIVERY, LPF_POSTFIX, LS_SENT, "4F1A2B3C4D", "root@mail.x.org", "local", NULL, -2, NULL, -2, LF_OTHER, NULL, 90, 1},
    {"Mar  4 10:00:00 mail postfix/lmtp[91]: 4F1A2B3C4D: to=<u@x.org>, relay=mail.x.org[private/dovecot-lmtp], delay=0.1, "
     "delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <u@x.org> Saved)",
     LK_DELIVERY, LPF_POSTFIX, LS_SENT, "4F1A2B3C4D", "u@x.org", NULL, NULL, 250, "2.0.0", -2, LF_REPLY, NULL, 91, 1},
    {"Mar  4 10:00:00 mail postfix/smtpd[4]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 450 4.7.25 Client "
     "host rejected: cannot find your hostname, [198.51.100.7]; from=<s@y.org> to=<u@x.org> proto=ESMTP helo=<y>",
     LK_INBOUND, LPF_POSTFIX, LS_DEFERRED, "", "u@x.org", "unknown", "198.51.100.7", 450, "4.7.25", CS_RCPT,
     LF_REPLY, NULL, 4, 0},
    {"Mar  4 10:00:00 mail postfix/anvil[55]: statistics: max connection rate 1/60s for (smtp:192.0.2.5) at Mar  4 "
     "09:58:01",
     LK_OTHER, LPF_POSTFIX, LS_NONE, "", NULL, NULL, NULL, 0, NULL, -2, LF_NONE, NULL, 55, 0},
    /* sluice */
    {"2026-11-28T11:10:34.041520Z sluiced[812]: notice: 0PKQ3M7ZC1A4: to=<r@x.org>, relay=mx.x.org[192.0.2.1]:25, "
     "delay=0.42, delays=0.05/0.01/0.20/0.16, dsn=4.7.1, status=deferred (host mx.x.org[192.0.2.1] said: 451 4.7.1 "
     "Greylisted, see https://postgrey.schweikert.ch/help/x.org.html (in reply to RCPT TO command))",
     LK_DELIVERY, LPF_SLUICE, LS_DEFERRED, "0PKQ3M7ZC1A4", "r@x.org", "mx.x.org", "192.0.2.1", 451, "4.7.1", CS_RCPT,
     LF_REPLY, "2026-11-28 11:10:34", 812, 0},
    {"2026-11-28T11:10:34.041520Z sluiced[812]: notice: 0PKQ3M7ZC1A4: to=<r@x.org>, relay=none, delay=432000.00, "
     "delays=0.00/0.00/0.00/0.00, dsn=4.4.1, status=expired, returned to sender (connect to mx.x.org[192.0.2.1]:25: "
     "Connection timed out)",
     LK_DELIVERY, LPF_SLUICE, LS_EXPIRED, "0PKQ3M7ZC1A4", "r@x.org", "none", NULL, 0, "4.4.1", CS_CONNECT,
     LF_CONNECT_TIMEOUT, NULL, 812, 0},
    {"Nov 28 11:10:34 host sluiced[812]: info: 0PKQ3M7ZC1A4: to=<r@x.org>, relay=mx.x.org[192.0.2.1]:25, delay=311, "
     "delays=310/0.01/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 8A2B)",
     LK_DELIVERY, LPF_SLUICE, LS_SENT, "0PKQ3M7ZC1A4", "r@x.org", "mx.x.org", NULL, 250, "2.0.0", -2, LF_REPLY,
     "2024-11-28 11:10:34", 812, 0},
    {"{\"ts\":1764328234.04,\"queue_id\":\"0PKQ3M7ZC1A4\",\"to\":\"r@x.org\",\"relay\":\"mx.x.org[192.0.2.1]:25\","
     "\"delay\":0.42,\"delays\":[0.05,0.01,0.2,0.16],\"dsn\":\"4.7.28\",\"status\":\"deferred\",\"reply\":\"host "
     "mx.x.org[192.0.2.1] said: 421-4.7.28 Our system has detected an unusual rate of 421-4.7.28 unsolicited mail "
     "(in reply to end of DATA command)\",\"class\":\"reputation\"}",
     LK_DELIVERY, LPF_SLUICE, LS_DEFERRED, "0PKQ3M7ZC1A4", "r@x.org", "mx.x.org", "192.0.2.1", 421, "4.7.28",
     CS_BODY, LF_REPLY, "2025-11-28 11:10:34", -1, 0},
    /* Exim */
    {"2025-03-04 10:00:00 +0100 [12345] 1tpP4C-0000G8-00 == a@x.org R=dnslookup T=remote_smtp defer (-44) "
     "H=mx.x.org [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@x.org>: 451 4.7.1 Greylisted",
     LK_DELIVERY, LPF_EXIM, LS_DEFERRED, "1tpP4C-0000G8-00", "a@x.org", "mx.x.org", "192.0.2.1", 451, "4.7.1",
     CS_RCPT, LF_REPLY, "2025-03-04 09:00:00", 12345, 0},
    {"Mar  4 10:00:00 host exim[77]: 2025-03-04 10:00:00 1tpP4D-000000000Gj-000K => a@x.org R=dnslookup "
     "T=remote_smtp H=mx.x.org [192.0.2.1]:25 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 Ok: queued "
     "as 9F\"",
     LK_DELIVERY, LPF_EXIM, LS_SENT, "1tpP4D-000000000Gj-000K", "a@x.org", "mx.x.org", "192.0.2.1", 250, "2.0.0", -2,
     LF_REPLY, "2025-03-04 10:00:00", 77, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 == a@x.org R=dnslookup T=remote_smtp defer (111): Connection refused",
     LK_DELIVERY, LPF_EXIM, LS_DEFERRED, "1tpP4C-0000G8-00", "a@x.org", "", NULL, 0, "", CS_CONNECT, LF_REFUSED,
     NULL, -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 == a@x.org routing defer (-51): retry time not reached",
     LK_DELIVERY, LPF_EXIM, LS_DEFERRED, "1tpP4C-0000G8-00", "a@x.org", NULL, NULL, 0, "", -2, LF_RETRY_WAIT, NULL,
     -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 ** b@x.org R=dnslookup T=remote_smtp H=mx.x.org [192.0.2.1]: SMTP error "
     "from remote mail server after pipelined RCPT TO:<b@x.org>: 550 5.1.1 <b@x.org>: Recipient address rejected",
     LK_DELIVERY, LPF_EXIM, LS_BOUNCED, "1tpP4C-0000G8-00", "b@x.org", "mx.x.org", "192.0.2.1", 550, "5.1.1",
     CS_RCPT, LF_REPLY, NULL, -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 ** b@x.org: Unrouteable address", LK_DELIVERY, LPF_EXIM, LS_BOUNCED,
     "1tpP4C-0000G8-00", "b@x.org", NULL, NULL, 0, "", -2, LF_DNS, NULL, -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 H=mx.x.org [192.0.2.1] Connection timed out", LK_HOSTREPLY, LPF_EXIM,
     LS_NONE, "1tpP4C-0000G8-00", "", "mx.x.org", "192.0.2.1", 0, "", CS_CONNECT, LF_CONNECT_TIMEOUT, NULL, -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 => u <u@mail.x.org> R=localuser T=local_delivery", LK_DELIVERY, LPF_EXIM,
     LS_SENT, "1tpP4C-0000G8-00", "u", NULL, NULL, 0, NULL, -2, LF_NONE, NULL, -1, 1},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 Completed", LK_DONE, LPF_EXIM, LS_NONE, "1tpP4C-0000G8-00", NULL, NULL,
     NULL, 0, NULL, -2, LF_NONE, NULL, -1, 0},
    {"2025-03-04 10:00:00 1tpP4C-0000G8-00 <= s@y.org H=app.y.org [192.0.2.5] P=esmtp S=4213", LK_OTHER, LPF_EXIM,
     LS_NONE, "1tpP4C-0000G8-00", NULL, NULL, NULL, 0, NULL, -2, LF_NONE, NULL, -1, 0},
    /* Sendmail: several recipients in one transaction */
    {"Mar 28 13:51:06 jason sm-mta[2226]: q2SBp4MY002224: to=<a@x.fr>,<b@x.fr>, delay=00:00:02, xdelay=00:00:02, "
     "mailer=esmtp, pri=120296, relay=mx2.x.fr. [77.232.76.20], dsn=4.0.0, stat=Deferred: Connection timed out "
     "with mx2.x.fr.",
     LK_DELIVERY, LPF_SENDMAIL, LS_DEFERRED, "q2SBp4MY002224", "a@x.fr,b@x.fr", "mx2.x.fr", "77.232.76.20", 0,
     "4.0.0", -2, LF_CONNECT_TIMEOUT, NULL, 2226, 0},
    {"Mar 28 13:51:06 jason sendmail[2226]: q2SBp4MY002224: to=a@x.fr, delay=1+02:03:04, xdelay=00:00:01, "
     "mailer=esmtp, pri=120296, relay=mx2.x.fr. [77.232.76.20], dsn=5.1.1, stat=User unknown",
     LK_DELIVERY, LPF_SENDMAIL, LS_BOUNCED, "q2SBp4MY002224", "a@x.fr", "mx2.x.fr", NULL, 0, "5.1.1", -2, LF_REPLY,
     NULL, 2226, 0},
    /* OpenSMTPD */
    {"Jul  6 06:01:46 ams-1 smtpd[75295]: 4b3a6c195c1f6010 mta delivery evpid=8f26ea98359eccea from=<s@o.org> "
     "to=<u@tin.it> rcpt=<-> source=\"45.76.46.201\" relay=\"62.211.72.32 (smtp.tin.it)\" delay=0s "
     "result=\"TempFail\" stat=\"421 <u@tin.it> Service not available - too busy\"",
     LK_DELIVERY, LPF_OPENSMTPD, LS_DEFERRED, "8f26ea98359eccea", "u@tin.it", "smtp.tin.it", "62.211.72.32", 421, "",
     -2, LF_REPLY, "2024-07-06 06:01:46", 75295, 0},
    {"Jul  6 06:01:46 ams-1 smtpd[75295]: 5df87c9ffd0e785d mta connecting address=smtp://173.194.76.27:25 "
     "host=ws-in-f27.1e100.net",
     LK_OTHER, LPF_OPENSMTPD, LS_NONE, "", NULL, NULL, NULL, 0, NULL, -2, LF_NONE, NULL, 75295, 0},
    /* KumoMTA */
    {"{\"type\":\"TransientFailure\",\"id\":\"d7ef1f9c\",\"recipient\":\"u@yahoo.com\",\"timestamp\":1741082400,"
     "\"response\":{\"code\":421,\"enhanced_code\":{\"class\":4,\"subject\":7,\"detail\":0},\"content\":\"[TSS04] "
     "Messages from 192.0.2.25 temporarily deferred\",\"command\":\"MAIL FROM:<s@y.org>\\r\\n\"},"
     "\"peer_address\":{\"name\":\"mta5.am0.yahoodns.net\",\"addr\":\"67.195.204.74\"}}",
     LK_DELIVERY, LPF_KUMOMTA, LS_DEFERRED, "d7ef1f9c", "u@yahoo.com", "mta5.am0.yahoodns.net", "67.195.204.74", 421,
     "4.7.0", CS_MAIL, LF_REPLY, "2025-03-04 10:00:00", -1, 0},
    /* not mail, or nothing at all */
    {"Apr 21 08:45:22 host CRON[123]: (root) CMD (run-parts /etc/cron.hourly)", LK_IGNORED, LPF_UNKNOWN, LS_NONE, "",
     NULL, NULL, NULL, 0, NULL, -2, LF_NONE, NULL, 123, 0},
    {"", LK_UNRECOGNISED, LPF_UNKNOWN, LS_NONE, "", "", "", "", 0, "", -2, LF_NONE, NULL, -1, 0},
    {"hello world: this is no log", LK_UNRECOGNISED, LPF_UNKNOWN, LS_NONE, "", "", "", "", 0, "", -2, LF_NONE, NULL,
     -1, 0},
    {"{\"not\": \"a log record\"}", LK_UNRECOGNISED, LPF_UNKNOWN, LS_NONE, "", "", "", "", 0, "", -2, LF_NONE, NULL,
     -1, 0},
    {"\x01\x02\xff\xfe garbage \x7f", LK_UNRECOGNISED, LPF_UNKNOWN, LS_NONE, "", "", "", "", 0, "", -2, LF_NONE,
     NULL, -1, 0},
};

/* check_line_case - one hand-written line */
static void check_line_case(const struct line_case *w, int i)
{
    lp_ctx ctx;
    lp_ctx_init(&ctx, 1750000000, 0);   /* mid-2025: year-less stamps are 2025 */
    logrec r;
    char id[16], t[40];
    snprintf(id, sizeof id, "line %d", i);
    lp_parse(&ctx, w->line, strlen(w->line), &r);
    want_int("kind", id, r.kind, w->kind);
    want_int("format", id, r.fmt, w->fmt);
    want_int("status", id, r.status, w->status);
    want_str("qid", id, r.qid, w->qid);
    want_str("rcpt", id, r.rcpt, w->rcpt);
    want_str("relay", id, r.relay, w->relay);
    want_str("ip", id, r.relay_ip, w->ip);
    if (w->code >= 0)
        want_int("code", id, r.r.code, w->code);
    want_str("enh", id, r.r.enh, w->enh);
    if (w->stage != -2)
        want_int("stage", id, r.r.stage, w->stage);
    want_int("fail", id, r.r.fail, w->fail);
    if (w->time)
        want_str("time", id, r.has_time ? la_time_text(r.t_us, t, sizeof t) : "(none)", w->time);
    if (w->pid != -2)
        want_int("pid", id, r.pid, w->pid);
    want_int("local", id, r.local, w->local);
}

/* test_line_formats - every prefix and grammar */
static void test_line_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(line_cases); i++)
        check_line_case(&line_cases[i], (int)i);
    check_done();
}

/* test_suspended_and_counts - suspension, recipient counts, year choice, huge input */
static void test_suspended_and_counts(void **state)
{
    (void)state;
    lp_ctx ctx;
    logrec r;
    lp_ctx_init(&ctx, 1736000000, 0);   /* 2025-01-04: a December stamp is last year's */
    const char *dec = "Dec 31 23:59:59 mail postfix/qmgr[1]: 4F1A2B3C4D: removed";
    lp_parse(&ctx, dec, strlen(dec), &r);
    char t[40];
    want_str("year rollover", "dec", la_time_text(r.t_us, t, sizeof t), "2024-12-31 23:59:59");
    const char *susp = "2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, "
                       "status=deferred (delivery temporarily suspended: lost connection with "
                       "mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)";
    lp_parse(&ctx, susp, strlen(susp), &r);
    want_int("suspended", "susp", r.r.suspended, 1);
    want_int("stage", "susp", r.r.stage, CS_RCPT);
    want_int("nrcpt", "susp", r.nrcpt, 1);
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "Mar  4 10:00:00 mail postfix/smtp[1]: 4F1A2B3C4D: to=<", 49);
    lp_parse(&ctx, big, n, &r);   /* no crash, bounded copies */
    want_int("big rcpt bounded", "big", strlen(r.rcpt) < LP_ADDR_MAX, 1);
    free(big);
    check_done();
}

/* The reply text parser. */
static const struct reply_case {
    const char *text;
    int code;
    const char *enh;
    int stage;
    enum lp_fail fail;
    int suspended;
    const char *out;          /* the text kept */
} reply_cases[] = {
    {"host mx[1.2.3.4] said: 421-4.7.0 [1.2.3.4 15] Our system 421-4.7.0 has detected (in reply to end of DATA "
     "command)", 421, "4.7.0", CS_BODY, LF_REPLY, 0, "421-4.7.0 [1.2.3.4 15] Our system 421-4.7.0 has detected"},
    {"host mx[1.2.3.4] refused to talk to me: 554 5.7.1 Service unavailable; Client host blocked", 554, "5.7.1",
     CS_GREETING, LF_REPLY, 0, NULL},
    {"Deferred: 421 4.3.2 The maximum number of concurrent connections has exceeded a limit", 421, "4.3.2", CS_ANY,
     LF_REPLY, 0, "421 4.3.2 The maximum number of concurrent connections has exceeded a limit"},
    {"SMTP error from remote mail server after MAIL FROM:<s@y.org> SIZE=1234: 451-4.7.1 first\\n451 4.7.1 second",
     451, "4.7.1", CS_MAIL, LF_REPLY, 0, "451-4.7.1 first 451 4.7.1 second"},
    {"SMTP error from remote mail server after initial connection: 421 Too many connections", 421, "", CS_GREETING,
     LF_REPLY, 0, NULL},
    {"delivery temporarily suspended: connect to mx[1.2.3.4]:25: Connection timed out", 0, "", CS_CONNECT,
     LF_CONNECT_TIMEOUT, 1, NULL},
    {"Name service error for name=x.org type=MX: Host not found, try again", 0, "", CS_ANY, LF_DNS, 0, NULL},
    {"TLS is required, but host mx[1.2.3.4] refused to start TLS: 454 4.7.0 TLS not available", 454, "4.7.0",
     CS_STARTTLS, LF_REPLY, 0, NULL},
    {"Cannot start TLS: handshake failure", 0, "", CS_ANY, LF_TLS, 0, NULL},
    {"250 2.0.0 Ok 4.7.1 mentioned", 250, "2.0.0", CS_ANY, LF_REPLY, 0, NULL},
    {"2400 seconds later", 0, "", CS_ANY, LF_OTHER, 0, NULL},
    {"4.7.1 Try again later", 0, "4.7.1", CS_ANY, LF_REPLY, 0, NULL},
    {"host mx.test[192.0.2.1] said: 421", 421, "", CS_ANY, LF_REPLY, 0, "421"},   /* the code, then the end */
    {"", 0, "", CS_ANY, LF_OTHER, 0, ""},
};

/* test_reply_parse - code, enhanced code, stage, failure kind */
static void test_reply_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES(reply_cases); i++) {
        const struct reply_case *w = &reply_cases[i];
        lp_reply r;
        char id[16];
        snprintf(id, sizeof id, "reply %zu", i);
        lp_reply_parse(w->text, strlen(w->text), &r);
        want_int("code", id, r.code, w->code);
        want_str("enh", id, r.enh, w->enh);
        want_int("stage", id, r.stage, w->stage);
        want_int("fail", id, r.fail, w->fail);
        want_int("suspended", id, r.suspended, w->suspended);
        want_str("text", id, r.text, w->out);
    }
    check_done();
}

/* test_names - categories round-trip */
static void test_names(void **state)
{
    (void)state;
    for (int c = 0; c < LC_NCATS; c++)
        assert_int_equal(lp_cat_parse(lp_cat_name(c)), c);
    assert_int_equal(lp_fail_cat(LF_CONNECT_TIMEOUT), LC_CONNECT_TIMEOUT);
    assert_int_equal(lp_fail_cat(LF_REPLY), RC_OTHER);
    assert_string_equal(lp_format_name(LPF_OPENSMTPD), "opensmtpd");
}

/* on_before - lp_read_lines' before callback: the mtime, and how many lines came first */
static void on_before(void *arg, int64_t mtime)
{
    int64_t *seen = arg;
    seen[0]++;
    seen[1] = mtime;
}

/* count_line - lp_read_lines' line callback */
static void count_line(void *arg, const char *line, size_t len)
{
    (void)line;
    (void)len;
    int64_t *seen = arg;
    if (!seen[0])
        seen[2]++;   /* a line before the callback */
    seen[3]++;
}

/* test_year_from_mtime - a file's mtime is the year reference of its year-less stamps:
 * lp_read_lines calls the before callback (it was wiped with the rest of info and never
 * called, so "Dec 30" in a log last written in 2024 was read in the current year:
 * fuzz_read_lines) */
static void test_year_from_mtime(void **state)
{
    (void)state;
    char path[] = "/tmp/sluice-test-logs-XXXXXX", err[256];
    static const char line[] = "Dec 30 23:59:00 mta postfix/smtp[1]: 4BQXZ1234: to=<b@example.net>, "
                               "relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
                               "status=sent (250 2.0.0 Ok)\n";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    close(fd);
    const int64_t mtime = 1735646400;   /* 2024-12-31 12:00 UTC */
    struct timeval tv[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
    int64_t seen[4] = {0};
    lp_read_info info = {.before = on_before};
    assert_int_equal(lp_read_lines(path, count_line, seen, &info, err, sizeof err), 0);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], mtime);
    assert_int_equal(seen[2], 0);
    assert_int_equal(seen[3], 1);
    loganalyzer *la = la_new(NULL, &(la_opts){.year = 0});
    assert_int_equal(la_feed_file(la, path, err, sizeof err), 0);
    la_finish(la);
    time_t first = (time_t)(la_get_summary(la)->first_us / 1000000);
    struct tm tm;
    assert_non_null(gmtime_r(&first, &tm));
    assert_int_equal(tm.tm_year + 1900, 2024);
    la_free(la);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_formats),        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_suspended_and_counts), cmocka_unit_test(test_names),
        cmocka_unit_test(test_corpus_lines),        cmocka_unit_test(test_corpus_excerpts),
        cmocka_unit_test(test_year_from_mtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
