/* clock.h - the one source of time.  Tests install a fake clock so that days of retry
 * schedules run in milliseconds; everything that schedules asks here, never time(2). */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H
#include <stdint.h>

/* clock_now_us - wall-clock microseconds since the epoch (real or fake) */
int64_t clock_now_us(void);
/* clock_now - wall-clock seconds since the epoch */
int64_t clock_now(void);
/* clock_mono_us - monotonic microseconds, for measuring durations (fake clock aware) */
int64_t clock_mono_us(void);
/* clock_set_fake - from now on time stands at us until advanced */
void clock_set_fake(int64_t us);
void clock_advance(int64_t us);
int clock_is_fake(void);

#endif
