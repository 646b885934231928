/* nn_split — splitting floats into bf16 hi + lo pairs, and the buffers they are packed into, for
 * the bf16x3 products of nn_amx (AMX tiles) and nn_bf16 (AVX512-BF16 vectors). Both compute a.b as hi.hi + hi.lo + lo.hi (nn_amx.h
 * says why that is about 1e-5 relative); this is the one place the split is defined, so both paths
 * split a float into the same two halves.
 *
 * Include it only inside a region compiled for avx512f, avx512bw, avx512vl and avx512bf16 (the
 * kernels' "#pragma GCC target" region, entered after their CPUID check): the functions are
 * static inline and use those instructions. */
#ifndef FV_NN_SPLIT_H
#define FV_NN_SPLIT_H

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

/* A packing buffer of at least bytes bytes, 64-byte aligned: old (capacity *cap bytes) if it is
 * large enough, else a new one (old freed, its contents dropped; *cap updated). Out of memory:
 * reported and aborted as xmalloc does. The kernels keep one per thread for the next call. */
static inline void *pack_scratch(void *old, size_t *cap, size_t bytes)
{
    if (*cap >= bytes) return old;
    free(old);
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) xmalloc((size_t)-1);
    *cap = bytes;
    return p;
}

/* hi = bf16(x) (round to nearest even), lo = bf16(x - hi), 16 floats at a time. */
static inline void split16(__m512 x, __m256i *hi, __m256i *lo)
{
    __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    *hi = h;
    *lo = (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(x, hf));
}

/* The first n of 16 floats at p (n < 16: the rest are zeros, nothing past them is read). */
static inline __m512 load16(const float *p, int n)
{
    return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}

/* Pair word i of a 32-bit lane: element i of the even k row, then element i of the odd one (the
 * order VDPBF16PS and TDPBF16PS read a pair in: k in the low half). */
static const uint16_t pair_perm[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                       8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};

/* The 16 pair words of rows e and o (o may be NULL: zeros), 16 columns from e / o (n of them
 * present), split: hi and lo words. idx: pair_perm, loaded. */
static inline void pairs16(const float *e, const float *o, int n, __m512i idx, __m512i *hi, __m512i *lo)
{
    __m256i eh, el, oh = _mm256_setzero_si256(), ol = oh;
    split16(load16(e, n), &eh, &el);
    if (o) split16(load16(o, n), &oh, &ol);
    *hi = _mm512_permutex2var_epi16(_mm512_castsi256_si512(eh), idx, _mm512_castsi256_si512(oh));
    *lo = _mm512_permutex2var_epi16(_mm512_castsi256_si512(el), idx, _mm512_castsi256_si512(ol));
}

#endif
