/* clock.c - real or fake time.  The fake clock is a test device: it only moves when
 * clock_advance is called, and then wall and monotonic time move together. */
#include "common/clock.h"

#include <stdatomic.h>
#include <time.h>

static atomic_int fake_on;
static _Atomic int64_t fake_us;

int64_t clock_now_us(void)
{
    if (atomic_load(&fake_on))
        return atomic_load(&fake_us);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_now(void)
{
    return clock_now_us() / 1000000;
}

int64_t clock_mono_us(void)
{
    if (atomic_load(&fake_on))
        return atomic_load(&fake_us);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_set_fake(int64_t us)
{
    atomic_store(&fake_us, us);
    atomic_store(&fake_on, 1);
}

void clock_advance(int64_t us)
{
    atomic_fetch_add(&fake_us, us);
}

int clock_is_fake(void)
{
    return atomic_load(&fake_on);
}
