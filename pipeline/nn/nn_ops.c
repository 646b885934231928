/* nn_ops — kernels of the nn engine (see nn_ops.h). Dense convolutions go to OpenBLAS sgemm;
 * everything else is loops whose innermost index is the contiguous channel, so that gcc
 * vectorizes them, split across threads (a small pool below) over the outer (batch x row)
 * index. */
#include "nn_ops.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* --- a small thread pool -------------------------------------------------------------------
 * Not OpenMP: libgomp's idle workers spin for a long time, and beside OpenBLAS's own threads on
 * a loaded machine that made 2 threads 30x slower than 1. Workers here spin only briefly, then
 * sleep on a condition variable. */

typedef void (*par_fn)(void *ctx, int lo, int hi);

static int g_threads = 1;
/* Set on pool workers, and on the calling thread while it runs its own part: a kernel called from
 * inside a parallel job (nn_ops_parallel) then runs its loops inline instead of re-entering the
 * pool, which serves one job at a time. */
static _Thread_local int tl_in_pool;
static struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int started;       /* worker threads running */
    atomic_uint gen;   /* bumped for each job */
    atomic_int pending;
    par_fn fn;
    void *ctx;
    int n, parts;
} g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0, 0};

#define SPIN 20000

static void run_part(int id)
{
    struct pool *P = &g_pool;
    int lo = (int)((long)P->n * id / P->parts), hi = (int)((long)P->n * (id + 1) / P->parts);
    if (lo < hi) P->fn(P->ctx, lo, hi);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct pool *P = &g_pool;
    unsigned seen = 0;
    tl_in_pool = 1;
    for (;;) {
        int spins = 0;
        while (atomic_load(&P->gen) == seen && spins < SPIN) spins++;
        if (atomic_load(&P->gen) == seen) {
            pthread_mutex_lock(&P->mu);
            while (atomic_load(&P->gen) == seen) pthread_cond_wait(&P->go, &P->mu);
            pthread_mutex_unlock(&P->mu);
        }
        seen = atomic_load(&P->gen);
        if (id < P->parts) run_part(id);
        if (atomic_fetch_sub(&P->pending, 1) == 1) {
            pthread_mutex_lock(&P->mu);
            pthread_cond_signal(&P->done);
            pthread_mutex_unlock(&P->mu);
        }
    }
    return NULL;
}

void nn_ops_set_threads(int n) { g_threads = n < 1 ? 1 : n > 64 ? 64 : n; }
int nn_ops_threads(void) { return g_threads; }

/* Below this many floats of work a loop stays on the calling thread: waking workers costs
 * microseconds. */
#define PAR_MIN 32768

/* Runs fn(ctx, lo, hi) over [0, n) split into contiguous parts, one per thread; work (about the
 * number of floats touched) decides whether splitting is worth it. The parts must not write the
 * same memory. */
static void par_for(int n, size_t work, par_fn fn, void *ctx)
{
    struct pool *P = &g_pool;
    int parts = g_threads < n ? g_threads : n;
    if (parts <= 1 || work < PAR_MIN || tl_in_pool) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&P->mu);
    while (P->started < g_threads - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(P->started + 1)) != 0) break;
        pthread_detach(t);
        P->started++;
    }
    if (parts > P->started + 1) parts = P->started + 1;
    P->fn = fn, P->ctx = ctx, P->n = n, P->parts = parts;
    atomic_store(&P->pending, P->started);
    atomic_fetch_add(&P->gen, 1);
    pthread_cond_broadcast(&P->go);
    pthread_mutex_unlock(&P->mu);
    tl_in_pool = 1;
    run_part(0);
    tl_in_pool = 0;
    int spins = 0;
    while (atomic_load(&P->pending) > 0 && spins < SPIN) spins++;
    if (atomic_load(&P->pending) > 0) {
        pthread_mutex_lock(&P->mu);
        while (atomic_load(&P->pending) > 0) pthread_cond_wait(&P->done, &P->mu);
        pthread_mutex_unlock(&P->mu);
    }
}

static inline float act1(int act, float v)
{
    if (act == NN_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (act == NN_ACT_RELU6) return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
    return v;
}

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

/* Context of the row functions below: one struct for all kernels, fields used as each needs. */
typedef struct kc {
    const nn_geom *g;
    const float *x, *w, *b, *a2;
    float *y;
    int act, op, h, w_, c, oh, ow, align, half, add;
    size_t sa[4], sb[4], sd[4];
    const int *ysh;
} kc;

/* col: (n*oh*ow, kh*kw*cin), row m = output pixel, column (ky,kx,ci): the HWIO weight order, so
 * that y = col . W is one GEMM. Out-of-image taps are zero. Rows of par_for: n*oh. */
static void im2col_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int K = g->kh * g->kw * g->cin;
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        for (int ox = 0; ox < g->ow; ox++) {
            float *c = k->y + ((size_t)r * g->ow + ox) * K;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky * g->dh;
                for (int kx = 0; kx < g->kw; kx++, c += g->cin) {
                    int ix = ox * g->sw - g->pl + kx * g->dw;
                    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                        memset(c, 0, sizeof(float) * g->cin);
                    else
                        memcpy(c, k->x + (((size_t)n * g->h + iy) * g->w + ix) * g->cin, sizeof(float) * g->cin);
                }
            }
        }
    }
}

/* dx += col2im(dcol), written as a gather over input pixels so threads never write the same
 * element: input (iy,ix) receives tap (ky,kx) of output (oy,ox) when oy*sh - pt + ky*dh = iy.
 * Rows: n*h. */
static void col2im_rows(void *vc, int r0, int r1)
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
                int ty = iy + g->pt - ky * g->dh;
                if (ty < 0 || ty % g->sh) continue;
                int oy = ty / g->sh;
                if (oy >= g->oh) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int tx = ix + g->pl - kx * g->dw;
                    if (tx < 0 || tx % g->sw) continue;
                    int ox = tx / g->sw;
                    if (ox >= g->ow) continue;
                    const float *restrict s = k->x + (((size_t)n * g->oh + oy) * g->ow + ox) * K
                                              + (size_t)(ky * g->kw + kx) * g->cin;
                    for (int c = 0; c < g->cin; c++) d[c] += s[c];
                }
            }
        }
    }
}

/* Adds the bias to every row of y (rows, c) and applies the activation, in one pass. */
static void bias_act_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    int C = k->c;
    const float *bias = k->b;
    for (int r = r0; r < r1; r++) {
        float *restrict o = k->y + (size_t)r * C;
        if (bias)
            for (int c = 0; c < C; c++) o[c] += bias[c];
        if (k->act == NN_ACT_RELU)
            for (int c = 0; c < C; c++) o[c] = o[c] > 0.0f ? o[c] : 0.0f;
        else if (k->act == NN_ACT_RELU6)
            for (int c = 0; c < C; c++) o[c] = o[c] > 0.0f ? (o[c] < 6.0f ? o[c] : 6.0f) : 0.0f;
    }
}

void nn_conv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                 float *y, float *col)
{
    /* y (M, cout) = col (M, K) . W (K, cout), M = n*oh*ow, K = kh*kw*cin */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    const float *a = x;
    if (!conv_direct(g)) {
        kc k = {.g = g, .x = x, .y = col};
        par_for(g->n * g->oh, (size_t)M * K, im2col_rows, &k);
        a = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, g->cout, K, 1.0f, a, K, wt, g->cout,
                0.0f, y, g->cout);
    if (bias || act) {
        kc k = {.y = y, .b = bias, .act = act, .c = g->cout};
        par_for(M, (size_t)M * g->cout, bias_act_rows, &k);
    }
}

void nn_conv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, float *col, int add)
{
    /* dcol (M, K) = dy (M, cout) . W^T (cout, K) */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    if (conv_direct(g)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, g->cout, 1.0f, dy, g->cout, wt,
                    g->cout, add ? 1.0f : 0.0f, dx, K);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, g->cout, 1.0f, dy, g->cout, wt,
                g->cout, 0.0f, col, K);
    kc k = {.g = g, .x = col, .y = dx, .add = add};
    par_for(g->n * g->h, (size_t)M * K, col2im_rows, &k);
}

/* Depthwise forward, rows n*oh: every tap is a channel-contiguous multiply-add. */
static void dw_fwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const nn_geom *g = k->g;
    int C = g->cin, M = g->cout / g->cin, act = k->act;
    for (int r = r0; r < r1; r++) {
        int n = r / g->oh, oy = r % g->oh;
        for (int ox = 0; ox < g->ow; ox++) {
            float *restrict o = k->y + ((size_t)r * g->ow + ox) * g->cout;
            if (k->b)
                memcpy(o, k->b, sizeof(float) * g->cout);
            else
                memset(o, 0, sizeof(float) * g->cout);
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky * g->dh;
                if (iy < 0 || iy >= g->h) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx * g->dw;
                    if (ix < 0 || ix >= g->w) continue;
                    const float *restrict xi = k->x + (((size_t)n * g->h + iy) * g->w + ix) * C;
                    const float *restrict wk = k->w + (size_t)(ky * g->kw + kx) * g->cout;
                    if (M == 1)
                        for (int c = 0; c < C; c++) o[c] += xi[c] * wk[c];
                    else
                        for (int c = 0; c < C; c++)
                            for (int m = 0; m < M; m++) o[c * M + m] += xi[c] * wk[c * M + m];
                }
            }
            if (act)
                for (int c = 0; c < g->cout; c++) o[c] = act1(act, o[c]);
        }
    }
}

void nn_dwconv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                   float *y)
{
    kc k = {.g = g, .x = x, .w = wt, .b = bias, .act = act, .y = y};
    par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_fwd_rows, &k);
}

/* Depthwise input gradient in gather form (see col2im_rows), rows n*h. */
static void dw_bwd_rows(void *vc, int r0, int r1)
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
                int ty = iy + g->pt - ky * g->dh;
                if (ty < 0 || ty % g->sh) continue;
                int oy = ty / g->sh;
                if (oy >= g->oh) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int tx = ix + g->pl - kx * g->dw;
                    if (tx < 0 || tx % g->sw) continue;
                    int ox = tx / g->sw;
                    if (ox >= g->ow) continue;
                    const float *restrict s = k->x + (((size_t)n * g->oh + oy) * g->ow + ox) * g->cout;
                    const float *restrict wk = k->w + (size_t)(ky * g->kw + kx) * g->cout;
                    if (M == 1)
                        for (int c = 0; c < C; c++) d[c] += s[c] * wk[c];
                    else
                        for (int c = 0; c < C; c++)
                            for (int m = 0; m < M; m++) d[c] += s[c * M + m] * wk[c * M + m];
                }
            }
        }
    }
}

void nn_dwconv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, int add)
{
    kc k = {.g = g, .x = dy, .w = wt, .y = dx, .add = add};
    par_for(g->n * g->h, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_bwd_rows, &k);
}

/* Elementwise ops over [lo, hi) of flat arrays; k->op selects which (EW_*). */
enum { EW_ACT_BWD, EW_RELU_FWD, EW_RELU_BWD, EW_SIG_FWD, EW_SIG_BWD };

static void ew_rows(void *vc, int lo, int hi)
{
    const kc *k = vc;
    const float *restrict x = k->x, *restrict a2 = k->a2;
    float *restrict y = k->y;
    int six = k->act == NN_ACT_RELU6;
    switch (k->op) {
    case EW_ACT_BWD: /* y: dy in place, x: activation output */
        if (six)
            for (int i = lo; i < hi; i++) y[i] = (x[i] > 0.0f && x[i] < 6.0f) ? y[i] : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? y[i] : 0.0f;
        break;
    case EW_RELU_FWD:
        if (six)
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EW_RELU_BWD: /* x: forward input, a2: dy, y: dx */
        if (six)
            for (int i = lo; i < hi; i++) y[i] += (x[i] > 0.0f && x[i] < 6.0f) ? a2[i] : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] += x[i] > 0.0f ? a2[i] : 0.0f;
        break;
    case EW_SIG_FWD:
        for (int i = lo; i < hi; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case EW_SIG_BWD: /* x: forward output, a2: dy, y: dx */
        for (int i = lo; i < hi; i++) y[i] += a2[i] * x[i] * (1.0f - x[i]);
        break;
    }
}

static void ew(int op, int act, const float *x, const float *a2, float *y, size_t n)
{
    kc k = {.op = op, .act = act, .x = x, .a2 = a2, .y = y};
    par_for((int)n, op == EW_SIG_FWD ? 8 * n : n, ew_rows, &k); /* expf costs ~8 loads */
}

void nn_act_fwd(int act, float *y, size_t n)
{
    if (act != NN_ACT_NONE) ew(EW_RELU_FWD, act, y, NULL, y, n);
}

void nn_act_bwd(int act, const float *y, float *dy, size_t n)
{
    if (act != NN_ACT_NONE) ew(EW_ACT_BWD, act, y, NULL, dy, n);
}

void nn_relu_fwd(int act, const float *x, float *y, size_t n) { ew(EW_RELU_FWD, act, x, NULL, y, n); }
void nn_relu_bwd(int act, const float *x, const float *dy, float *dx, size_t n) { ew(EW_RELU_BWD, act, x, dy, dx, n); }
void nn_sigmoid_fwd(const float *x, float *y, size_t n) { ew(EW_SIG_FWD, 0, x, NULL, y, n); }
void nn_sigmoid_bwd(const float *y, const float *dy, float *dx, size_t n) { ew(EW_SIG_BWD, 0, y, dy, dx, n); }

/* Element strides of a tensor of shape sh read under broadcast shape ysh: 0 where it repeats. */
static void bstrides(const int sh[4], const int ysh[4], size_t st[4])
{
    size_t s = 1;
    for (int d = 3; d >= 0; d--) {
        st[d] = (sh[d] == 1 && ysh[d] != 1) ? 0 : s;
        s *= (size_t)sh[d];
    }
}

/* Binary forward, rows n*h*w of the output; x = a, a2 = b. */
static void bin_fwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const int *ysh = k->ysh;
    const size_t *sa = k->sa, *sb = k->sb;
    int C = ysh[3], mul = k->op == NN_MUL;
    for (int r = r0; r < r1; r++) {
        int n = r / (ysh[1] * ysh[2]), h = (r / ysh[2]) % ysh[1], w = r % ysh[2];
        const float *restrict pa = k->x + n * sa[0] + h * sa[1] + w * sa[2];
        const float *restrict pb = k->a2 + n * sb[0] + h * sb[1] + w * sb[2];
        float *restrict o = k->y + (size_t)r * C;
        /* the channel-stride cases each get a loop gcc can vectorize */
        if (sa[3] && sb[3]) {
            if (mul)
                for (int c = 0; c < C; c++) o[c] = pa[c] * pb[c];
            else
                for (int c = 0; c < C; c++) o[c] = pa[c] + pb[c];
        } else if (sa[3]) {
            float v = pb[0];
            if (mul)
                for (int c = 0; c < C; c++) o[c] = pa[c] * v;
            else
                for (int c = 0; c < C; c++) o[c] = pa[c] + v;
        } else if (sb[3]) {
            float v = pa[0];
            if (mul)
                for (int c = 0; c < C; c++) o[c] = v * pb[c];
            else
                for (int c = 0; c < C; c++) o[c] = v + pb[c];
        } else {
            float v = mul ? pa[0] * pb[0] : pa[0] + pb[0];
            for (int c = 0; c < C; c++) o[c] = v;
        }
    }
}

void nn_binary_fwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], float *y)
{
    kc k = {.op = op, .x = a, .a2 = b, .y = y, .ysh = ysh};
    bstrides(ash, ysh, k.sa);
    bstrides(bsh, ysh, k.sb);
    int rows = ysh[0] * ysh[1] * ysh[2];
    par_for(rows, (size_t)rows * ysh[3], bin_fwd_rows, &k);
}

/* d (strides sd) += dy * other (x, strides sa; NULL: 1) for output rows [r0, r1). Callers split
 * rows across threads only where no two rows write the same element of d. */
static void bin_bwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const int *ysh = k->ysh;
    const size_t *sd = k->sd, *so = k->sa;
    int C = ysh[3];
    for (int r = r0; r < r1; r++) {
        int n = r / (ysh[1] * ysh[2]), h = (r / ysh[2]) % ysh[1], w = r % ysh[2];
        float *restrict pd = k->y + n * sd[0] + h * sd[1] + w * sd[2];
        const float *restrict g = k->a2 + (size_t)r * C;
        const float *restrict po = k->x ? k->x + n * so[0] + h * so[1] + w * so[2] : NULL;
        if (sd[3] && po && so[3])
            for (int c = 0; c < C; c++) pd[c] += g[c] * po[c];
        else if (sd[3] && po) {
            float v = po[0];
            for (int c = 0; c < C; c++) pd[c] += g[c] * v;
        } else if (sd[3])
            for (int c = 0; c < C; c++) pd[c] += g[c];
        else {
            float s = 0.0f;
            if (po && so[3])
                for (int c = 0; c < C; c++) s += g[c] * po[c];
            else
                for (int c = 0; c < C; c++) s += g[c];
            pd[0] += s * (po && !so[3] ? po[0] : 1.0f);
        }
    }
}

/* Rows of one image (n) for the per-image split: d broadcast over h and w. */
static void bin_bwd_images(void *vc, int n0, int n1)
{
    const kc *k = vc;
    int hw = k->ysh[1] * k->ysh[2];
    for (int n = n0; n < n1; n++) bin_bwd_rows(vc, n * hw, (n + 1) * hw);
}

static void binary_bwd_one(const int dsh[4], float *d, const int ysh[4], const float *dy,
                           const float *other, const size_t so[4])
{
    kc k = {.y = d, .a2 = dy, .x = other, .ysh = ysh};
    bstrides(dsh, ysh, k.sd);
    memcpy(k.sa, so, sizeof k.sa);
    int rows = ysh[0] * ysh[1] * ysh[2];
    size_t work = (size_t)rows * ysh[3];
    const size_t *sd = k.sd;
    int rows_disjoint = (sd[0] || ysh[0] == 1) && (sd[1] || ysh[1] == 1) && (sd[2] || ysh[2] == 1);
    int images_disjoint = sd[0] || ysh[0] == 1;
    if (rows_disjoint)
        par_for(rows, work, bin_bwd_rows, &k);
    else if (images_disjoint) /* e.g. the squeeze-excite scale (n,1,1,c) */
        par_for(ysh[0], work, bin_bwd_images, &k);
    else
        bin_bwd_rows(&k, 0, rows);
}

void nn_binary_bwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], const float *dy, float *da, float *db)
{
    size_t sa[4], sb[4];
    bstrides(ash, ysh, sa);
    bstrides(bsh, ysh, sb);
    if (da) binary_bwd_one(ash, da, ysh, dy, op == NN_MUL ? b : NULL, sb);
    if (db) binary_bwd_one(bsh, db, ysh, dy, op == NN_MUL ? a : NULL, sa);
}

void nn_mean_hw_fwd(int n, int h, int w, int c, const float *x, float *y)
{
    float inv = 1.0f / (float)(h * w);
    for (int b = 0; b < n; b++) {
        float *restrict o = y + (size_t)b * c;
        memset(o, 0, sizeof(float) * c);
        for (int i = 0; i < h * w; i++) {
            const float *restrict xi = x + ((size_t)b * h * w + i) * c;
            for (int k = 0; k < c; k++) o[k] += xi[k];
        }
        for (int k = 0; k < c; k++) o[k] *= inv;
    }
}

void nn_mean_hw_bwd(int n, int h, int w, int c, const float *dy, float *dx)
{
    float inv = 1.0f / (float)(h * w);
    int rows = n * h * w;
    for (int r = 0; r < rows; r++) {
        const float *restrict g = dy + (size_t)(r / (h * w)) * c;
        float *restrict d = dx + (size_t)r * c;
        for (int k = 0; k < c; k++) d[k] += g[k] * inv;
    }
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
    par_for(n * oh, (size_t)n * oh * ow * c * 4, resize_rows, &k);
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
static void maxpool_rows(void *vc, int r0, int r1)
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
    par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * g->kh * g->kw, maxpool_rows, &k);
}

void nn_maxpool_bwd(const nn_geom *g, const float *x, const float *dy, float *dx)
{
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

/* --- training: weight gradients, loss, parallel jobs ----------------------------------------- */

void nn_ops_parallel(int n, nn_par_fn fn, void *ctx)
{
    par_for(n, (size_t)PAR_MIN * 2, fn, ctx);
}

void nn_ops_set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

void nn_conv_bwd_w(const nn_geom *g, const float *a, const float *dy, float *dw, float *db, int add)
{
    /* dW (K, cout) = a^T (K, M) . dy (M, cout), M = n*oh*ow, K = kh*kw*cin */
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin, C = g->cout;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, C, M, 1.0f, a, K, dy, C, add ? 1.0f : 0.0f, dw, C);
    if (!db) return;
    /* rows in order, so the sum does not depend on any thread split */
    if (!add) memset(db, 0, sizeof(float) * (size_t)C);
    for (int r = 0; r < M; r++) {
        const float *restrict d = dy + (size_t)r * C;
        for (int c = 0; c < C; c++) db[c] += d[c];
    }
}

double nn_softmax_xent(int n, int k, const float *logits, const int *labels, float scale, float *dlogits)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float mx = z[0];
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        double s = exp((double)z[0] - mx); /* >= the max's term 1 after the loop, so log(s) >= 0 */
        for (int j = 1; j < k; j++) s += exp((double)z[j] - mx);
        /* -log p[label] = log sum exp(z - max) - (z[label] - max) */
        total += log(s) - ((double)z[labels[i]] - mx);
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double p = exp((double)z[j] - mx) / s;
                d[j] = (float)(scale * (p - (j == labels[i])));
            }
        }
    }
    return total;
}
