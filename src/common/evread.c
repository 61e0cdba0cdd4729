/* evread.c - one readv into a bufferevent's input buffer (see evread.h) */
#include "common/evread.h"

#include <errno.h>
#include <sys/uio.h>

ssize_t evread_fd(struct evbuffer *in, int fd)
{
    struct evbuffer_iovec v[2];
    struct iovec io[2];
    evbuffer_unfreeze(in, 0);
    int nv = evbuffer_reserve_space(in, EVREAD_CHUNK, v, 2);
    if (nv <= 0) {
        evbuffer_freeze(in, 0);
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < nv; i++)
        io[i] = (struct iovec){v[i].iov_base, v[i].iov_len};
    ssize_t n;
    do
        n = readv(fd, io, nv);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        size_t left = (size_t)n;
        int used = 0;
        for (; used < nv && left > 0; used++) {
            if (v[used].iov_len > left)
                v[used].iov_len = left;
            left -= v[used].iov_len;
        }
        evbuffer_commit_space(in, v, used);
    }
    int e = errno;
    evbuffer_freeze(in, 0);
    errno = e;
    return n;
}
