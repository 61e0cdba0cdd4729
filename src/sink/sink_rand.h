/* sink_rand.h - the sink's random draws: splitmix64 streams, so that a --seed makes every
 * probabilistic policy (overload, drop, a script's chance) repeat the same decisions for the
 * same sequence of connections and transactions.  Each policy has its own stream, so one
 * policy's draws never shift another's.  Header-only: two small inline functions. */
#ifndef SLUICE_SINK_RAND_H
#define SLUICE_SINK_RAND_H
#include <stdint.h>

/* sink_rand_next - the next 64 random bits of the stream *state */
static inline uint64_t sink_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* sink_rand_chance - 1 with probability p (0 <= p <= 1); always draws once */
static inline int sink_rand_chance(uint64_t *state, double p)
{
    double u = (double)(sink_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return u < p;
}

#endif
