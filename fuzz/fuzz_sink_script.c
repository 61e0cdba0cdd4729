/* fuzz_sink_script.c - libFuzzer target for the sink's --reply-script parser and matcher.
 * The input is a script.  Beyond "no crash": a failed parse leaves an error naming the file
 * and a line that exists; a parsed script is matched at every stage against a few clients
 * and envelopes (IPv4 and IPv6, long and non-UTF-8 values), and every answer is a usable one:
 * a code of 200-599 for a reply (0 for drop or pass), a NUL-terminated text within 511
 * bytes, a rule name, and a reply that the formatter turns into complete lines. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "sink/sink_script.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_error - "fuzz:LINE: ..." with 1 <= LINE <= lines in the input */
static void check_error(const char *err, const uint8_t *data, size_t size)
{
    size_t lines = 1;
    for (size_t i = 0; i + 1 < size; i++)
        lines += data[i] == '\n';
    unsigned long line = 0;
    if (strncmp(err, "fuzz:", 5) != 0 || sscanf(err + 5, "%lu:", &line) != 1 || line < 1 ||
        line > lines)
        abort();
}

/* check_action - a matched rule's answer is one the sink can send */
static void check_action(const sink_action *a)
{
    size_t n = strnlen(a->text, sizeof a->text);
    if (n >= sizeof a->text || !a->policy)
        abort();
    if (a->kind == SINK_ACT_REPLY && (a->code < 200 || a->code > 599))
        abort();
    if (a->kind != SINK_ACT_REPLY && (a->code || a->close || a->delay_us))
        abort();
    dbuf b = {0};
    smtp_reply_put(&b, a->code ? a->code : 451, a->text, 1);
    if (b.len < 5 || b.data[b.len - 2] != '\r' || b.data[b.len - 1] != '\n')
        abort();
    dbuf_free(&b);
}

/* match_all - every stage, for a few clients */
static void match_all(const sink_script *sc)
{
    static const char long_rcpt[] =
        "averyveryveryveryveryveryveryveryveryveryverylongmailboxnamethatgoeson"
        "@sub.domain.with.many.labels.example.gmail.test";
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
    inet_pton(AF_INET6, "2001:db8::7", &a6.sin6_addr);
    const struct sockaddr *peers[] = {(struct sockaddr *)&a4, (struct sockaddr *)&a6};
    const char *rcpts[] = {"bob@gmail.test", "\xff\xfe@x", long_rcpt};
    uint64_t rng = 3;
    for (int st = SMTPD_CONNECT; st <= SMTPD_EOM; st++)
        for (int i = 0; i < 6; i++) {
            sink_facts f = {.stage = (enum smtpd_stage)st, .peer = peers[i % 2],
                            .ip = i % 2 ? "2001:db8::7" : "192.0.2.7", .helo = "h.test",
                            .sender = st >= SMTPD_MAIL ? "a@example.com" : NULL,
                            .rcpt = st == SMTPD_RCPT ? rcpts[i % 3] : NULL, .attempt = i,
                            .msg = i + 1, .conn = i + 1, .nrcpt = i, .elapsed_us = i * 2500000,
                            .rng = &rng};
            sink_action a;
            if (sink_script_match(sc, &f, &a))
                check_action(&a);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[400] = "";
    sink_script *sc = sink_script_parse((const char *)data, size, "fuzz", err, sizeof err);
    if (!sc) {
        check_error(err, data, size);
        return 0;
    }
    match_all(sc);
    sink_script_free(sc);
    return 0;
}
