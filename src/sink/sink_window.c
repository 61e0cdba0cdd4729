/* sink_window.c - the sliding window: a ring of event times, oldest first.  An event at time
 * t is inside the window at now while now - t < span. */
#include "sink/sink_window.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/* expire - forget the events that have left the window */
static void expire(sink_window *w, int64_t now, int64_t span)
{
    while (w->n && now - w->t[w->head] >= span) {
        w->head = (w->head + 1) % w->cap;
        w->n--;
    }
}

/* grow - double the ring, unwrapping it so the oldest event is first */
static void grow(sink_window *w)
{
    size_t cap = w->cap ? w->cap * 2 : 8;
    int64_t *t = xmalloc(cap * sizeof *t);
    for (size_t i = 0; i < w->n; i++)
        t[i] = w->t[(w->head + i) % w->cap];
    free(w->t);
    w->t = t;
    w->cap = cap;
    w->head = 0;
}

size_t sink_window_count(sink_window *w, int64_t now, int64_t span)
{
    expire(w, now, span);
    return w->n;
}

void sink_window_add(sink_window *w, int64_t now, int64_t span)
{
    expire(w, now, span);
    if (w->n == w->cap)
        grow(w);
    w->t[(w->head + w->n) % w->cap] = now;
    w->n++;
}

void sink_window_free(sink_window *w)
{
    free(w->t);
    memset(w, 0, sizeof *w);
}
