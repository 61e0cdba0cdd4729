/* fuzz_read_lines.c - libFuzzer target for the line reader under `sluice doctor logs`,
 * `doctor advise` and `doctor queue FILE` (lp_read_lines, doctor/logparse_read.c): the input
 * is written to a file as it is, and once more gzip-compressed, and both are read.  Beyond
 * "no crash, no leak", it checks: the before callback runs once, with the file's mtime,
 * before the first line; no line is longer than LP_MAXLINE; an input that is not gzip and
 * holds no NUL and no overlong line comes back byte for byte, each line with its newline but
 * the last; and the compressed copy reads as the same lines as the plain one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/dbuf.h"
#include "doctor/logparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one read saw. */
typedef struct seen {
    dbuf text;                 /* the lines, concatenated */
    long lines, before_calls;
    int64_t before_mtime;
    int unterminated;          /* the last line seen lacks its newline */
    long mid_unterminated;     /* lines without a newline that were not the last */
} seen;

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* on_before - the file is open */
static void on_before(void *arg, int64_t mtime)
{
    seen *s = arg;
    check(s->lines == 0);
    s->before_calls++;
    s->before_mtime = mtime;
}

/* on_line - one line */
static void on_line(void *arg, const char *line, size_t len)
{
    seen *s = arg;
    check(len <= LP_MAXLINE);
    s->mid_unterminated += s->unterminated;
    s->unterminated = !len || line[len - 1] != '\n';
    dbuf_put(&s->text, line, len);
    s->lines++;
}

/* read_file - lp_read_lines over path, checked against its mtime */
static void read_file(const char *path, seen *s, lp_read_info *info)
{
    char err[300];
    struct stat st;
    memset(s, 0, sizeof *s);
    *info = (lp_read_info){.before = on_before};
    check(lp_read_lines(path, on_line, s, info, err, sizeof err) == 0 || err[0]);
    check(stat(path, &st) == 0 && s->before_calls == 1 && s->before_mtime == (int64_t)st.st_mtime);
}

/* write_plain, write_gzip - the input as a file */
static void write_plain(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    check(f && (fwrite(data, 1, size, f) == size || !size));
    fclose(f);
}

static void write_gzip(const char *path, const uint8_t *data, size_t size)
{
    gzFile g = gzopen(path, "wb");
    check(g && (gzwrite(g, data, (unsigned)size) == (int)size || !size));
    gzclose(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char plain[64], packed[64];
    if (!plain[0]) {
        snprintf(plain, sizeof plain, "/tmp/fuzz-lines-%d.log", (int)getpid());
        snprintf(packed, sizeof packed, "/tmp/fuzz-lines-%d.log.gz", (int)getpid());
    }
    seen a, b;
    lp_read_info ia, ib;
    write_plain(plain, data, size);
    read_file(plain, &a, &ia);
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz && !memchr(data, 0, size) && !ia.cut)
        check(a.text.len == size && (!size || !memcmp(a.text.data, data, size)) && !a.mid_unterminated);
    if (!gz) {
        write_gzip(packed, data, size);
        read_file(packed, &b, &ib);
        check(b.lines == a.lines && b.text.len == a.text.len && ib.cut == ia.cut);
        check(!a.text.len || !memcmp(a.text.data, b.text.data, a.text.len));
        dbuf_free(&b.text);
    }
    dbuf_free(&a.text);
    unlink(plain);
    unlink(packed);
    return 0;
}
