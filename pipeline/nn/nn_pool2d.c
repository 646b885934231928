/* nn_pool2d — spatial reductions and moves (see nn_ops.h): mean over H and W, channel concat,
 * bilinear resize, max pooling, forward and backward; split across the common pool (pool.h) by
 * rows where no two rows write the same element. */
#include "nn_kern.h"

#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct mean_job {
    int h, w, c;
    const float *x;
    float *part; /* forward: (n * h, c) row sums */
    float *dx;   /* backward */
    float inv;
} mean_job;

static void mean_rows(void *vj, int r0, int r1)
{
    const mean_job *j = vj;
    for (int r = r0; r < r1; r++) {
        float *restrict o = j->part + (size_t)r * j->c;
        memset(o, 0, sizeof(float) * j->c);
        for (int i = 0; i < j->w; i++) {
            const float *restrict xi = j->x + ((size_t)r * j->w + i) * j->c;
            for (int k = 0; k < j->c; k++) o[k] += xi[k];
        }
    }
}

/* Sums each image's rows (mean_rows), then the rows in order (see rowsum_job). */
void nn_mean_hw_fwd(int n, int h, int w, int c, const float *x, float *y)
{
    float inv = 1.0f / (float)(h * w);
    mean_job j = {h, w, c, x, xmalloc(sizeof(float) * (size_t)n * h * c), NULL, inv};
    pool_for(n * h, (size_t)n * h * w * c, mean_rows, &j);
    for (int b = 0; b < n; b++) {
        float *restrict o = y + (size_t)b * c;
        memset(o, 0, sizeof(float) * c);
        for (int r = 0; r < h; r++) {
            const float *restrict pr = j.part + ((size_t)b * h + r) * c;
            for (int k = 0; k < c; k++) o[k] += pr[k];
        }
        for (int k = 0; k < c; k++) o[k] *= inv;
    }
    free(j.part);
}

static void mean_bwd_rows(void *vj, int r0, int r1)
{
    const mean_job *j = vj;
    for (int r = r0; r < r1; r++) {
        const float *restrict g = j->x + (size_t)(r / (j->h * j->w)) * j->c;
        float *restrict d = j->dx + (size_t)r * j->c;
        for (int k = 0; k < j->c; k++) d[k] += g[k] * j->inv;
    }
}

void nn_mean_hw_bwd(int n, int h, int w, int c, const float *dy, float *dx)
{
    mean_job j = {h, w, c, dy, NULL, dx, 1.0f / (float)(h * w)};
    pool_for(n * h * w, (size_t)n * h * w * c, mean_bwd_rows, &j);
}

void nn_concat_fwd(int k, const float *const *xs, const int *cs, size_t rows, float *y)
{
    int ct = 0;
    for (int i = 0; i < k; i++) ct += cs[i];
    for (size_t r = 0; r < rows; r++) {
        float *o = y + r * ct;
        for (int i = 0; i < k; i++) {
            memcpy(o, xs[i] + r * cs[i], sizeof(float) * cs[i]);
            o += cs[i];
        }
    }
}

void nn_concat_bwd(int k, float *const *dxs, const int *cs, size_t rows, const float *dy)
{
    int ct = 0;
    for (int i = 0; i < k; i++) ct += cs[i];
    for (size_t r = 0; r < rows; r++) {
        const float *g = dy + r * ct;
        for (int i = 0; i < k; i++) {
            if (dxs[i]) {
                float *restrict d = dxs[i] + r * cs[i];
                for (int c = 0; c < cs[i]; c++) d[c] += g[c];
            }
            g += cs[i];
        }
    }
}

/* Source coordinate of output index o along one axis: lower/upper input index and the weight of
 * the upper one, as TF's resize_bilinear_op.cc computes them (float arithmetic). */
static void resize_coord(int o, int in, int out, int align, int half, int *lo, int *hi, float *t)
{
    float scale = (align && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    float s;
    if (half) {
        s = ((float)o + 0.5f) * scale - 0.5f;
        float fl = floorf(s);
        *lo = fl > 0.0f ? (int)fl : 0;
        int c = (int)ceilf(s);
        *hi = c < in - 1 ? c : in - 1;
        *t = s - fl;
        return;
    }
    s = (float)o * scale;
    int l = (int)floorf(s);
    *lo = l;
    *hi = l + 1 < in ? l + 1 : in - 1;
    *t = s - (float)l;
}

/* Resize forward, rows n*oh. */
static void resize_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    int h = k->h, w = k->w_, c = k->c, oh = k->oh, ow = k->ow;
    for (int r = r0; r < r1; r++) {
        int b = r / oh, oy = r % oh, y0, y1;
        float ty;
        resize_coord(oy, h, oh, k->align, k->half, &y0, &y1, &ty);
        for (int ox = 0; ox < ow; ox++) {
            int x0, x1;
            float tx;
            resize_coord(ox, w, ow, k->align, k->half, &x0, &x1, &tx);
            const float *restrict p00 = k->x + (((size_t)b * h + y0) * w + x0) * c;
            const float *restrict p01 = k->x + (((size_t)b * h + y0) * w + x1) * c;
            const float *restrict p10 = k->x + (((size_t)b * h + y1) * w + x0) * c;
            const float *restrict p11 = k->x + (((size_t)b * h + y1) * w + x1) * c;
            float *restrict o = k->y + ((size_t)r * ow + ox) * c;
            for (int i = 0; i < c; i++) {
                float top = p00[i] + (p01[i] - p00[i]) * tx;
                float bot = p10[i] + (p11[i] - p10[i]) * tx;
                o[i] = top + (bot - top) * ty;
            }
        }
    }
}

void nn_resize_fwd(int n, int h, int w, int c, const float *x, int oh, int ow, int align_corners,
                   int half_pixel, float *y)
{
    kc k = {.x = x, .y = y, .h = h, .w_ = w, .c = c, .oh = oh, .ow = ow, .align = align_corners,
            .half = half_pixel};
    pool_for(n * oh, (size_t)n * oh * ow * c * 4, resize_rows, &k);
}

void nn_resize_bwd(int n, int h, int w, int c, float *dx, int oh, int ow, int align_corners,
                   int half_pixel, const float *dy)
{
    /* a scatter: several outputs feed one input, so this stays on one thread */
    for (int b = 0; b < n; b++) {
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            float ty;
            resize_coord(oy, h, oh, align_corners, half_pixel, &y0, &y1, &ty);
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                float tx;
                resize_coord(ox, w, ow, align_corners, half_pixel, &x0, &x1, &tx);
                const float *g = dy + (((size_t)b * oh + oy) * ow + ox) * c;
                float *p00 = dx + (((size_t)b * h + y0) * w + x0) * c;
                float *p01 = dx + (((size_t)b * h + y0) * w + x1) * c;
                float *p10 = dx + (((size_t)b * h + y1) * w + x0) * c;
                float *p11 = dx + (((size_t)b * h + y1) * w + x1) * c;
                float w00 = (1 - ty) * (1 - tx), w01 = (1 - ty) * tx, w10 = ty * (1 - tx), w11 = ty * tx;
                /* p00..p11 may alias at the border, so these four loops stay separate */
                for (int i = 0; i < c; i++) p00[i] += g[i] * w00;
                for (int i = 0; i < c; i++) p01[i] += g[i] * w01;
                for (int i = 0; i < c; i++) p10[i] += g[i] * w10;
                for (int i = 0; i < c; i++) p11[i] += g[i] * w11;
            }
        }
    }
}

/* MaxPool forward, rows n*oh. */
WIDE static void maxpool_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin;
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        for (int ox = 0; ox < g->ow; ox++) {
            float *restrict o = k->y + ((size_t)r * g->ow + ox) * C;
            for (int c = 0; c < C; c++) o[c] = -INFINITY;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky * g->dh;
                if (iy < 0 || iy >= g->h) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx * g->dw;
                    if (ix < 0 || ix >= g->w) continue;
                    const float *restrict xi = k->x + (((size_t)n * g->h + iy) * g->w + ix) * C;
                    for (int c = 0; c < C; c++) o[c] = xi[c] > o[c] ? xi[c] : o[c];
                }
            }
        }
    }
}

void nn_maxpool_fwd(const nn_geom *g, const float *x, float *y)
{
    kc k = {.g = g, .x = x, .y = y};
    pool_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * g->kh * g->kw, maxpool_rows, &k);
}

/* MaxPool backward, output rows [r0, r1) of n*oh: for each output pixel the in-image taps are
 * listed, the first maximal tap of each channel found with channel-contiguous (vectorized) loops
 * over blocks of MP_CB channels, then dy added at that tap. */
#define MP_CB 64
typedef int v4i __attribute__((vector_size(16)));
static inline v4 sel4(v4i m, v4 a, v4 b) { return (v4)(((v4i)a & m) | ((v4i)b & ~m)); }

/* 4 channels of a 2x2 window's taps x0..x3: is[t] all ones where tap t is the first largest
 * (comparisons false for NaN); returns the largest. */
static inline v4 win4(const float *x0, const float *x1, const float *x2, const float *x3, v4i is[4])
{
    v4 a, b, e, f;
    LD4(a, x0), LD4(b, x1), LD4(e, x2), LD4(f, x3);
    v4i w1 = b > a;
    v4 m = sel4(w1, b, a);
    v4i w2 = e > m;
    m = sel4(w2, e, m);
    v4i w3 = f > m;
    is[0] = ~(w1 | w2 | w3), is[1] = w1 & ~w2 & ~w3, is[2] = w2 & ~w3, is[3] = w3;
    return sel4(w3, f, m);
}

/* The gradient of one 2x2 max-pool window over C channels: x0..x3 the window's taps in order, gy
 * the output's gradient, d0..d3 the taps' gradients. Each channel's gradient goes to its first
 * largest tap (comparisons false for NaN), as in the loop below; 4 channels at a time by hand,
 * since gcc leaves the conditional updates scalar. */
static void pool4_bwd(int C, const float *x0, const float *x1, const float *x2, const float *x3, const float *gy,
                      float *d0, float *d1, float *d2, float *d3, int set)
{
    int c = 0;
    if (set) {
        /* the taps' gradients written, not added to (windows that tile the input): 0 + g, as
         * adding to a zeroed dx gives (+0 for a -0 gradient), and 0 elsewhere */
        const v4 zero = {0};
        for (; c + 4 <= C; c += 4) {
            v4i is[4];
            v4 m = win4(x0 + c, x1 + c, x2 + c, x3 + c, is), g;
            LD4(g, gy + c);
            g = zero + g;
            if (set == 2) g = sel4(m > zero, g, zero); /* the ReLU before the pool: x at the winner */
            v4 y0 = sel4(is[0], g, zero), y1 = sel4(is[1], g, zero), y2 = sel4(is[2], g, zero), y3 = sel4(is[3], g, zero);
            ST4(d0 + c, y0), ST4(d1 + c, y1), ST4(d2 + c, y2), ST4(d3 + c, y3);
        }
        for (int t = c; t < C; t++) d0[t] = d1[t] = d2[t] = d3[t] = 0.0f; /* then added to below */
    }
    const int relu = set == 2;
    for (; c + 4 <= C; c += 4) {
        v4i is[4];
        v4 g, y0, y1, y2, y3;
        win4(x0 + c, x1 + c, x2 + c, x3 + c, is);
        LD4(g, gy + c), LD4(y0, d0 + c), LD4(y1, d1 + c), LD4(y2, d2 + c), LD4(y3, d3 + c);
        y0 = sel4(is[0], y0 + g, y0), y1 = sel4(is[1], y1 + g, y1), y2 = sel4(is[2], y2 + g, y2);
        y3 = sel4(is[3], y3 + g, y3);
        ST4(d0 + c, y0), ST4(d1 + c, y1), ST4(d2 + c, y2), ST4(d3 + c, y3);
    }
    for (; c < C; c++) {
        float m = x0[c], v = gy[c];
        int w = 0;
        w = x1[c] > m ? 1 : w, m = x1[c] > m ? x1[c] : m;
        w = x2[c] > m ? 2 : w, m = x2[c] > m ? x2[c] : m;
        w = x3[c] > m ? 3 : w, m = x3[c] > m ? x3[c] : m;
        if (relu && !(m > 0.0f)) v = 0.0f; /* added to 0: +0, as the ReLU's backward gives */
        d0[c] = w == 0 ? d0[c] + v : d0[c];
        d1[c] = w == 1 ? d1[c] + v : d1[c];
        d2[c] = w == 2 ? d2[c] + v : d2[c];
        d3[c] = w == 3 ? d3[c] + v : d3[c];
    }
}

WIDE static void maxpool_bwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin;
    ptrdiff_t xo[DW_MAXT];
    float bv[MP_CB];
    int bi[MP_CB];
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        for (int ox = 0; ox < g->ow; ox++) {
            int nt = 0;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky * g->dh;
                if (iy < 0 || iy >= g->h) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx * g->dw;
                    if (ix < 0 || ix >= g->w) continue;
                    xo[nt++] = (((ptrdiff_t)n * g->h + iy) * g->w + ix) * C;
                }
            }
            if (nt == 0) continue;
            const float *restrict gy = k->a2 + ((size_t)r * g->ow + ox) * C;
            if (nt == 4) {
                /* a 2x2 window (fmnist-cnn's pools): the same first-largest tap, found for all
                 * channels at once, and each tap's gradient updated where it won, so that the
                 * loop vectorizes (the general loop below does not) */
                const float *x = k->x;
                float *y = k->y;
                pool4_bwd(C, x + xo[0], x + xo[1], x + xo[2], x + xo[3], gy, y + xo[0], y + xo[1], y + xo[2],
                          y + xo[3], k->op);
                continue;
            }
            for (int c0 = 0; c0 < C; c0 += MP_CB) {
                int cn = C - c0 < MP_CB ? C - c0 : MP_CB;
                const float *restrict x0 = k->x + xo[0] + c0;
                for (int c = 0; c < cn; c++) bv[c] = x0[c], bi[c] = 0;
                for (int t = 1; t < nt; t++) {
                    const float *restrict xt = k->x + xo[t] + c0;
                    for (int c = 0; c < cn; c++) {
                        float v = xt[c];
                        int m = v > bv[c];
                        bv[c] = m ? v : bv[c];
                        bi[c] = m ? t : bi[c];
                    }
                }
                for (int c = 0; c < cn; c++) k->y[xo[bi[c]] + c0 + c] += gy[c0 + c];
            }
        }
    }
}

void nn_maxpool_bwd_set(const nn_geom *g, const float *x, const float *dy, float *dx, int relu)
{
    if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1 && g->pt == 0 &&
        g->pl == 0 && g->h == 2 * g->oh && g->w == 2 * g->ow) {
        /* every input pixel in exactly one window, every window of 4 taps: one pass writes all */
        kc k = {.g = g, .x = x, .a2 = dy, .y = dx, .op = relu ? 2 : 1};
        pool_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * 4, maxpool_bwd_rows, &k);
        return;
    }
    size_t n = (size_t)g->n * g->h * g->w * g->cin;
    memset(dx, 0, sizeof(float) * n);
    nn_maxpool_bwd(g, x, dy, dx);
    if (relu) nn_act_bwd(NN_ACT_RELU, x, dx, n);
}

void nn_maxpool_bwd(const nn_geom *g, const float *x, const float *dy, float *dx)
{
    kc k = {.g = g, .x = x, .a2 = dy, .y = dx};
    if (g->kh * g->kw <= DW_MAXT) {
        /* windows that do not overlap write disjoint rows of dx, so rows may go to threads */
        int disjoint = g->sh >= (g->kh - 1) * g->dh + 1 && g->sw >= (g->kw - 1) * g->dw + 1;
        if (disjoint)
            pool_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * g->kh * g->kw, maxpool_bwd_rows, &k);
        else
            maxpool_bwd_rows(&k, 0, g->n * g->oh);
        return;
    }
    int C = g->cin;
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < C; c++) {
                    size_t best = (size_t)-1;
                    float bv = -INFINITY;
                    for (int ky = 0; ky < g->kh; ky++) {
                        int iy = oy * g->sh - g->pt + ky * g->dh;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int kx = 0; kx < g->kw; kx++) {
                            int ix = ox * g->sw - g->pl + kx * g->dw;
                            if (ix < 0 || ix >= g->w) continue;
                            size_t i = (((size_t)n * g->h + iy) * g->w + ix) * C + c;
                            if (best == (size_t)-1 || x[i] > bv) {
                                bv = x[i];
                                best = i;
                            }
                        }
                    }
                    if (best != (size_t)-1)
                        dx[best] += dy[(((size_t)n * g->oh + oy) * g->ow + ox) * C + c];
                }
}
