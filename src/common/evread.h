/* evread.h - reading a socket into a bufferevent's input buffer with one readv.
 *
 * libevent's socket bufferevent asks the kernel how much is readable (ioctl FIONREAD)
 * before every read and reads at most 4 KB at a time.  The SMTP server and client read
 * plain sockets with their own events and this function instead: no ioctl, and a 4 KB
 * message or a batch of pipelined replies in one system call.  Writing, and TLS, stay with
 * the bufferevent. */
#ifndef SLUICE_EVREAD_H
#define SLUICE_EVREAD_H
#include <event2/buffer.h>
#include <sys/types.h>

#define EVREAD_CHUNK (16 * 1024)

/* evread_fd - one readv of up to EVREAD_CHUNK bytes from fd appended to in, the input
 * buffer of a bufferevent (its end is frozen except while reading): bytes read, 0 at end of
 * file, -1 with errno set (EAGAIN: nothing there yet) */
ssize_t evread_fd(struct evbuffer *in, int fd);
#endif
