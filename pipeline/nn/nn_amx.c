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
 * block shape). C is read (beta 1 or a later chunk) and written through the tiles directly when
 * the block lies inside C, through a 16 x 16 scratch at the edges. Every C element sums its k
 * chunks, its k blocks and its three terms in one fixed order.
 *
 * Convolutions (nn_amx_conv_*) convert their input once to bf16 and pack im2col rows from it by
 * copies; where a tile's rows are adjacent input positions (stride 1, cin % 32 == 0) the A tiles
 * are loaded from it in place, with tiles of fewer rows (an output row of 28 as 2 x 14). Weight
 * gradients of stride-1 convolutions load their B tiles in place too, from the input converted
 * per image into pairs of positions (wgrad_in_place). */
#include "nn_amx.h"
#include "nn_bf16.h" /* nn_bf16_cpu */

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
    if (!nn_bf16_cpu()) return; /* AVX-512 F, BW, VL and BF16, their state saved by the OS */
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    if (!((d >> 24) & 1) || !((d >> 22) & 1)) return; /* AMX-TILE, AMX-BF16 */
    /* The OS must save the tile state too (XCR0 bits 17, 18). */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x60000) != 0x60000) return;
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

#include "nn_split.h" /* split16, load16, pair_perm, pairs16 */

/* Per thread: the packed panel of A and chunk of B. */
static _Thread_local uint16_t *tl_a, *tl_b;
static _Thread_local size_t tl_acap, tl_bcap;

static uint16_t *scratch(uint16_t **p, size_t *cap, size_t n)
{
    return *p = pack_scratch(*p, cap, n * sizeof(uint16_t)); /* *cap in bytes */
}

/* A convolution's input as its im2col matrix reads it: converted once to bf16 hi and lo, and
 * zero-padded (pt rows above, pl columns left, enough below and right) so that every tap of every
 * output position is inside. Row r of the im2col is output position r (image, row, column); its
 * columns [c, c + 16) (c a multiple of 16: cin % 16 == 0 keeps them in one tap) are the 16
 * values at base(r) + off[c / 16]. */
struct nn_amx_conv {
    nn_geom g;              /* the convolution whose input this is (for a gradient: the transposed one) */
    uint16_t *hi, *lo;      /* (n, H, W, cin) */
    int H, W;
    int *off;               /* kh * kw * cin / 16 */
    const float *w;         /* for nn_amx_conv_bwd_prepare: the flipped weights (K, cin of dx) */
};

/* An operand: a stored matrix p (row stride ld; trans: stored transposed), or, when cv is set,
 * the im2col matrix of a prepared convolution input, from its row row0 on. */
typedef struct operand {
    const float *p;
    int ld, trans;
    const nn_amx_conv *cv;
    int row0;
} operand;

/* Offset of row r's tap (0, 0) in an im2col operand's hi / lo. */
static inline size_t im2col_row(const operand *s, int r)
{
    const nn_amx_conv *cv = s->cv;
    const nn_geom *g = &cv->g;
    int q = s->row0 + r, hw = g->oh * g->ow, n = q / hw, t = q - n * hw, oy = t / g->ow, ox = t - oy * g->ow;
    return (((size_t)n * cv->H + (size_t)oy * g->sh) * cv->W + (size_t)ox * g->sw) * g->cin;
}

/* A's rows [r0, r0 + rows) (rows <= 32), k in [k0, k0 + kl), into 2 row tiles x kb k blocks:
 * tile (t, q) hi at dst + ((t * kb + q) * 2) * TILE, lo one tile further. Every byte of the two
 * row tiles is written (padding with zeros). */
static void pack_a(const operand *A, int r0, int rows, int k0, int kl, int kb, uint16_t *dst)
{
    const size_t TS = (size_t)kb * 2 * TILE; /* one row tile over all k blocks */
    const float *a = A->p;
    const int lda = A->ld;
    if (!A->trans) {
        for (int r = 0; r < rows && A->cv; r++) {
            /* converted already: copies of 16 bf16 */
            const nn_amx_conv *cv = A->cv;
            const size_t base = im2col_row(A, r0 + r);
            const int *off = cv->off + k0 / 16;
            uint16_t *row = dst + (size_t)(r / 16) * TS + (size_t)(r % 16) * 32;
            for (int q = 0; q < kb; q++)
                for (int h = 0; h < 2; h++) {
                    int k = q * 32 + h * 16;
                    __m256i hi = _mm256_setzero_si256(), lo = hi;
                    if (k < kl) {
                        hi = _mm256_loadu_si256((const __m256i *)(cv->hi + base + off[k / 16]));
                        lo = _mm256_loadu_si256((const __m256i *)(cv->lo + base + off[k / 16]));
                    }
                    _mm256_storeu_si256((__m256i *)(row + (size_t)q * 2 * TILE + h * 16), hi);
                    _mm256_storeu_si256((__m256i *)(row + (size_t)q * 2 * TILE + TILE + h * 16), lo);
                }
        }
        for (int r = 0; r < rows && !A->cv; r++) {
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
static void pack_b(const operand *B, int k0, int kl, int n, int kb, uint16_t *dst)
{
    int nt = (n + 15) / 16;
    const float *b = B->p;
    const int ldb = B->ld;
    if (!B->trans) {
        const __m512i idx = _mm512_loadu_si512(pair_perm);
        for (int k = 0; k < kb * 32; k += 2) {
            int q = k / 32, p = (k % 32) / 2;
            const nn_amx_conv *cv = B->cv;
            size_t be = 0, bo = 0;
            int odd = k + 1 < kl;
            if (cv && k < kl) be = im2col_row(B, k0 + k);
            if (cv && odd) bo = im2col_row(B, k0 + k + 1);
            for (int j = 0; j < nt; j++) {
                uint16_t *tile = dst + ((size_t)j * kb + q) * 2 * TILE + (size_t)p * 32;
                __m512i h = _mm512_setzero_si512(), l = h;
                if (k < kl && cv) {
                    /* converted already: interleave the two positions' 16 bf16 */
                    const int o = cv->off[j];
                    __m256i eh = _mm256_loadu_si256((const __m256i *)(cv->hi + be + o));
                    __m256i el = _mm256_loadu_si256((const __m256i *)(cv->lo + be + o));
                    __m256i oh = _mm256_setzero_si256(), ol = oh;
                    if (odd) {
                        oh = _mm256_loadu_si256((const __m256i *)(cv->hi + bo + o));
                        ol = _mm256_loadu_si256((const __m256i *)(cv->lo + bo + o));
                    }
                    h = _mm512_permutex2var_epi16(_mm512_castsi256_si512(eh), idx, _mm512_castsi256_si512(oh));
                    l = _mm512_permutex2var_epi16(_mm512_castsi256_si512(el), idx, _mm512_castsi256_si512(ol));
                } else if (k < kl) {
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

/* Tiles 0-3 (C) and 4, 5 (A) of tr rows, 6, 7 (B) of 16; all 64 bytes wide. */
static void configure(int tr)
{
    tilecfg t;
    memset(&t, 0, sizeof t);
    t.palette = 1;
    for (int i = 0; i < 8; i++) t.colsb[i] = 64, t.rows[i] = (uint8_t)(i < 6 ? tr : 16);
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

/* Where a block's A tiles are: row tile t's k block q at a[t] + (aq ? aq[q] : q * 2 * TILE), its lo
 * part dlo further, rows sa bytes apart, tr rows per tile (the tile configuration's). Packed
 * panels: aq NULL, dlo TILE, sa 64, tr 16; a prepared convolution read in place: aq its tap
 * offsets, dlo the distance from its hi to its lo array, sa one input position. */
typedef struct a_tiles {
    const uint16_t *a[2];
    const int *aq;
    size_t dlo, sa;
    int tr;
} a_tiles;

/* Where a block's B tiles are: column tile t's k block q at b[t] + q * bq, its lo part dlo
 * further, rows sb bytes apart. Packed chunks: b[t] column tile j + t's first, bq 2 * TILE, dlo
 * TILE, sb 64; a weight gradient's input read in place (wgrad_in_place): bq 16 position pairs,
 * dlo the distance from its hi to its lo array, sb one position pair. */
typedef struct b_tiles {
    const uint16_t *b[2];
    size_t bq, dlo, sb;
} b_tiles;

static inline b_tiles packed_b(const uint16_t *pb, int kb, int j)
{
    const uint16_t *b0 = pb + (size_t)j * kb * 2 * TILE;
    return (b_tiles){{b0, b0 + (size_t)kb * 2 * TILE}, 2 * TILE, TILE, 64};
}

/* ReLU (act 1) or ReLU6 (act 2) on rows x cols of c, in place, as nn_ops computes them
 * (v > 0 ? v : 0, then v < 6 ? v : 6): vmaxps and vminps return their second operand when either
 * is NaN or both are zeros, so NaN and -0 become +0 there as well. */
static void activate(float *c, int ldc, int rows, int cols, int act)
{
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    for (int r = 0; r < rows; r++) {
        float *o = c + (size_t)r * ldc;
        for (int q = 0; q < cols; q += 16) {
            __mmask16 m = cols - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - q)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(m, o + q);
            v = _mm512_max_ps(v, zero);
            if (act == 2) v = _mm512_min_ps(v, six);
            _mm512_mask_storeu_ps(o + q, m, v);
        }
    }
}

/* One block of C of up to 2 row tiles x 32 columns (rows x cols, from c), from A's tiles and
 * B's two column tiles (j, j + 1 of the columns), k blocks [0, kb); zero: start from 0 (or the
 * bias) instead of C. bias: NULL, or per column tile 16 rows of its 16 bias values (the tiles C
 * starts from when zero); act: 0, or 1 / 2 for a ReLU / ReLU6 applied to the block after it is
 * stored. */
static void block(const a_tiles *A, const b_tiles *B, int kb, int j, float *c, int ldc, int rows, int cols,
                  int zero, const float *bias, int act)
{
    float s[256] __attribute__((aligned(64)));
    const int tr = A->tr;
    int two_r = rows > tr, two_c = cols > 16;
    int r1 = two_r ? rows - tr : 0, ca = two_c ? 16 : cols, c1 = two_c ? cols - 16 : 0;
    int ra = two_r ? tr : rows;
    float *c00 = c, *c01 = c + 16, *c10 = c + (size_t)tr * ldc, *c11 = c10 + 16;
    if (zero && bias) {
        const float *b0 = bias + (size_t)j * 256, *b1 = b0 + 256;
        _tile_loadd(0, b0, 64);
        if (two_c) _tile_loadd(1, b1, 64);
        if (two_r) _tile_loadd(2, b0, 64);
        if (two_r && two_c) _tile_loadd(3, b1, 64);
    } else {
        C_LOAD(0, ra == tr && ca == 16, c00, ldc, ra, ca, zero, s);
        if (two_c) C_LOAD(1, ra == tr && c1 == 16, c01, ldc, ra, c1, zero, s);
        if (two_r) C_LOAD(2, r1 == tr && ca == 16, c10, ldc, r1, ca, zero, s);
        if (two_r && two_c) C_LOAD(3, r1 == tr && c1 == 16, c11, ldc, r1, c1, zero, s);
    }
    const uint16_t *a0 = A->a[0], *a1 = A->a[1];
    const size_t dlo = A->dlo, sa = A->sa, sb = B->sb;
    const uint16_t *b0 = B->b[0], *b1 = B->b[1];
    /* Tiles 4, 5: A (two row tiles, or hi and lo of one); 6, 7: B likewise. Per k block the
     * terms go hi.hi, hi.lo, lo.hi in every shape. */
#define LD(t, p) _tile_loadd(t, p, sb)
#define LA(t, p) _tile_loadd(t, p, sa)
#define QUAD()                                                                                    \
    do {                                                                                          \
        _tile_dpbf16ps(0, 4, 6);                                                                  \
        _tile_dpbf16ps(1, 4, 7);                                                                  \
        _tile_dpbf16ps(2, 5, 6);                                                                  \
        _tile_dpbf16ps(3, 5, 7);                                                                  \
    } while (0)
    for (int q = 0; q < kb; q++) {
        const size_t o = (size_t)q * B->bq, l = o + B->dlo, ao = A->aq ? (size_t)A->aq[q] : (size_t)q * 2 * TILE,
                     al = ao + dlo;
        if (two_r && two_c) {
            LA(4, a0 + ao); LA(5, a1 + ao); LD(6, b0 + o); LD(7, b1 + o); QUAD();
            LD(6, b0 + l); LD(7, b1 + l); QUAD();
            LA(4, a0 + al); LA(5, a1 + al); LD(6, b0 + o); LD(7, b1 + o); QUAD();
        } else if (two_c) {
            LA(4, a0 + ao); LD(6, b0 + o); LD(7, b1 + o); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            LD(6, b0 + l); LD(7, b1 + l); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            LA(5, a0 + al); LD(6, b0 + o); LD(7, b1 + o); _tile_dpbf16ps(0, 5, 6); _tile_dpbf16ps(1, 5, 7);
        } else if (two_r) {
            LA(4, a0 + ao); LA(5, a1 + ao); LD(6, b0 + o); LD(7, b0 + l);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(2, 5, 6); /* hi.hi */
            _tile_dpbf16ps(0, 4, 7); _tile_dpbf16ps(2, 5, 7); /* hi.lo */
            LA(4, a0 + al); LA(5, a1 + al); _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(2, 5, 6);
        } else {
            LA(4, a0 + ao); LA(5, a0 + al); LD(6, b0 + o); LD(7, b0 + l);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(0, 4, 7); _tile_dpbf16ps(0, 5, 6);
        }
    }
#undef QUAD
#undef LA
#undef LD
    C_STORE(0, ra == tr && ca == 16, c00, ldc, ra, ca, s);
    if (two_c) C_STORE(1, ra == tr && c1 == 16, c01, ldc, ra, c1, s);
    if (two_r) C_STORE(2, r1 == tr && ca == 16, c10, ldc, r1, ca, s);
    if (two_r && two_c) C_STORE(3, r1 == tr && c1 == 16, c11, ldc, r1, c1, s);
    if (act) activate(c, ldc, rows, cols, act); /* the block's rows are still in L1 */
}

/* C (m, n) = A B + beta C over the operands' first m rows / n columns. */
static void core(const operand *A, const operand *B, int m, int n, int k, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (beta == 0.0f)
            for (int r = 0; r < m; r++) memset(c + (size_t)r * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    configure(16);
    int nt = (n + 15) / 16;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kl = k - k0 < KC ? k - k0 : KC, kb = (kl + 31) / 32, zero = k0 == 0 && beta == 0.0f;
        uint16_t *pb = scratch(&tl_b, &tl_bcap, (size_t)nt * kb * 2 * TILE);
        uint16_t *pa = scratch(&tl_a, &tl_acap, (size_t)2 * kb * 2 * TILE);
        pack_b(B, k0, kl, n, kb, pb);
        for (int r0 = 0; r0 < m; r0 += 32) {
            int rows = m - r0 < 32 ? m - r0 : 32;
            pack_a(A, r0, rows, k0, kl, kb, pa);
            const a_tiles at = {{pa, pa + (size_t)kb * 2 * TILE}, NULL, TILE, 64, 16};
            for (int j = 0; j < nt; j += 2) {
                int c0 = j * 16, cols = n - c0 < 32 ? n - c0 : 32;
                const b_tiles bt = packed_b(pb, kb, j);
                block(&at, &bt, kb, j, c + (size_t)r0 * ldc + c0, ldc, rows, cols, zero, NULL, 0);
            }
        }
    }
    /* Back to the initial tile state: a thread switch then need not save and restore 8 KB of
     * tile registers. */
    _tile_release();
}

int nn_amx_conv_implicit(const nn_geom *g)
{
    return g->cin % 16 == 0 && !(g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0);
}

/* The convolution whose im2col, multiplied by flipped weights, is the input gradient of g: over
 * dy (n, oh, ow, cout), kernel flipped, stride 1, padding kh - 1 - pt on top (the bottom's
 * padding of g), output (n, h, w, cin). Defined for stride 1 and dilation 1. */
static nn_geom transpose_geom(const nn_geom *g)
{
    nn_geom t = *g;
    t.h = g->oh, t.w = g->ow, t.cin = g->cout;
    t.oh = g->h, t.ow = g->w, t.cout = g->cin;
    t.pt = g->kh - 1 - g->pt, t.pl = g->kw - 1 - g->pl;
    return t;
}

int nn_amx_conv_bwd_implicit(const nn_geom *g)
{
    /* the transposed convolution's input is dy: its channels (cout) are what the groups of 16
     * need; its padding must not be negative */
    return g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->cout % 16 == 0 && g->pt < g->kh &&
           g->pl < g->kw && !(g->kh == 1 && g->kw == 1 && g->pt == 0 && g->pl == 0);
}

/* Per thread: a prepared convolution (its converted input, offsets and flipped weights), the
 * transposed result of a weight gradient. */
static _Thread_local nn_amx_conv tl_cv;
static _Thread_local uint16_t *tl_xh;
static _Thread_local size_t tl_xcap, tl_offcap;
static _Thread_local int *tl_off;
static _Thread_local float *tl_t, *tl_w, *tl_bias;
static _Thread_local size_t tl_tcap, tl_wcap, tl_bcap_f;

static float *fscratch(float **p, size_t *cap, size_t n)
{
    if (*cap < n) {
        free(*p);
        *p = xmalloc(sizeof(float) * n);
        *cap = n;
    }
    return *p;
}

/* Converts x (the input of convolution g) into the thread's nn_amx_conv. */
static nn_amx_conv *prepare(const nn_geom *g, const float *x)
{
    nn_amx_conv *cv = &tl_cv;
    cv->g = *g;
    cv->w = NULL;
    int H = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1, W = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    if (H < g->pt + g->h) H = g->pt + g->h;
    if (W < g->pl + g->w) W = g->pl + g->w;
    cv->H = H, cv->W = W;
    const size_t C = (size_t)g->cin, n = (size_t)g->n * H * W * C;
    if (tl_xcap < n) { /* hi and lo in one array, lo n further (nn_amx_conv_rows reads both) */
        free(tl_xh);
        tl_xh = xmalloc(sizeof(uint16_t) * 2 * n);
        tl_xcap = n;
    }
    cv->hi = tl_xh, cv->lo = tl_xh + n;
    for (int b = 0; b < g->n; b++)
        for (int y = 0; y < H; y++) {
            const size_t row = ((size_t)b * H + y) * W * C;
            int iy = y - g->pt;
            if (iy < 0 || iy >= g->h) {
                memset(cv->hi + row, 0, sizeof(uint16_t) * W * C);
                memset(cv->lo + row, 0, sizeof(uint16_t) * W * C);
                continue;
            }
            size_t lead = (size_t)g->pl * C, tail = (size_t)(W - g->pl - g->w) * C, mid = lead + (size_t)g->w * C;
            memset(cv->hi + row, 0, sizeof(uint16_t) * lead), memset(cv->lo + row, 0, sizeof(uint16_t) * lead);
            memset(cv->hi + row + mid, 0, sizeof(uint16_t) * tail), memset(cv->lo + row + mid, 0, sizeof(uint16_t) * tail);
            const float *src = x + ((size_t)b * g->h + iy) * g->w * C;
            for (size_t i = 0; i < (size_t)g->w * C; i += 16) {
                __m256i h, l;
                split16(_mm512_loadu_ps(src + i), &h, &l);
                _mm256_storeu_si256((__m256i *)(cv->hi + row + lead + i), h);
                _mm256_storeu_si256((__m256i *)(cv->lo + row + lead + i), l);
            }
        }
    size_t groups = (size_t)g->kh * g->kw * C / 16;
    if (tl_offcap < groups) {
        free(tl_off);
        tl_off = xmalloc(sizeof(int) * groups);
        tl_offcap = groups;
    }
    cv->off = tl_off;
    for (size_t q = 0; q < groups; q++) {
        size_t c = q * 16, tap = c / C, ci = c % C;
        int ky = (int)tap / g->kw, kx = (int)tap % g->kw;
        cv->off[q] = (int)((((size_t)ky * g->dh) * W + (size_t)kx * g->dw) * C + ci);
    }
    return cv;
}

const nn_amx_conv *nn_amx_conv_prepare(const nn_geom *g, const float *x) { return prepare(g, x); }

const nn_amx_conv *nn_amx_conv_bwd_prepare(const nn_geom *g, const float *dy, const float *w)
{
    nn_geom t = transpose_geom(g);
    nn_amx_conv *cv = prepare(&t, dy);
    /* W (kh, kw, cin, cout) flipped to (kh, kw, cout, cin): tap (ky, kx) takes W's tap
     * (kh - 1 - ky, kw - 1 - kx), transposed. */
    const int kh = g->kh, kw = g->kw, ci = g->cin, co = g->cout;
    float *wf = fscratch(&tl_w, &tl_wcap, (size_t)kh * kw * ci * co);
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const float *src = w + ((size_t)(kh - 1 - ky) * kw + (kw - 1 - kx)) * ci * co;
            float *dst = wf + ((size_t)ky * kw + kx) * co * ci;
            for (int i = 0; i < ci; i++)
                for (int o = 0; o < co; o++) dst[(size_t)o * ci + i] = src[(size_t)i * co + o];
        }
    cv->w = wf;
    return cv;
}

/* Output positions per row tile when the convolution's A tiles can be loaded from its converted
 * input in place (0 if not): stride and dilation 1 along rows (a tile's rows are then adjacent
 * input positions, one position apart, for every tap), cin a multiple of 32 (a k block is one
 * tap's channels), and each output row cut into equal segments of at most 16 (28 -> 2 x 14). */
static int in_place_rows(const nn_geom *g)
{
    if (g->sw != 1 || g->dw != 1 || g->cin % 32 != 0) return 0;
    int seg = (g->ow + 15) / 16;
    return g->ow % seg == 0 ? g->ow / seg : 0;
}

/* nn_amx_conv_rows with the A tiles loaded in place: pairs of row tiles (segments of output
 * rows, in position order) against pairs of column tiles of the packed weights. The same
 * products in the same order as through packed panels, so the same numbers. */
static void conv_in_place(const nn_amx_conv *cv, int tr, int m0, int m1, const operand *B, int n, float beta,
                          float *c, int ldc, const float *bias, int act)
{
    const nn_geom *g = &cv->g;
    const int k = g->kh * g->kw * g->cin, nt = (n + 15) / 16, hw = g->oh * g->ow;
    int aq[KC / 32];
    float *bt = NULL;
    if (bias && beta == 0.0f) { /* the bias as tiles: 16 rows of each column tile's 16 values */
        bt = fscratch(&tl_bias, &tl_bcap_f, (size_t)nt * 256);
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < 16; r++)
                for (int q = 0; q < 16; q++) bt[t * 256 + r * 16 + q] = t * 16 + q < n ? bias[t * 16 + q] : 0.0f;
    }
    configure(tr);
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kl = k - k0 < KC ? k - k0 : KC, kb = (kl + 31) / 32, zero = k0 == 0 && beta == 0.0f;
        uint16_t *pb = scratch(&tl_b, &tl_bcap, (size_t)nt * kb * 2 * TILE);
        pack_b(B, k0, kl, n, kb, pb);
        for (int q = 0; q < kb; q++) aq[q] = cv->off[k0 / 16 + 2 * q];
        for (int r0 = m0; r0 < m1; r0 += 2 * tr) {
            int rows = m1 - r0 < 2 * tr ? m1 - r0 : 2 * tr;
            a_tiles at = {{NULL, NULL}, aq, (size_t)(cv->lo - cv->hi), (size_t)g->cin * 2, tr};
            for (int t = 0; t < 2; t++) {
                int q = r0 + t * tr < m1 ? r0 + t * tr : r0; /* a missing second tile is never read */
                int b = q / hw, rest = q - b * hw, oy = rest / g->ow, ox = rest - oy * g->ow;
                at.a[t] = cv->hi + (((size_t)b * cv->H + (size_t)oy * g->sh) * cv->W + (size_t)ox) * g->cin;
            }
            for (int j = 0; j < nt; j += 2) {
                int c0 = j * 16, cols = n - c0 < 32 ? n - c0 : 32;
                const b_tiles btl = packed_b(pb, kb, j);
                block(&at, &btl, kb, j, c + (size_t)(r0 - m0) * ldc + c0, ldc, rows, cols, zero, bt,
                      k0 + KC >= k ? act : 0);
            }
        }
    }
    _tile_release();
}

void nn_amx_conv_rows(const nn_amx_conv *cv, int m0, int m1, const float *w, int ldw, int ncols, float beta,
                      float *c, int ldc, const float *bias, int act)
{
    const nn_geom *g = &cv->g;
    if (cv->w) w = cv->w, ldw = g->cout, ncols = g->cout;
    operand A = {NULL, 0, 0, cv, m0}, B = {w, ldw, 0, NULL, 0};
    int tr = in_place_rows(g);
    if (tr && m0 % tr == 0 && m1 % tr == 0 && m1 > m0) {
        conv_in_place(cv, tr, m0, m1, &B, ncols, beta, c, ldc, bias, act);
        return;
    }
    /* packed panels: C starts from the bias as the tiles above start from it, so the numbers
     * are the same either way */
    if (bias) {
        for (int r = 0; r < m1 - m0; r++) memcpy(c + (size_t)r * ldc, bias, sizeof(float) * (size_t)ncols);
        beta = 1.0f;
    }
    core(&A, &B, m1 - m0, ncols, g->kh * g->kw * g->cin, beta, c, ldc);
    if (act) activate(c, ldc, m1 - m0, ncols, act);
}

/* C (m, n) = t^T + beta C, t stored (n, m); in 16 x 16 blocks, so that both sides stay in cache. */
static void put_transposed(const float *t, int m, int n, float beta, float *c, int ldc)
{
    for (int r0 = 0; r0 < m; r0 += 16)
        for (int q0 = 0; q0 < n; q0 += 16) {
            int r1 = r0 + 16 < m ? r0 + 16 : m, q1 = q0 + 16 < n ? q0 + 16 : n;
            for (int r = r0; r < r1; r++) {
                float *row = c + (size_t)r * ldc;
                if (beta == 0.0f)
                    for (int q = q0; q < q1; q++) row[q] = t[(size_t)q * m + r];
                else
                    for (int q = q0; q < q1; q++) row[q] += t[(size_t)q * m + r];
            }
        }
}

/* C (m, n) = A^T B + beta C for A stored (k, m) with many columns and B stored (k, n) with few:
 * packing A^T would transpose the big one, but as the B operand it needs no transpose. So
 * C^T = B^T A is computed (the packing transposes B, the small one) and transposed back. */
static void transposed(const operand *A, const operand *B, int m, int n, int k, float beta, float *c, int ldc)
{
    float *t = fscratch(&tl_t, &tl_tcap, (size_t)m * n);
    core(B, A, n, m, k, 0.0f, t, m);
    put_transposed(t, m, n, beta, c, ldc);
}

void nn_amx_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc)
{
    operand A = {a, lda, ta, NULL, 0}, B = {b, ldb, tb, NULL, 0};
    if (ta && !tb && m > n && k > n && n > 0) {
        /* a weight gradient over many positions: A (k, m) the inputs, B (k, n) the output
         * gradient; transposing C (m x n) back costs less than packing A^T (k x m). (A dense
         * layer's, over a minibatch: k < n, packing A^T costs less.) */
        operand At = {a, lda, 0, NULL, 0}, Bt = {b, ldb, 1, NULL, 0};
        transposed(&At, &Bt, m, n, k, beta, c, ldc);
        return;
    }
    core(&A, &B, m, n, k, beta, c, ldc);
}

/* ---- weight gradients with the input's tiles read in place ----
 * dW^T (cout, K) = dy^T (cout, positions) . im2col(x) (positions, K), one image after another.
 * The B tiles (16 pairs of positions x 16 channels of one tap) are read from the input itself,
 * converted per image into one layout per column shift tx of the kernel: at (padded row iy,
 * pair px, channel c) the two values x(iy, 2 px + tx) and x(iy, 2 px + 1 + tx) side by side, as
 * TDPBF16PS reads them. For tap (ty, tx), the position pairs of the image, row after row, are then
 * evenly spaced from row ty of layout tx on (a row of the layout is ow / 2 pairs, exactly an
 * output row), so a tile is one strided load instead of a packed copy of the im2col (which
 * cost as much as the products). An image's positions are cut into blocks of 32; the last
 * block's missing positions have zeros in A (dy^T, packed), and their B rows, read past the
 * image, multiply those zeros: they add nothing, as long as the values there are finite. They
 * are: past a group's last image lie zeros (the room after the last slot) or the next slot,
 * which holds converted inputs, since the first group fills every slot (groups of G <= n). */

#define WG_ZEROS 1024 /* cin at most this */
static const float wg_zero[WG_ZEROS];

static int wgrad_in_place_ok(const nn_geom *g)
{
    return g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->cin % 16 == 0 && g->cin <= WG_ZEROS &&
           g->ow % 2 == 0 && g->pt < g->kh && g->pl < g->kw;
}

static _Thread_local uint16_t *tl_wx, *tl_wa;
static _Thread_local size_t tl_wxcap, tl_wacap;

static void wgrad_in_place(const nn_geom *g, const float *x, const float *dy, float beta, float *dw)
{
    const int C = g->cin, CO = g->cout, kh = g->kh, kw = g->kw, oh = g->oh, ow = g->ow;
    const int Hp = oh + kh - 1, PW = ow / 2, pos = oh * ow, kb = (pos + 31) / 32;
    const int K = kh * kw * C, nt = K / 16, rp = (CO + 31) / 32; /* column tiles, pairs of row tiles */
    const size_t P2 = (size_t)C * 2;                            /* bf16 per position pair */
    const size_t lay = (size_t)Hp * PW * P2;                     /* bf16 per image per shift */
    const size_t apanel = (size_t)2 * kb * 2 * TILE;             /* dy^T of one image, 32 rows */
    /* images per group: their converted input and packed dy^T stay in L2 (about 1 MB) */
    size_t per = (size_t)kw * lay * 2 + (size_t)rp * apanel;
    int G = (int)((size_t)(512 * 1024) / per);
    G = G < 1 ? 1 : G > g->n ? g->n : G;
    const size_t shift = (size_t)G * lay + 16 * P2; /* one shift's layouts, and room read past the last */
    const size_t nx = (size_t)kw * shift;
    uint16_t *bx = scratch(&tl_wx, &tl_wxcap, 2 * nx), *bl = bx + nx; /* hi, then lo */
    uint16_t *ax = scratch(&tl_wa, &tl_wacap, (size_t)G * rp * apanel);
    float *t = fscratch(&tl_t, &tl_tcap, (size_t)CO * K);
    for (int s = 0; s < kw; s++) /* the room past the last image: zeros */
        memset(bx + (size_t)s * shift + (size_t)G * lay, 0, sizeof(uint16_t) * 16 * P2),
            memset(bl + (size_t)s * shift + (size_t)G * lay, 0, sizeof(uint16_t) * 16 * P2);
    const __m512i idx = _mm512_loadu_si512(pair_perm);
    configure(16);
    for (int g0 = 0; g0 < g->n; g0 += G) {
        int gn = g->n - g0 < G ? g->n - g0 : G;
        for (int im = 0; im < gn; im++) {
            const float *xi = x + (size_t)(g0 + im) * g->h * g->w * C;
            for (int tx = 0; tx < kw; tx++)
                for (int iy = 0; iy < Hp; iy++) {
                    int row = iy - g->pt;
                    size_t o = (size_t)tx * shift + (size_t)im * lay + (size_t)iy * PW * P2;
                    for (int px = 0; px < PW; px++, o += P2) {
                        int ce = 2 * px + tx - g->pl, co = ce + 1, in = row >= 0 && row < g->h;
                        const float *e = in && ce >= 0 && ce < g->w ? xi + ((size_t)row * g->w + ce) * C : wg_zero;
                        const float *od = in && co >= 0 && co < g->w ? xi + ((size_t)row * g->w + co) * C : wg_zero;
                        for (int cb = 0; cb < C; cb += 16) {
                            __m512i h, l;
                            pairs16(e + cb, od + cb, 16, idx, &h, &l);
                            _mm512_storeu_si512(bx + o + 2 * (size_t)cb, h);
                            _mm512_storeu_si512(bl + o + 2 * (size_t)cb, l);
                        }
                    }
                }
            const operand A = {dy + (size_t)(g0 + im) * pos * CO, CO, 1, NULL, 0};
            for (int r = 0; r < rp; r++)
                pack_a(&A, 32 * r, CO - 32 * r < 32 ? CO - 32 * r : 32, 0, pos, kb,
                       ax + ((size_t)im * rp + r) * apanel);
        }
        for (int r = 0; r < rp; r++)
            for (int j = 0; j < nt; j += 2) {
                int rows = CO - 32 * r < 32 ? CO - 32 * r : 32, cols = K - 16 * j < 32 ? K - 16 * j : 32;
                float *c = t + (size_t)32 * r * K + (size_t)16 * j;
                for (int im = 0; im < gn; im++) {
                    const uint16_t *pa = ax + ((size_t)im * rp + r) * apanel;
                    const a_tiles at = {{pa, pa + (size_t)kb * 2 * TILE}, NULL, TILE, 64, 16};
                    b_tiles bt = {{NULL, NULL}, 16 * P2, (size_t)(bl - bx), P2 * 2};
                    for (int q = 0; q < 2 && 16 * (j + q) < K; q++) {
                        int k = 16 * (j + q), tap = k / C, ci = k % C, ty = tap / kw, tx = tap % kw;
                        bt.b[q] = bx + (size_t)tx * shift + (size_t)im * lay + (size_t)ty * PW * P2 + 2 * (size_t)ci;
                    }
                    if (!bt.b[1]) bt.b[1] = bt.b[0]; /* a single column tile: never read */
                    block(&at, &bt, kb, j, c, K, rows, cols, g0 == 0 && im == 0, NULL, 0);
                }
            }
    }
    _tile_release();
    put_transposed(t, K, CO, beta, dw, CO);
}

void nn_amx_conv_wgrad(const nn_geom *g, const float *x, const float *dy, float beta, float *dw)
{
    if (wgrad_in_place_ok(g)) {
        wgrad_in_place(g, x, dy, beta, dw);
        return;
    }
    /* dW (K, cout) = im2col(x)^T dy: the transposed route, im2col(x) as the B operand */
    operand A = {NULL, 0, 0, prepare(g, x), 0}, B = {dy, g->cout, 1, NULL, 0};
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    transposed(&A, &B, K, g->cout, M, beta, dw, g->cout);
}

/* ---- convolutions of one input channel ---- */

int nn_amx_conv1_ok(const nn_geom *g)
{
    return g->cin == 1 && g->cout % 16 == 0 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           g->kh * g->kw <= 9 && g->pt < g->kh && g->pl < g->kw;
}

static _Thread_local float *tl_c1;
static _Thread_local size_t tl_c1cap;

/* Image b of x, zero-padded to (oh + kh - 1, ow + kw - 1), into the thread's scratch. */
static const float *conv1_pad(const nn_geom *g, const float *x, int b)
{
    const int PH = g->oh + g->kh - 1, PW = g->ow + g->kw - 1;
    float *xp = fscratch(&tl_c1, &tl_c1cap, (size_t)PH * PW);
    for (int r = 0; r < PH; r++)
        for (int c = 0; c < PW; c++) {
            int iy = r - g->pt, ix = c - g->pl;
            xp[r * PW + c] = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? x[((size_t)b * g->h + iy) * g->w + ix] : 0.0f;
        }
    return xp;
}

static inline __m512 act16(__m512 v, int act)
{
    /* as activate(): NaN and -0 become +0 */
    if (act) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == 2) v = _mm512_min_ps(v, _mm512_set1_ps(6.0f));
    return v;
}

void nn_amx_conv1_fwd(const nn_geom *g, int n0, int n1, const float *x, const float *w, const float *bias, int act,
                      float *y)
{
    const int T = g->kh * g->kw, KW = g->kw, CO = g->cout, OH = g->oh, OW = g->ow, PW = OW + KW - 1;
    int toff[9];
    for (int t = 0; t < T; t++) toff[t] = t / KW * PW + t % KW;
    for (int b = n0; b < n1; b++) {
        const float *xp = conv1_pad(g, x, b);
        for (int c0 = 0; c0 < CO; c0 += 16) {
            __m512 wt[9], b0 = bias ? _mm512_loadu_ps(bias + c0) : _mm512_setzero_ps();
            for (int t = 0; t < T; t++) wt[t] = _mm512_loadu_ps(w + (size_t)t * CO + c0);
            for (int oy = 0; oy < OH; oy++) {
                const float *xr = xp + oy * PW;
                float *yr = y + ((size_t)b * OH + oy) * OW * CO + c0;
                int ox = 0;
                for (; ox + 4 <= OW; ox += 4) { /* four positions: four independent sums */
                    __m512 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
                    for (int t = 0; t < T; t++) {
                        const float *s = xr + ox + toff[t];
                        a0 = _mm512_fmadd_ps(_mm512_set1_ps(s[0]), wt[t], a0);
                        a1 = _mm512_fmadd_ps(_mm512_set1_ps(s[1]), wt[t], a1);
                        a2 = _mm512_fmadd_ps(_mm512_set1_ps(s[2]), wt[t], a2);
                        a3 = _mm512_fmadd_ps(_mm512_set1_ps(s[3]), wt[t], a3);
                    }
                    _mm512_storeu_ps(yr + (size_t)ox * CO, act16(a0, act));
                    _mm512_storeu_ps(yr + (size_t)(ox + 1) * CO, act16(a1, act));
                    _mm512_storeu_ps(yr + (size_t)(ox + 2) * CO, act16(a2, act));
                    _mm512_storeu_ps(yr + (size_t)(ox + 3) * CO, act16(a3, act));
                }
                for (; ox < OW; ox++) {
                    __m512 a0 = b0;
                    for (int t = 0; t < T; t++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(xr[ox + toff[t]]), wt[t], a0);
                    _mm512_storeu_ps(yr + (size_t)ox * CO, act16(a0, act));
                }
            }
        }
    }
}

void nn_amx_conv1_wgrad(const nn_geom *g, const float *x, const float *dy, float beta, float *dw)
{
    const int T = g->kh * g->kw, KW = g->kw, CO = g->cout, OH = g->oh, OW = g->ow, PW = OW + KW - 1;
    int toff[9];
    for (int t = 0; t < T; t++) toff[t] = t / KW * PW + t % KW;
    for (int c0 = 0; c0 < CO; c0 += 32) {
        const int two = CO - c0 >= 32; /* 32 channels: 18 sums in registers */
        __m512 s0[9], s1[9];
        for (int t = 0; t < 9; t++) s0[t] = s1[t] = _mm512_setzero_ps();
        for (int b = 0; b < g->n; b++) {
            const float *xp = conv1_pad(g, x, b);
            for (int oy = 0; oy < OH; oy++) {
                const float *xr = xp + oy * PW, *d = dy + ((size_t)b * OH + oy) * OW * CO + c0;
                for (int ox = 0; ox < OW; ox++, d += CO) {
                    __m512 d0 = _mm512_loadu_ps(d), d1 = two ? _mm512_loadu_ps(d + 16) : d0;
                    for (int t = 0; t < T; t++) {
                        __m512 v = _mm512_set1_ps(xr[ox + toff[t]]);
                        s0[t] = _mm512_fmadd_ps(v, d0, s0[t]);
                        if (two) s1[t] = _mm512_fmadd_ps(v, d1, s1[t]);
                    }
                }
            }
        }
        for (int t = 0; t < T; t++) {
            float *o = dw + (size_t)t * CO + c0;
            if (beta != 0.0f) s0[t] = _mm512_add_ps(s0[t], _mm512_loadu_ps(o));
            _mm512_storeu_ps(o, s0[t]);
            if (!two) continue;
            if (beta != 0.0f) s1[t] = _mm512_add_ps(s1[t], _mm512_loadu_ps(o + 16));
            _mm512_storeu_ps(o + 16, s1[t]);
        }
    }
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
