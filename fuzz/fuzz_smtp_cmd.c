/* fuzz_smtp_cmd.c - libFuzzer target for the SMTP command parser and the reply formatter.
 * The input is split into lines at LF (a CR before it dropped); each line, and the whole
 * input as one line, is parsed.  Beyond "no crash", it checks: the mailbox is NUL-terminated
 * and within the path limit; every span lies inside the line; an accepted MAIL/RCPT mailbox
 * parses again, alone in brackets, to the same mailbox; and a line used as reply text yields
 * only complete "DDD-"/"DDD " lines with no stray CR or LF. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* inside - the span lies within [line, line+len) */
static void inside(smtp_span sp, const char *line, size_t len)
{
    if (sp.p && (sp.p < line || sp.p + sp.n > line + len))
        abort();
}

/* check_roundtrip - "<addr>" alone parses back to the same mailbox */
static void check_roundtrip(const smtp_cmd *c)
{
    char buf[SMTP_PATH_MAX + 32];
    smtp_cmd again;
    int n = snprintf(buf, sizeof buf, "%s<%s>", c->verb == SMTP_MAIL ? "MAIL FROM:" : "RCPT TO:",
                     c->addr);
    if (smtp_cmd_parse(buf, (size_t)n, &again) != SMTP_CMD_OK ||
        strcmp(again.addr, c->addr) != 0 || again.addr_8bit != c->addr_8bit)
        abort();
}

/* check_reply - the formatter's output is well-formed whatever the text */
static void check_reply(const char *line, size_t len)
{
    char *text = malloc(len + 1);
    dbuf b = {0};
    memcpy(text, line, len);
    text[len] = 0;
    smtp_reply_put(&b, 550, text, 1);
    size_t start = 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == '\r' && (i + 1 >= b.len || b.data[i + 1] != '\n'))
            abort();
        if (b.data[i] != '\n')
            continue;
        if (i == 0 || b.data[i - 1] != '\r' || i - start < 4 ||
            memcmp(b.data + start, "550", 3) != 0)
            abort();
        char sep = (char)b.data[start + 3];
        if (sep != '\r' && sep != '-' && sep != ' ')
            abort();
        if (sep != '-' && i + 1 != b.len)
            abort();   /* only the last line may end the reply */
        start = i + 1;
    }
    if (start != b.len)
        abort();
    dbuf_free(&b);
    free(text);
}

/* check_line - parse one line and check the invariants */
static void check_line(const char *line, size_t len)
{
    smtp_cmd c;
    enum smtp_cmd_err e = smtp_cmd_parse(line, len, &c);
    if (strlen(c.addr) != c.addrlen || c.addrlen > SMTP_PATH_MAX - 2)
        abort();
    if (c.nparam < 0 || c.nparam > SMTP_CMD_MAXPARAMS || c.verb >= SMTP_NVERBS)
        abort();
    inside(c.name, line, len);
    inside(c.arg, line, len);
    for (int i = 0; i < c.nparam; i++) {
        inside(c.param[i].key, line, len);
        inside(c.param[i].value, line, len);
    }
    if (e == SMTP_CMD_OK && (c.verb == SMTP_MAIL || c.verb == SMTP_RCPT) && c.addrlen)
        check_roundtrip(&c);
    const char *text;
    if (e != SMTP_CMD_OK && smtp_cmd_error_reply(e, c.verb, &text) < 500)
        abort();
    char xt[128];
    for (int i = 0; i < c.nparam; i++)
        if (c.param[i].value.p)
            (void)smtp_xtext_decode(c.param[i].value, xt, sizeof xt);
    check_reply(line, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a heap copy of exactly size bytes, so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && buf[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && buf[end - 1] == '\r')
            end--;
        check_line(buf + start, end - start);
        start = i + 1;
    }
    check_line(buf, size);
    free(buf);
    return 0;
}
