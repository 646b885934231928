/* nn_amx — float GEMM on AMX tiles by bf16x3 splitting (see nn_amx.h).
 *
 * Layout. The tiles are 16 rows x 64 bytes: an A tile is 16 rows of 32 bf16 along k; a B tile is
 * 16 rows of k pairs, each row 16 columns x 2 bf16 (the pair k, k+1 side by side: the "VNNI"
 * order TDPBF16PS reads); a C tile is 16 x 16 floats. The operands are packed, per chunk of KC
 * values of k, into runs of whole tiles (1 KB each, hi then lo), zero-padded to multiples of 16
 * rows, 16 columns and 32 k: padding adds zeros to the sums, never changes them.
 *
 * Loop: for each k chunk, B's chunk is packed once; then for each panel of 32 rows of A, the
 * panel's chunk is packed and every pair of 16-column blocks is computed in four C tiles (2 x 2),
 * with 12 tile products per 32 k (hi.hi, hi.lo, lo.hi for each of the four, in that order in every
 * block shape). C is read (beta 1
 * or a later chunk) and written through the tiles directly when the block lies inside C, through
 * a 16 x 16 scratch at the edges. Every C element sums its k chunks, its k blocks and its three
 * terms in one fixed order. */
#include "nn_amx.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#define KC 512  /* k per chunk: a 32-row panel (64 KB) and B's chunk stay in L2 */
#define TILE 512 /* bf16 per tile (16 x 32) */

/* ---- availability ---- */

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int g_available;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
    const char *env = getenv("FV_NO_AMX");
    if (env && *env && strcmp(env, "0") != 0) return;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* OSXSAVE */
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    int tile = (d >> 24) & 1, bf16 = (d >> 22) & 1, f = (b >> 16) & 1, bw = (b >> 30) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    int avx512bf16 = (a >> 5) & 1;
    if (!tile || !bf16 || !f || !bw || !avx512bf16) return;
    /* The OS must save the AVX-512 state (XCR0 bits 5-7) and the tile state (17, 18). */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6 || (lo & 0x60000) != 0x60000) return;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return;
    g_available = 1;
}

int nn_amx_available(void)
{
    pthread_once(&g_once, detect);
    return g_available;
}

/* ---- splitting and packing ----
 * Everything below runs only once nn_amx_available() said yes, so only it is compiled for these
 * extensions (the detection above must run on any x86-64). */
#ifdef __clang__ /* the fuzz build */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")
#endif

/* hi = bf16(x) (round to nearest even), lo = bf16(x - hi), 16 floats at a time. */
static inline void split16(__m512 x, __m256i *hi, __m256i *lo)
{
    __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    *hi = h;
    *lo = (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(x, hf));
}

static inline __m512 load16(const float *p, int n)
{
    return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}

/* Per thread: the packed panel of A and chunk of B. */
static _Thread_local uint16_t *tl_a, *tl_b;
static _Thread_local size_t tl_acap, tl_bcap;

static uint16_t *scratch(uint16_t **p, size_t *cap, size_t n)
{
    if (*cap < n) {
        free(*p);
        *p = aligned_alloc(64, (n * sizeof(uint16_t) + 63) / 64 * 64);
        if (!*p) xmalloc((size_t)-1); /* out of memory: reported and aborted as xmalloc does */
        *cap = n;
    }
    return *p;
}

/* Pair word i of a B tile row: element i of the even k row, then element i of the odd one. */
static const uint16_t pair_perm[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                       8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};

/* The 16 pair words of rows e and o (o may be NULL: zeros), 16 columns from e / o (n of them
 * present), split: hi and lo words. */
static inline void pairs16(const float *e, const float *o, int n, __m512i idx, __m512i *hi, __m512i *lo)
{
    __m256i eh, el, oh = _mm256_setzero_si256(), ol = oh;
    split16(load16(e, n), &eh, &el);
    if (o) split16(load16(o, n), &oh, &ol);
    *hi = _mm512_permutex2var_epi16(_mm512_castsi256_si512(eh), idx, _mm512_castsi256_si512(oh));
    *lo = _mm512_permutex2var_epi16(_mm512_castsi256_si512(el), idx, _mm512_castsi256_si512(ol));
}

/* A's rows [r0, r0 + rows) (rows <= 32), k in [k0, k0 + kl), into 2 row tiles x kb k blocks:
 * tile (t, q) hi at dst + ((t * kb + q) * 2) * TILE, lo one tile further. Every byte of the two
 * row tiles is written (padding with zeros). */
static void pack_a(int ta, const float *a, int lda, int r0, int rows, int k0, int kl, int kb, uint16_t *dst)
{
    const size_t TS = (size_t)kb * 2 * TILE; /* one row tile over all k blocks */
    if (!ta) {
        for (int r = 0; r < rows; r++) {
            const float *src = a + (size_t)(r0 + r) * lda + k0;
            uint16_t *row = dst + (size_t)(r / 16) * TS + (size_t)(r % 16) * 32;
            for (int q = 0; q < kb; q++)
                for (int h = 0; h < 2; h++) {
                    int k = q * 32 + h * 16, left = kl - k;
                    __m256i hi = _mm256_setzero_si256(), lo = hi;
                    if (left > 0) split16(load16(src + k, left), &hi, &lo);
                    _mm256_storeu_si256((__m256i *)(row + (size_t)q * 2 * TILE + h * 16), hi);
                    _mm256_storeu_si256((__m256i *)(row + (size_t)q * 2 * TILE + TILE + h * 16), lo);
                }
        }
        for (int r = rows; r < 32; r++)
            for (int q = 0; q < kb; q++) {
                uint16_t *row = dst + (size_t)(r / 16) * TS + (size_t)q * 2 * TILE + (size_t)(r % 16) * 32;
                memset(row, 0, 64);
                memset(row + TILE, 0, 64);
            }
        return;
    }
    /* A stored (k, m): storage row k holds this panel's rows side by side. Per k block and row
     * tile, pairs of storage rows become 16 pair words per tile row (as for B), and the 16 x 16
     * words are transposed through a gather. */
    const __m512i idx = _mm512_loadu_si512(pair_perm);
    static const int32_t col16[16] = {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240};
    const __m512i gidx = _mm512_loadu_si512(col16);
    uint32_t th[256] __attribute__((aligned(64))), tl[256] __attribute__((aligned(64)));
    for (int t = 0; t < 2; t++) {
        int n = rows - t * 16;
        for (int q = 0; q < kb; q++) {
            uint16_t *tile = dst + (size_t)t * TS + (size_t)q * 2 * TILE;
            if (n <= 0) {
                memset(tile, 0, sizeof(uint16_t) * 2 * TILE);
                continue;
            }
            for (int p = 0; p < 16; p++) {
                int k = q * 32 + 2 * p;
                __m512i hi = _mm512_setzero_si512(), lo = hi;
                if (k < kl) {
                    const float *e = a + (size_t)(k0 + k) * lda + r0 + t * 16;
                    pairs16(e, k + 1 < kl ? e + lda : NULL, n, idx, &hi, &lo);
                }
                _mm512_store_si512(th + p * 16, hi);
                _mm512_store_si512(tl + p * 16, lo);
            }
            for (int r = 0; r < 16; r++) {
                _mm512_storeu_si512(tile + r * 32, _mm512_i32gather_epi32(gidx, th + r, 4));
                _mm512_storeu_si512(tile + TILE + r * 32, _mm512_i32gather_epi32(gidx, tl + r, 4));
            }
        }
    }
}

/* B's k in [k0, k0 + kl) and all n columns into nt column tiles x kb k blocks: tile (j, q) hi at
 * dst + ((j * kb + q) * 2) * TILE, lo one tile further; in a tile, row p holds k = 2p, 2p + 1
 * of the block for its 16 columns, as pairs. Every byte is written (padding with zeros). */
static void pack_b(int tb, const float *b, int ldb, int k0, int kl, int n, int kb, uint16_t *dst)
{
    int nt = (n + 15) / 16;
    if (!tb) {
        const __m512i idx = _mm512_loadu_si512(pair_perm);
        for (int k = 0; k < kb * 32; k += 2) {
            int q = k / 32, p = (k % 32) / 2;
            for (int j = 0; j < nt; j++) {
                uint16_t *tile = dst + ((size_t)j * kb + q) * 2 * TILE + (size_t)p * 32;
                __m512i h = _mm512_setzero_si512(), l = h;
                if (k < kl) {
                    const float *e = b + (size_t)(k0 + k) * ldb + j * 16;
                    pairs16(e, k + 1 < kl ? e + ldb : NULL, n - j * 16, idx, &h, &l);
                }
                _mm512_storeu_si512(tile, h);
                _mm512_storeu_si512(tile + TILE, l);
            }
        }
        return;
    }
    /* B stored (n, k): a storage row holds one column's k values; pairs are adjacent already. */
    memset(dst, 0, sizeof(uint16_t) * (size_t)nt * kb * 2 * TILE);
    for (int c = 0; c < n; c++) {
        const float *src = b + (size_t)c * ldb + k0;
        int j = c / 16, cc = c % 16;
        for (int q = 0; q < kb; q++) {
            uint32_t *th = (uint32_t *)(dst + ((size_t)j * kb + q) * 2 * TILE) + cc;
            uint32_t *tl = th + TILE / 2;
            for (int h = 0; h < 2; h++) {
                int k = q * 32 + h * 16, left = kl - k;
                if (left <= 0) break;
                __m256i hi, lo;
                split16(load16(src + k, left), &hi, &lo);
                uint32_t h8[8], l8[8];
                _mm256_storeu_si256((__m256i *)h8, hi);
                _mm256_storeu_si256((__m256i *)l8, lo);
                for (int w = 0; w < 8; w++) {
                    th[(h * 8 + w) * 16] = h8[w];
                    tl[(h * 8 + w) * 16] = l8[w];
                }
            }
        }
    }
}

/* ---- the tile kernel ---- */

typedef struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

static void configure(void)
{
    tilecfg t;
    memset(&t, 0, sizeof t);
    t.palette = 1;
    for (int i = 0; i < 8; i++) t.colsb[i] = 64, t.rows[i] = 16;
    _tile_loadconfig(&t);
}

/* C block (rows r0.., cols c0..) of up to 16 x 16 into or out of a tile through scratch s when
 * it is not whole. */
#define C_LOAD(T, ok, cp, ldc, rows, cols, zero, s)                                                                 \
    do {                                                                                                           \
        if (zero) {                                                                                                \
            _tile_zero(T);                                                                                         \
        } else if (ok) {                                                                                           \
            _tile_loadd(T, cp, (size_t)(ldc) * 4);                                                                 \
        } else {                                                                                                   \
            memset(s, 0, sizeof(float) * 256);                                                                     \
            for (int r_ = 0; r_ < (rows); r_++) memcpy(s + r_ * 16, (cp) + (size_t)r_ * (ldc), sizeof(float) * (cols)); \
            _tile_loadd(T, s, 64);                                                                                 \
        }                                                                                                          \
    } while (0)
#define C_STORE(T, ok, cp, ldc, rows, cols, s)                                                                      \
    do {                                                                                                           \
        if (ok) {                                                                                                  \
            _tile_stored(T, cp, (size_t)(ldc) * 4);                                                                \
        } else {                                                                                                   \
            _tile_stored(T, s, 64);                                                                                \
            for (int r_ = 0; r_ < (rows); r_++) memcpy((cp) + (size_t)r_ * (ldc), s + r_ * 16, sizeof(float) * (cols)); \
        }                                                                                                          \
    } while (0)

/* One 32 x 32 block (or less) of C: rows [r0, r0 + rows), cols [c0, c0 + cols), from the packed
 * panel pa (its row tiles) and column tiles j, j + 1 of pb; zero: start from 0 instead of C. */
static void block(const uint16_t *pa, const uint16_t *pb, int kb, int j, float *c, int ldc, int rows, int cols,
                  int zero)
{
    float s[256] __attribute__((aligned(64)));
    int two_r = rows > 16, two_c = cols > 16;
    int r1 = two_r ? rows - 16 : 0, ca = two_c ? 16 : cols, c1 = two_c ? cols - 16 : 0;
    int ra = two_r ? 16 : rows;
    float *c00 = c, *c01 = c + 16, *c10 = c + (size_t)16 * ldc, *c11 = c10 + 16;
    C_LOAD(0, ra == 16 && ca == 16, c00, ldc, ra, ca, zero, s);
    if (two_c) C_LOAD(1, ra == 16 && c1 == 16, c01, ldc, ra, c1, zero, s);
    if (two_r) C_LOAD(2, r1 == 16 && ca == 16, c10, ldc, r1, ca, zero, s);
    if (two_r && two_c) C_LOAD(3, r1 == 16 && c1 == 16, c11, ldc, r1, c1, zero, s);
    const uint16_t *a0 = pa, *a1 = pa + (size_t)kb * 2 * TILE;
    const uint16_t *b0 = pb + (size_t)j * kb * 2 * TILE, *b1 = b0 + (size_t)kb * 2 * TILE;
    /* Tiles 4, 5: A (two row tiles, or hi and lo of one); 6, 7: B likewise. Per k block the
     * terms go hi.hi, hi.lo, lo.hi in every shape. */
#define LD(t, p) _tile_loadd(t, p, 64)
#define QUAD()                                                                                    \
    do {                                                                                          \
        _tile_dpbf16ps(0, 4, 6);                                                                  \
        _tile_dpbf16ps(1, 4, 7);                                                                  \
        _tile_dpbf16ps(2, 5, 6);                                                                  \
        _tile_dpbf16ps(3, 5, 7);                                                                  \
    } while (0)
    for (int q = 0; q < kb; q++) {
        const size_t o = (size_t)q * 2 * TILE, l = o + TILE;
        if (two_r && two_c) {
            LD(4, a0 + o); LD(5, a1 + o); LD(6, b0 + o); LD(7, b1 + o); QUAD();
            LD(6, b0 + l); LD(7, b1 + l); QUAD();
            LD(4, a0 + l); LD(5, a1 + l); LD(6, b0 + o); LD(7, b1 + o); QUAD();
        } else if (two_c) {
            LD(4, a0 + o); LD(6, b0 + o); LD(7, b1 + o); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            LD(6, b0 + l); LD(7, b1 + l); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            LD(5, a0 + l); LD(6, b0 + o); LD(7, b1 + o); _tile_dpbf16ps(0, 5, 6); _tile_dpbf16ps(1, 5, 7);
        } else if (two_r) {
            LD(4, a0 + o); LD(5, a1 + o); LD(6, b0 + o); LD(7, b0 + l);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(2, 5, 6); /* hi.hi */
            _tile_dpbf16ps(0, 4, 7); _tile_dpbf16ps(2, 5, 7); /* hi.lo */
            LD(4, a0 + l); LD(5, a1 + l); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(2, 5, 6);
        } else {
            LD(4, a0 + o); LD(5, a0 + l); LD(6, b0 + o); LD(7, b0 + l);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(0, 4, 7); _tile_dpbf16ps(0, 5, 6);
        }
    }
#undef QUAD
#undef LD
    C_STORE(0, ra == 16 && ca == 16, c00, ldc, ra, ca, s);
    if (two_c) C_STORE(1, ra == 16 && c1 == 16, c01, ldc, ra, c1, s);
    if (two_r) C_STORE(2, r1 == 16 && ca == 16, c10, ldc, r1, ca, s);
    if (two_r && two_c) C_STORE(3, r1 == 16 && c1 == 16, c11, ldc, r1, c1, s);
}

static _Thread_local float *tl_t;
static _Thread_local size_t tl_tcap;

void nn_amx_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (ta && !tb && m > n && k > 0) {
        /* A weight gradient: A^T B with A (k, m) the tall matrix of inputs and B (k, n) the
         * output gradient, n the fewer columns. Packing A^T transposes it, which is slow; as the
         * B operand it needs no transpose. So C^T = B^T A is computed (m and n swapped) and
         * transposed back: the packing transposes B, the smaller one. */
        if (tl_tcap < (size_t)m * n) {
            free(tl_t);
            tl_t = xmalloc(sizeof(float) * (size_t)m * n);
            tl_tcap = (size_t)m * n;
        }
        float *t = tl_t;
        nn_amx_gemm(1, 0, n, m, k, b, ldb, a, lda, 0.0f, t, m);
        for (int r = 0; r < m; r++) {
            float *row = c + (size_t)r * ldc;
            if (beta == 0.0f)
                for (int q = 0; q < n; q++) row[q] = t[(size_t)q * m + r];
            else
                for (int q = 0; q < n; q++) row[q] += t[(size_t)q * m + r];
        }
        return;
    }
    if (k <= 0) {
        if (beta == 0.0f)
            for (int r = 0; r < m; r++) memset(c + (size_t)r * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    configure();
    int nt = (n + 15) / 16;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kl = k - k0 < KC ? k - k0 : KC, kb = (kl + 31) / 32, zero = k0 == 0 && beta == 0.0f;
        uint16_t *pb = scratch(&tl_b, &tl_bcap, (size_t)nt * kb * 2 * TILE);
        uint16_t *pa = scratch(&tl_a, &tl_acap, (size_t)2 * kb * 2 * TILE);
        pack_b(tb, b, ldb, k0, kl, n, kb, pb);
        for (int r0 = 0; r0 < m; r0 += 32) {
            int rows = m - r0 < 32 ? m - r0 : 32;
            pack_a(ta, a, lda, r0, rows, k0, kl, kb, pa);
            for (int j = 0; j < nt; j += 2) {
                int c0 = j * 16, cols = n - c0 < 32 ? n - c0 : 32;
                block(pa, pb, kb, j, c + (size_t)r0 * ldc + c0, ldc, rows, cols, zero);
            }
        }
    }
    /* Back to the initial tile state: a thread switch then need not save and restore 8 KB of
     * tile registers. */
    _tile_release();
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
