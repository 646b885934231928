/* fv_rng — the renderer's own pseudo-random numbers (xoshiro256**, seeded through splitmix64),
 * so that a recipe gives the same bytes on every run and does not depend on libc's rand(). */
#ifndef FV_RNG_H
#define FV_RNG_H

#include <stdint.h>

/* Generator state; plain value type, no allocation. */
typedef struct fv_rng {
    uint64_t s[4];
} fv_rng;

/* Seeds r from a 64-bit seed (any value, including 0). */
void fv_rng_seed(fv_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t fv_rng_next(fv_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double fv_rng_uniform(fv_rng *r);
/* Uniform integer in [0, n) (n >= 1), without modulo bias. */
uint64_t fv_rng_below(fv_rng *r, uint64_t n);
/* Standard normal deviate (Box-Muller, one value per call). */
double fv_rng_normal(fv_rng *r);

#endif
