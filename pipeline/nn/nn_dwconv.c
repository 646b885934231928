/* nn_dwconv — depthwise convolutions (see nn_ops.h): forward (with a fused hard swish) and input
 * gradient (with a fused activation derivative), register-blocked gathers with nn_simd.h's
 * AVX-512 kernels where the CPU has them, split across the common pool (pool.h) by rows. */
#include "nn_kern.h"

#include "pool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static inline float act1(int act, float v)
{
    if (act == NN_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (act == NN_ACT_RELU6) return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
    return v;
}

/* out[0..C) = init (NULL: 0; may be out itself) + sum over the nt taps t of
 * x[xo[t] + c] * w[wo[t] + c], the taps summed in the order given. */
static inline void dw_pixel(float *out, const float *init, int C, const float *x, const float *w,
                            const ptrdiff_t *xo, const ptrdiff_t *wo, int nt)
{
    int c0 = 0;
    for (; c0 + 32 <= C; c0 += 32) {
        /* eight named accumulators: an array of them would live in memory */
        v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, xv, wv;
        if (init) {
            const float *i0 = init + c0;
            LD4(a0, i0), LD4(a1, i0 + 4), LD4(a2, i0 + 8), LD4(a3, i0 + 12);
            LD4(a4, i0 + 16), LD4(a5, i0 + 20), LD4(a6, i0 + 24), LD4(a7, i0 + 28);
        }
        for (int t = 0; t < nt; t++) {
            const float *xi = x + xo[t] + c0, *wk = w + wo[t] + c0;
            LD4(xv, xi), LD4(wv, wk), a0 += xv * wv;
            LD4(xv, xi + 4), LD4(wv, wk + 4), a1 += xv * wv;
            LD4(xv, xi + 8), LD4(wv, wk + 8), a2 += xv * wv;
            LD4(xv, xi + 12), LD4(wv, wk + 12), a3 += xv * wv;
            LD4(xv, xi + 16), LD4(wv, wk + 16), a4 += xv * wv;
            LD4(xv, xi + 20), LD4(wv, wk + 20), a5 += xv * wv;
            LD4(xv, xi + 24), LD4(wv, wk + 24), a6 += xv * wv;
            LD4(xv, xi + 28), LD4(wv, wk + 28), a7 += xv * wv;
        }
        float *o0 = out + c0;
        ST4(o0, a0), ST4(o0 + 4, a1), ST4(o0 + 8, a2), ST4(o0 + 12, a3);
        ST4(o0 + 16, a4), ST4(o0 + 20, a5), ST4(o0 + 24, a6), ST4(o0 + 28, a7);
    }
    for (; c0 + 4 <= C; c0 += 4) {
        v4 a0 = {0}, xv, wv;
        if (init) LD4(a0, init + c0);
        for (int t = 0; t < nt; t++) LD4(xv, x + xo[t] + c0), LD4(wv, w + wo[t] + c0), a0 += xv * wv;
        ST4(out + c0, a0);
    }
    for (; c0 < C; c0++) {
        float a = init ? init[c0] : 0.0f;
        for (int t = 0; t < nt; t++) a += x[xo[t] + c0] * w[wo[t] + c0];
        out[c0] = a;
    }
}

/* Two horizontally adjacent pixels of a stride-1 depthwise conv (no horizontal dilation), each
 * summing kw taps per row, all inside the tensor: tap kx of oa reads x at rows[i] + kx*step and
 * tap kx of ob reads x at rows[i] + (kx+1)*step, so each x and weight vector is loaded once for
 * both (half the loads of two dw_pixel calls, which is what bounds this loop). Forward: oa, ob
 * are outputs ox, ox+1 and step = +C; backward (gather): oa, ob are the input gradients at
 * ix+1, ix and step = -C. wrow[i]: weight offset of row i (taps kx at + kx*C); ia, ib: initial
 * values (NULL: 0; may be oa, ob themselves). Rows and taps in ascending order, so each pixel
 * sums its terms in dw_pixel's order and gets the same value. */
static void dw_pair(float *oa, float *ob, const float *ia, const float *ib, int C, const float *x, const float *w,
                    const ptrdiff_t *rows, const ptrdiff_t *wrow, int nr, int kw, ptrdiff_t step)
{
    int c0 = 0;
    for (; c0 + 8 <= C; c0 += 8) {
        v4 a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, p0, p1, q0, q1, w0, w1;
        if (ia) LD4(a0, ia + c0), LD4(a1, ia + c0 + 4);
        if (ib) LD4(b0, ib + c0), LD4(b1, ib + c0 + 4);
        for (int i = 0; i < nr; i++) {
            const float *xr = x + rows[i] + c0, *wr = w + wrow[i] + c0;
            LD4(p0, xr), LD4(p1, xr + 4);
            for (int kx = 0; kx < kw; kx++) {
                const float *xn = xr + (kx + 1) * step, *wk = wr + (size_t)kx * C;
                LD4(w0, wk), LD4(w1, wk + 4), LD4(q0, xn), LD4(q1, xn + 4);
                a0 += p0 * w0, a1 += p1 * w1, b0 += q0 * w0, b1 += q1 * w1;
                p0 = q0, p1 = q1;
            }
        }
        ST4(oa + c0, a0), ST4(oa + c0 + 4, a1), ST4(ob + c0, b0), ST4(ob + c0 + 4, b1);
    }
    for (; c0 < C; c0++) {
        float a = ia ? ia[c0] : 0.0f, b = ib ? ib[c0] : 0.0f;
        for (int i = 0; i < nr; i++)
            for (int kx = 0; kx < kw; kx++) {
                float wv = w[wrow[i] + (ptrdiff_t)kx * C + c0];
                a += x[rows[i] + kx * step + c0] * wv;
                b += x[rows[i] + (kx + 1) * step + c0] * wv;
            }
        oa[c0] = a, ob[c0] = b;
    }
}

/* Relu/Relu6 in place on o[0..n). */
static void act_inplace(int act, float *restrict o, int n)
{
    if (act == NN_ACT_RELU)
        for (int c = 0; c < n; c++) o[c] = o[c] > 0.0f ? o[c] : 0.0f;
    else if (act == NN_ACT_RELU6)
        for (int c = 0; c < n; c++) o[c] = o[c] > 0.0f ? (o[c] < 6.0f ? o[c] : 6.0f) : 0.0f;
}

/* hs->out[off + i] = the hard swish of v[i], i < n, as EW_HSW_FWD computes it. */
static void hswish_into(const nn_hswish_out *hs, ptrdiff_t off, const float *v, int n)
{
    float *restrict o = hs->out + off;
    for (int i = 0; i < n; i++) {
        float t = v[i] + hs->a;
        t = t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f;
        o[i] = (hs->c * v[i]) * t;
    }
}

/* The output columns [ow_first_inside, ow_end_inside) of g have every horizontal tap inside the
 * input (the range may be empty). */
static int ow_first_inside(const nn_geom *g)
{
    int ox = (g->pl + g->sw - 1) / g->sw;
    return ox < g->ow ? ox : g->ow;
}
static int ow_end_inside(const nn_geom *g)
{
    int last = g->w - 1 - (g->kw - 1) * g->dw + g->pl; /* largest ox * sw allowed */
    if (last < 0) return 0;
    int ox = last / g->sw + 1;
    return ox < g->ow ? ox : g->ow;
}

/* Depthwise forward, rows n*oh. For multiplier 1 (every depthwise conv of MobileNet) each output
 * pixel lists its in-image taps and sums them with dw_pixel; other multipliers take the plain
 * loop. Taps are summed in (ky, kx) order either way. */
static void dw_fwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin, M = g->cout / g->cin, act = k->act;
    int blocked = M == 1 && g->kh * g->kw <= DW_MAXT, simd = nn_simd_available();
    ptrdiff_t xo[DW_MAXT], wo[DW_MAXT];
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        int ky0 = 0, ky1 = g->kh; /* taps inside the image on this row */
        while (ky0 < ky1 && oy * g->sh - g->pt + ky0 * g->dh < 0) ky0++;
        while (ky1 > ky0 && oy * g->sh - g->pt + (ky1 - 1) * g->dh >= g->h) ky1--;
        /* the interior of the row, every tap inside horizontally: one run (nn_simd_dw_run) */
        int oxa = ow_first_inside(g), oxb = ow_end_inside(g);
        for (int ox = 0; ox < g->ow; ox++) {
            float *restrict o = k->y + ((size_t)r * g->ow + ox) * g->cout;
            if (simd && blocked && ox == oxa && oxa < oxb) {
                ptrdiff_t xb = (((ptrdiff_t)n * g->h + oy * g->sh - g->pt) * g->w + ox * g->sw - g->pl) * C;
                int nt = 0;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        xo[nt] = xb + ((ptrdiff_t)ky * g->dh * g->w + kx * g->dw) * C;
                        wo[nt++] = (ptrdiff_t)(ky * g->kw + kx) * C;
                    }
                nn_simd_post pt, *pp = NULL;
                if (k->hs) pt = *k->hs, pt.out += ((size_t)r * g->ow + ox) * g->cout, pp = &pt;
                nn_simd_dw_run(o, C, k->b, 0, C, k->x, k->w, xo, wo, nt, (ptrdiff_t)g->sw * C, oxb - oxa, act, NULL, pp);
                ox = oxb - 1;
                continue;
            }
            int kx0 = 0, kx1 = g->kw;
            while (kx0 < kx1 && ox * g->sw - g->pl + kx0 * g->dw < 0) kx0++;
            while (kx1 > kx0 && ox * g->sw - g->pl + (kx1 - 1) * g->dw >= g->w) kx1--;
            /* index of tap (0,0), which may lie outside the image (only in-image taps are read) */
            ptrdiff_t xb = (((ptrdiff_t)n * g->h + oy * g->sh - g->pt) * g->w + ox * g->sw - g->pl) * C;
            /* two outputs at once where both have every tap of a row inside the image */
            if (blocked && g->sw == 1 && g->dw == 1 && ox + 1 < g->ow && ox - g->pl >= 0 &&
                ox + 1 - g->pl + g->kw - 1 < g->w) {
                int nr = 0;
                for (int ky = ky0; ky < ky1; ky++, nr++) {
                    xo[nr] = xb + (ptrdiff_t)ky * g->dh * g->w * C;
                    wo[nr] = (ptrdiff_t)ky * g->kw * C;
                }
                if (simd)
                    nn_simd_dw_pair(o, o + C, k->b, k->b, C, k->x, k->w, xo, wo, nr, g->kw, C);
                else
                    dw_pair(o, o + C, k->b, k->b, C, k->x, k->w, xo, wo, nr, g->kw, C);
                act_inplace(act, o, 2 * C);
                if (k->hs) hswish_into(k->hs, o - k->y, o, 2 * C);
                ox++;
                continue;
            }
            if (blocked) {
                int nt = 0;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        xo[nt] = xb + ((ptrdiff_t)ky * g->dh * g->w + kx * g->dw) * C;
                        wo[nt++] = (ptrdiff_t)(ky * g->kw + kx) * C;
                    }
                if (simd)
                    nn_simd_dw_pixel(o, k->b, C, k->x, k->w, xo, wo, nt);
                else
                    dw_pixel(o, k->b, C, k->x, k->w, xo, wo, nt);
                act_inplace(act, o, C);
                if (k->hs) hswish_into(k->hs, o - k->y, o, C);
                continue;
            }
            if (k->b)
                memcpy(o, k->b, sizeof(float) * g->cout);
            else
                memset(o, 0, sizeof(float) * g->cout);
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++) {
                    const float *restrict xi = k->x + xb + ((ptrdiff_t)ky * g->dh * g->w + kx * g->dw) * C;
                    const float *restrict wk = k->w + (size_t)(ky * g->kw + kx) * g->cout;
                    for (int c = 0; c < C; c++)
                        for (int m = 0; m < M; m++) o[c * M + m] += xi[c] * wk[c * M + m];
                }
            if (act)
                for (int c = 0; c < g->cout; c++) o[c] = act1(act, o[c]);
        }
    }
}

void nn_dwconv_fwd_hs(const nn_geom *g, const float *x, const float *wt, const float *bias, int act, float *y,
                      const nn_hswish_out *hs)
{
    kc k = {.g = g, .x = x, .w = wt, .b = bias, .act = act, .y = y, .hs = hs};
    pool_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_fwd_rows, &k);
}

void nn_dwconv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                   float *y)
{
    kc k = {.g = g, .x = x, .w = wt, .b = bias, .act = act, .y = y};
    pool_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_fwd_rows, &k);
}

/* Depthwise input gradient in gather form (see col2im_rows), any multiplier, rows n*h. */
static void dw_bwd_rows_any(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin, M = g->cout / g->cin;
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        if (!k->add) memset(k->y + (size_t)r * g->w * C, 0, sizeof(float) * g->w * C);
        for (int ix = 0; ix < g->w; ix++) {
            float *restrict d = k->y + ((size_t)r * g->w + ix) * C;
            for (int ky = 0; ky < g->kh; ky++) {
                int oy = nn_tap_out(iy, g->pt, ky, g->dh, g->sh, g->oh);
                if (oy < 0) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ox = nn_tap_out(ix, g->pl, kx, g->dw, g->sw, g->ow);
                    if (ox < 0) continue;
                    const float *restrict s = k->x + (((size_t)n * g->oh + oy) * g->ow + ox) * g->cout;
                    const float *restrict wk = k->w + (size_t)(ky * g->kw + kx) * g->cout;
                    for (int c = 0; c < C; c++)
                        for (int m = 0; m < M; m++) d[c] += s[c * M + m] * wk[c * M + m];
                }
            }
        }
    }
}

/* 1 if input column j's taps (x_taps) are input column i's, each one output column on. */
static int taps_shifted(const nn_geom *g, const int *xc, const int *xk, const int *xo, int i, int j)
{
    if (xc[i] != xc[j]) return 0;
    const int *ki = xk + (size_t)i * g->kw, *kj = xk + (size_t)j * g->kw, *oi = xo + (size_t)i * g->kw,
              *oj = xo + (size_t)j * g->kw;
    for (int b = 0; b < xc[i]; b++)
        if (ki[b] != kj[b] || oj[b] != oi[b] + 1) return 0;
    return 1;
}

/* The taps of input pixel (row's image n, column ix) of a depthwise gather, from the row's y taps
 * and the x tap tables: dy and weight offsets into yo, wo, in (ky, kx) order; returns their count. */
static int gather_taps(const nn_geom *g, int n, int ix, int yc, const int *ryk, const int *ryo, const int *xc,
                       const int *xk, const int *xoo, ptrdiff_t *yo, ptrdiff_t *wo)
{
    const int *tk = xk + (size_t)ix * g->kw, *to = xoo + (size_t)ix * g->kw, C = g->cin;
    int nt = 0;
    for (int a = 0; a < yc; a++)
        for (int b = 0; b < xc[ix]; b++) {
            yo[nt] = (((ptrdiff_t)n * g->oh + ryo[a]) * g->ow + to[b]) * C;
            wo[nt++] = (ptrdiff_t)(ryk[a] * g->kw + tk[b]) * C;
        }
    return nt;
}

/* Depthwise input gradient for multiplier 1, rows n*h, in the gather form of dw_bwd_rows_any:
 * the taps that reach one input pixel are listed, then summed with dw_pixel, so dx is written
 * once (overwritten, or added to when k->add) and needs no zeroing pass. */
static void dw_bwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin, simd = nn_simd_available();
    ptrdiff_t yo[DW_MAXT], wo[DW_MAXT]; /* dy and weight offsets of the taps of one input pixel */
    int *xc, *xk, *xoo, yc, ryk[DW_MAXT], ryo[DW_MAXT];
    nn_x_taps(g, &xc, &xk, &xoo);
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        nn_axis_taps(iy, 1, g->pt, g->kh, g->dh, g->sh, g->oh, &yc, ryk, ryo);
        if (simd) {
            /* runs of same-parity pixels whose taps are those of the run's first, one output
             * column on (nn_simd_dw_run) */
            for (int q = 0; q < g->sw && q < g->w; q++)
                for (int ix = q; ix < g->w;) {
                    int len = 1;
                    while (ix + len * g->sw < g->w && taps_shifted(g, xc, xk, xoo, ix + (len - 1) * g->sw, ix + len * g->sw))
                        len++;
                    int nt = gather_taps(g, n, ix, yc, ryk, ryo, xc, xk, xoo, yo, wo);
                    float *d = k->y + ((size_t)r * g->w + ix) * C;
                    ptrdiff_t step = (ptrdiff_t)g->sw * C;
                    nn_simd_gate gt, *gp = NULL;
                    if (k->gate.kind) {
                        gt = k->gate;
                        gt.x += ((size_t)r * g->w + ix) * C, gt.step = step, gp = &gt;
                        if (gt.m) { /* (C + 15) / 16 mask words a pixel */
                            ptrdiff_t mw = (C + 15) / 16;
                            gt.m += ((ptrdiff_t)r * g->w + ix) * mw, gt.mstep = (ptrdiff_t)g->sw * mw;
                        }
                    }
                    nn_simd_dw_run(d, step, k->add ? d : NULL, step, C, k->x, k->w, yo, wo, nt, C, len, NN_ACT_NONE, gp,
                                   NULL);
                    ix += len * g->sw;
                }
            continue;
        }
        for (int ix = 0; ix < g->w; ix++) {
            float *restrict d = k->y + ((size_t)r * g->w + ix) * C;
            /* pixels ix, ix+1 at once where both get all kw taps of a row (outputs ix+pl-kw+1
             * through ix+1+pl inside): see dw_pair */
            if (g->sw == 1 && g->dw == 1 && ix + 1 < g->w && ix + g->pl - (g->kw - 1) >= 0 && ix + 1 + g->pl < g->ow) {
                int nr = 0;
                for (int a = 0; a < yc; a++) {
                    yo[nr] = (((ptrdiff_t)n * g->oh + ryo[a]) * g->ow + ix + 1 + g->pl) * C;
                    wo[nr++] = (ptrdiff_t)ryk[a] * g->kw * C;
                }
                if (simd)
                    nn_simd_dw_pair(d + C, d, k->add ? d + C : NULL, k->add ? d : NULL, C, k->x, k->w, yo, wo, nr,
                                    g->kw, -C);
                else
                    dw_pair(d + C, d, k->add ? d + C : NULL, k->add ? d : NULL, C, k->x, k->w, yo, wo, nr, g->kw, -C);
                ix++;
                continue;
            }
            int nt = gather_taps(g, n, ix, yc, ryk, ryo, xc, xk, xoo, yo, wo);
            if (simd)
                nn_simd_dw_pixel(d, k->add ? d : NULL, C, k->x, k->w, yo, wo, nt);
            else
                dw_pixel(d, k->add ? d : NULL, C, k->x, k->w, yo, wo, nt);
        }
    }
    free(xc);
}

void nn_dwconv_bwd_gated(const nn_geom *g, const float *dy, const float *wt, float *dx, int gate, const float *gx,
                         const uint16_t *gmask, float ga, float gc)
{
    kc k = {.g = g, .x = dy, .w = wt, .y = dx, .add = 0};
    k.gate = (nn_simd_gate){gate, ga, gc, gx, 0, gmask, 0};
    pool_for(g->n * g->h, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_bwd_rows, &k);
}

void nn_dwconv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, int add)
{
    kc k = {.g = g, .x = dy, .w = wt, .y = dx, .add = add};
    int one = g->cout == g->cin && g->kh * g->kw <= DW_MAXT;
    pool_for(g->n * g->h, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, one ? dw_bwd_rows : dw_bwd_rows_any,
            &k);
}
