/* fv_transform — pad, jitter, scale and rotate as explicit linear maps with their transposes.
 *
 * A chain runs in segments (plan_segments): the ops that only move the image on the grey canvas
 * are folded into the sampling of the scale or rotate op after them, and the jitters after one
 * into the rows and columns it computes; the same values as op by op, in fewer passes.
 *
 * Scale and rotate (bilinear resampling, the costly ops) run on the engine's thread pool
 * (pool_for_chunks): the forward pass by output rows, each pixel computed alone; the backward
 * pass, a scatter, by AFFINE_BLOCKS fixed blocks of output rows, each into its own buffer over
 * the band of input rows it touches, and the blocks are then summed in block order. Blocks fixed
 * by the size, not by the thread count, so the result is the same for any number of threads. */
#include "fv_transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "pool.h"

#define AFFINE_BLOCKS 8

/* Value outside the image: mid-grey in the 0..1 image space. */
#define FILL 0.5f

typedef struct op_state {
    fv_op op;
    int ih, iw, oh, ow; /* input and output sizes of this op */
    int oy, ox;         /* jitter: current offsets */
    double s, deg;      /* scale / rotate: current factor and angle */
} op_state;

/* Where a scale or rotate op reads and writes, with the translations around it folded in (see
 * fv_transform_forward). Its input canvas is the op's (s->ih, s->iw); the source image (sh, sw),
 * the buffer actually read, lies in it at (ty, tx), and only the canvas pixels in rows [v[0],
 * v[1]) and columns [v[2], v[3]) hold image data (the image clipped to the canvas): the others
 * read FILL, as a constant pad or the outside of a crop does. It computes rows oy .. oy + oh - 1
 * and columns ox .. ox + ow - 1 of the op's output (the crop of the jitters after it). Sampling
 * the same canvas values at the same points, it gives the same bytes as the ops one by one. */
typedef struct window {
    int sh, sw, ty, tx;
    int v[4];
    int oh, ow, oy, ox;
} window;

/* One pass: op (a scale or rotate) sampled in window wd, or op = -1: a copy of wd's canvas. */
typedef struct segment {
    int op;
    window wd;
} segment;

struct fv_transform {
    int n, n_ops;
    int h, w; /* input size */
    op_state *ops;
    float *buf[2]; /* ping-pong intermediates, each sized for the largest stage */
    float *blk;    /* AFFINE_BLOCKS per-block gradient buffers for affine_backward, same size */
    int folds;     /* no reflected pad: the chain runs in segments (plan_segments) */
    segment *seg;  /* n_ops + 1 of them: this step's (plan_segments) */
    size_t largest; /* floats of one buffer */
};

int fv_transform_new(const fv_op *ops, int n_ops, int n, int h, int w, fv_transform **out, err *e)
{
    *out = NULL;
    fv_transform *t = xcalloc(1, sizeof *t);
    t->n = n;
    t->n_ops = n_ops;
    t->h = h;
    t->w = w;
    t->ops = xcalloc((size_t)(n_ops > 0 ? n_ops : 1), sizeof *t->ops);
    t->seg = xcalloc((size_t)n_ops + 1, sizeof *t->seg);
    size_t largest = (size_t)h * w;
    t->folds = 1;
    for (int i = 0; i < n_ops; i++) {
        op_state *s = &t->ops[i];
        s->op = ops[i];
        s->ih = h;
        s->iw = w;
        s->s = 1;
        switch (ops[i].kind) {
        case FV_OP_PAD:
            if (ops[i].amount < 0) goto bad_amount;
            if (ops[i].reflect) t->folds = 0;
            if (ops[i].reflect && (ops[i].amount >= h || ops[i].amount >= w)) {
                err_set(e, "transforms[%d]: reflect pad %d must be smaller than the image (%dx%d)", i,
                        ops[i].amount, h, w);
                goto fail;
            }
            h += 2 * ops[i].amount;
            w += 2 * ops[i].amount;
            break;
        case FV_OP_JITTER:
            if (ops[i].amount < 0) goto bad_amount;
            h -= ops[i].amount;
            w -= ops[i].amount;
            break;
        case FV_OP_SCALE:
            if (ops[i].n_scales < 1 || ops[i].n_scales > FV_OP_MAX_SCALES) {
                err_set(e, "transforms[%d]: scale needs 1 to %d factors", i, FV_OP_MAX_SCALES);
                goto fail;
            }
            for (int k = 0; k < ops[i].n_scales; k++)
                if (!(ops[i].scales[k] > 0.1 && ops[i].scales[k] < 10)) {
                    err_set(e, "transforms[%d]: scale factor %g out of range (expected 0.1..10)", i, ops[i].scales[k]);
                    goto fail;
                }
            break;
        case FV_OP_CANVAS:
            if (ops[i].canvas_h < h || ops[i].canvas_w < w) {
                err_set(e, "transforms[%d]: canvas %dx%d is smaller than the image (%dx%d)", i, ops[i].canvas_h,
                        ops[i].canvas_w, h, w);
                goto fail;
            }
            h = ops[i].canvas_h;
            w = ops[i].canvas_w;
            break;
        case FV_OP_ROTATE:
            if (!(ops[i].deg_min <= ops[i].deg_max)) {
                err_set(e, "transforms[%d]: rotate range %g..%g is empty", i, ops[i].deg_min, ops[i].deg_max);
                goto fail;
            }
            break;
        }
        if (h < 1 || w < 1) {
            err_set(e, "transforms[%d]: the image shrinks to nothing (%dx%d)", i, h, w);
            goto fail;
        }
        s->oh = h;
        s->ow = w;
        if ((size_t)h * w > largest) largest = (size_t)h * w;
    }
    for (int b = 0; b < 2; b++) t->buf[b] = xmalloc(sizeof(float) * (size_t)n * largest * 3);
    t->largest = (size_t)n * largest * 3;
    t->blk = xmalloc(sizeof(float) * AFFINE_BLOCKS * t->largest);
    *out = t;
    return 0;
bad_amount:
    err_set(e, "transforms: a pad or jitter amount must be >= 0");
fail:
    fv_transform_free(t);
    return -1;
}

void fv_transform_out_size(const fv_transform *t, int *h, int *w)
{
    if (t->n_ops == 0) {
        *h = t->h;
        *w = t->w;
        return;
    }
    *h = t->ops[t->n_ops - 1].oh;
    *w = t->ops[t->n_ops - 1].ow;
}

void fv_transform_sample(fv_transform *t, rng_state *rng)
{
    for (int i = 0; i < t->n_ops; i++) {
        op_state *s = &t->ops[i];
        switch (s->op.kind) {
        case FV_OP_PAD:
        case FV_OP_CANVAS: break;
        case FV_OP_JITTER:
            s->oy = (int)rng_below(rng, (uint64_t)s->op.amount + 1);
            s->ox = (int)rng_below(rng, (uint64_t)s->op.amount + 1);
            break;
        case FV_OP_SCALE: s->s = s->op.scales[rng_below(rng, (uint64_t)s->op.n_scales)]; break;
        case FV_OP_ROTATE: s->deg = s->op.deg_min + (s->op.deg_max - s->op.deg_min) * rng_uniform(rng); break;
        }
    }
}

void fv_transform_set(fv_transform *t, const int *oy, const int *ox, const double *scale, const double *deg)
{
    for (int i = 0; i < t->n_ops; i++) {
        op_state *s = &t->ops[i];
        if (s->op.kind == FV_OP_JITTER) {
            s->oy = oy[i] < 0 ? 0 : oy[i] > s->op.amount ? s->op.amount : oy[i];
            s->ox = ox[i] < 0 ? 0 : ox[i] > s->op.amount ? s->op.amount : ox[i];
        }
        if (s->op.kind == FV_OP_SCALE) s->s = scale[i];
        if (s->op.kind == FV_OP_ROTATE) s->deg = deg[i];
    }
}

/* numpy-style reflection of index j into 0..n-1 (the edge is not repeated); needs |overhang| < n. */
static int reflect_index(int j, int n)
{
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    return j;
}

/* in (N,ih,iw,3) -> out (N,ih+2p,iw+2p,3) */
static void pad_forward(const op_state *s, int n, const float *in, float *out)
{
    int p = s->op.amount;
    if (!s->op.reflect) {
        size_t no = (size_t)n * s->oh * s->ow * 3;
        for (size_t i = 0; i < no; i++) out[i] = FILL;
        for (int b = 0; b < n; b++)
            for (int y = 0; y < s->ih; y++)
                memcpy(out + (((size_t)b * s->oh + y + p) * s->ow + p) * 3, in + ((size_t)b * s->ih + y) * s->iw * 3,
                       sizeof(float) * (size_t)s->iw * 3);
        return;
    }
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->oh; y++)
            for (int x = 0; x < s->ow; x++) {
                int sy = reflect_index(y - p, s->ih), sx = reflect_index(x - p, s->iw);
                memcpy(out + (((size_t)b * s->oh + y) * s->ow + x) * 3, in + (((size_t)b * s->ih + sy) * s->iw + sx) * 3,
                       sizeof(float) * 3);
            }
}

static void pad_backward(const op_state *s, int n, const float *dout, float *din)
{
    int p = s->op.amount;
    memset(din, 0, sizeof(float) * (size_t)n * s->ih * s->iw * 3);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->oh; y++)
            for (int x = 0; x < s->ow; x++) {
                int sy = y - p, sx = x - p;
                if (s->op.reflect) {
                    sy = reflect_index(sy, s->ih);
                    sx = reflect_index(sx, s->iw);
                } else if (sy < 0 || sy >= s->ih || sx < 0 || sx >= s->iw) {
                    continue;
                }
                const float *g = dout + (((size_t)b * s->oh + y) * s->ow + x) * 3;
                float *d = din + (((size_t)b * s->ih + sy) * s->iw + sx) * 3;
                d[0] += g[0];
                d[1] += g[1];
                d[2] += g[2];
            }
}

/* in (N,ih,iw,3) centred on a grey (N,oh,ow,3) canvas */
static void canvas_forward(const op_state *s, int n, const float *in, float *out)
{
    int oy = (s->oh - s->ih) / 2, ox = (s->ow - s->iw) / 2;
    size_t no = (size_t)n * s->oh * s->ow * 3;
    for (size_t i = 0; i < no; i++) out[i] = FILL;
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->ih; y++)
            memcpy(out + (((size_t)b * s->oh + y + oy) * s->ow + ox) * 3, in + ((size_t)b * s->ih + y) * s->iw * 3,
                   sizeof(float) * (size_t)s->iw * 3);
}

static void canvas_backward(const op_state *s, int n, const float *dout, float *din)
{
    int oy = (s->oh - s->ih) / 2, ox = (s->ow - s->iw) / 2;
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->ih; y++)
            memcpy(din + ((size_t)b * s->ih + y) * s->iw * 3, dout + (((size_t)b * s->oh + y + oy) * s->ow + ox) * 3,
                   sizeof(float) * (size_t)s->iw * 3);
}

static void crop_forward(const op_state *s, int n, const float *in, float *out)
{
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->oh; y++)
            memcpy(out + ((size_t)b * s->oh + y) * s->ow * 3,
                   in + (((size_t)b * s->ih + y + s->oy) * s->iw + s->ox) * 3, sizeof(float) * (size_t)s->ow * 3);
}

static void crop_backward(const op_state *s, int n, const float *dout, float *din)
{
    memset(din, 0, sizeof(float) * (size_t)n * s->ih * s->iw * 3);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s->oh; y++)
            memcpy(din + (((size_t)b * s->ih + y + s->oy) * s->iw + s->ox) * 3,
                   dout + ((size_t)b * s->oh + y) * s->ow * 3, sizeof(float) * (size_t)s->ow * 3);
}

/* The inverse of a zoom by s and a rotation by deg about the centre, as an affine map from output
 * pixel indices to input pixel indices: src = (ax*x + bx*y + cx, ay*x + by*y + cy). */
typedef struct affine {
    double ax, bx, cx, ay, by, cy;
} affine;

static affine affine_of(const op_state *s)
{
    double th = s->deg * M_PI / 180.0, c = cos(th) / s->s, sn = sin(th) / s->s;
    double my = s->ih / 2.0, mx = s->iw / 2.0;
    /* u = x + 0.5 - mx, v = y + 0.5 - my; sx = mx + c u + sn v - 0.5; sy = my - sn u + c v - 0.5 */
    affine a = {c, sn, mx - 0.5 + c * (0.5 - mx) + sn * (0.5 - my), -sn, c, my - 0.5 - sn * (0.5 - mx) + c * (0.5 - my)};
    return a;
}

/* Bilinear taps of output pixel (y, x): top-left tap (*y0, *x0) and fractions. */
static inline void taps(const affine *a, int y, int x, int *y0, int *x0, float *fy, float *fx)
{
    double sx = a->ax * x + a->bx * y + a->cx, sy = a->ay * x + a->by * y + a->cy;
    int ix = (int)sx, iy = (int)sy;
    ix -= sx < ix; /* floor without a libm call */
    iy -= sy < iy;
    *x0 = ix;
    *y0 = iy;
    *fx = (float)(sx - ix);
    *fy = (float)(sy - iy);
}

/* Pixels per run of row_taps. */
#define TAP_RUN 64

/* The taps of a run of output pixels: taps(), then the bilinear weights of (y0, x0), (y0, x0+1),
 * (y0+1, x0), (y0+1, x0+1), and whether all four are inside the image (rows [v[0], v[1]), columns
 * [v[2], v[3]) of the input), for pixels (y, x0 + k),
 * k < nx; weight t of pixel k in wt[t * ws + k]. Computed a run at a time so that
 * the arithmetic (the costly part of the sampling, one pixel at a time) vectorizes: the Makefile
 * builds this file with the dynamic cost model, and the clones use each width; taps() inlined, so
 * the values are the same. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void row_taps(const affine *a, const int v[4], int y, int x0, int nx, int *restrict ty, int *restrict tx,
                     float *restrict wt, int ws, unsigned char *restrict inside)
{
    const int vy0 = v[0], vy1 = v[1], vx0 = v[2], vx1 = v[3];
    for (int k = 0; k < nx; k++) {
        float fy, fx;
        taps(a, y, x0 + k, &ty[k], &tx[k], &fy, &fx);
        const int iy = ty[k], ix = tx[k];
        wt[k] = (1 - fy) * (1 - fx);
        wt[ws + k] = (1 - fy) * fx;
        wt[2 * ws + k] = fy * (1 - fx);
        wt[3 * ws + k] = fy * fx;
        inside[k] = iy >= vy0 && ix >= vx0 && iy + 1 < vy1 && ix + 1 < vx1;
    }
}


/* The window of the op alone: image = canvas, whole output. */
static window plain_window(const op_state *s)
{
    window w = {s->ih, s->iw, 0, 0, {0, s->ih, 0, s->iw}, s->oh, s->ow, 0, 0};
    return w;
}

/* Bilinear sampling: out(y,x) = sum of 4 taps, a tap outside the image reading FILL. in (N, sh,
 * sw, 3) the source image, out (N, oh, ow, 3) the window's output; output rows [ya, yb). */
typedef struct affine_job {
    const op_state *s;
    window wd;
    affine a;
    int n;
    const float *in, *dout;
    float *out, *blk;
    size_t plane;               /* floats of one source image */
    int band[AFFINE_BLOCKS][2]; /* backward: source rows [lo, hi) each block touched */
    float *din;
} affine_job;

/* Sixteen output pixels whose taps are all inside, at once (x86-64 with AVX-512): each of the 12
 * tap values a gather, the weighted sum in the scalar code's order (w0 a + w1 b + w2 c + w3 d,
 * multiplies then adds, no FMA), so the same bytes; the three channels interleaved back into
 * the pixels. The sampling's arithmetic per pixel is small; it was its loads and their
 * addresses, one pixel at a time, that cost (4 times as long). fv_transform_set_portable(1) turns it off. */
static int g_portable, g_cpu = -1; /* g_cpu -1: not detected yet (a benign race) */

void fv_transform_set_portable(int on) { g_portable = on != 0; }

static int use_gather(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (g_cpu < 0) g_cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    return g_cpu && !g_portable;
#else
    return 0;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void sample16(const float *base, ptrdiff_t org, int row, const int *ty,
                                                        const int *tx, const float *wt, float *o)
{
    __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_loadu_si512(ty), _mm512_set1_epi32(row)),
                                   _mm512_mullo_epi32(_mm512_loadu_si512(tx), _mm512_set1_epi32(3)));
    idx = _mm512_add_epi32(idx, _mm512_set1_epi32((int)org));
    const __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + TAP_RUN), w2 = _mm512_loadu_ps(wt + 2 * TAP_RUN),
                 w3 = _mm512_loadu_ps(wt + 3 * TAP_RUN);
    __m512 v[3];
    for (int ch = 0; ch < 3; ch++) {
        __m512 a = _mm512_i32gather_ps(idx, base + ch, 4), b = _mm512_i32gather_ps(idx, base + 3 + ch, 4);
        __m512 c = _mm512_i32gather_ps(idx, base + row + ch, 4), d = _mm512_i32gather_ps(idx, base + row + 3 + ch, 4);
        v[ch] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(w0, a), _mm512_mul_ps(w1, b)),
                                            _mm512_mul_ps(w2, c)),
                              _mm512_mul_ps(w3, d));
    }
    /* The channels interleaved in registers, 48 floats = 16 pixels x 3 stored whole: float q of
     * the run is channel q % 3 of pixel q / 3. Each output vector takes its channels 0 and 1 from
     * v[0], v[1] (one two-source permute) and its channel 2 from v[2] (a masked permute). A scatter
     * of the three, element by element, cost as much as the gathers on AMD's Zen. */
    static const int32_t p01[3][16] = {
        {0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5},
        {21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26},
        {0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0}};
    static const int32_t p2[3][16] = {
        {0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0},
        {0, 5, 0, 0, 6, 0, 0, 7, 0, 0, 8, 0, 0, 9, 0, 0},
        {10, 0, 0, 11, 0, 0, 12, 0, 0, 13, 0, 0, 14, 0, 0, 15}};
    static const __mmask16 m2[3] = {0x4924, 0x2492, 0x9249}; /* the lanes of channel 2 */
    for (int k = 0; k < 3; k++) {
        __m512 t = _mm512_permutex2var_ps(v[0], _mm512_loadu_si512(p01[k]), v[1]);
        _mm512_storeu_ps(o + 16 * k, _mm512_mask_permutexvar_ps(t, m2[k], _mm512_loadu_si512(p2[k]), v[2]));
    }
}
#endif

/* Output rows [ya, yb) of the sampling: forward (din NULL) out = the 4 taps' weighted sum of
 * j->in, a tap outside reading FILL; backward, each tap's weight times j->dout added to din at
 * the tap (its transpose; taps outside take nothing). */
static void affine_rows(const affine_job *j, int ya, int yb, float *din)
{
    const window *wd = &j->wd;
    const affine a = j->a;
    int n = j->n;
    const int *v = wd->v;
    size_t plane = j->plane, oplane = (size_t)wd->oh * wd->ow * 3, row = (size_t)wd->sw * 3;
    /* canvas (ty, tx) is source pixel 0 */
    const ptrdiff_t org = -((ptrdiff_t)wd->ty * wd->sw + wd->tx) * 3;
    int run_y[TAP_RUN], run_x[TAP_RUN], nx = 0, gather = !din && use_gather();
    float run_w[4 * TAP_RUN];
    unsigned char run_in[TAP_RUN];
    for (int y = ya; y < yb; y++)
        for (int x = 0; x < wd->ow; x++) {
            const int r = x % TAP_RUN;
            if (r == 0) {
                nx = wd->ow - x < TAP_RUN ? wd->ow - x : TAP_RUN;
                row_taps(&a, v, y + wd->oy, x + wd->ox, nx, run_y, run_x, run_w, TAP_RUN, run_in);
            }
#if defined(__x86_64__) && defined(__GNUC__)
            if (gather && r % 16 == 0 && r + 16 <= nx) {
                int all = 1;
                for (int q = r; q < r + 16; q++) all &= run_in[q];
                if (all) {
                    for (int b = 0; b < n; b++)
                        sample16(j->in + b * plane, org, (int)row, run_y + r, run_x + r, run_w + r,
                                 j->out + b * oplane + ((size_t)y * wd->ow + x) * 3);
                    x += 15;
                    continue;
                }
            }
#endif
            const int y0 = run_y[r], x0 = run_x[r], inside = run_in[r];
            const float wt[4] = {run_w[r], run_w[TAP_RUN + r], run_w[2 * TAP_RUN + r], run_w[3 * TAP_RUN + r]};
            int ty[4] = {y0, y0, y0 + 1, y0 + 1}, tx[4] = {x0, x0 + 1, x0, x0 + 1};
            for (int b = 0; b < n; b++) {
                size_t px = b * oplane + ((size_t)y * wd->ow + x) * 3;
                if (!din) {
                    float *o = j->out + px;
                    if (inside) {
                        const float *p = j->in + b * plane + org + (ptrdiff_t)y0 * row + (ptrdiff_t)x0 * 3;
                        for (int ch = 0; ch < 3; ch++)
                            o[ch] = wt[0] * p[ch] + wt[1] * p[3 + ch] + wt[2] * p[row + ch] + wt[3] * p[row + 3 + ch];
                        continue;
                    }
                    float acc[3] = {0, 0, 0};
                    for (int k = 0; k < 4; k++) {
                        if (ty[k] < v[0] || ty[k] >= v[1] || tx[k] < v[2] || tx[k] >= v[3]) {
                            for (int ch = 0; ch < 3; ch++) acc[ch] += wt[k] * FILL;
                            continue;
                        }
                        const float *p = j->in + b * plane + org + (ptrdiff_t)ty[k] * row + (ptrdiff_t)tx[k] * 3;
                        for (int ch = 0; ch < 3; ch++) acc[ch] += wt[k] * p[ch];
                    }
                    for (int ch = 0; ch < 3; ch++) o[ch] = acc[ch];
                    continue;
                }
                const float *g = j->dout + px;
                if (inside) {
                    float *d = din + b * plane + org + (ptrdiff_t)y0 * row + (ptrdiff_t)x0 * 3;
                    for (int ch = 0; ch < 3; ch++) {
                        d[ch] += wt[0] * g[ch];
                        d[3 + ch] += wt[1] * g[ch];
                        d[row + ch] += wt[2] * g[ch];
                        d[row + 3 + ch] += wt[3] * g[ch];
                    }
                    continue;
                }
                for (int k = 0; k < 4; k++) {
                    if (ty[k] < v[0] || ty[k] >= v[1] || tx[k] < v[2] || tx[k] >= v[3]) continue;
                    float *d = din + b * plane + org + (ptrdiff_t)ty[k] * row + (ptrdiff_t)tx[k] * 3;
                    for (int ch = 0; ch < 3; ch++) d[ch] += wt[k] * g[ch];
                }
            }
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The backward scatter of output rows [ya, yb) with AVX-512 (see affine_rows): a pixel whose taps
 * are all inside adds its two rows of taps as two 6-float vectors (w0 g, w1 g) and (w2 g, w3 g),
 * each a multiply then an add as in the scalar code, instead of twelve scalar updates; the others
 * take the scalar code. The pixels of a row go in BWD_PASSES passes (x mod 4): four pixels apart,
 * their vectors' 8-float footprints (a masked access occupies its whole vector) do not overlap for
 * zooms up to 4/3 (where they do, an update only waits for the previous one: a read of a vector
 * that a write has just partly covered stalls), and each input pixel sums its terms pass by pass,
 * an order fixed by the sizes as the blocks are. */
#define BWD_MAX_W 4096
#define BWD_PASSES 4
__attribute__((target("avx512f,avx512vl"))) static void affine_bwd_rows_v(const affine_job *j, int ya, int yb,
                                                                          float *din)
{
    const window *wd = &j->wd;
    const affine a = j->a;
    const int *v = wd->v;
    size_t plane = j->plane, oplane = (size_t)wd->oh * wd->ow * 3, row = (size_t)wd->sw * 3;
    const ptrdiff_t org = -((ptrdiff_t)wd->ty * wd->sw + wd->tx) * 3;
    int ty_[BWD_MAX_W], tx_[BWD_MAX_W]; /* a row's taps (100 KB of stack with the weights) */
    float w_[4][BWD_MAX_W];
    unsigned char in_[BWD_MAX_W];
    const __m256i gidx = _mm256_setr_epi32(0, 1, 2, 0, 1, 2, 0, 0);
    const __mmask8 six = 0x3F;
    for (int y = ya; y < yb; y++) {
        row_taps(&a, v, y + wd->oy, wd->ox, wd->ow, ty_, tx_, &w_[0][0], BWD_MAX_W, in_);
        /* passes by the op's own output column, so that a window sums in the op's order */
        for (int q = 0; q < BWD_PASSES; q++)
            for (int x = ((q - wd->ox) % BWD_PASSES + BWD_PASSES) % BWD_PASSES; x < wd->ow; x += BWD_PASSES) {
                const int y0 = ty_[x], x0 = tx_[x];
                const float wt[4] = {w_[0][x], w_[1][x], w_[2][x], w_[3][x]};
                for (int b = 0; b < j->n; b++) {
                    const float *g = j->dout + b * oplane + ((size_t)y * wd->ow + x) * 3;
                    if (in_[x]) {
                        float *d = din + b * plane + org + (ptrdiff_t)y0 * row + (ptrdiff_t)x0 * 3;
                        __m256 gv = _mm256_permutexvar_ps(gidx, _mm256_maskz_loadu_ps(0x7, g));
                        __m256 top = _mm256_blend_ps(_mm256_set1_ps(wt[0]), _mm256_set1_ps(wt[1]), 0x38);
                        __m256 bot = _mm256_blend_ps(_mm256_set1_ps(wt[2]), _mm256_set1_ps(wt[3]), 0x38);
                        _mm256_mask_storeu_ps(d, six, _mm256_add_ps(_mm256_maskz_loadu_ps(six, d), _mm256_mul_ps(top, gv)));
                        _mm256_mask_storeu_ps(d + row, six,
                                              _mm256_add_ps(_mm256_maskz_loadu_ps(six, d + row), _mm256_mul_ps(bot, gv)));
                        continue;
                    }
                    int tyk[4] = {y0, y0, y0 + 1, y0 + 1}, txk[4] = {x0, x0 + 1, x0, x0 + 1};
                    for (int k = 0; k < 4; k++) {
                        if (tyk[k] < v[0] || tyk[k] >= v[1] || txk[k] < v[2] || txk[k] >= v[3]) continue;
                        float *d = din + b * plane + org + (ptrdiff_t)tyk[k] * row + (ptrdiff_t)txk[k] * 3;
                        for (int ch = 0; ch < 3; ch++) d[ch] += wt[k] * g[ch];
                    }
                }
            }
    }
}
#endif

static void affine_forward_rows(void *ctx, int ya, int yb) { affine_rows(ctx, ya, yb, NULL); }

static void affine_forward(const op_state *s, const window *wd, int n, const float *in, float *out)
{
    affine_job j = {.s = s, .wd = *wd, .a = affine_of(s), .n = n, .in = in, .out = out,
                    .plane = (size_t)wd->sh * wd->sw * 3};
    pool_for_chunks(wd->oh, POOL_JOBS, affine_forward_rows, &j);
}

/* Block k's share of the backward scatter: output rows [k oh / B, (k+1) oh / B) of the op (those
 * inside the window) into its own buffer, zeroed over (and recording) the band of source rows its
 * taps can reach. */
static void affine_backward_blocks(void *ctx, int k0, int k1)
{
    affine_job *j = ctx;
    const window *wd = &j->wd;
    size_t row = (size_t)wd->sw * 3;
    for (int k = k0; k < k1; k++) {
        /* blocks of the op's whole output (as op by op), clipped to the window's rows */
        int oh = j->s->oh, ya = (int)((long)oh * k / AFFINE_BLOCKS) - wd->oy,
            yb = (int)((long)oh * (k + 1) / AFFINE_BLOCKS) - wd->oy;
        ya = ya < 0 ? 0 : ya > wd->oh ? wd->oh : ya;
        yb = yb < ya ? ya : yb > wd->oh ? wd->oh : yb;
        float *din = j->blk + (size_t)k * j->n * j->plane;
        /* the source rows of an affine map's block are bounded by those of its corners */
        int lo = wd->sh, hi = 0;
        for (int c = 0; c < 4 && ya < yb; c++) {
            int y0, x0;
            float fy, fx;
            taps(&j->a, (c & 1 ? yb - 1 : ya) + wd->oy, (c & 2 ? wd->ow - 1 : 0) + wd->ox, &y0, &x0, &fy, &fx);
            y0 -= wd->ty;
            if (y0 < lo) lo = y0;
            if (y0 + 2 > hi) hi = y0 + 2;
        }
        lo = lo < 0 ? 0 : lo;
        hi = hi > wd->sh ? wd->sh : hi;
        if (lo > hi) lo = hi;
        j->band[k][0] = lo, j->band[k][1] = hi;
        for (int b = 0; b < j->n && lo < hi; b++)
            memset(din + b * j->plane + (size_t)lo * row, 0, sizeof(float) * (size_t)(hi - lo) * row);
#if defined(__x86_64__) && defined(__GNUC__)
        if (use_gather() && wd->ow <= BWD_MAX_W) {
            affine_bwd_rows_v(j, ya, yb, din);
            continue;
        }
#endif
        affine_rows(j, ya, yb, din);
    }
}

/* din's source rows [r0, r1): the blocks' buffers summed in block order where their bands
 * reach. */
static void affine_backward_sum(void *ctx, int r0, int r1)
{
    const affine_job *j = ctx;
    size_t plane = j->plane, row = (size_t)j->wd.sw * 3;
    for (int b = 0; b < j->n; b++)
        for (int r = r0; r < r1; r++) {
            float *d = j->din + b * plane + (size_t)r * row;
            memset(d, 0, sizeof(float) * row);
            for (int k = 0; k < AFFINE_BLOCKS; k++) {
                if (r < j->band[k][0] || r >= j->band[k][1]) continue;
                const float *src = j->blk + (size_t)k * j->n * plane + b * plane + (size_t)r * row;
                for (size_t i = 0; i < row; i++) d[i] += src[i];
            }
        }
}

static void affine_backward(const fv_transform *t, const op_state *s, const window *wd, int n, const float *dout,
                            float *din)
{
    affine_job j = {.s = s, .wd = *wd, .a = affine_of(s), .n = n, .dout = dout, .din = din, .blk = t->blk,
                    .plane = (size_t)wd->sh * wd->sw * 3};
    pool_for_chunks(AFFINE_BLOCKS, POOL_JOBS, affine_backward_blocks, &j);
    pool_for_chunks(wd->sh, POOL_JOBS, affine_backward_sum, &j);
}

static int is_identity(const op_state *s)
{
    return (s->op.kind == FV_OP_SCALE && s->s == 1.0) || (s->op.kind == FV_OP_ROTATE && s->deg == 0.0);
}

static void op_forward(const op_state *s, int n, const float *in, float *out)
{
    if (is_identity(s)) {
        memcpy(out, in, sizeof(float) * (size_t)n * s->ih * s->iw * 3);
        return;
    }
    switch (s->op.kind) {
    case FV_OP_PAD: pad_forward(s, n, in, out); break;
    case FV_OP_JITTER: crop_forward(s, n, in, out); break;
    case FV_OP_CANVAS: canvas_forward(s, n, in, out); break;
    case FV_OP_SCALE:
    case FV_OP_ROTATE: {
        window wd = plain_window(s);
        affine_forward(s, &wd, n, in, out);
        break;
    }
    }
}

static void op_backward(const fv_transform *t, const op_state *s, int n, const float *dout, float *din)
{
    if (is_identity(s)) {
        memcpy(din, dout, sizeof(float) * (size_t)n * s->ih * s->iw * 3);
        return;
    }
    switch (s->op.kind) {
    case FV_OP_PAD: pad_backward(s, n, dout, din); break;
    case FV_OP_JITTER: crop_backward(s, n, dout, din); break;
    case FV_OP_CANVAS: canvas_backward(s, n, dout, din); break;
    case FV_OP_SCALE:
    case FV_OP_ROTATE: {
        window wd = plain_window(s);
        affine_backward(t, s, &wd, n, dout, din);
        break;
    }
    }
}

/* --- the chain in segments ------------------------------------------------------------------
 * Constant pads, jitters and canvases only move the image on a grey canvas (as do a scale by 1
 * and a rotation by 0, this step's identities). Instead of a pass each, they are folded into the
 * window of the scale or rotate op after them, which then samples the source image directly,
 * and the jitters right after a scale or rotate into the rows and columns it computes. A chain
 * with no scale or rotate left ends in one copy. The robust preset (pad, jitter, scale, rotate,
 * jitter) is then two passes each way instead of five. A chain with a reflected pad runs op by
 * op. */


static int moves_only(const op_state *s)
{
    return (s->op.kind == FV_OP_PAD && !s->op.reflect) || s->op.kind == FV_OP_JITTER ||
           s->op.kind == FV_OP_CANVAS || is_identity(s);
}

/* wd after op s moves its canvas: the image shifts with it, and a crop clips what is visible. */
static void fold_move(window *wd, const op_state *s)
{
    int dy = 0, dx = 0;
    if (s->op.kind == FV_OP_PAD) dy = dx = s->op.amount;
    if (s->op.kind == FV_OP_CANVAS) dy = (s->oh - s->ih) / 2, dx = (s->ow - s->iw) / 2;
    if (s->op.kind == FV_OP_JITTER) dy = -s->oy, dx = -s->ox;
    wd->ty += dy, wd->tx += dx;
    wd->v[0] += dy, wd->v[1] += dy, wd->v[2] += dx, wd->v[3] += dx;
    if (wd->v[0] < 0) wd->v[0] = 0;
    if (wd->v[2] < 0) wd->v[2] = 0;
    if (wd->v[1] > s->oh) wd->v[1] = s->oh;
    if (wd->v[3] > s->ow) wd->v[3] = s->ow;
    wd->oh = s->oh, wd->ow = s->ow; /* the canvas size, until an op samples it */
}

/* This step's segments (at most n_ops + 1) into seg; returns their number. */
static int plan_segments(const fv_transform *t, segment *seg)
{
    int ns = 0, h = t->h, w = t->w;
    for (int i = 0; i < t->n_ops;) {
        window wd = {h, w, 0, 0, {0, h, 0, w}, h, w, 0, 0};
        while (i < t->n_ops && moves_only(&t->ops[i])) fold_move(&wd, &t->ops[i++]);
        if (i == t->n_ops) {
            seg[ns].op = -1, seg[ns++].wd = wd;
            break;
        }
        const op_state *s = &t->ops[i];
        seg[ns].op = i++;
        wd.oh = s->oh, wd.ow = s->ow, wd.oy = wd.ox = 0;
        while (i < t->n_ops && t->ops[i].op.kind == FV_OP_JITTER) {
            const op_state *c = &t->ops[i++];
            wd.oy += c->oy, wd.ox += c->ox, wd.oh = c->oh, wd.ow = c->ow;
        }
        seg[ns++].wd = wd;
        h = wd.oh, w = wd.ow;
    }
    return ns;
}

/* A copy segment: out (N, oh, ow, 3), the canvas, from in (N, sh, sw, 3) at (ty, tx), FILL where
 * no image is; backward (dir 1): din = the gradient at the image's visible pixels, 0 elsewhere. */
static void move_copy(const window *wd, int n, const float *in, float *out, int dir)
{
    size_t srow = (size_t)wd->sw * 3, orow = (size_t)wd->ow * 3;
    int x0 = wd->v[2], x1 = wd->v[3] > x0 ? wd->v[3] : x0;
    if (dir) memset(out, 0, sizeof(float) * (size_t)n * wd->sh * srow);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < wd->oh; y++) {
            float *o = (float *)(dir ? in : out) + ((size_t)b * wd->oh + y) * orow;
            int vis = y >= wd->v[0] && y < wd->v[1] && x0 < x1;
            /* the image pixels of canvas row y, columns [x0, x1) (only formed when visible) */
            size_t at = vis ? ((size_t)b * wd->sh + (size_t)(y - wd->ty)) * srow + (size_t)(x0 - wd->tx) * 3 : 0;
            if (dir) {
                if (vis) memcpy(out + at, o + (size_t)x0 * 3, sizeof(float) * (size_t)(x1 - x0) * 3);
                continue;
            }
            for (size_t i = 0; i < orow; i++) o[i] = FILL;
            if (vis) memcpy(o + (size_t)x0 * 3, in + at, sizeof(float) * (size_t)(x1 - x0) * 3);
        }
}

void fv_transform_forward(fv_transform *t, const float *in, float *out)
{
    if (t->n_ops == 0) {
        memcpy(out, in, sizeof(float) * (size_t)t->n * t->h * t->w * 3);
        return;
    }
    if (t->folds) {
        segment *seg = t->seg;
        int ns = plan_segments(t, seg);
        const float *src = in;
        for (int k = 0; k < ns; k++) {
            float *dst = k == ns - 1 ? out : t->buf[k % 2];
            if (seg[k].op < 0)
                move_copy(&seg[k].wd, t->n, src, dst, 0);
            else
                affine_forward(&t->ops[seg[k].op], &seg[k].wd, t->n, src, dst);
            src = dst;
        }
        return;
    }
    const float *src = in;
    for (int i = 0; i < t->n_ops; i++) {
        float *dst = i == t->n_ops - 1 ? out : t->buf[i % 2];
        op_forward(&t->ops[i], t->n, src, dst);
        src = dst;
    }
}

void fv_transform_backward(fv_transform *t, const float *dout, float *din)
{
    if (t->n_ops == 0) {
        memcpy(din, dout, sizeof(float) * (size_t)t->n * t->h * t->w * 3);
        return;
    }
    if (t->folds) {
        segment *seg = t->seg;
        int ns = plan_segments(t, seg);
        const float *src = dout;
        for (int k = ns - 1; k >= 0; k--) {
            float *dst = k == 0 ? din : t->buf[(k - 1) % 2];
            if (seg[k].op < 0)
                move_copy(&seg[k].wd, t->n, src, dst, 1);
            else
                affine_backward(t, &t->ops[seg[k].op], &seg[k].wd, t->n, src, dst);
            src = dst;
        }
        return;
    }
    const float *src = dout;
    for (int i = t->n_ops - 1; i >= 0; i--) {
        float *dst = i == 0 ? din : t->buf[i % 2];
        op_backward(t, &t->ops[i], t->n, src, dst);
        src = dst;
    }
}

void fv_transform_free(fv_transform *t)
{
    if (!t) return;
    free(t->ops);
    free(t->seg);
    free(t->buf[0]);
    free(t->buf[1]);
    free(t->blk);
    free(t);
}
