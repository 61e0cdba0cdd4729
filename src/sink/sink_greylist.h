/* sink_greylist.h - the greylist table: when a triplet (client network, sender, recipient)
 * was first tried and whether it has passed.
 *
 * Rules (times in microseconds, from the caller's clock):
 *  - a triplet never seen, or forgotten, is recorded at its first attempt and refused;
 *  - retried before first + delay: refused again (the first attempt's time is kept);
 *  - retried at or after first + delay and before first + expire: accepted, and from then on
 *    the triplet passes while it is used again within expire of its last accepted use;
 *  - not retried (or not used) within expire: forgotten, so the next attempt is a first one.
 * Forgotten entries are swept whenever the table has doubled since the last sweep.
 * Ownership: sink_greylist_new returns a table the caller frees with sink_greylist_free. */
#ifndef SLUICE_SINK_GREYLIST_H
#define SLUICE_SINK_GREYLIST_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct sink_greylist sink_greylist;

sink_greylist *sink_greylist_new(int64_t delay_us, int64_t expire_us);
void sink_greylist_free(sink_greylist *g);
/* sink_greylist_check - 1 to accept the triplet now, 0 to refuse it (greylisted) */
int sink_greylist_check(sink_greylist *g, const void *key, size_t klen, int64_t now);
/* sink_greylist_size - entries held now */
size_t sink_greylist_size(const sink_greylist *g);

/* sink_greylist_key - the triplet's key into buf (size bufsize): the client address masked
 * to bits4 (IPv4) or bits6 (IPv6) prefix bits, then sender and recipient in lower case,
 * NUL-separated; returns its length (cut at bufsize) */
size_t sink_greylist_key(const struct sockaddr *sa, int bits4, int bits6, const char *sender,
                         const char *rcpt, char *buf, size_t bufsize);

#endif
