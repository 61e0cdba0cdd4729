/* ratemodel.c - the rate-limit learner of ratemodel.h. */
#include "shaping/ratemodel.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#define SEC 1000000LL
const int64_t rm_windows_us[RM_NWIN] = {1 * SEC,  2 * SEC,   5 * SEC,   10 * SEC,  15 * SEC,
                                        20 * SEC, 30 * SEC,  60 * SEC,  120 * SEC, 300 * SEC,
                                        600 * SEC, 900 * SEC, 1800 * SEC, 3600 * SEC};
#define MIN_CAP 256
#define MAX_CAP 65536
#define PROBE_FIRST (300 * SEC)
#define PROBE_MAX (6 * 3600 * SEC)

void rm_init(ratemodel *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < RM_NWIN; i++)
        m->refused_min[i] = UINT32_MAX;
    m->probe_every_us = PROBE_FIRST;
}

void rm_free(ratemodel *m)
{
    free(m->t);
    m->t = NULL;
}

/* nth_newest - the k-th newest accepted time (k = 0 newest) */
static int64_t nth_newest(const ratemodel *m, uint32_t k)
{
    return m->t[(m->head + m->cap - 1 - k) % m->cap];
}

/* count_within - accepted messages in (now - w, now] (capped by what the ring holds) */
static uint32_t count_within(const ratemodel *m, int64_t now, int64_t w)
{
    uint32_t lo = 0, hi = m->n;   /* binary search: times are in order */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (nth_newest(m, mid) > now - w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* grow - a bigger ring once the destination proves rate-limited */
static void grow(ratemodel *m, uint32_t cap)
{
    int64_t *t = xcalloc(cap, sizeof *t);
    for (uint32_t k = 0; k < m->n; k++)
        t[m->n - 1 - k] = nth_newest(m, k);
    free(m->t);
    m->t = t;
    m->cap = cap;
    m->head = m->n % cap;
}

void rm_accepted(ratemodel *m, int64_t now)
{
    if (!m->t)
        grow(m, MIN_CAP);
    if (m->n == m->cap && m->refusals && m->cap < MAX_CAP)
        grow(m, m->cap * 2);
    int w = rm_window(m);
    uint32_t before = w >= 0 ? m->accepted_max[w] : 0;
    m->t[m->head] = now;
    m->head = (m->head + 1) % m->cap;
    if (m->n < m->cap)
        m->n++;
    for (int i = 0; i < RM_NWIN; i++) {
        uint32_t c = count_within(m, now, rm_windows_us[i]);
        if (c > m->accepted_max[i])
            m->accepted_max[i] = c;
    }
    if (w >= 0 && m->bonus && m->accepted_max[w] > before) {
        m->bonus = 0;   /* the probe was accepted: it is the new baseline */
        m->quiet_since_us = now;
    }
}

/* relearn - nothing is plausible any more: keep the history, forget the conclusions */
static void relearn(ratemodel *m, int64_t now)
{
    for (int i = 0; i < RM_NWIN; i++) {
        m->accepted_max[i] = m->t ? count_within(m, now, rm_windows_us[i]) : 0;
        m->refused_min[i] = UINT32_MAX;
    }
}

void rm_refused(ratemodel *m, int64_t now, uint32_t inflight)
{
    int was = rm_window(m);
    m->refusals++;
    for (int i = 0; i < RM_NWIN; i++) {
        uint32_t c = (m->t ? count_within(m, now, rm_windows_us[i]) : 0) + inflight;
        if (c < m->refused_min[i])
            m->refused_min[i] = c;
    }
    if (was >= 0 && rm_window(m) < 0) {
        relearn(m, now);
        for (int i = 0; i < RM_NWIN; i++)
            m->refused_min[i] = (m->t ? count_within(m, now, rm_windows_us[i]) : 0) + inflight;
    }
    if (m->bonus)   /* the probe went too far: probe less often */
        m->probe_every_us = m->probe_every_us * 2 > PROBE_MAX ? PROBE_MAX : m->probe_every_us * 2;
    m->bonus = 0;
    m->quiet_since_us = now;
    if (m->cap < MAX_CAP)
        grow(m, m->cap ? (m->cap * 4 < MAX_CAP ? m->cap * 4 : MAX_CAP) : MIN_CAP);
}

int rm_window(const ratemodel *m)
{
    if (!m->refusals)
        return -1;
    for (int i = 0; i < RM_NWIN; i++)
        if (m->accepted_max[i] > 0 && m->accepted_max[i] <= m->refused_min[i])
            return i;
    return -1;
}

uint32_t rm_limit(const ratemodel *m, int64_t *window_us)
{
    int w = rm_window(m);
    if (w < 0)
        return 0;
    *window_us = rm_windows_us[w];
    return m->accepted_max[w] + m->bonus;
}

int64_t rm_allowed_at(const ratemodel *m, int64_t now, uint32_t inflight)
{
    int64_t win;
    uint32_t n = rm_limit(m, &win);
    if (!n)
        return now;
    uint32_t used = count_within(m, now, win) + inflight;
    if (used < n)
        return now;
    /* wait until enough accepted messages leave the window */
    uint32_t must_leave = used - n + 1;
    if (must_leave > count_within(m, now, win))
        return now + win;   /* in-flight ones decide: look again when they are answered */
    int64_t oldest = nth_newest(m, count_within(m, now, win) - must_leave);
    return oldest + win + 1;
}

void rm_tick(ratemodel *m, int64_t now)
{
    if (rm_window(m) < 0 || now - m->quiet_since_us < m->probe_every_us)
        return;
    m->bonus++;
    m->quiet_since_us = now;
}

void rm_set(ratemodel *m, uint32_t n, int64_t window_us, int64_t now)
{
    for (int i = 0; i < RM_NWIN; i++) {
        if (rm_windows_us[i] < window_us) {
            m->refused_min[i] = 0;   /* shorter windows are known not to be it */
        } else if (rm_windows_us[i] == window_us) {
            m->accepted_max[i] = n;
            m->refused_min[i] = n;
        }
    }
    m->refusals = 1;
    m->quiet_since_us = now;
}

uint32_t rm_count_since(const ratemodel *m, int64_t since)
{
    uint32_t k = 0;
    while (k < m->n && m->t[(m->head + m->cap - 1 - k) % m->cap] >= since)
        k++;
    return k;
}
