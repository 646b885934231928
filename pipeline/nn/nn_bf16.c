/* nn_bf16 — float GEMM on AVX512-BF16 vectors by bf16x3 splitting (see nn_bf16.h).
 *
 * VDPBF16PS adds to each of 16 float lanes the products of one pair of bf16 (k and k + 1) from
 * each operand. So B is packed in panels of 32 columns: per k pair, 32 pair words of hi, then 32
 * of lo (two vectors each); and A in panels of MR rows of hi and lo pair words (by pair or by row,
 * as A is stored: pack_a), each broadcast to all lanes. Per k pair and row, six instructions: hi.hi, hi.lo, lo.hi
 * for each of the two column vectors, in that order, into MR x 2 accumulators (24 of the 32
 * registers; 4 hold B, 2 the broadcasts). Three bf16 products per float product, at one
 * VDPBF16PS per cycle (32 products) where one VFMADD231PS gives 16 float products: the bf16x3
 * peak is 2/3 of the float FMA peak on a CPU that issues both at the same rate (README, the
 * benchmark note). Pairing the terms differently (A (hi, lo) against B (hi, hi)) needs the same
 * three instructions per pair of k and more broadcasts.
 *
 * k is cut into equal chunks of at most KC: a B panel's chunk (48 KB) stays in L1 or L2, an A
 * panel's (18 KB) in L1.
 * Padding (rows past m, columns past n, the odd k of an odd chunk) is zeros: it adds nothing.
 * Every C element sums its chunks, its k pairs and its three terms in one fixed order. */
#include "nn_bf16.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MR 12   /* rows per A panel */
#define NR 32   /* columns per B panel: two vectors */
#define KC 384  /* k per chunk, at most */
#define KP (KC / 2)

/* ---- availability ---- */

static int g_available;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

int nn_bf16_cpu(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    int bf16 = (a >> 5) & 1;
    if (!f || !bw || !vl || !bf16) return 0;
    /* The OS must save the SSE, AVX and AVX-512 state (XCR0 bits 1, 2 and 5-7). */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6;
}

static void detect(void)
{
    const char *env = getenv("FV_NO_BF16");
    if (env && *env && strcmp(env, "0") != 0) return;
    g_available = nn_bf16_cpu();
}

int nn_bf16_available(void)
{
    pthread_once(&g_once, detect);
    return g_available;
}

/* ---- packing and the kernel ----
 * Everything below runs only once nn_bf16_available() said yes, so only it is compiled for these
 * extensions (the detection above must run on any x86-64). */
#ifdef __clang__ /* the fuzz build */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16")
#endif

#include "nn_split.h"

/* Per thread: the packed panel of A and chunk of B (32-bit pair words; capacities in bytes). */
static _Thread_local uint32_t *tl_a, *tl_b;
static _Thread_local size_t tl_acap, tl_bcap;

/* A's rows [r0, r0 + rows) (rows <= MR), k in [k0, k0 + kl), packed in one of two layouts, the
 * one its storage order gives by plain vector stores (the kernel reads either):
 * ta = 1, by pair: kp = (kl + 1) / 2 blocks of 2 * MR words, the MR rows' hi pairs, then their
 * lo pairs; ta = 0, by row: MR rows of KP hi pair words, then MR rows of KP lo pair words. */
static void pack_a(int ta, const float *a, int lda, int r0, int rows, int k0, int kl, uint32_t *dst)
{
    const int kp = (kl + 1) / 2;
    if (ta) { /* A (k, m): rows k and k + 1 hold the pair's halves of MR adjacent rows of op(A) */
        if (rows < MR) memset(dst, 0, sizeof(uint32_t) * 2 * MR * (size_t)kp);
        const __m512i idx = _mm512_loadu_si512(pair_perm);
        const __mmask16 m = (__mmask16)((1u << rows) - 1);
        for (int p = 0; p < kp; p++) {
            const float *e = a + (size_t)(k0 + 2 * p) * lda + r0, *o = 2 * p + 1 < kl ? e + lda : NULL;
            __m512i h, l;
            pairs16(e, o, rows, idx, &h, &l);
            _mm512_mask_storeu_epi32(dst + (size_t)p * 2 * MR, m, h);
            _mm512_mask_storeu_epi32(dst + (size_t)p * 2 * MR + MR, m, l);
        }
        return;
    }
    /* A (m, k): a row's k pairs lie side by side, 8 pairs per 16 floats (past kl: zeros; the
     * last store stays inside the row's KP words) */
    for (int r = 0; r < MR; r++) {
        uint32_t *dh = dst + (size_t)r * KP, *dl = dh + (size_t)MR * KP;
        if (r >= rows) {
            memset(dh, 0, sizeof(uint32_t) * (size_t)kp), memset(dl, 0, sizeof(uint32_t) * (size_t)kp);
            continue;
        }
        const float *src = a + (size_t)(r0 + r) * lda + k0;
        for (int k = 0; k < kl; k += 16) {
            __m256i h, l;
            split16(load16(src + k, kl - k), &h, &l);
            _mm256_storeu_si256((__m256i *)(dh + k / 2), h);
            _mm256_storeu_si256((__m256i *)(dl + k / 2), l);
        }
    }
}

/* B's columns [j0, j0 + cols) (cols <= NR), k in [k0, k0 + kl), into kp pair blocks of 4 * 16
 * words: hi of columns 0-15, hi of 16-31, lo of 0-15, lo of 16-31. */
static void pack_b(int tb, const float *b, int ldb, int j0, int cols, int k0, int kl, uint32_t *dst)
{
    const int kp = (kl + 1) / 2;
    if (!tb) { /* B (k, n): rows k and k + 1 give the pair's halves of 16 adjacent columns */
        const __m512i idx = _mm512_loadu_si512(pair_perm);
        for (int p = 0; p < kp; p++) {
            const float *e = b + (size_t)(k0 + 2 * p) * ldb + j0;
            int odd = 2 * p + 1 < kl;
            uint32_t *d = dst + (size_t)p * 4 * 16;
            for (int v = 0; v < 2; v++) {
                int n = cols - 16 * v;
                __m512i h = _mm512_setzero_si512(), l = h;
                if (n > 0) pairs16(e + 16 * v, odd ? e + ldb + 16 * v : NULL, n, idx, &h, &l);
                _mm512_storeu_si512(d + 16 * v, h);
                _mm512_storeu_si512(d + 32 + 16 * v, l);
            }
        }
        return;
    }
    /* B stored (n, k): a column's k pairs lie side by side, as A's rows above */
    if (cols < NR) memset(dst, 0, sizeof(uint32_t) * 4 * 16 * (size_t)kp);
    for (int j = 0; j < cols; j++) {
        const float *src = b + (size_t)(j0 + j) * ldb + k0;
        uint32_t *d = dst + j; /* hi at word j of 0-31, lo 32 further */
        for (int k = 0; k < kl; k += 16) {
            __m256i h, l;
            uint32_t h8[8], l8[8];
            split16(load16(src + k, kl - k), &h, &l);
            _mm256_storeu_si256((__m256i *)h8, h);
            _mm256_storeu_si256((__m256i *)l8, l);
            int np = kp - k / 2 < 8 ? kp - k / 2 : 8;
            for (int i = 0; i < np; i++) {
                uint32_t *q = d + (size_t)(k / 2 + i) * 64;
                q[0] = h8[i], q[32] = l8[i];
            }
        }
    }
}

#define DP(acc, x, y) acc = _mm512_dpbf16_ps(acc, (__m512bh)(x), (__m512bh)(y))

/* C's rows x cols block (rows <= MR, cols <= NR) at c += the packed panels' product over kp
 * pairs; load: start from C (else from zeros). Row r's hi pair p of A at pa[r * rs + p * ps], its
 * lo pair lo words further (constants: the two layouts of pack_a). */
static inline __attribute__((always_inline)) void kernel(const uint32_t *pa, const size_t rs, const size_t ps,
                                                         const size_t lo, const uint32_t *pb, int kp, float *c,
                                                         int ldc, int rows, int cols, int load)
{
    const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1),
                    m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        int in = load && r < rows;
        acc[r][0] = in ? _mm512_maskz_loadu_ps(m0, c + (size_t)r * ldc) : _mm512_setzero_ps();
        acc[r][1] = in ? _mm512_maskz_loadu_ps(m1, c + (size_t)r * ldc + 16) : _mm512_setzero_ps();
    }
    for (int p = 0; p < kp; p++, pa += ps, pb += 64) {
        const __m512i bh0 = _mm512_load_si512(pb), bh1 = _mm512_load_si512(pb + 16);
        const __m512i bl0 = _mm512_load_si512(pb + 32), bl1 = _mm512_load_si512(pb + 48);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            const __m512i ah = _mm512_set1_epi32((int)pa[r * rs]), al = _mm512_set1_epi32((int)pa[r * rs + lo]);
            DP(acc[r][0], ah, bh0);
            DP(acc[r][1], ah, bh1);
            DP(acc[r][0], ah, bl0);
            DP(acc[r][1], ah, bl1);
            DP(acc[r][0], al, bh0);
            DP(acc[r][1], al, bh1);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r >= rows) break;
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc[r][0]);
        if (m1) _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc[r][1]);
    }
}
#undef DP

static void kernel_by_pair(const uint32_t *pa, const uint32_t *pb, int kp, float *c, int ldc, int rows, int cols,
                           int load)
{
    kernel(pa, 1, 2 * MR, MR, pb, kp, c, ldc, rows, cols, load);
}

static void kernel_by_row(const uint32_t *pa, const uint32_t *pb, int kp, float *c, int ldc, int rows, int cols,
                          int load)
{
    kernel(pa, KP, 1, (size_t)MR * KP, pb, kp, c, ldc, rows, cols, load);
}

void nn_bf16_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (beta == 0.0f)
            for (int r = 0; r < m; r++) memset(c + (size_t)r * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    const int np = (n + NR - 1) / NR;
    uint32_t *pb = tl_b = pack_scratch(tl_b, &tl_bcap, sizeof(uint32_t) * np * KP * 64);
    uint32_t *pa = tl_a = pack_scratch(tl_a, &tl_acap, sizeof(uint32_t) * KP * 2 * MR);
    /* chunks of equal size (even, at most KC): no short last chunk that reloads C for little work */
    const int nch = (k + KC - 1) / KC, step = ((k + nch - 1) / nch + 1) & ~1;
    for (int k0 = 0; k0 < k; k0 += step) {
        const int kl = k - k0 < step ? k - k0 : step, kp = (kl + 1) / 2, load = k0 > 0 || beta != 0.0f;
        for (int j = 0; j < np; j++) {
            int cols = n - j * NR < NR ? n - j * NR : NR;
            pack_b(tb, tb ? b + (size_t)j * NR * ldb : b, ldb, tb ? 0 : j * NR, cols, k0, kl, pb + (size_t)j * kp * 64);
        }
        for (int r0 = 0; r0 < m; r0 += MR) {
            int rows = m - r0 < MR ? m - r0 : MR;
            pack_a(ta, a, lda, r0, rows, k0, kl, pa);
            for (int j = 0; j < np; j++) {
                int cols = n - j * NR < NR ? n - j * NR : NR;
                (ta ? kernel_by_pair : kernel_by_row)(pa, pb + (size_t)j * kp * 64, kp,
                                                      c + (size_t)r0 * ldc + (size_t)j * NR, ldc, rows, cols, load);
            }
        }
    }
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
