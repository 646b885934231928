/* fv_rng — xoshiro256** (Blackman & Vigna), state filled by splitmix64. */
#include "fv_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fv_rng_seed(fv_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fv_rng_next(fv_rng *r)
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

double fv_rng_uniform(fv_rng *r) { return (double)(fv_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t fv_rng_below(fv_rng *r, uint64_t n)
{
    /* Rejection keeps every value equally likely (plain % would favour small ones). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = fv_rng_next(r);
    while (x >= limit);
    return x % n;
}

double fv_rng_normal(fv_rng *r)
{
    double u1 = fv_rng_uniform(r), u2 = fv_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
