/* readfile.c - a whole (small) file into memory: configuration and the files the doctor
 * reads. */
#include "common/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"

char *read_file_all(const char *path, size_t max, size_t *len, char *err, int errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, (size_t)errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    dbuf b = {0};
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0 && b.len <= max)
        dbuf_put(&b, chunk, (size_t)r);
    int e = errno;
    close(fd);
    if (r < 0 || b.len > max) {
        if (r < 0)
            snprintf(err, (size_t)errlen, "%s: %s", path, strerror(e));
        else
            snprintf(err, (size_t)errlen, "%s: larger than %zu bytes", path, max);
        dbuf_free(&b);
        return NULL;
    }
    return (char *)dbuf_steal(&b, len);
}
