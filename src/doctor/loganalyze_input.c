/* loganalyze_input.c - feeding log files to the analyzer: the lines come from
 * lp_read_lines (plain or gzip, "-" for stdin); a JSON object printed over several lines
 * ("{" alone on a line, up to its closing brace) is joined into one record; year-less time stamps get
 * the year of the file's mtime (or the analyzer's fixed year). */
#include <stdio.h>
#include <string.h>

#include "common/dbuf.h"
#include "doctor/loganalyze_int.h"

/* trimmed_is - the line without blanks (and a trailing comma) is exactly s */
static int trimmed_is(const char *line, size_t n, const char *s)
{
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == ','))
        n--;
    while (n && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    return n == strlen(s) && !memcmp(line, s, n);
}

/* One file being fed: the analyzer and a multi-line JSON record being joined. */
typedef struct feeder {
    loganalyzer *la;
    dbuf buf;
    int open, depth, in_str, esc;
} feeder;

/* braces - the nesting depth after a line of JSON (strings and escapes followed) */
static void braces(feeder *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (f->esc)
            f->esc = 0;
        else if (f->in_str && c == '\\')
            f->esc = 1;
        else if (c == '"')
            f->in_str = !f->in_str;
        else if (!f->in_str && c == '{')
            f->depth++;
        else if (!f->in_str && c == '}')
            f->depth--;
    }
}

/* on_line - one physical line: joined into a JSON record or fed as it is */
static void on_line(void *arg, const char *line, size_t n)
{
    feeder *f = arg;
    if (!f->open && trimmed_is(line, n, "{")) {
        f->open = 1;
        f->depth = f->in_str = f->esc = 0;
        dbuf_reset(&f->buf);
    }
    if (!f->open) {
        la_feed_line(f->la, line, n);
        return;
    }
    dbuf_put(&f->buf, line, n);
    braces(f, line, n);
    if (f->depth <= 0 || f->buf.len > LP_MAXLINE) {
        f->open = 0;
        la_feed_line(f->la, (const char *)f->buf.data, f->buf.len);
        dbuf_reset(&f->buf);
    }
}

/* on_open - the year reference of the file */
static void on_open(void *arg, int64_t mtime)
{
    feeder *f = arg;
    lp_ctx_init(&f->la->ctx, mtime, f->la->o.year);
}

int la_feed_file(loganalyzer *la, const char *path, char *err, int errlen)
{
    feeder f = {.la = la};
    lp_read_info info = {.before = on_open};
    int rc = lp_read_lines(path, on_line, &f, &info, err, errlen);
    if (f.open && f.buf.len)
        la_feed_line(la, (const char *)f.buf.data, f.buf.len);
    dbuf_free(&f.buf);
    la->sum.truncated_lines += info.cut;
    la->sum.files += rc == 0;
    return rc;
}
