/* rng — see rng.h. Each function keeps, expression for expression, the arithmetic of the
 * renderer's or the classifier's own copy that it replaced: a different rounding would change
 * rendered and trained bytes. */
#include "rng.h"

#include <math.h>

uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(rng_state *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = rng_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng_state *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double rng_uniform(rng_state *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_uniform_open(rng_state *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

uint64_t rng_below(rng_state *r, uint64_t n)
{
    /* Rejection keeps every value equally likely (plain % would favour small ones). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rng_next(r);
    while (x >= limit);
    return x % n;
}

uint32_t rng_below32(rng_state *r, uint32_t n) { return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }

double rng_normal(rng_state *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double rng_normal_open(rng_state *r)
{
    double u = rng_uniform_open(r), v = rng_uniform_open(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
