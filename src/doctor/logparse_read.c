/* logparse_read.c - lines of a file, plain or gzip (zlib reads both, so rotated
 * "mail.log.2.gz" and "mail.log" take the same path; "-" is stdin), in a fixed buffer: a
 * line longer than LP_MAXLINE is cut and the rest skipped.  Used for logs and for queue
 * listings.  zlib rather than a `gzip -dc` pipe: no child process, one code path for plain
 * files, gzip files and stdin, and errors reported per file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "doctor/logparse.h"

/* each_line - call fn for every line of g; the number of lines cut */
static long each_line(gzFile g, lp_line_fn fn, void *arg)
{
    char *buf = malloc(LP_MAXLINE + 1);
    long cut = 0;
    int skipping = 0;
    if (!buf)
        return 0;
    while (gzgets(g, buf, LP_MAXLINE + 1)) {
        size_t n = strlen(buf);
        int complete = n && buf[n - 1] == '\n';
        if (!skipping) {
            fn(arg, buf, n);
            cut += !complete && n == LP_MAXLINE;
        }
        skipping = !complete && n == LP_MAXLINE;
    }
    free(buf);
    return cut;
}

int lp_read_lines(const char *path, lp_line_fn fn, void *arg, lp_read_info *info, char *err, int errlen)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
    if (fd < 0) {
        snprintf(err, (size_t)errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    void (*before)(void *, int64_t) = info->before;   /* the caller's: kept */
    memset(info, 0, sizeof *info);
    info->before = before;
    info->mtime = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_mtime : (int64_t)time(NULL);
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
        close(fd);
        snprintf(err, (size_t)errlen, "%s: cannot read", path);
        return -1;
    }
    gzbuffer(g, 256 * 1024);
    if (info->before)
        info->before(arg, info->mtime);
    info->cut = each_line(g, fn, arg);
    int zerr, rc = 0;
    const char *msg = gzerror(g, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        snprintf(err, (size_t)errlen, "%s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
        rc = -1;
    }
    gzclose(g);
    return rc;
}
