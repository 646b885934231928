/* nn_ops — kernels of the nn engine (see nn_ops.h). Dense convolutions go to OpenBLAS sgemm;
 * everything else is loops whose innermost index is the contiguous channel, so that gcc
 * vectorizes them, split across threads (a small pool below) over the outer (batch x row)
 * index. */
/* The build's -O2 uses gcc's "very cheap" vectorizer cost model, which leaves every loop here
 * whose trip count (the channel count) is not a known multiple of the vector width scalar; the
 * dynamic model vectorizes them (1.6x faster renders by itself). no-trapping-math lets gcc
 * evaluate both comparisons of a Relu6 mask unconditionally (so masked loops vectorize);
 * nothing here reads FP exception flags. No -ffast-math: no reassociation, so the values are
 * those of the scalar code. */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")
#include "nn_ops.h"

#include "nn_amx.h"
#include "nn_simd.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Loops that gcc vectorizes on their own, cloned for AVX-512 and AVX2 besides the baseline (the
 * loader picks one, as for ssim.c's): the same bytes on each, since lanes are independent and
 * -std=c11 forbids contracting a * b + c into an FMA. Not under clang (the fuzz build links this
 * file only for its symbols). */
#if defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDE
#endif

/* --- a small thread pool -------------------------------------------------------------------
 * Not OpenMP: libgomp's idle workers spin for a long time, and beside OpenBLAS's own threads on
 * a loaded machine that made 2 threads 30x slower than 1. Workers here spin briefly (SPIN polls,
 * a fraction of a millisecond: longer than most gaps between the parallel loops of one render
 * step, where sleeping and being woken cost a 128-px render 20 % of its time), then sleep on a
 * condition variable.
 *
 * A job is split into a few more chunks than threads, and every thread (the caller included)
 * takes the next chunk until none is left. On a shared machine a worker is often descheduled:
 * the others then do its chunks instead of waiting for it. Which chunk covers which indices
 * depends only on the sizes, so results do not depend on who runs what. */

typedef void (*par_fn)(void *ctx, int lo, int hi);

static int g_threads = 1;
/* Set on pool workers, and on the calling thread while it runs chunks: a kernel called from
 * inside a parallel job (nn_ops_parallel) then runs its loops inline instead of re-entering the
 * pool, which serves one job at a time. */
static _Thread_local int tl_in_pool;
static struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int started; /* worker threads running */
    /* One cache line for a job: the job, its dispenser and its count, so that publishing and
     * joining a job move that one line between the cores (a job of a render step lasts a few
     * microseconds; each line the threads pass back and forth costs about 0.15). */
    _Alignas(64) par_fn fn;
    void *ctx;
    int n, chunks;
    /* the current job's chunk dispenser: gen (low 24 bits) << 40 | chunks << 20 | next chunk;
     * one word, so that a worker waking late can never take a chunk of a later job for its own */
    _Atomic uint64_t ctr;
    atomic_uint gen;      /* bumped for each job */
    atomic_int finished;  /* chunks of the current job done */
    atomic_int sleepers;  /* workers blocked (or about to block) on go */
    atomic_int caller_sleeps; /* the caller blocks (or is about to) on done */
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

#define SPIN 200000
/* Chunks per thread of a kernel's loop: one, so that in the usual case the caller takes the first
 * and each worker the next, and a thread works on the same part of each tensor (the same rows of
 * pixels) from one layer to the next, in its own cache (a 128-px render step: 7 % faster than
 * with 4). A data-parallel job (nn_ops_parallel) takes 4, to even out uneven chunks. */
#define CHUNKS_PER_THREAD 1
#define CHUNKS_PER_THREAD_JOBS 4

/* Takes the next chunk of job gen (low 24 bits), or returns -1 if it has none left or is over. */
static int take_chunk(struct pool *P, unsigned gen)
{
    uint64_t v = atomic_load(&P->ctr);
    for (;;) {
        unsigned next = (unsigned)(v & 0xFFFFF), chunks = (unsigned)((v >> 20) & 0xFFFFF);
        if ((unsigned)(v >> 40) != (gen & 0xFFFFFF) || next >= chunks) return -1;
        if (atomic_compare_exchange_weak(&P->ctr, &v, v + 1)) return (int)next;
    }
}

/* Runs chunk c of the current job, and signals the caller if it was the last and the caller
 * sleeps (a Dekker pair with par_for_chunks: the caller sets caller_sleeps and then checks
 * finished, this adds to finished and then checks caller_sleeps, both sequentially
 * consistent). */
static void run_chunk(struct pool *P, int c)
{
    int chunks = P->chunks;
    int lo = (int)((long)P->n * c / chunks), hi = (int)((long)P->n * (c + 1) / chunks);
    if (lo < hi) P->fn(P->ctx, lo, hi);
    if (atomic_fetch_add(&P->finished, 1) + 1 == chunks && atomic_load(&P->caller_sleeps)) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_signal(&P->done);
        pthread_mutex_unlock(&P->mu);
    }
}

/* Runs chunks of job gen until none is left. The job's fields are read only while holding a
 * chunk: until that chunk is finished the caller cannot start another job. */
static void run_chunks(struct pool *P, unsigned gen)
{
    int c;
    while ((c = take_chunk(P, gen)) >= 0) run_chunk(P, c);
}

static void *worker(void *arg)
{
    (void)arg;
    struct pool *P = &g_pool;
    unsigned seen = 0;
    tl_in_pool = 1;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&P->gen, memory_order_acquire) == seen && spins < SPIN) spins++;
        if (atomic_load(&P->gen) == seen) {
            /* counted asleep before the last check: the caller, which publishes and then reads
             * sleepers, wakes us or we see its job */
            pthread_mutex_lock(&P->mu);
            atomic_fetch_add(&P->sleepers, 1);
            while (atomic_load(&P->gen) == seen) pthread_cond_wait(&P->go, &P->mu);
            atomic_fetch_sub(&P->sleepers, 1);
            pthread_mutex_unlock(&P->mu);
        }
        seen = atomic_load(&P->gen);
        run_chunks(P, seen);
    }
    return NULL;
}

void nn_ops_set_threads(int n) { g_threads = n < 1 ? 1 : n > 64 ? 64 : n; }
int nn_ops_threads(void) { return g_threads; }

/* Below this many floats of work a loop stays on the calling thread: handing a loop to a worker
 * costs about a microsecond. (A 128-px render: 8192 is 4 % faster than 32768; 4096 the same.) */
#define PAR_MIN 8192

/* Runs fn(ctx, lo, hi) over [0, n) split into contiguous chunks shared out among the threads;
 * work (about the number of floats touched) decides whether splitting is worth it. The chunks
 * must not write the same memory. */
static void par_for_chunks(int n, size_t work, par_fn fn, void *ctx, int per_thread)
{
    struct pool *P = &g_pool;
    if (g_threads <= 1 || n <= 1 || work < PAR_MIN || tl_in_pool) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    if (P->started < g_threads - 1) { /* workers start at the first parallel loop */
        pthread_mutex_lock(&P->mu);
        while (P->started < g_threads - 1) {
            pthread_t t;
            if (pthread_create(&t, NULL, worker, NULL) != 0) break;
            pthread_detach(t);
            P->started++;
        }
        pthread_mutex_unlock(&P->mu);
    }
    int chunks = (P->started + 1) * per_thread;
    if (chunks > n) chunks = n;
    P->fn = fn, P->ctx = ctx, P->n = n, P->chunks = chunks;
    atomic_store_explicit(&P->finished, 0, memory_order_relaxed);
    unsigned gen = atomic_load_explicit(&P->gen, memory_order_relaxed) + 1;
    /* chunk 0 is the caller's from the start: one update of the line less */
    atomic_store_explicit(&P->ctr, (uint64_t)(gen & 0xFFFFFF) << 40 | (uint64_t)chunks << 20 | 1, memory_order_relaxed);
    atomic_store(&P->gen, gen); /* publishes the fields above */
    if (atomic_load(&P->sleepers) > 0) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_broadcast(&P->go);
        pthread_mutex_unlock(&P->mu);
    }
    tl_in_pool = 1;
    run_chunk(P, 0);
    run_chunks(P, gen);
    tl_in_pool = 0;
    int spins = 0;
    while (atomic_load_explicit(&P->finished, memory_order_acquire) < chunks && spins < SPIN) spins++;
    if (atomic_load(&P->finished) < chunks) {
        pthread_mutex_lock(&P->mu);
        atomic_store(&P->caller_sleeps, 1);
        while (atomic_load(&P->finished) < chunks) pthread_cond_wait(&P->done, &P->mu);
        atomic_store(&P->caller_sleeps, 0);
        pthread_mutex_unlock(&P->mu);
    }
}

static void par_for(int n, size_t work, par_fn fn, void *ctx) { par_for_chunks(n, work, fn, ctx, CHUNKS_PER_THREAD); }

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
    float fa, fc; /* hard swish constants */
    size_t sa[4], sb[4], sd[4];
    const int *ysh;
    nn_simd_gate gate; /* the depthwise input gradient's fused activation derivative (x: tensor base) */
    const nn_hswish_out *hs; /* the depthwise forward's fused hard swish (out: tensor base) */
} kc;

/* The gathers (depthwise convolution, col2im) keep a block of channels in registers across all
 * taps (gcc's own vectorizer would load and store the output once per tap): v4 is 4 floats,
 * gcc's generic vector type (one SSE register on x86-64, so 8 accumulators and their operands
 * fit the 16 registers; wider generic vectors spill there), loaded and stored with memcpy
 * (unaligned, no aliasing question). A pixel's channels go in blocks of 32, then 4, then one at
 * a time. */
typedef float v4 __attribute__((vector_size(16)));
#define LD4(v, p) memcpy(&(v), (p), sizeof(v4))
#define ST4(p, v) memcpy((p), &(v), sizeof(v4))

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
 * that y = col . W is one GEMM. Out-of-image taps are zero. Rows of par_for: n*oh. */
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

/* Most taps a kernel may have for the register-blocked gathers (7x7 = 49); larger kernels take
 * the plain loops. */
#define DW_MAXT 64

/* The taps of a gather (col2im, a depthwise input gradient) along one axis, listed once per call
 * instead of once per pixel (the per-pixel search divided by the stride at every tap, which cost
 * more than the sums): for input index i in [i0, i0 + len), the cnt[i - i0] kernel taps t in
 * ascending order, with their output index o, such that o * s - pad + t * d == i and 0 <= o < on:
 * pair j at tk[(i - i0) * kn + j], to[...]. */
static void axis_taps(int i0, int len, int pad, int kn, int d, int s, int on, int *cnt, int *tk, int *to)
{
    for (int i = i0; i < i0 + len; i++) {
        int c = 0, *k = tk + (size_t)(i - i0) * kn, *o = to + (size_t)(i - i0) * kn;
        for (int t = 0; t < kn; t++) {
            int u = i + pad - t * d;
            if (u < 0 || u % s || u / s >= on) continue;
            k[c] = t, o[c++] = u / s;
        }
        cnt[i - i0] = c;
    }
}

/* The x-axis taps of every input column of g, for a gather: three arrays in one allocation (free
 * *cnt when done). */
static void x_taps(const nn_geom *g, int **cnt, int **tk, int **to)
{
    int *tab = xmalloc(sizeof(int) * (size_t)g->w * (1 + 2 * (size_t)g->kw));
    *cnt = tab, *tk = tab + g->w, *to = tab + g->w + (size_t)g->w * g->kw;
    axis_taps(0, g->w, g->pl, g->kw, g->dw, g->sw, g->ow, *cnt, *tk, *to);
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
    x_taps(g, &xc, &xk, &xoo);
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        axis_taps(iy, 1, g->pt, g->kh, g->dh, g->sh, g->oh, &yc, yk, yo);
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
            axis_taps(iy, 1, g->pt - ky0 * g->dh, kn, g->dh, g->sh, g->oh, &yc, yk, yo);
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

/* Row-major C (m, n) = op(A) (m, k) . op(B) (k, n) + beta*C, as cblas_sgemm; ta: A is stored
 * transposed (k, m), tb likewise. With a bias (n floats; beta must be 0), C = bias + op(A).op(B):
 * the rows are filled with the bias and sgemm runs with beta 1, which saves OpenBLAS's zeroing
 * pass and a bias pass (the bias is then added before the sum's last rounding rather than after:
 * a rounding-level difference); then act is applied.
 *
 * Threads: with OpenBLAS on one thread (nn_set_threads makes it so), an A that is not transposed
 * is cut into parts, one sgemm each, and the parts are shared out among this module's pool: one
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
/* On AMX (nn_ops_set_fast_gemm): parts of 1024 rows, as each part packs B again. Where packing
 * costs more than the tiles save, a product stays on OpenBLAS: fewer than 16 rows, a depth under
 * 32 (a dense layer's weight gradient over a chunk of 16 images), or a B stored transposed
 * (scattered into tiles) with fewer than 64 rows (a dense layer's input gradient). */
#define GEMM_ROWS_AMX 1024
#define AMX_MIN_ROWS 16
#define AMX_MIN_K 32
#define AMX_MIN_ROWS_TB 64
#define GEMM_MIN_COLS 64
#define GEMM_MIN_ROWS 8
#define GEMM_PART_MACS (1 << 19)

typedef struct gemm_job {
    int ta, tb, m, n, k, lda, ldb, ldc, parts, cols, act, amx; /* cols: parts are column blocks */
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
    if (j->amx && m1 - m0 >= AMX_MIN_ROWS && j->k >= AMX_MIN_K && (!j->tb || m1 - m0 >= AMX_MIN_ROWS_TB))
        nn_amx_gemm(j->ta, j->tb, m1 - m0, n, j->k, a, j->lda, b, j->ldb, beta, c, j->ldc);
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

/* par_for body: parts [p0, p1) of j->parts, one sgemm each. Column blocks start at multiples of
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

static int g_fast_gemm; /* nn_ops_set_fast_gemm */

int nn_ops_set_fast_gemm(int on)
{
    g_fast_gemm = on && nn_amx_available();
    return g_fast_gemm;
}

int nn_ops_fast_gemm_available(void) { return nn_amx_available(); }

static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc, const float *bias, int act)
{
    /* one call when OpenBLAS threads it itself, or for a transposed A (but see above) */
    int amx = g_fast_gemm, rows = amx ? GEMM_ROWS_AMX : GEMM_ROWS;
    int split = (!ta || (amx && k <= n)) && (amx || openblas_get_num_threads() <= 1), parts = 1, cols = 0;
    if (split && m >= 2 * rows) {
        parts = (m + rows - 1) / rows;
    } else if (split) {
        long want = (long)m * n * k / GEMM_PART_MACS;
        cols = n >= 2 * GEMM_MIN_COLS;
        long most = cols ? n / GEMM_MIN_COLS : m / GEMM_MIN_ROWS;
        parts = (int)(want < most ? want : most);
        if (parts < 1) parts = 1;
    }
    gemm_job j = {ta, tb, m, n, k, lda, ldb, ldc, parts, cols, act, amx, a, b, bias, beta, c, NULL, 1};
    par_for(j.parts, (size_t)m * n * k / 32, gemm_parts, &j); /* MACs/32: comparable to floats moved */
}

/* A prepared AMX convolution without im2col (nn_amx_conv_rows) over m output rows and n
 * columns, split across the pool by rows only (an input gradient needs all its columns); its
 * input was converted once, before the split. */
static void gemm_conv(const nn_amx_conv *cv, int ow, int m, int n, int k, const float *b, int ldb, float beta,
                      float *c, int ldc, const float *bias, int act)
{
    int parts = m >= 2 * GEMM_ROWS_AMX ? (m + GEMM_ROWS_AMX - 1) / GEMM_ROWS_AMX : 1;
    gemm_job j = {0, 0, m, n, k, 0, ldb, ldc, parts, 0, act, 1, NULL, b, bias, beta, c, cv, ow};
    par_for(j.parts, (size_t)m * n * k / 32, gemm_parts, &j);
}

/* 1 if the forward of g runs without im2col (then it leaves no im2col in its col scratch). */
static int conv_implicit(const nn_geom *g) { return g_fast_gemm && nn_amx_conv_implicit(g); }

/* 1 if g is a convolution of one input channel computed directly (nn_amx_conv1_*: no im2col
 * either). */
static int conv_one_channel(const nn_geom *g) { return g_fast_gemm && nn_amx_conv1_ok(g); }

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
        par_for(g->n, (size_t)M * K * g->cout / 32, conv1_images, &j);
        return;
    }
    if (!conv_direct(g)) {
        kc k = {.g = g, .x = x, .y = col};
        par_for(g->n * g->oh, (size_t)M * K, im2col_rows, &k);
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
    if (g_fast_gemm && nn_amx_conv_bwd_implicit(g)) {
        /* the convolution of dy with the flipped weights: no product into col, no col2im */
        gemm_conv(nn_amx_conv_bwd_prepare(g, dy, wt), g->w, g->n * g->h * g->w, g->cin, K, NULL, 0,
                  add ? 1.0f : 0.0f, dx, g->cin, NULL, 0);
        return;
    }
    gemm(0, 1, M, K, g->cout, dy, g->cout, wt, g->cout, 0.0f, col, K, NULL, 0);
    kc k = {.g = g, .x = col, .y = dx, .add = add};
    par_for(g->n * g->h, (size_t)M * K, g->kh * g->kw <= DW_MAXT ? col2im_rows : col2im_rows_any, &k);
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
    if (!nn_simd_available() || g_fast_gemm) return NULL;
    nn_conv_pack *pk = xcalloc(1, sizeof *pk);
    if (nn_simd_mat_init(&pk->fwd, wt, g->kh * g->kw * g->cin, g->cout, 0) != 0) xmalloc((size_t)-1);
    pk->wt = wt;
    /* few input channels (an RGB first layer): direct, when the padded input fits in the col
     * scratch (always, but for a stride larger than the kernel) */
    int hp, wp;
    padded_size(g, &hp, &wp);
    pk->direct = !conv_direct(g) && g->cin <= 4 && g->dh == 1 && g->dw == 1 && g->cout <= 32 &&
                 (size_t)g->n * hp * wp * g->cin <= nn_conv_col_size(g);
    return pk;
}

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
    par_for(parts, macs / 32 > wts / 4 ? macs / 32 : wts / 4, simd_parts, &j);
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
        par_for(g->n * hp, (size_t)g->n * hp * wp * g->cin, pad_rows, &pj);
        direct_job j = {g, col, pk->wt, bias, hp, wp, act, y, hs};
        par_for(g->n * g->oh, (size_t)M * K * g->cout / 32, direct_rows, &j);
        return;
    }
    const float *a = x;
    if (!conv_direct(g)) {
        kc k = {.g = g, .x = x, .y = col};
        par_for(g->n * g->oh, (size_t)M * K, im2col_rows, &k);
        a = col;
    }
    simd_gemm(M, a, K, &pk->fwd, bias, 0, act, res, hs, y, g->cout);
}

void nn_conv_bwd_packed(const nn_geom *g, nn_conv_pack *pk, const float *dy, float *dx, float *col, int add)
{
    int M = g->n * g->oh * g->ow, K = g->kh * g->kw * g->cin;
    if (!pk->has_bwd) {
        if (nn_simd_mat_init(&pk->bwd, pk->wt, g->cout, K, 1) != 0) xmalloc((size_t)-1);
        pk->has_bwd = 1;
    }
    if (conv_direct(g)) {
        simd_gemm(M, dy, g->cout, &pk->bwd, NULL, add, 0, NULL, NULL, dx, K);
        return;
    }
    simd_gemm(M, dy, g->cout, &pk->bwd, NULL, 0, 0, NULL, NULL, col, K);
    kc k = {.g = g, .x = col, .y = dx, .add = add};
    par_for(g->n * g->h, (size_t)M * K,
            g->dw == 1 ? col2im_span_rows : g->kh * g->kw <= DW_MAXT ? col2im_rows : col2im_rows_any, &k);
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
    par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_fwd_rows, &k);
}

void nn_dwconv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                   float *y)
{
    kc k = {.g = g, .x = x, .w = wt, .b = bias, .act = act, .y = y};
    par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_fwd_rows, &k);
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
    x_taps(g, &xc, &xk, &xoo);
    for (int r = r0; r < r1; r++) {
        int n = r / g->h, iy = r % g->h;
        axis_taps(iy, 1, g->pt, g->kh, g->dh, g->sh, g->oh, &yc, ryk, ryo);
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
                         float ga, float gc)
{
    kc k = {.g = g, .x = dy, .w = wt, .y = dx, .add = 0};
    k.gate = (nn_simd_gate){gate, ga, gc, gx, 0};
    par_for(g->n * g->h, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, dw_bwd_rows, &k);
}

void nn_dwconv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, int add)
{
    kc k = {.g = g, .x = dy, .w = wt, .y = dx, .add = add};
    int one = g->cout == g->cin && g->kh * g->kw <= DW_MAXT;
    par_for(g->n * g->h, (size_t)g->n * g->oh * g->ow * g->cout * g->kh * g->kw, one ? dw_bwd_rows : dw_bwd_rows_any,
            &k);
}

/* Elementwise ops over [lo, hi) of flat arrays; k->op selects which (EW_*). */
enum { EW_ACT_BWD, EW_RELU_FWD, EW_RELU_BWD, EW_SIG_FWD, EW_SIG_BWD, EW_HSW_FWD, EW_HSW_BWD };

WIDE static void ew_rows(void *vc, int lo, int hi)
{
    const kc *k = vc;
    const float *restrict x = k->x, *restrict a2 = k->a2;
    float *restrict y = k->y;
    int six = k->act == NN_ACT_RELU6;
    switch (k->op) {
    case EW_ACT_BWD: /* y: dy in place, x: activation output */
        if (six)
            for (int i = lo; i < hi; i++) y[i] = ((x[i] > 0.0f) & (x[i] < 6.0f)) ? y[i] : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? y[i] : 0.0f;
        break;
    case EW_RELU_FWD:
        if (six)
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EW_RELU_BWD: { /* x: forward input, a2: dy, y: dx */
        /* every load unconditional, & rather than &&, and the mode tests outside the loops:
         * branch-free loops, which gcc vectorizes */
        float hi6 = six ? 6.0f : INFINITY;
        if (k->add)
            for (int i = lo; i < hi; i++) {
                float v = x[i], g = a2[i];
                y[i] += ((v > 0.0f) & (v < hi6)) ? g : 0.0f;
            }
        else
            for (int i = lo; i < hi; i++) {
                float v = x[i], g = a2[i];
                y[i] = ((v > 0.0f) & (v < hi6)) ? g : 0.0f;
            }
        break;
    }
    case EW_HSW_FWD: { /* the graph's order of operations: (c*x) * relu6(x + a) */
        float a = k->fa, c = k->fc;
        for (int i = lo; i < hi; i++) {
            float t = x[i] + a;
            t = t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f;
            y[i] = (c * x[i]) * t;
        }
        break;
    }
    case EW_HSW_BWD: { /* x: forward input, a2: dy, y: dx; branch-free as for EW_RELU_BWD */
        float a = k->fa, c = k->fc;
#define HSW_D                                                                                    \
    float v = x[i], g = a2[i], t = v + a;                                                          \
    float r = t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f, cv = c * v;                              \
    float d = g * (c * r + (((t > 0.0f) & (t < 6.0f)) ? cv : 0.0f));
        if (k->add)
            for (int i = lo; i < hi; i++) {
                HSW_D
                y[i] += d;
            }
        else
            for (int i = lo; i < hi; i++) {
                HSW_D
                y[i] = d;
            }
#undef HSW_D
        break;
    }
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
    kc k = {.op = op, .act = act, .x = x, .a2 = a2, .y = y, .add = 1};
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
void nn_relu_bwd(int act, const float *x, const float *dy, float *dx, size_t n, int add)
{
    kc k = {.op = EW_RELU_BWD, .act = act, .x = x, .a2 = dy, .y = dx, .add = add};
    par_for((int)n, n, ew_rows, &k);
}

void nn_hswish_fwd(float a, float c, const float *x, float *y, size_t n)
{
    kc k = {.op = EW_HSW_FWD, .x = x, .y = y, .fa = a, .fc = c};
    par_for((int)n, n, ew_rows, &k);
}

void nn_hswish_bwd(float a, float c, const float *x, const float *dy, float *dx, size_t n, int add)
{
    kc k = {.op = EW_HSW_BWD, .x = x, .a2 = dy, .y = dx, .fa = a, .fc = c, .add = add};
    par_for((int)n, n, ew_rows, &k);
}
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
WIDE static void bin_fwd_rows(void *vc, int r0, int r1)
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
WIDE static void bin_bwd_rows(void *vc, int r0, int r1)
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

/* Reductions over h and w (a gradient broadcast over an image, a mean) split by image rows: each
 * row's sum into its own partial (rows_partial), the partials then summed in row order
 * (rows_combine). The rows are fixed by the shape, so the sums do not depend on the threads (a row
 * at a time also keeps each thread on the rows it computed in the layer before). */
typedef struct rowsum_job {
    const kc *k; /* bin_bwd_rows' context */
    float *part; /* (n * h, cw) partials */
    int cw, w;
} rowsum_job;

static void bin_bwd_rowsum(void *vj, int r0, int r1)
{
    const rowsum_job *j = vj;
    for (int r = r0; r < r1; r++) {
        kc k = *j->k;
        k.y = j->part + (size_t)r * j->cw;
        k.sd[0] = k.sd[1] = k.sd[2] = 0; /* every pixel of the row into its partial */
        memset(k.y, 0, sizeof(float) * j->cw);
        bin_bwd_rows(&k, r * j->w, (r + 1) * j->w);
    }
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
    else if (images_disjoint && !sd[1] && !sd[2]) { /* e.g. the squeeze-excite scale (n,1,1,c) */
        int cw = sd[3] ? ysh[3] : 1, nr = ysh[0] * ysh[1];
        rowsum_job j = {&k, xmalloc(sizeof(float) * (size_t)nr * cw), cw, ysh[2]};
        par_for(nr, work, bin_bwd_rowsum, &j);
        for (int n = 0; n < ysh[0]; n++) {
            float *restrict pd = d + n * sd[0];
            for (int y = 0; y < ysh[1]; y++) {
                const float *restrict pp = j.part + ((size_t)n * ysh[1] + y) * cw;
                for (int c = 0; c < cw; c++) pd[c] += pp[c];
            }
        }
        free(j.part);
    } else if (images_disjoint)
        par_for(ysh[0], work, bin_bwd_images, &k);
    else
        bin_bwd_rows(&k, 0, rows);
}

/* The squeeze-excite scale's backward, y = x * s with s (n,1,1,c): dx += dy * s and the row
 * partials of ds = sum dy * x, in one pass over dy (binary_bwd_one twice would read it twice);
 * the same values as the two passes. Rows n*h. */
typedef struct se_bwd_job {
    const float *x, *s, *dy;
    float *dx, *part;
    int h, w, c;
} se_bwd_job;

WIDE static void se_bwd_rows(void *vj, int r0, int r1)
{
    const se_bwd_job *j = vj;
    int C = j->c;
    for (int r = r0; r < r1; r++) {
        const float *restrict sc = j->s + (size_t)(r / j->h) * C;
        float *restrict pp = j->part + (size_t)r * C;
        memset(pp, 0, sizeof(float) * C);
        for (int i = 0; i < j->w; i++) {
            size_t off = ((size_t)r * j->w + i) * C;
            const float *restrict g = j->dy + off, *restrict xv = j->x + off;
            float *restrict d = j->dx + off;
            for (int c = 0; c < C; c++) {
                d[c] += g[c] * sc[c];
                pp[c] += g[c] * xv[c];
            }
        }
    }
}

void nn_binary_bwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], const float *dy, float *da, float *db)
{
    if (op == NN_MUL && da && db && ash[0] == ysh[0] && ash[1] == ysh[1] && ash[2] == ysh[2] && ash[3] == ysh[3] &&
        bsh[0] == ysh[0] && bsh[1] == 1 && bsh[2] == 1 && bsh[3] == ysh[3] && ysh[1] * ysh[2] > 1) {
        int nr = ysh[0] * ysh[1], C = ysh[3];
        se_bwd_job j = {a, b, dy, da, xmalloc(sizeof(float) * (size_t)nr * C), ysh[1], ysh[2], C};
        par_for(nr, (size_t)nr * ysh[2] * C, se_bwd_rows, &j);
        for (int n = 0; n < ysh[0]; n++) {
            float *restrict pd = db + (size_t)n * C;
            for (int y = 0; y < ysh[1]; y++) {
                const float *restrict pp = j.part + ((size_t)n * ysh[1] + y) * C;
                for (int c = 0; c < C; c++) pd[c] += pp[c];
            }
        }
        free(j.part);
        return;
    }
    size_t sa[4], sb[4];
    bstrides(ash, ysh, sa);
    bstrides(bsh, ysh, sb);
    if (da) binary_bwd_one(ash, da, ysh, dy, op == NN_MUL ? b : NULL, sb);
    if (db) binary_bwd_one(bsh, db, ysh, dy, op == NN_MUL ? a : NULL, sa);
}

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
    par_for(n * h, (size_t)n * h * w * c, mean_rows, &j);
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
    par_for(n * h * w, (size_t)n * h * w * c, mean_bwd_rows, &j);
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
    par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * g->kh * g->kw, maxpool_rows, &k);
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
        par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * 4, maxpool_bwd_rows, &k);
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
            par_for(g->n * g->oh, (size_t)g->n * g->oh * g->ow * g->cin * g->kh * g->kw, maxpool_bwd_rows, &k);
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

/* --- training: weight gradients, loss, parallel jobs ----------------------------------------- */

void nn_ops_parallel(int n, nn_par_fn fn, void *ctx)
{
    par_for_chunks(n, (size_t)PAR_MIN * 2, fn, ctx, CHUNKS_PER_THREAD_JOBS);
}

void nn_ops_set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

typedef struct acc_job {
    float *d;
    const float *s;
    int add;
} acc_job;

#define ACC_BLOCK 2048 /* floats per item of nn_accumulate */

static void acc_items(void *vj, int i0, int i1)
{
    const acc_job *j = vj;
    float *restrict d = j->d + (size_t)i0 * ACC_BLOCK;
    const float *restrict s = j->s + (size_t)i0 * ACC_BLOCK;
    size_t n = (size_t)(i1 - i0) * ACC_BLOCK;
    if (j->add)
        for (size_t i = 0; i < n; i++) d[i] += s[i];
    else
        memcpy(d, s, sizeof(float) * n);
}

void nn_accumulate(float *d, const float *s, size_t n, int add)
{
    acc_job j = {d, s, add};
    size_t blocks = n / ACC_BLOCK, tail = blocks * ACC_BLOCK;
    par_for((int)blocks, n, acc_items, &j);
    if (add)
        for (size_t i = tail; i < n; i++) d[i] += s[i];
    else
        memcpy(d + tail, s + tail, sizeof(float) * (n - tail));
}

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
