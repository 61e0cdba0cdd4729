/* sink_window.h - a sliding time window of events (the times of accepted messages), for the
 * --rate policy and the summary's busiest-window figure.  Exact: it keeps the time of every
 * event still inside the window, in a ring that grows as needed.
 *
 * Ownership: the caller owns the struct (a zeroed one is empty) and frees its memory with
 * sink_window_free.  Times are microseconds from clock_mono_us and must not go backwards. */
#ifndef SLUICE_SINK_WINDOW_H
#define SLUICE_SINK_WINDOW_H
#include <stddef.h>
#include <stdint.h>

typedef struct sink_window {
    int64_t *t;        /* ring of event times, oldest at head */
    size_t head, n, cap;
} sink_window;

/* sink_window_count - events in (now - span, now], after forgetting older ones */
size_t sink_window_count(sink_window *w, int64_t now, int64_t span);
/* sink_window_add - one event at now (forgetting events older than span) */
void sink_window_add(sink_window *w, int64_t now, int64_t span);
void sink_window_free(sink_window *w);

#endif
