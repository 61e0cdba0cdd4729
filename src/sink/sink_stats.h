/* sink_stats.h - the counters behind the sink's summary, across all listeners: accepted
 * messages, duplicates (the same Message-ID and recipient accepted again), refusals by
 * policy, and per client IP the connections, the peak of simultaneous connections, the
 * accepted messages, their rate and the busiest window.
 *
 * Ownership: sink_stats_new returns counters the caller frees with sink_stats_free; a client
 * handle from sink_stats_connect lives as long as the counters (entries are never removed).
 * Policy names passed in must stay valid as long as the counters (static strings or the
 * reply script's rule names). */
#ifndef SLUICE_SINK_STATS_H
#define SLUICE_SINK_STATS_H
#include <stdint.h>
#include <stdio.h>

typedef struct sink_stats sink_stats;
typedef struct sink_client sink_client;

/* sink_stats_new - counters whose busiest-window figure uses window_us */
sink_stats *sink_stats_new(int64_t window_us);
void sink_stats_free(sink_stats *st);
/* sink_stats_connect - a connection from the client with this key (netaddr_key) and IP text */
sink_client *sink_stats_connect(sink_stats *st, const uint8_t key[17], const char *ip);
void sink_stats_disconnect(sink_stats *st, sink_client *c);
/* sink_stats_accept - one accepted message at now_us (monotonic); message_id "" when none */
void sink_stats_accept(sink_stats *st, sink_client *c, const char *message_id,
                       char *const *rcpts, int nrcpt, int64_t now_us);
/* sink_stats_refusal - one refusal (a 4xx/5xx or, with dropped, a close without reply) */
void sink_stats_refusal(sink_stats *st, const char *policy, int dropped);
int64_t sink_stats_accepted(const sink_stats *st);
int64_t sink_stats_duplicates(const sink_stats *st);
/* sink_stats_print - the summary, as text or one JSON object, to f */
void sink_stats_print(const sink_stats *st, FILE *f, int json, double elapsed_s,
                      uint64_t seed);

#endif
