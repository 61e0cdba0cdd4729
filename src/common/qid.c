/* qid.c - queue id generation and formatting (see qid.h for the format). */
#include "common/qid.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>

#include "common/clock.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static _Atomic uint64_t last_id;

qid_t qid_next(void)
{
    uint64_t now = (uint64_t)clock_now_us() & ((1ULL << 60) - 1);
    uint64_t prev = atomic_load(&last_id);
    uint64_t next;
    do {
        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak(&last_id, &prev, next));
    return next;
}

void qid_observe(qid_t seen)
{
    uint64_t prev = atomic_load(&last_id);
    while (seen > prev && !atomic_compare_exchange_weak(&last_id, &prev, seen))
        ;
}

char *qid_format(qid_t id, char out[QID_LEN + 1])
{
    for (int i = QID_LEN - 1; i >= 0; i--) {
        out[i] = alphabet[id & 31];
        id >>= 5;
    }
    out[QID_LEN] = 0;
    return out;
}

/* digit_value - Crockford base32 value of c, accepting the usual look-alikes; -1 if none */
static int digit_value(int c)
{
    c = toupper(c);
    if (c == 'O')
        c = '0';
    if (c == 'I' || c == 'L')
        c = '1';
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

int qid_parse(const char *s, qid_t *id)
{
    if (!s || strlen(s) != QID_LEN)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < QID_LEN; i++) {
        int d = digit_value((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = (v << 5) | (uint64_t)d;
    }
    *id = v;
    return 0;
}

int64_t qid_time_us(qid_t id)
{
    return (int64_t)id;
}
