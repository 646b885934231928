/* nn_conv — convolutions (see nn_ops.h and nn_train.h): im2col + GEMM forward, GEMM + col2im
 * input gradient, weight gradients, the packed-weight (AVX-512) variants, and the settings of
 * where the dense products run (OpenBLAS threads, AMX, the AVX-512 kernels). Loops are split
 * across the common pool (pool.h) over the outer (batch x row) index. */
#include "nn_kern.h"

#include "nn_amx.h"
#include "nn_bf16.h"
#include "pool.h"
#include "util.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int nn_geom_pad(nn_geom *g, int same)
{
    int ekh = (g->kh - 1) * g->dh + 1, ekw = (g->kw - 1) * g->dw + 1;
    if (same) {
        g->oh = (g->h + g->sh - 1) / g->sh;
        g->ow = (g->w + g->sw - 1) / g->sw;
        int ph = (g->oh - 1) * g->sh + ekh - g->h, pw = (g->ow - 1) * g->sw + ekw - g->w;
        g->pt = ph > 0 ? ph / 2 : 0;
        g->pl = pw > 0 ? pw / 2 : 0;
    } else {
        g->oh = g->h >= ekh ? (g->h - ekh) / g->sh + 1 : 0;
        g->ow = g->w >= ekw ? (g->w - ekw) / g->sw + 1 : 0;
        g->pt = g->pl = 0;
    }
    return g->oh > 0 && g->ow > 0 ? 0 : -1;
}

static int conv_direct(const nn_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0;
}

size_t nn_conv_col_size(const nn_geom *g)
{
    if (conv_direct(g)) return 0;
    return (size_t)g->n * g->oh * g->ow * g->kh * g->kw * g->cin;
}

/* out[0..C) = init (NULL: 0; may be out itself) + sum over the nt taps t of x[xo[t] + c], the
 * taps summed in the order given (col2im's gather). */
static void sum_pixel(float *out, const float *init, int C, const float *x, const ptrdiff_t *xo, int nt)
{
    int c0 = 0;
    for (; c0 + 32 <= C; c0 += 32) {
        v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, xv;
        if (init) {
            const float *i0 = init + c0;
            LD4(a0, i0), LD4(a1, i0 + 4), LD4(a2, i0 + 8), LD4(a3, i0 + 12);
            LD4(a4, i0 + 16), LD4(a5, i0 + 20), LD4(a6, i0 + 24), LD4(a7, i0 + 28);
        }
        for (int t = 0; t < nt; t++) {
            const float *xi = x + xo[t] + c0;
            LD4(xv, xi), a0 += xv;
            LD4(xv, xi + 4), a1 += xv;
            LD4(xv, xi + 8), a2 += xv;
            LD4(xv, xi + 12), a3 += xv;
            LD4(xv, xi + 16), a4 += xv;
            LD4(xv, xi + 20), a5 += xv;
            LD4(xv, xi + 24), a6 += xv;
            LD4(xv, xi + 28), a7 += xv;
        }
        float *o0 = out + c0;
        ST4(o0, a0), ST4(o0 + 4, a1), ST4(o0 + 8, a2), ST4(o0 + 12, a3);
        ST4(o0 + 16, a4), ST4(o0 + 20, a5), ST4(o0 + 24, a6), ST4(o0 + 28, a7);
    }
    for (; c0 + 4 <= C; c0 += 4) {
        v4 a0 = {0}, xv;
        if (init) LD4(a0, init + c0);
        for (int t = 0; t < nt; t++) LD4(xv, x + xo[t] + c0), a0 += xv;
        ST4(out + c0, a0);
    }
    for (; c0 < C; c0++) {
        float a = init ? init[c0] : 0.0f;
        for (int t = 0; t < nt; t++) a += x[xo[t] + c0];
        out[c0] = a;
    }
}

/* col: (n*oh*ow, kh*kw*cin), row m = output pixel, column (ky,kx,ci): the HWIO weight order, so
 * that y = col . W is one GEMM. Out-of-image taps are zero. Rows of pool_for: n*oh. */
static void im2col_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int K = g->kh * g->kw * g->cin, C = g->cin;
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        for (int ox = 0; ox < g->ow; ox++) {
            float *c = k->y + ((size_t)r * g->ow + ox) * K;
            /* taps kx0..kx1-1 are inside the image; without dilation their pixels are adjacent in
             * x, so a row of taps is one copy (a 3x3 conv on 1 channel copies 3 floats, not 3x1) */
            int ix0 = ox * g->sw - g->pl, kx0 = 0, kx1 = g->kw;
            while (kx0 < kx1 && ix0 + kx0 * g->dw < 0) kx0++;
            while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dw >= g->w) kx1--;
            for (int ky = 0; ky < g->kh; ky++, c += (size_t)g->kw * C) {
                int iy = oy * g->sh - g->pt + ky * g->dh;
                if (iy < 0 || iy >= g->h || kx0 == kx1) {
                    memset(c, 0, sizeof(float) * g->kw * C);
                    continue;
                }
                const float *xr = k->x + ((size_t)n * g->h + iy) * g->w * C;
                memset(c, 0, sizeof(float) * kx0 * C);
                if (g->dw == 1)
                    memcpy(c + (size_t)kx0 * C, xr + (size_t)(ix0 + kx0) * C, sizeof(float) * (kx1 - kx0) * C);
                else
                    for (int kx = kx0; kx < kx1; kx++)
                        memcpy(c + (size_t)kx * C, xr + (size_t)(ix0 + kx * g->dw) * C, sizeof(float) * C);
                memset(c + (size_t)kx1 * C, 0, sizeof(float) * (g->kw - kx1) * C);
            }
        }
    }
}

/* The taps of a gather (col2im, a depthwise input gradient) along one axis, listed once per call
 * instead of once per pixel (the per-pixel search divided by the stride at every tap, which cost
 * more than the sums): for input index i in [i0, i0 + len), the cnt[i - i0] kernel taps t in
 * ascending order, with their output index o, such that o * s - pad + t * d == i and 0 <= o < on:
 * pair j at tk[(i - i0) * kn + j], to[...]. */
void nn_axis_taps(int i0, int len, int pad, int kn, int d, int s, int on, int *cnt, int *tk, int *to)
{
    for (int i = i0; i < i0 + len; i++) {
        int c = 0, *k = tk + (size_t)(i - i0) * kn, *o = to + (size_t)(i - i0) * kn;
        for (int t = 0; t < kn; t++) {
            int u = nn_tap_out(i, pad, t, d, s, on);
            if (u < 0) continue;
            k[c] = t, o[c++] = u;
        }
        cnt[i - i0] = c;
    }
}

/* The x-axis taps of every input column of g, for a gather: three arrays in one allocation (free
 * *cnt when done). */
void nn_x_taps(const nn_geom *g, int **cnt, int **tk, int **to)
{
    int *tab = xmalloc(sizeof(int) * (size_t)g->w * (1 + 2 * (size_t)g->kw));
    *cnt = tab, *tk = tab + g->w, *to = tab + g->w + (size_t)g->w * g->kw;
    nn_axis_taps(0, g->w, g->pl, g->kw, g->dw, g->sw, g->ow, *cnt, *tk, *to);
}

/* dx += col2im(dcol) (add=1) or = (add=0), written as a gather over input pixels so threads
 * never write the same element: input (iy,ix) receives tap (ky,kx) of output (oy,ox) when
 * oy*sh - pt + ky*dh = iy. The taps of one input pixel are listed, then summed in registers.
 * Rows: n*h. */
static void col2im_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int K = g->kh * g->kw * g->cin;
    ptrdiff_t xo[DW_MAXT];
    int *xc, *xk, *xoo, yc, yk[DW_MAXT], yo[DW_MAXT];
    nn_x_taps(g, &xc, &xk, &xoo);
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        nn_axis_taps(iy, 1, g->pt, g->kh, g->dh, g->sh, g->oh, &yc, yk, yo);
        for (int ix = 0; ix < g->w; ix++) {
            float *d = k->y + ((size_t)r * g->w + ix) * g->cin;
            const int *tk = xk + (size_t)ix * g->kw, *to = xoo + (size_t)ix * g->kw;
            int nt = 0;
            for (int a = 0; a < yc; a++)
                for (int b = 0; b < xc[ix]; b++)
                    xo[nt++] = (((ptrdiff_t)n * g->oh + yo[a]) * g->ow + to[b]) * K +
                               (ptrdiff_t)(yk[a] * g->kw + tk[b]) * g->cin;
            sum_pixel(d, k->add ? d : NULL, g->cin, k->x, xo, nt);
        }
    }
    free(xc);
}

/* col2im without horizontal dilation, input rows [r0, r1) of n*h: for each kernel row ky that
 * reaches input row iy, each output column's kw taps (kw*cin floats of its im2col row) are one
 * run of the input row, added there, output columns in ascending order. A row is written by one
 * thread, in an order fixed by the sizes. Faster than the per-pixel gather for few channels (the
 * first layer's 3: runs of 9 floats instead of lists of 3-float pieces). */
static void col2im_span_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int K = g->kh * g->kw * g->cin, C = g->cin, yc, yk[DW_MAXT], yo[DW_MAXT], simd = nn_simd_available();
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        float *restrict d = k->y + (size_t)r * g->w * C;
        if (!k->add) memset(d, 0, sizeof(float) * g->w * C);
        for (int ky0 = 0; ky0 < g->kh; ky0 += DW_MAXT) {
            int kn = g->kh - ky0 < DW_MAXT ? g->kh - ky0 : DW_MAXT;
            nn_axis_taps(iy, 1, g->pt - ky0 * g->dh, kn, g->dh, g->sh, g->oh, &yc, yk, yo);
            for (int a = 0; a < yc; a++) {
                const float *s0 = k->x + ((size_t)n * g->oh + yo[a]) * g->ow * K + (size_t)(ky0 + yk[a]) * g->kw * C;
                if (simd) {
                    nn_simd_add_spans(d, g->w * C, s0, K, g->ow, g->sw * C, -g->pl * C, g->kw * C);
                    continue;
                }
                for (int ox = 0; ox < g->ow; ox++) {
                    int x0 = ox * g->sw - g->pl, kx0 = x0 < 0 ? -x0 : 0, kx1 = g->w - x0 < g->kw ? g->w - x0 : g->kw;
                    const float *restrict s = s0 + (size_t)ox * K;
                    for (int t = kx0 * C; t < kx1 * C; t++) d[(ptrdiff_t)x0 * C + t] += s[t];
                }
            }
        }
    }
}

/* col2im for kernels of more than DW_MAXT taps: the same gather, tap by tap. Rows: n*h. */
static void col2im_rows_any(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int K = g->kh * g->kw * g->cin;
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        if (!k->add) memset(k->y + (size_t)r * g->w * g->cin, 0, sizeof(float) * g->w * g->cin);
        for (int ix = 0; ix < g->w; ix++) {
            float *restrict d = k->y + ((size_t)r * g->w + ix) * g->cin;
            for (int ky = 0; ky < g->kh; ky++) {
                int oy = nn_tap_out(iy, g->pt, ky, g->dh, g->sh, g->oh);
                if (oy < 0) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ox = nn_tap_out(ix, g->pl, kx, g->dw, g->sw, g->ow);
                    if (ox < 0) continue;
                    const float *restrict s = k->x + (((size_t)n * g->oh + oy) * g->ow + ox) * K
                                              + (size_t)(ky * g->kw + kx) * g->cin;
                    for (int c = 0; c < g->cin; c++) d[c] += s[c];
                }
            }
        }
    }
}

/* Row-major C (m, n) = op(A) (m, k) . op(B) (k, n) + beta*C, as cblas_sgemm; ta: A is stored
 * transposed (k, m), tb likewise. With a bias (n floats; beta must be 0), C = bias + op(A).op(B):
 * the rows are filled with the bias and sgemm runs with beta 1, which saves OpenBLAS's zeroing
 * pass and a bias pass (the bias is then added before the sum's last rounding rather than after:
 * a rounding-level difference); then act is applied.
 *
 * Threads: with OpenBLAS on one thread (nn_set_threads makes it so), an A that is not transposed
 * is cut into parts, one sgemm each, and the parts are shared out among the common pool: one
 * set of threads for the whole engine, instead of OpenBLAS's spinning threads beside the pool's
 * on the same cores. A tall product (the early layers: thousands of positions) is cut into parts
 * of about GEMM_ROWS rows; a short one (the late layers: a few dozen positions by hundreds of
 * channels) into parts of about GEMM_PART_MACS multiply-adds, across its columns when it is wide
 * and across its rows (at least GEMM_MIN_ROWS each) when it is not. The parts depend only on the
 * sizes (OpenBLAS picks its kernel, and so its order of summation, by the sizes of each call), so a
 * result does not depend on the thread count either. (A transposed A, a weight gradient, stays one
 * call: each part would pack all of B again; except on AMX when its depth is at most its width,
 * a dense layer's over a minibatch, where B, the output gradient, is small.) */
#define GEMM_ROWS 256
/* On AMX or AVX512-BF16 (nn_ops_set_gemm): parts of 1024 rows, as each part packs B again. Where
 * packing costs more than the bf16x3 products save, a product stays on OpenBLAS: fewer than 16
 * rows, a depth under 32 (a dense layer's weight gradient over a chunk of 16 images), or a B
 * stored transposed (scattered into tiles or pairs) with fewer than 64 rows (a dense layer's input
 * gradient). */
#define GEMM_ROWS_AMX 1024
#define AMX_MIN_ROWS 16
#define AMX_MIN_K 32
#define AMX_MIN_ROWS_TB 64
#define GEMM_MIN_COLS 64
#define GEMM_MIN_ROWS 8
#define GEMM_PART_MACS (1 << 19)

typedef struct gemm_job {
    int ta, tb, m, n, k, lda, ldb, ldc, parts, cols, act, path; /* cols: parts are column blocks; path: enum nn_gemm */
    const float *a, *b, *bias;
    float beta, *c;
    const nn_amx_conv *cv; /* an AMX convolution without im2col (A is its im2col) */
    int row_align;          /* row blocks start at multiples of this */
} gemm_job;

/* C[m0:m1, n0:n1] of the job. */
static void gemm_block(const gemm_job *j, int m0, int m1, int n0, int n1)
{
    if (j->cv) { /* bias and activation included */
        nn_amx_conv_rows(j->cv, m0, m1, j->b ? j->b + n0 : NULL, j->ldb, n1 - n0, j->beta,
                         j->c + (size_t)m0 * j->ldc + n0, j->ldc, j->bias ? j->bias + n0 : NULL, j->act);
        return;
    }
    const float *a = j->a + (j->ta ? (size_t)m0 : (size_t)m0 * j->lda);
    const float *b = j->b + (j->tb ? (size_t)n0 * j->ldb : (size_t)n0);
    float *c = j->c + (size_t)m0 * j->ldc + n0, beta = j->beta;
    int n = n1 - n0;
    if (j->bias) {
        /* 4 floats at a time: memcpy per row would be a library call per (short) row */
        const float *bias = j->bias + n0;
        for (int r = 0; r < m1 - m0; r++) {
            float *row = c + (size_t)r * j->ldc;
            int i = 0;
            for (v4 t; i + 4 <= n; i += 4) LD4(t, bias + i), ST4(row + i, t);
            for (; i < n; i++) row[i] = bias[i];
        }
        beta = 1.0f;
    }
    int fast = j->path != NN_GEMM_SGEMM && m1 - m0 >= AMX_MIN_ROWS && j->k >= AMX_MIN_K &&
               (!j->tb || m1 - m0 >= AMX_MIN_ROWS_TB);
    if (fast && j->path == NN_GEMM_AMX)
        nn_amx_gemm(j->ta, j->tb, m1 - m0, n, j->k, a, j->lda, b, j->ldb, beta, c, j->ldc);
    else if (fast)
        nn_bf16_gemm(j->ta, j->tb, m1 - m0, n, j->k, a, j->lda, b, j->ldb, beta, c, j->ldc);
    else
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, m1 - m0, n,
                    j->k, 1.0f, a, j->lda, b, j->ldb, beta, c, j->ldc);
    if (!j->act) return;
    for (int r = 0; r < m1 - m0; r++) {
        float *restrict o = c + (size_t)r * j->ldc;
        if (j->act == NN_ACT_RELU)
            for (int i = 0; i < n; i++) o[i] = o[i] > 0.0f ? o[i] : 0.0f;
        else
            for (int i = 0; i < n; i++) o[i] = o[i] > 0.0f ? (o[i] < 6.0f ? o[i] : 6.0f) : 0.0f;
    }
}

/* pool_for body: parts [p0, p1) of j->parts, one sgemm each. Column blocks start at multiples of
 * 16 (the kernels' vector width). */
static void gemm_parts(void *vj, int p0, int p1)
{
    const gemm_job *j = vj;
    for (int p = p0; p < p1; p++) {
        if (j->cols) {
            int n0 = (int)((long)j->n * p / j->parts) & ~15, n1 = (int)((long)j->n * (p + 1) / j->parts) & ~15;
            gemm_block(j, 0, j->m, n0, p + 1 == j->parts ? j->n : n1);
        } else {
            /* row blocks of a convolution start at an output row (nn_amx_conv_rows reads whole
             * rows in place); row_align is 1 otherwise */
            long a = j->row_align, r0 = (long)j->m * p / j->parts / a * a, r1 = (long)j->m * (p + 1) / j->parts / a * a;
            gemm_block(j, (int)r0, p + 1 == j->parts ? j->m : (int)r1, 0, j->n);
        }
    }
}

static int g_gemm; /* enum nn_gemm: nn_ops_set_gemm */

int nn_ops_gemm_available(int path)
{
    return path == NN_GEMM_SGEMM || (path == NN_GEMM_AMX && nn_amx_available()) ||
           (path == NN_GEMM_BF16 && nn_bf16_available());
}

int nn_ops_gemm_best(void)
{
    return nn_amx_available() ? NN_GEMM_AMX : nn_bf16_available() ? NN_GEMM_BF16 : NN_GEMM_SGEMM;
}

int nn_ops_set_gemm(int path)
{
    int ok = nn_ops_gemm_available(path);
    g_gemm = ok ? path : NN_GEMM_SGEMM;
    return ok ? 0 : -1;
}

int nn_ops_set_fast_gemm(int on)
{
    g_gemm = on && nn_amx_available() ? NN_GEMM_AMX : NN_GEMM_SGEMM;
    return g_gemm == NN_GEMM_AMX;
}

int nn_ops_fast_gemm_available(void) { return nn_amx_available(); }
int nn_ops_gemm(void) { return g_gemm; }

static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc, const float *bias, int act)
{
    /* one call when OpenBLAS threads it itself, or for a transposed A (but see above) */
    int fast = g_gemm != NN_GEMM_SGEMM, rows = fast ? GEMM_ROWS_AMX : GEMM_ROWS;
    int split = (!ta || (fast && k <= n)) && (fast || openblas_get_num_threads() <= 1), parts = 1, cols = 0;
    if (split && m >= 2 * rows) {
        parts = (m + rows - 1) / rows;
    } else if (split) {
        long want = (long)m * n * k / GEMM_PART_MACS;
        cols = n >= 2 * GEMM_MIN_COLS;
        long most = cols ? n / GEMM_MIN_COLS : m / GEMM_MIN_ROWS;
        parts = (int)(want < most ? want : most);
        if (parts < 1) parts = 1;
    }
    gemm_job j = {ta, tb, m, n, k, lda, ldb, ldc, parts, cols, act, g_gemm, a, b, bias, beta, c, NULL, 1};
    pool_for(j.parts, (size_t)m * n * k / 32, gemm_parts, &j); /* MACs/32: comparable to floats moved */
}

/* A prepared AMX convolution without im2col (nn_amx_conv_rows) over m output rows and n
 * columns, split across the pool by rows only (an input gradient needs all its columns); its
 * input was converted once, before the split. */
static void gemm_conv(const nn_amx_conv *cv, int ow, int m, int n, int k, const float *b, int ldb, float beta,
                      float *c, int ldc, const float *bias, int act)
{
    int parts = m >= 2 * GEMM_ROWS_AMX ? (m + GEMM_ROWS_AMX - 1) / GEMM_ROWS_AMX : 1;
    gemm_job j = {0, 0, m, n, k, 0, ldb, ldc, parts, 0, act, NN_GEMM_AMX, NULL, b, bias, beta, c, cv, ow};
    pool_for(j.parts, (size_t)m * n * k / 32, gemm_parts, &j);
}

/* 1 if the forward of g runs without im2col (then it leaves no im2col in its col scratch). */
static int conv_implicit(const nn_geom *g) { return g_gemm == NN_GEMM_AMX && nn_amx_conv_implicit(g); }

/* 1 if g is a convolution of one input channel computed directly (nn_amx_conv1_*: no im2col
 * either; AVX-512F in float, so on either bf16x3 path). */
static int conv_one_channel(const nn_geom *g) { return g_gemm != NN_GEMM_SGEMM && nn_amx_conv1_ok(g); }

typedef struct conv1_job {
    const nn_geom *g;
    const float *x, *w, *bias;
    int act;
    float *y;
} conv1_job;

static void conv1_images(void *v, int n0, int n1)
{
    const conv1_job *j = v;
    nn_amx_conv1_fwd(j->g, n0, n1, j->x, j->w, j->bias, j->act, j->y);
}

void nn_conv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                 float *y, float *col)
{
    /* y (M, cout) = col (M, K) . W (K, cout), M = n*oh*ow, K = kh*kw*cin */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    const float *a = x;
    if (conv_implicit(g)) {
        gemm_conv(nn_amx_conv_prepare(g, x), g->ow, M, g->cout, K, wt, g->cout, 0.0f, y, g->cout, bias, act);
        return;
    }
    if (conv_one_channel(g)) {
        conv1_job j = {g, x, wt, bias, act, y};
        pool_for(g->n, (size_t)M * K * g->cout / 32, conv1_images, &j);
        return;
    }
    if (!conv_direct(g)) {
        kc k = {.g = g, .x = x, .y = col};
        pool_for(g->n * g->oh, (size_t)M * K, im2col_rows, &k);
        a = col;
    }
    gemm(0, 0, M, g->cout, K, a, K, wt, g->cout, 0.0f, y, g->cout, bias, act);
}

void nn_conv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, float *col, int add)
{
    /* dcol (M, K) = dy (M, cout) . W^T (cout, K) */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    if (conv_direct(g)) {
        gemm(0, 1, M, K, g->cout, dy, g->cout, wt, g->cout, add ? 1.0f : 0.0f, dx, K, NULL, 0);
        return;
    }
    if (g_gemm == NN_GEMM_AMX && nn_amx_conv_bwd_implicit(g)) {
        /* the convolution of dy with the flipped weights: no product into col, no col2im */
        gemm_conv(nn_amx_conv_bwd_prepare(g, dy, wt), g->w, g->n * g->h * g->w, g->cin, K, NULL, 0,
                  add ? 1.0f : 0.0f, dx, g->cin, NULL, 0);
        return;
    }
    gemm(0, 1, M, K, g->cout, dy, g->cout, wt, g->cout, 0.0f, col, K, NULL, 0);
    kc k = {.g = g, .x = col, .y = dx, .add = add};
    pool_for(g->n * g->h, (size_t)M * K, g->kh * g->kw <= DW_MAXT ? col2im_rows : col2im_rows_any, &k);
}

/* --- convolutions on packed weights (nn_simd) --- */

struct nn_conv_pack {
    nn_simd_mat fwd, bwd; /* W (K, cout) and W^T (cout, K), K = kh*kw*cin */
    int has_bwd;
    int direct; /* forward by nn_simd_conv_direct on the caller's weights */
    const float *wt; /* the caller's weights, for the transposed copy and the direct forward */
};

/* Sizes of the zero-padded input nn_simd_conv_direct reads: rows and columns up to the last tap. */
static void padded_size(const nn_geom *g, int *hp, int *wp)
{
    *hp = (g->oh - 1) * g->sh + g->kh;
    *wp = (g->ow - 1) * g->sw + g->kw;
}

void nn_ops_set_simd(int on) { nn_simd_set_enabled(on); }
int nn_ops_simd_available(void) { return nn_simd_available(); }

nn_conv_pack *nn_conv_pack_new(const nn_geom *g, const float *wt)
{
    if (!nn_simd_available() || g_gemm != NN_GEMM_SGEMM) return NULL;
    nn_conv_pack *pk = xcalloc(1, sizeof *pk);
    int half_ok = (long)g->n * g->oh * g->ow < NN_SIMD_HALF_ROWS; /* rows of both products */
    if (nn_simd_mat_init(&pk->fwd, wt, g->kh * g->kw * g->cin, g->cout, 0, half_ok) != 0) xmalloc((size_t)-1);
    pk->wt = wt;
    /* few input channels (an RGB first layer): direct, when the padded input fits in the col
     * scratch (always, but for a stride larger than the kernel) */
    int hp, wp;
    padded_size(g, &hp, &wp);
    pk->direct = !conv_direct(g) && g->cin <= 4 && g->dh == 1 && g->dw == 1 && g->cout <= 32 &&
                 (size_t)g->n * hp * wp * g->cin <= nn_conv_col_size(g);
    return pk;
}

int nn_conv_pack_half(const nn_conv_pack *pk) { return pk->fwd.exact16; }

void nn_conv_pack_free(nn_conv_pack *pk)
{
    if (!pk) return;
    nn_simd_mat_free(&pk->fwd);
    if (pk->has_bwd) nn_simd_mat_free(&pk->bwd);
    free(pk);
}

/* Row blocks of this many rows (the kernel's tile height), or column panels of 32. */
#define SIMD_MR 8
#define SIMD_ROWS_MIN 64

typedef struct simd_job {
    int m, by_rows;
    const float *a;
    int lda;
    const nn_simd_mat *b;
    const float *bias;
    int beta, act;
    const float *res;
    const nn_hswish_out *post;
    float *c;
    int ldc;
} simd_job;

static void simd_parts(void *vj, int p0, int p1)
{
    const simd_job *j = vj;
    if (j->by_rows) {
        int m0 = p0 * SIMD_MR, m1 = p1 * SIMD_MR < j->m ? p1 * SIMD_MR : j->m;
        nn_simd_gemm(m0, m1, 0, j->b->n, j->a, j->lda, j->b, j->bias, j->beta, j->act, j->res, j->post, j->c, j->ldc);
    } else {
        int n1 = p1 * 32 < j->b->n ? p1 * 32 : j->b->n;
        nn_simd_gemm(0, j->m, p0 * 32, n1, j->a, j->lda, j->b, j->bias, j->beta, j->act, j->res, j->post, j->c, j->ldc);
    }
}

/* C (m, b->n) = init + A . B, act; split across the pool by row blocks (tall products: each
 * thread keeps the same pixels from one layer to the next) or by column panels (short ones). */
static void simd_gemm(int m, const float *a, int lda, const nn_simd_mat *b, const float *bias, int beta, int act,
                      const float *res, const nn_hswish_out *post, float *c, int ldc)
{
    simd_job j = {m, m >= SIMD_ROWS_MIN, a, lda, b, bias, beta, act, res, post, c, ldc};
    int parts = j.by_rows ? (m + SIMD_MR - 1) / SIMD_MR : (b->n + 31) / 32;
    /* the work to split: the multiply-adds, or for a product of a few rows (a squeeze-excite
     * layer's, on one) the weights it streams from L3, which two cores read in half the time */
    size_t macs = (size_t)m * b->n * b->k, wts = (size_t)b->n * b->k;
    pool_for(parts, macs / 32 > wts / 4 ? macs / 32 : wts / 4, simd_parts, &j);
}

typedef struct direct_job {
    const nn_geom *g;
    const float *xp, *w, *bias;
    int hp, wp, act;
    float *y;
    const nn_hswish_out *hs;
} direct_job;

/* Rows [r0, r1) (of n * hp) of the zero-padded copy of the direct convolution's input. */
typedef struct pad_job {
    const nn_geom *g;
    const float *x;
    float *xp;
    int hp, wp;
} pad_job;

static void pad_rows(void *v, int r0, int r1)
{
    const pad_job *j = v;
    const nn_geom *g = j->g;
    size_t prow = (size_t)j->wp * g->cin;
    int cols = g->w < j->wp - g->pl ? g->w : j->wp - g->pl;
    for (int r = r0; r < r1; r++) {
        int n = r / j->hp, py = r % j->hp, iy = py - g->pt;
        float *d = j->xp + (size_t)r * prow;
        memset(d, 0, sizeof(float) * prow);
        if (iy >= 0 && iy < g->h)
            memcpy(d + (size_t)g->pl * g->cin, j->x + ((size_t)n * g->h + iy) * g->w * g->cin,
                   sizeof(float) * (size_t)cols * g->cin);
    }
}

static void direct_rows(void *v, int r0, int r1)
{
    const direct_job *j = v;
    nn_simd_conv_direct(j->g, r0, r1, j->xp, j->hp, j->wp, j->w, j->bias, j->act, j->y, j->hs);
}

void nn_conv_fwd_packed(const nn_geom *g, const nn_conv_pack *pk, const float *x, const float *bias, int act,
                        const float *res, float *y, float *col, const nn_hswish_out *hs)
{
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    if (pk->direct && !res) {
        int hp, wp;
        padded_size(g, &hp, &wp);
        pad_job pj = {g, x, col, hp, wp};
        pool_for(g->n * hp, (size_t)g->n * hp * wp * g->cin, pad_rows, &pj);
        direct_job j = {g, col, pk->wt, bias, hp, wp, act, y, hs};
        pool_for(g->n * g->oh, (size_t)M * K * g->cout / 32, direct_rows, &j);
        return;
    }
    const float *a = x;
    if (!conv_direct(g)) {
        kc k = {.g = g, .x = x, .y = col};
        pool_for(g->n * g->oh, (size_t)M * K, im2col_rows, &k);
        a = col;
    }
    simd_gemm(M, a, K, &pk->fwd, bias, 0, act, res, hs, y, g->cout);
}

void nn_conv_bwd_packed(const nn_geom *g, nn_conv_pack *pk, const float *dy, float *dx, float *col, int add)
{
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    if (!pk->has_bwd) {
        if (nn_simd_mat_init(&pk->bwd, pk->wt, g->cout, K, 1, M < NN_SIMD_HALF_ROWS) != 0) xmalloc((size_t)-1);
        pk->has_bwd = 1;
    }
    if (conv_direct(g)) {
        simd_gemm(M, dy, g->cout, &pk->bwd, NULL, add, 0, NULL, NULL, dx, K);
        return;
    }
    simd_gemm(M, dy, g->cout, &pk->bwd, NULL, 0, 0, NULL, NULL, col, K);
    kc k = {.g = g, .x = col, .y = dx, .add = add};
    pool_for(g->n * g->h, (size_t)M * K,
            g->dw == 1 ? col2im_span_rows : g->kh * g->kw <= DW_MAXT ? col2im_rows : col2im_rows_any, &k);
}

/* --- settings ------------------------------------------------------------------------------ */


void nn_ops_set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

/* db (C) = (add ? db : 0) + the sum of dy's M rows, in row order, so the sum does not depend on
 * any thread split. */
WIDE static void bias_grad(int M, int C, const float *dy, float *restrict db, int add)
{
    if (!add) memset(db, 0, sizeof(float) * (size_t)C);
    for (int r = 0; r < M; r++) {
        const float *restrict d = dy + (size_t)r * C;
        for (int c = 0; c < C; c++) db[c] += d[c];
    }
}

void nn_conv_bwd_w(const nn_geom *g, const float *x, const float *col, const float *dy, float *dw, float *db,
                   int add)
{
    /* dW (K, cout) = a^T (K, M) . dy (M, cout), M = n*oh*ow, K = kh*kw*cin, a = im2col(x) */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin, C = g->cout;
    if (conv_implicit(g))
        nn_amx_conv_wgrad(g, x, dy, add ? 1.0f : 0.0f, dw);
    else if (conv_one_channel(g))
        nn_amx_conv1_wgrad(g, x, dy, add ? 1.0f : 0.0f, dw);
    else
        gemm(1, 0, K, C, M, conv_direct(g) ? x : col, K, dy, C, add ? 1.0f : 0.0f, dw, C, NULL, 0);
    if (db) bias_grad(M, C, dy, db, add);
}
