/* rng — the pipeline's own pseudo-random numbers: xoshiro256** (Blackman & Vigna) with its state
 * filled by splitmix64, so that a seed gives the same numbers on every machine and run and never
 * depends on libc's rand().
 *
 * Two tools drew from their own copies before this module, and their outputs' bytes depend on the
 * exact draws, so both ways of turning bits into numbers are kept, each under its own name:
 * rng_uniform / rng_below / rng_normal (the renderer, fv) and rng_uniform_open / rng_below32 /
 * rng_normal_open (the classifier, fmnist). The generator and the seeding are the same for all. */
#ifndef FV_RNG_H
#define FV_RNG_H

#include <stdint.h>

/* Generator state; a plain value type, no allocation. */
typedef struct rng_state {
    uint64_t s[4];
} rng_state;

/* One step of splitmix64 on *x: advances it and returns 64 mixed bits. Seeds rng_seed, and is a
 * small generator of its own where one 64-bit word of state is enough (tsne's initialisation). */
uint64_t rng_splitmix64(uint64_t *x);

/* Seeds r from a 64-bit seed (any value, including 0). */
void rng_seed(rng_state *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t rng_next(rng_state *r);

/* Uniform double in [0, 1): the top 53 bits of one draw times 2^-53. */
double rng_uniform(rng_state *r);
/* Uniform double in (0, 1): the top 53 bits plus one half, times 2^-53 (never 0, so its logarithm
 * is finite). */
double rng_uniform_open(rng_state *r);

/* Uniform integer in [0, n) (n >= 1) without modulo bias (rejection: a variable number of draws). */
uint64_t rng_below(rng_state *r, uint64_t n);
/* Integer in [0, n) (n >= 1) from one draw: the top 32 bits times n, shifted down 32 (a bias of at
 * most n / 2^32, nothing for a shuffle of 60000 images). */
uint32_t rng_below32(rng_state *r, uint32_t n);

/* Standard normal deviate, Box-Muller on two rng_uniform draws (the first kept >= 1e-300), one
 * value per call. */
double rng_normal(rng_state *r);
/* Standard normal deviate, Box-Muller on two rng_uniform_open draws, one value per call. */
double rng_normal_open(rng_state *r);

#endif
