/* nn_simd — AVX-512 kernels of the nn engine (see nn_simd.h).
 *
 * Everything past the detection is compiled for AVX-512 by a target pragma (no per-file flags, and
 * the fuzz build's clang takes the same code) and runs only once nn_simd_available() said yes.
 * -std=c11 keeps gcc from contracting a separate multiply and add into an FMA, so the depthwise
 * kernels' _mm512_mul_ps then _mm512_add_ps round as the portable loops' a += x * w does. */
#include "nn_simd.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "nn_ops.h"

static int g_cpu = -1, g_on = 1;

int nn_simd_available(void)
{
    if (g_cpu < 0) /* a benign race: every thread computes the same value */
        g_cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    return g_cpu && g_on;
}

void nn_simd_set_enabled(int on) { g_on = on != 0; }

void nn_simd_mat_free(nn_simd_mat *m)
{
    free(m->f);
    free(m->h);
    m->f = NULL, m->h = NULL;
}

#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,f16c,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,f16c,fma")
#endif

static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1); }

static inline __attribute__((always_inline)) __m512 activate(__m512 v, int act)
{
    if (act == NN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == NN_ACT_RELU6) return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
    return v;
}

/* g through the gate's derivative at x, as nn_act_bwd and nn_hswish_bwd compute it (the same
 * selects, and for the hard swish g * (c * relu6(x + a) + (0 < x + a < 6 ? c * x : 0)) in that
 * order of operations). */
static inline __attribute__((always_inline)) __m512 apply_gate(const nn_simd_gate *gt, __m512 g, __m512 x)
{
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    if (gt->kind == NN_GATE_RELU) return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), g);
    if (gt->kind == NN_GATE_RELU6)
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ) & _mm512_cmp_ps_mask(x, six, _CMP_LT_OQ), g);
    const __m512 a = _mm512_set1_ps(gt->a), c = _mm512_set1_ps(gt->c);
    __m512 t = _mm512_add_ps(x, a);
    __mmask16 in = _mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ) & _mm512_cmp_ps_mask(t, six, _CMP_LT_OQ);
    /* relu6(t) as the scalar t > 0 ? (t < 6 ? t : 6) : 0 */
    __m512 r = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ), six), in, t);
    __m512 sel = _mm512_maskz_mov_ps(in, _mm512_mul_ps(c, x));
    return _mm512_mul_ps(g, _mm512_add_ps(_mm512_mul_ps(c, r), sel));
}

/* The hard swish of x as nn_hswish_fwd computes it: (c * x) * (t > 0 ? (t < 6 ? t : 6) : 0), t = x + a. */
static inline __attribute__((always_inline)) __m512 hswish16(__m512 x, float a, float c)
{
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    __m512 t = _mm512_add_ps(x, _mm512_set1_ps(a));
    __mmask16 pos = _mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ), in = pos & _mm512_cmp_ps_mask(t, six, _CMP_LT_OQ);
    __m512 r = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(pos, six), in, t);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(c), x), r);
}


/* The Relu mask word of stored value o (lanes m): nn_hswish_out's mask, the predicate apply_gate
 * tests for NN_GATE_RELU (RELU6 with relu6). */
static inline __attribute__((always_inline)) void put_mask(const nn_simd_post *pst, size_t word, __m512 o,
                                                           __mmask16 m)
{
    __mmask16 k = _mm512_mask_cmp_ps_mask(m, o, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (pst->mask_relu6) k &= _mm512_cmp_ps_mask(o, _mm512_set1_ps(6.0f), _CMP_LT_OQ);
    pst->mask[word] = k;
}

/* --- depthwise gathers ----------------------------------------------------------------------- */

void nn_simd_dw_pixel(float *out, const float *init, int C, const float *x, const float *w, const ptrdiff_t *xo,
                      const ptrdiff_t *wo, int nt)
{
    int c0 = 0;
    /* 128 channels in 8 registers, then 16 at a time, then the rest under a mask */
    for (; c0 + 128 <= C; c0 += 128) {
        __m512 a[8];
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) a[v] = init ? _mm512_loadu_ps(init + c0 + 16 * v) : _mm512_setzero_ps();
        for (int t = 0; t < nt; t++) {
            const float *xi = x + xo[t] + c0, *wk = w + wo[t] + c0;
    #pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
                a[v] = _mm512_add_ps(a[v], _mm512_mul_ps(_mm512_loadu_ps(xi + 16 * v), _mm512_loadu_ps(wk + 16 * v)));
        }
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) _mm512_storeu_ps(out + c0 + 16 * v, a[v]);
    }
    for (; c0 + 32 <= C; c0 += 32) {
        __m512 a0 = init ? _mm512_loadu_ps(init + c0) : _mm512_setzero_ps();
        __m512 a1 = init ? _mm512_loadu_ps(init + c0 + 16) : _mm512_setzero_ps();
        for (int t = 0; t < nt; t++) {
            const float *xi = x + xo[t] + c0, *wk = w + wo[t] + c0;
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_loadu_ps(xi), _mm512_loadu_ps(wk)));
            a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_loadu_ps(xi + 16), _mm512_loadu_ps(wk + 16)));
        }
        _mm512_storeu_ps(out + c0, a0);
        _mm512_storeu_ps(out + c0 + 16, a1);
    }
    for (; c0 < C; c0 += 16) {
        __mmask16 mk = C - c0 >= 16 ? (__mmask16)0xFFFF : tail_mask(C - c0);
        __m512 a0 = init ? _mm512_maskz_loadu_ps(mk, init + c0) : _mm512_setzero_ps();
        for (int t = 0; t < nt; t++)
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + xo[t] + c0),
                                                 _mm512_maskz_loadu_ps(mk, w + wo[t] + c0)));
        _mm512_mask_storeu_ps(out + c0, mk, a0);
    }
}

#define PF_AHEAD 2 /* groups of np pixels */

/* nv vectors of channels from c0 (the last under mask mk) of np pixels of a run of count, from pixel j:
 * np x nv sums side by side, since one pixel's sum is a chain of dependent adds (4 cycles each)
 * and its nt x nv loads alone would leave the adders idle. */
static inline __attribute__((always_inline)) void run_pixels(float *out, ptrdiff_t out_step, const float *init,
                                                             ptrdiff_t init_step, const float *x, const float *w,
                                                             const ptrdiff_t *xo, const ptrdiff_t *wo, int nt,
                                                             ptrdiff_t in_step, int j, int act, const nn_simd_gate *gt,
                                                             const nn_simd_post *pst, int c0, const int nv, const int np,
                                                             __mmask16 mk, int count)
{
    __m512 a[16]; /* np * nv <= 16, flat: an array this size stays in registers */
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            a[p * nv + v] = init ? _mm512_maskz_loadu_ps(v == nv - 1 ? mk : 0xFFFF,
                                                   init + (ptrdiff_t)(j + p) * init_step + c0 + 16 * v)
                           : _mm512_setzero_ps();
    const float *xj = x + (ptrdiff_t)j * in_step + c0;
    /* The gate values of the run's pixels PF_AHEAD on: the forward wrote them long before, so
     * they come from memory, and a stride-2 gather's parity classes read every other pixel (a
     * stride the hardware's prefetchers did not follow): 0.19 ms for expanded_conv_6's backward
     * at a batch of 4, 0.10 ms with these. */
    if (gt && !gt->m)
#pragma GCC unroll 8
        for (int p = 0; p < np; p++) {
            int q = j + PF_AHEAD * np + p < count ? j + PF_AHEAD * np + p : count - 1;
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                _mm_prefetch((const char *)(gt->x + (ptrdiff_t)q * gt->step + c0 + 16 * v), _MM_HINT_T0);
        }
    for (int t = 0; t < nt; t++) {
        const float *xi = xj + xo[t], *wk = w + wo[t] + c0;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
            __m512 wv = _mm512_maskz_loadu_ps(m, wk + 16 * v);
#pragma GCC unroll 8
            for (int p = 0; p < np; p++)
                a[p * nv + v] = _mm512_add_ps(a[p * nv + v], _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xi + p * in_step + 16 * v), wv));
        }
    }
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
            __m512 o = activate(a[p * nv + v], act);
            if (gt && gt->m) /* a Relu's mask word: the same selection as apply_gate's */
                o = _mm512_maskz_mov_ps(gt->m[(ptrdiff_t)(j + p) * gt->mstep + c0 / 16 + v], o);
            else if (gt)
                o = apply_gate(gt, o, _mm512_maskz_loadu_ps(m, gt->x + (ptrdiff_t)(j + p) * gt->step + c0 + 16 * v));
            _mm512_mask_storeu_ps(out + (ptrdiff_t)(j + p) * out_step + c0 + 16 * v, m, o);
            if (pst && pst->out)
                _mm512_mask_storeu_ps(pst->out + (ptrdiff_t)(j + p) * out_step + c0 + 16 * v, m, hswish16(o, pst->a, pst->c));
        }
}

/* A run of count pixels, nv vectors of channels from c0: NP = 8 / nv pixels at a time (at least 1),
 * so that some 8 sums are in flight. */
static inline __attribute__((always_inline)) void run_block(float *out, ptrdiff_t out_step, const float *init,
                                                            ptrdiff_t init_step, const float *x, const float *w,
                                                            const ptrdiff_t *xo, const ptrdiff_t *wo, int nt,
                                                            ptrdiff_t in_step, int count, int act,
                                                            const nn_simd_gate *gt, const nn_simd_post *pst, int c0,
                                                            const int nv, __mmask16 mk)
{
    const int np = nv >= 8 ? 1 : nv >= 4 ? 2 : 8 / nv;
    int j = 0;
    for (; j + np <= count; j += np)
        run_pixels(out, out_step, init, init_step, x, w, xo, wo, nt, in_step, j, act, gt, pst, c0, nv, np, mk, count);
    for (; j < count; j++)
        run_pixels(out, out_step, init, init_step, x, w, xo, wo, nt, in_step, j, act, gt, pst, c0, nv, 1, mk, count);
}

#define RUN_CASE(V)                                                                                                    \
    case V:                                                                                                            \
        run_block(out, out_step, init, init_step, x, w, xo, wo, nt, in_step, count, act, gt, pst, c0, V, mk);          \
        break;

void nn_simd_dw_run(float *out, ptrdiff_t out_step, const float *init, ptrdiff_t init_step, int C, const float *x,
                    const float *w, const ptrdiff_t *xo, const ptrdiff_t *wo, int nt, ptrdiff_t in_step, int count,
                    int act, const nn_simd_gate *gt, const nn_simd_post *pst)
{
    /* up to 128 channels at once (8 registers, the last under a mask), so that each tap's offsets
     * are read once per pixel for all of them */
    for (int c0 = 0; c0 < C; c0 += 128) {
        int cn = C - c0 < 128 ? C - c0 : 128, nv = (cn + 15) / 16;
        __mmask16 mk = tail_mask(cn - 16 * (nv - 1));
        switch (nv) {
            RUN_CASE(1)
            RUN_CASE(2)
            RUN_CASE(3)
            RUN_CASE(4)
            RUN_CASE(5)
            RUN_CASE(6)
            RUN_CASE(7)
            RUN_CASE(8)
        default: break;
        }
    }
}

/* nv vectors of channels from c0 (the last under mask mk) of both pixels of a pair. */
static inline __attribute__((always_inline)) void pair_block(float *oa, float *ob, const float *ia, const float *ib,
                                                             int C, const float *x, const float *w,
                                                             const ptrdiff_t *rows, const ptrdiff_t *wrow, int nr,
                                                             int kw, ptrdiff_t step, int c0, const int nv,
                                                             __mmask16 mk)
{
    __m512 a[4], b[4], p[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
        a[v] = ia ? _mm512_maskz_loadu_ps(m, ia + c0 + 16 * v) : _mm512_setzero_ps();
        b[v] = ib ? _mm512_maskz_loadu_ps(m, ib + c0 + 16 * v) : _mm512_setzero_ps();
    }
    for (int i = 0; i < nr; i++) {
        const float *xr = x + rows[i] + c0, *wr = w + wrow[i] + c0;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) p[v] = _mm512_maskz_loadu_ps(v == nv - 1 ? mk : 0xFFFF, xr + 16 * v);
        for (int kx = 0; kx < kw; kx++) {
            const float *xn = xr + (kx + 1) * step, *wk = wr + (size_t)kx * C;
        #pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
                __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
                __m512 wv = _mm512_maskz_loadu_ps(m, wk + 16 * v), q = _mm512_maskz_loadu_ps(m, xn + 16 * v);
                a[v] = _mm512_add_ps(a[v], _mm512_mul_ps(p[v], wv));
                b[v] = _mm512_add_ps(b[v], _mm512_mul_ps(q, wv));
                p[v] = q;
            }
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
        _mm512_mask_storeu_ps(oa + c0 + 16 * v, m, a[v]);
        _mm512_mask_storeu_ps(ob + c0 + 16 * v, m, b[v]);
    }
}

void nn_simd_dw_pair(float *oa, float *ob, const float *ia, const float *ib, int C, const float *x, const float *w,
                     const ptrdiff_t *rows, const ptrdiff_t *wrow, int nr, int kw, ptrdiff_t step)
{
    int c0 = 0;
    for (; c0 + 64 <= C; c0 += 64) pair_block(oa, ob, ia, ib, C, x, w, rows, wrow, nr, kw, step, c0, 4, 0xFFFF);
    for (; c0 + 16 <= C; c0 += 16) pair_block(oa, ob, ia, ib, C, x, w, rows, wrow, nr, kw, step, c0, 1, 0xFFFF);
    if (c0 < C) pair_block(oa, ob, ia, ib, C, x, w, rows, wrow, nr, kw, step, c0, 1, tail_mask(C - c0));
}

/* --- weights ----------------------------------------------------------------------------------- */

int nn_simd_mat_init(nn_simd_mat *m, const float *w, int k, int n, int transpose, int half_ok)
{
    int panels = (n + 31) / 32;
    size_t len = (size_t)panels * k * 32;
    m->k = k, m->n = n, m->f = NULL, m->h = NULL;
    /* 64-byte aligned: a panel row is one aligned load (two of floats) */
    size_t fbytes = (sizeof(float) * (len ? len : 1) + 63) / 64 * 64, hbytes = (sizeof(uint16_t) * (len ? len : 1) + 63) / 64 * 64;
    float *f = aligned_alloc(64, fbytes);
    if (!f) return -1;
    memset(f, 0, fbytes);
    for (int pn = 0; pn < panels; pn++) {
        int c0 = pn * 32, cn = n - c0 < 32 ? n - c0 : 32;
        for (int r = 0; r < k; r++) {
            float *dst = f + ((size_t)pn * k + r) * 32;
            if (transpose)
                for (int c = 0; c < cn; c++) dst[c] = w[(size_t)(c0 + c) * k + r];
            else
                memcpy(dst, w + (size_t)r * n + c0, sizeof(float) * (size_t)cn);
        }
    }
    uint16_t *h = half_ok ? aligned_alloc(64, hbytes) : NULL;
    int exact = 1;
    /* float16 if every value survives the round trip (NaNs aside); len is a multiple of 32 */
    for (size_t i = 0; exact && i < len; i += 16) {
        __m512 v = _mm512_load_ps(f + i);
        __m256i hv = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __mmask16 same = _mm512_cmp_ps_mask(_mm512_cvtph_ps(hv), v, _CMP_EQ_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        exact = same == 0xFFFF;
        if (h) _mm256_store_si256((__m256i *)(h + i), hv);
    }
    m->exact16 = exact;
    if (exact && h) {
        free(f);
        m->h = h;
    } else {
        free(h);
        m->f = f;
    }
    return 0;
}

/* --- the product ------------------------------------------------------------------------------
 * A micro-tile is MR rows by nv vectors of 16 columns (nv 1 or 2, the last under mask mk): MR x nv
 * accumulators, and for each k the nv vectors of B's row k (widened from float16 if need be) and
 * one broadcast of A per row. Columns are taken in panels of 32 (B's panel, k x 32, stays in L1 or
 * L2 while every row block of A passes it). */
#define MR 8

static inline __attribute__((always_inline)) __m512 load_b(const int half, const nn_simd_mat *b, size_t off,
                                                           __mmask16 m)
{
    (void)m;
    if (half) return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(b->h + off)));
    return _mm512_load_ps(b->f + off);
}

/* The micro-tile, for constant mr, nv and half (B in float16), so that its loops unroll and the
 * accumulators live in registers. */
static inline __attribute__((always_inline)) void micro(const int mr, const int nv, const int half, __mmask16 mk,
                                                        const float *a, int lda, const nn_simd_mat *b, int n0,
                                                        const float *bias, int beta, int act, const float *res,
                                                        const nn_simd_post *pst, float *c, int ldc)
{
    __m512 acc[MR][2];
    const int k = b->k;
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
            acc[i][v] = bias ? _mm512_maskz_loadu_ps(m, bias + n0 + 16 * v)
                        : beta ? _mm512_maskz_loadu_ps(m, c + (size_t)i * ldc + 16 * v)
                               : _mm512_setzero_ps();
        }
    size_t off = (size_t)n0 * k; /* panel n0 / 32: k rows of 32 */
    for (int kk = 0; kk < k; kk++, off += 32) {
        __m512 b0 = load_b(half, b, off, nv == 1 ? mk : 0xFFFF), b1 = b0;
        if (nv == 2) b1 = load_b(half, b, off + 16, mk);
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * lda + kk]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (nv == 2) acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
            __m512 o = activate(acc[i][v], act);
            if (res) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, res + (size_t)i * ldc + 16 * v));
            _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * v, m, o);
            if (pst && pst->out) _mm512_mask_storeu_ps(pst->out + (size_t)i * ldc + 16 * v, m, hswish16(o, pst->a, pst->c));
            if (pst && pst->mask) put_mask(pst, (size_t)i * pst->mask_w + v, o, m);
        }
}

#define MICRO_CASE(R)                                                                                                  \
    case R:                                                                                                            \
        if (nv == 2 && half)                                                                                           \
            micro(R, 2, 1, mk, a, lda, b, n0, bias, beta, act, res, pst, c, ldc);                                                \
        else if (nv == 2)                                                                                              \
            micro(R, 2, 0, mk, a, lda, b, n0, bias, beta, act, res, pst, c, ldc);                                                \
        else if (half)                                                                                                 \
            micro(R, 1, 1, mk, a, lda, b, n0, bias, beta, act, res, pst, c, ldc);                                                \
        else                                                                                                           \
            micro(R, 1, 0, mk, a, lda, b, n0, bias, beta, act, res, pst, c, ldc);                                                \
        break;

/* One micro-tile of mr <= MR rows at a (row 0), c (row 0, column n0). */
static void micro_any(int mr, int nv, __mmask16 mk, const float *a, int lda, const nn_simd_mat *b, int n0,
                      const float *bias, int beta, int act, const float *res, const nn_simd_post *pst, float *c,
                      int ldc)
{
    const int half = b->h != NULL;
    switch (mr) {
        MICRO_CASE(1)
        MICRO_CASE(2)
        MICRO_CASE(3)
        MICRO_CASE(4)
        MICRO_CASE(5)
        MICRO_CASE(6)
        MICRO_CASE(7)
        MICRO_CASE(8)
    default: break;
    }
}

void nn_simd_gemm(int m0, int m1, int n0, int n1, const float *a, int lda, const nn_simd_mat *b, const float *bias,
                  int beta, int act, const float *res, const nn_simd_post *post, float *c, int ldc)
{
    for (int j = n0; j < n1; j += 32) {
        int wdt = n1 - j < 32 ? n1 - j : 32, nv = wdt > 16 ? 2 : 1;
        __mmask16 mk = tail_mask(wdt - 16 * (nv - 1));
        if (wdt - 16 * (nv - 1) == 16) mk = 0xFFFF;
        /* tiles of even heights: 25 rows as 7, 6, 6, 6 rather than 8, 8, 8, 1 */
        int r = m1 - m0, t = (r + MR - 1) / MR;
        for (int q = 0; q < t; q++) {
            int i = m0 + (int)((long)r * q / t), mr = m0 + (int)((long)r * (q + 1) / t) - i;
            nn_simd_post pt, *pp = NULL;
            if (post) {
                pt = *post, pp = &pt;
                if (pt.out) pt.out += (size_t)i * ldc + j;
                if (pt.mask) pt.mask += (size_t)i * pt.mask_w + j / 16; /* j: a multiple of 32 */
            }
            micro_any(mr, nv, mk, a + (size_t)i * lda, lda, b, j, bias, beta, act,
                      res ? res + (size_t)i * ldc + j : NULL, pp, c + (size_t)i * ldc + j, ldc);
        }
    }
}

/* --- col2im as runs ----------------------------------------------------------------------------- */

void nn_simd_add_spans(float *d, int wc, const float *s, int k, int ow, int step, int start, int len)
{
    int phases = (len + step - 1) / step;
    for (int q = 0; q < phases; q++)
        for (int ox = q; ox < ow; ox += phases) {
            int x0 = start + ox * step, t0 = x0 < 0 ? -x0 : 0, t1 = wc - x0 < len ? wc - x0 : len;
            /* whole 8-float vectors, then single floats: a masked vector's footprint is the whole
             * vector, and one reaching into the next column's floats would wait for its write */
            float *p = d + x0;
            const float *src = s + (size_t)ox * k;
            int t = t0;
            for (; t + 8 <= t1; t += 8)
                _mm256_storeu_ps(p + t, _mm256_add_ps(_mm256_loadu_ps(p + t), _mm256_loadu_ps(src + t)));
            for (; t < t1; t++) p[t] += src[t];
        }
}

/* --- a direct convolution for few input channels --------------------------------------------
 * NP output pixels of a row at once (NP x nv accumulators), each tap's weight row loaded once for
 * them, the input values broadcast from the padded copy: no im2col matrix (27 floats per pixel of
 * the network's first layer, written and read again) and no product on a depth of 27. */
#define NP 8

static inline __attribute__((always_inline)) void direct_px(const int np, const int nv, __mmask16 mk,
                                                            const nn_geom *g, const float *xr, int wp,
                                                            const float *w, const float *bias, int act, float *y,
                                                            const nn_simd_post *pst, int ox0)
{
    __m512 acc[NP][2];
    const int C = g->cin, co = g->cout;
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[p][v] = bias ? _mm512_maskz_loadu_ps(v == nv - 1 ? mk : 0xFFFF, bias + 16 * v) : _mm512_setzero_ps();
    const float *wk = w;
    for (int ky = 0; ky < g->kh; ky++) {
        const float *row = xr + (size_t)ky * wp * C;
        for (int kx = 0; kx < g->kw; kx++)
            for (int ci = 0; ci < C; ci++, wk += co) {
                __m512 w0 = _mm512_maskz_loadu_ps(nv == 1 ? mk : 0xFFFF, wk), w1 = w0;
                if (nv == 2) w1 = _mm512_maskz_loadu_ps(mk, wk + 16);
                const float *xp = row + ((size_t)ox0 * g->sw + kx) * C + ci;
#pragma GCC unroll 8
                for (int p = 0; p < np; p++) {
                    __m512 xv = _mm512_set1_ps(xp[(size_t)p * g->sw * C]);
                    acc[p][0] = _mm512_fmadd_ps(xv, w0, acc[p][0]);
                    if (nv == 2) acc[p][1] = _mm512_fmadd_ps(xv, w1, acc[p][1]);
                }
            }
    }
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
        {
            __mmask16 m = v == nv - 1 ? mk : (__mmask16)0xFFFF;
            __m512 o = activate(acc[p][v], act);
            _mm512_mask_storeu_ps(y + (size_t)(ox0 + p) * co + 16 * v, m, o);
            if (pst && pst->out) _mm512_mask_storeu_ps(pst->out + (size_t)(ox0 + p) * co + 16 * v, m, hswish16(o, pst->a, pst->c));
            if (pst && pst->mask) put_mask(pst, (size_t)(ox0 + p) * pst->mask_w + v, o, m);
        }
}

void nn_simd_conv_direct(const nn_geom *g, int r0, int r1, const float *xp, int hp, int wp, const float *w,
                         const float *bias, int act, float *y, const nn_simd_post *post)
{
    int nv = g->cout > 16 ? 2 : 1, last = g->cout - 16 * (nv - 1);
    __mmask16 mk = tail_mask(last);
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        const float *xr = xp + ((size_t)n * hp + (size_t)oy * g->sh) * wp * g->cin;
        float *yr = y + (size_t)r * g->ow * g->cout;
        nn_simd_post pt, *pp = NULL;
        if (post) {
            pt = *post, pp = &pt;
            if (pt.out) pt.out += (size_t)r * g->ow * g->cout;
            if (pt.mask) pt.mask += (size_t)r * g->ow * pt.mask_w;
        }
        int ox = 0;
        for (; ox + NP <= g->ow; ox += NP)
            if (nv == 2)
                direct_px(NP, 2, mk, g, xr, wp, w, bias, act, yr, pp, ox);
            else
                direct_px(NP, 1, mk, g, xr, wp, w, bias, act, yr, pp, ox);
        for (; ox < g->ow; ox++)
            if (nv == 2)
                direct_px(1, 2, mk, g, xr, wp, w, bias, act, yr, pp, ox);
            else
                direct_px(1, 1, mk, g, xr, wp, w, bias, act, yr, pp, ox);
    }
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
