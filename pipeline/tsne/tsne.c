/* tsne — affinities, gradient descent and KL divergence; the heavy parts are in tsne_knn
 * (neighbours), tsne_fft (repulsion) and tsne_pca (initialisation). */
#include "tsne.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "tsne_fft.h"
#include "tsne_knn.h"
#include "tsne_pca.h"
#include "rng.h"

/* Below these sizes loops run on one thread: a parallel loop costs a join, and on a busy machine
 * (other jobs on the same cores) a join waits for a descheduled thread; measured 4-5x slower
 * than serial on 600 points with 2 threads under load. */
#define PAR_POINTS 4096
#define PAR_PAIRS 1500

/* fn(ctx, lo, hi) over the rows [0, n): on the common pool (pool.h) from `from` rows on, else on
 * this thread. Every loop here writes each row's results apart and sums them afterwards in row
 * order, so no value depends on the threads. */
static void rows_for(size_t n, size_t from, pool_fn fn, void *ctx)
{
    if (n >= from) pool_for_chunks((int)n, POOL_JOBS, fn, ctx);
    else if (n > 0) fn(ctx, 0, (int)n);
}

void tsne_params_default(tsne_params *p)
{
    memset(p, 0, sizeof *p);
    p->perplexity = 30;
    p->iters = 750;
    p->exag_iters = 250;
    p->exaggeration = 12;
    p->learning_rate = 0;
    p->momentum_early = 0.5;
    p->momentum_late = 0.8;
    p->method = TSNE_AUTO;
    p->exact_below = 1000;
    p->init = TSNE_INIT_PCA;
    p->seed = 1;
    p->interp_points = 2;
    p->min_intervals = 50;
    p->interval_size = 1.0;
}

int tsne_check(const tsne_params *p, size_t n, err *e)
{
    if (n < 2) return err_set(e, "%zu points (expected at least 2)", n);
    if (n > INT32_MAX) return err_set(e, "%zu points (expected at most %d)", n, INT32_MAX);
    if (!(p->perplexity > 0) || !isfinite(p->perplexity))
        return err_set(e, "perplexity %g (expected a positive number)", p->perplexity);
    if ((double)(n - 1) < 3.0 * p->perplexity)
        return err_set(e, "perplexity %g is too large for %zu points (need N - 1 >= 3 * perplexity, so at most %g)",
                       p->perplexity, n, floor((double)(n - 1) / 3.0 * 1000) / 1000);
    if (p->iters < 1 || p->exag_iters < 0 || p->exag_iters > p->iters)
        return err_set(e, "iterations %d with %d exaggerated (expected 0 <= exaggerated <= total, total >= 1)",
                       p->iters, p->exag_iters);
    if (!(p->exaggeration >= 1) || !isfinite(p->exaggeration))
        return err_set(e, "exaggeration %g (expected >= 1)", p->exaggeration);
    if (!isfinite(p->learning_rate)) return err_set(e, "learning rate %g (expected finite)", p->learning_rate);
    if (!(p->momentum_early >= 0 && p->momentum_early < 1 && p->momentum_late >= 0 && p->momentum_late < 1))
        return err_set(e, "momentum %g / %g (expected 0 <= m < 1)", p->momentum_early, p->momentum_late);
    if (p->interp_points < 2 || p->interp_points > 8 || p->min_intervals < 1 || !(p->interval_size > 0))
        return err_set(e, "fft settings %d points, %d intervals, size %g (expected 2..8, >= 1, > 0)",
                       p->interp_points, p->min_intervals, p->interval_size);
    return 0;
}

void tsne_set_threads(int n)
{
    pool_set_threads(n);
    /* OpenBLAS runs single-threaded inside our own parallel loops over fixed blocks: its own
     * threads would split sums differently for different thread counts (and oversubscribe). */
    openblas_set_num_threads(1);
}

int tsne_threads_from_env(void) { return threads_from_env(); }

/* ---- input affinities ---- */

/* Conditional probabilities p_{j|i} over the m distances d (squared) of one point, with the
 * Gaussian bandwidth beta = 1 / (2 sigma^2) found so that the entropy is log(perplexity): Newton
 * steps on the entropy H(beta) (dH/dbeta = -beta Var_p(d)), kept inside the bracket that the
 * steps so far establish and bisected where a step would leave it; 4-6 rounds of m
 * exponentials instead of bisection's 20-30. out: m values summing to 1. */
static void calibrate_row(const float *d, int m, double perplexity, double *out)
{
    if (m < 1) return; /* no neighbours, nothing to normalise (and the sum below would be 0) */
    double target = log(perplexity), beta = 1, lo = 0, hi = INFINITY, dmin = INFINITY, sum = 1;
    for (int j = 0; j < m; j++)
        if (d[j] < dmin) dmin = d[j];
    for (int it = 0; it < 200; it++) {
        double dsum = 0, d2sum = 0;
        sum = 0;
        /* Distances shifted by the smallest: the same normalised p, no underflow of all terms. */
        for (int j = 0; j < m; j++) {
            double u = d[j] - dmin, v = exp(-beta * u);
            out[j] = v;
            sum += v;
            dsum += v * u;
            d2sum += v * u * u;
        }
        /* sum >= 1 (the nearest neighbour's term is exp(0)); fmax says so to the linter */
        double mean = dsum / sum, h = log(fmax(sum, 1.0)) + beta * mean;
        if (fabs(h - target) < 1e-5) break;
        /* H decreases with beta: the root lies above beta if H is too high */
        if (h > target) lo = beta;
        else hi = beta;
        double slope = -beta * (d2sum / sum - mean * mean), next = slope < 0 ? beta - (h - target) / slope : NAN;
        if (!(next > lo && next < hi)) next = isinf(hi) ? 2 * beta : 0.5 * (lo + hi);
        beta = next;
    }
    for (int j = 0; j < m; j++) out[j] /= sum;
}

/* Symmetric sparse P in compressed rows: row i's entries are col[ptr[i] .. ptr[i+1]). */
typedef struct sparse_p {
    size_t n, nnz;
    size_t *ptr;
    int32_t *col;
    float *val;
} sparse_p;

static void sparse_free(sparse_p *s)
{
    free(s->ptr);
    free(s->col);
    free(s->val);
}

typedef struct entry {
    int32_t col;
    float v;
} entry;

/* Merges row i's own neighbours (sorted into own, k entries) with row i of the transpose (b..be,
 * sorted), adding the entries they share; writes to col/val (scaled) unless col is NULL.
 * Returns the merged length. */
static size_t merge_row(const entry *own, size_t k, const entry *b, const entry *be, float scale, int32_t *col,
                        float *val)
{
    size_t m = 0, a = 0;
    while (a < k || b < be) {
        int32_t c;
        float v;
        if (b == be || (a < k && own[a].col < b->col)) {
            c = own[a].col;
            v = own[a++].v;
        } else if (a == k || b->col < own[a].col) {
            c = b->col;
            v = (b++)->v;
        } else {
            c = own[a].col;
            v = own[a++].v + (b++)->v;
        }
        if (col) {
            col[m] = c;
            val[m] = v * scale;
        }
        m++;
    }
    return m;
}

/* Rows of the merge in symmetrize: pass 0 counts each row's length into ptr[i + 1], pass 1 writes
 * the rows at ptr[i]. */
typedef struct merge_job {
    const entry *own, *tr;
    const size_t *tstart;
    size_t K;
    float scale;
    sparse_p *s;
    int pass;
} merge_job;

static void merge_rows(void *ctx, int lo, int hi)
{
    const merge_job *j = ctx;
    sparse_p *s = j->s;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        const entry *b = j->tr + j->tstart[i], *be = j->tr + j->tstart[i + 1];
        if (j->pass == 0) s->ptr[i + 1] = merge_row(j->own + i * j->K, j->K, b, be, j->scale, NULL, NULL);
        else merge_row(j->own + i * j->K, j->K, b, be, j->scale, s->col + s->ptr[i], s->val + s->ptr[i]);
    }
}

/* P = (P_cond + P_cond^T) / (2n) from the (n, k) neighbour lists and conditional p. Row i of
 * P_cond^T is built by a counting sort over the rows of nb, so it comes out ordered by column;
 * transposing that back the same way gives row i of P_cond (its own k neighbours) ordered by
 * index. The two are merged, adding the entries they share: once to count the row lengths, once
 * to write the rows in place. */
static void symmetrize(size_t n, int k, const int32_t *nb, const double *pc, sparse_p *s)
{
    const size_t K = (size_t)k;
    size_t *tstart = xcalloc(n + 1, sizeof(size_t));
    for (size_t t = 0; t < n * K; t++) tstart[nb[t] + 1]++;
    for (size_t i = 0; i < n; i++) tstart[i + 1] += tstart[i];
    entry *tr = xmalloc(sizeof(entry) * n * K), *own = xmalloc(sizeof(entry) * n * K);
    size_t *fill = xmalloc(sizeof(size_t) * n);
    memcpy(fill, tstart, sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < K; t++) {
            size_t j = (size_t)nb[i * K + t];
            tr[fill[j]].col = (int32_t)i;
            tr[fill[j]++].v = (float)pc[i * K + t];
        }
    /* row j of the transpose holds (i, p_{j|i}) for the rows i that have j: visiting j in order
     * appends (j, p_{j|i}) to own row i in increasing j */
    for (size_t i = 0; i < n; i++) fill[i] = i * K;
    for (size_t j = 0; j < n; j++)
        for (size_t t = tstart[j]; t < tstart[j + 1]; t++) {
            entry *e = &own[fill[tr[t].col]++];
            e->col = (int32_t)j;
            e->v = tr[t].v;
        }
    free(fill);
    s->n = n;
    s->ptr = xmalloc(sizeof(size_t) * (n + 1));
    const float scale = (float)(1.0 / (2.0 * (double)n));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* ptr[i + 1] holds row i's length: prefix sums give the row starts. */
            s->ptr[0] = 0;
            for (size_t i = 0; i < n; i++) s->ptr[i + 1] += s->ptr[i];
            s->nnz = s->ptr[n];
            s->col = xmalloc(sizeof(int32_t) * s->nnz);
            s->val = xmalloc(sizeof(float) * s->nnz);
        }
        merge_job mj = {own, tr, tstart, K, scale, s, pass};
        rows_for(n, PAR_POINTS, merge_rows, &mj);
    }
    free(tstart);
    free(tr);
    free(own);
}

/* Rows of the calibration: d2 and pc (n, k), each row's p_{j|i} from its distances. */
typedef struct calib_job {
    const float *d2;
    double *pc;
    int k;
    double perplexity;
} calib_job;

static void calibrate_rows(void *ctx, int lo, int hi)
{
    const calib_job *j = ctx;
    const size_t K = (size_t)j->k;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) calibrate_row(j->d2 + i * K, j->k, j->perplexity, j->pc + i * K);
}

/* Sparse P over the k = floor(3 * perplexity) exact nearest neighbours. */
static void sparse_affinities(const float *x, size_t n, int d, double perplexity, sparse_p *s, int *k_out,
                              tsne_stats *st)
{
    int k = (int)floor(3.0 * perplexity);
    if (k > (int)n - 1) k = (int)n - 1;
    if (k < 1) k = 1;
    const size_t K = (size_t)k;
    int32_t *nb = xmalloc(sizeof(int32_t) * n * K);
    float *d2 = xmalloc(sizeof(float) * n * K);
    double t0 = now_seconds();
    tsne_knn(x, n, d, k, nb, d2);
    double t1 = now_seconds();
    double *pc = xmalloc(sizeof(double) * n * K);
    calib_job cj = {d2, pc, k, perplexity};
    rows_for(n, PAR_POINTS, calibrate_rows, &cj);
    double t2 = now_seconds();
    symmetrize(n, k, nb, pc, s);
    double t3 = now_seconds();
    st->seconds_knn = t1 - t0;
    st->seconds_calibrate = t2 - t1;
    st->seconds_symmetrize = t3 - t2;
    st->seconds_affinities = t3 - t1;
    *k_out = k;
    free(nb);
    free(d2);
    free(pc);
}

/* Rows of the dense conditional P: from the Gram matrix g (upper triangle, (n, n)), row i's
 * distances to the others, calibrated, into p (n, n) with p_ii = 0. */
typedef struct dense_job {
    const float *g;
    double *p;
    size_t n;
    double perplexity;
} dense_job;

static void dense_rows(void *ctx, int lo, int hi)
{
    const dense_job *J = ctx;
    const size_t n = J->n;
    const float *g = J->g;
    double *p = J->p;
    float *row = xmalloc(sizeof(float) * n);
    double *pr = xmalloc(sizeof(double) * n);
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            float gij = j > i ? g[i * n + j] : g[j * n + i];
            float v = g[i * n + i] + g[j * n + j] - 2 * gij;
            row[m++] = v > 0 ? v : 0;
        }
        calibrate_row(row, (int)m, J->perplexity, pr);
        m = 0;
        for (size_t j = 0; j < n; j++) p[i * n + j] = j == i ? 0 : pr[m++];
    }
    free(row);
    free(pr);
}

/* Dense symmetric P (n, n) over all pairs, for the exact method. */
static double *dense_affinities(const float *x, size_t n, int d, double perplexity)
{
    /* Squared distances from a Gram matrix: (n, n). */
    float *g = xmalloc(sizeof(float) * n * n);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, d, 1.0f, x, d, 0.0f, g, (int)n);
    double *p = xmalloc(sizeof(double) * n * n);
    dense_job dj = {g, p, n, perplexity};
    rows_for(n, PAR_PAIRS, dense_rows, &dj);
    free(g);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double v = (p[i * n + j] + p[j * n + i]) / (2.0 * (double)n);
            p[i * n + j] = p[j * n + i] = v;
        }
    return p;
}

/* ---- gradients ---- */

/* Attractive forces of rows [i0, i1): att_i = sum_j p_ij w_ij (y_i - y_j), in single precision
 * (a row has ~3 * perplexity terms, float sums lose nothing that matters) so that the loop runs
 * as SIMD gathers; cloned for AVX2+FMA with a plain fallback, picked at load time. yf: (n, 2). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
attract_rows_v3(const sparse_p *s, const float *yf, size_t i0, size_t i1, float *att)
{
    const int32_t *col = s->col;
    const float *val = s->val;
    for (size_t i = i0; i < i1; i++) {
        const float yx = yf[2 * i], yy = yf[2 * i + 1];
        float ax = 0, ay = 0;
        const size_t a = s->ptr[i], b = s->ptr[i + 1];
#pragma omp simd reduction(+ : ax, ay)
        for (size_t t = a; t < b; t++) {
            const size_t j = (size_t)col[t];
            const float dx = yx - yf[2 * j], dy = yy - yf[2 * j + 1];
            const float q = val[t] / (1.0f + dx * dx + dy * dy);
            ax += q * dx;
            ay += q * dy;
        }
        att[2 * i] = ax;
        att[2 * i + 1] = ay;
    }
}

/* attract_rows_v3 on AVX-512, 16 terms a step: each point's (x, y) is gathered as one 64-bit
 * element (two gathers of 8), so a term costs one gathered element instead of two (the gathers
 * and the 512-bit arithmetic, which only two ports run, bound this loop), and the pairs are then
 * split into a vector of x and one of y, so that every arithmetic lane works on a term. Lanes
 * past the row's end have p = 0 and add exact zeros. The lanes' sums are added at the end in a
 * fixed order. */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void attract_rows_v4(const sparse_p *s, const float *yf,
                                                                             size_t i0, size_t i1, float *att)
{
    const int32_t *col = s->col;
    const float *val = s->val;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512d zero = _mm512_setzero_pd();
    for (size_t i = i0; i < i1; i++) {
        const __m512 xi = _mm512_set1_ps(yf[2 * i]), yi = _mm512_set1_ps(yf[2 * i + 1]);
        __m512 ax = _mm512_setzero_ps(), ay = _mm512_setzero_ps();
        const size_t a = s->ptr[i], b = s->ptr[i + 1];
        for (size_t t = a; t < b; t += 16) {
            const int left = b - t < 16 ? (int)(b - t) : 16;
            const __mmask16 m = (__mmask16)((1u << left) - 1);
            const __m512i idx = _mm512_maskz_loadu_epi32(m, col + t);
            const __m512 v = _mm512_maskz_loadu_ps(m, val + t);
            /* masked-off elements are not read: their lanes keep (0, 0) */
            const __m512 lo = _mm512_castpd_ps(
                _mm512_mask_i32gather_pd(zero, (__mmask8)m, _mm512_castsi512_si256(idx), yf, 8));
            const __m512 hi = _mm512_castpd_ps(
                _mm512_mask_i32gather_pd(zero, (__mmask8)(m >> 8), _mm512_extracti64x4_epi64(idx, 1), yf, 8));
            const __m512 dx = _mm512_sub_ps(xi, _mm512_permutex2var_ps(lo, even, hi));
            const __m512 dy = _mm512_sub_ps(yi, _mm512_permutex2var_ps(lo, odd, hi));
            const __m512 den = _mm512_fmadd_ps(dy, dy, _mm512_fmadd_ps(dx, dx, one));
            /* 1 / den: the 14-bit estimate (within 2^-14 relative; a gradient 2e-5 from the exact
             * one, where the interpolated repulsion is 1e-4 to 1e-2 off: a Newton step made the
             * attraction 5 % slower for nothing the KL shows) */
            const __m512 r = _mm512_rcp14_ps(den);
            const __m512 q = _mm512_mul_ps(v, r);
            ax = _mm512_fmadd_ps(q, dx, ax);
            ay = _mm512_fmadd_ps(q, dy, ay);
        }
        att[2 * i] = _mm512_reduce_add_ps(ax);
        att[2 * i + 1] = _mm512_reduce_add_ps(ay);
    }
}

/* 1 if attract_rows_v4 runs here (decided once per process). */
static int g_attract_v4;
static pthread_once_t g_attract_once = PTHREAD_ONCE_INIT;

static _Atomic int g_attract_portable; /* tsne_set_portable */

static void detect_attract_v4(void)
{
    g_attract_v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl");
}

static int attract_v4(void)
{
    pthread_once(&g_attract_once, detect_attract_v4);
    return g_attract_v4 && !g_attract_portable;
}

void tsne_set_portable(int on) { g_attract_portable = on != 0; }

const char *tsne_kernels(void) { return attract_v4() ? "avx512+fftw" : "portable+fftw"; }

/* ---- a team for the repulsion's loops (tsne_fft_set_team) ----
 * The repulsion's steps depend on each other, but each step is a loop over independent items
 * (blocks of points, bands and batches of grid rows and columns). Worker 0 runs the steps; for
 * each loop it publishes the items, takes them itself, and waits only for items already taken
 * by others. The other workers take attractive rows first, then items of whatever loop is open,
 * until worker 0 says the repulsion is over. One 64-bit word holds the loop's number (high half)
 * and its next item (low half), so a worker that read a loop late can never take an item of a
 * later one; the loop's function lives in one of two slots by the parity of its number, written
 * before the number is published. Nobody waits for a thread that has nothing taken, so a
 * descheduled helper costs at most the item it holds. */
typedef struct team_slot {
    void (*_Atomic fn)(void *, int, int);
    void *_Atomic ctx;
    _Atomic int n;
} team_slot;

typedef struct team {
    tsne_team pub; /* first: the tsne_fft_set_team handle */
    _Atomic uint64_t ctr;
    _Atomic int done, over;
    unsigned gen;  /* worker 0's last loop number */
    team_slot slot[2];
    /* other work for whoever would wait: fill(fctx, worker) does one piece and returns 1, or
     * returns 0 when there is none left (the attractive rows) */
    int (*fill)(void *fctx, int worker);
    void *fctx;
} team;

static inline void cpu_relax(void) { __builtin_ia32_pause(); }

/* Item of loop gen (its n items) for the caller, or -1 if that loop is over or has none left. */
static int team_take(team *t, unsigned gen, int n)
{
    uint64_t v = atomic_load_explicit(&t->ctr, memory_order_acquire);
    for (;;) {
        if ((unsigned)(v >> 32) != gen || (int)(uint32_t)v >= n) return -1;
        if (atomic_compare_exchange_weak_explicit(&t->ctr, &v, v + 1, memory_order_acq_rel, memory_order_acquire))
            return (int)(uint32_t)v;
    }
}

static void team_run(tsne_team *pub, int n, void (*fn)(void *, int, int), void *ctx)
{
    team *t = (team *)pub;
    unsigned gen = ++t->gen;
    team_slot *sl = &t->slot[gen & 1];
    atomic_store_explicit(&sl->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&sl->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&sl->n, n, memory_order_relaxed);
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    atomic_store_explicit(&t->ctr, (uint64_t)gen << 32, memory_order_release);
    for (int i; (i = team_take(t, gen, n)) >= 0;) {
        fn(ctx, i, 0);
        atomic_fetch_add_explicit(&t->done, 1, memory_order_acq_rel);
    }
    for (int spins = 0; atomic_load_explicit(&t->done, memory_order_acquire) < n; spins++) {
        if (t->fill && t->fill(t->fctx, 0)) spins = 0;
        else if (spins < 4096) cpu_relax();
        else sched_yield();
    }
}

/* A helper (worker w > 0): its share of the other work first (the attractive rows: helping in
 * the transforms costs more in memory traffic than it saves while there is other work), then
 * items of open loops until worker 0 sets over. */
static void team_help(team *t, int w)
{
    while (t->fill && t->fill(t->fctx, w)) {
    }
    for (int spins = 0; !atomic_load_explicit(&t->over, memory_order_acquire); spins++) {
        uint64_t v = atomic_load_explicit(&t->ctr, memory_order_acquire);
        unsigned gen = (unsigned)(v >> 32);
        team_slot *sl = &t->slot[gen & 1];
        void (*fn)(void *, int, int) = atomic_load_explicit(&sl->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&sl->ctx, memory_order_relaxed);
        int n = atomic_load_explicit(&sl->n, memory_order_relaxed);
        /* fn, ctx and n belong to loop gen if the take below succeeds: the take checks that gen
         * is still open, and its slot is rewritten only two loops later, after gen is done */
        int i = gen ? team_take(t, gen, n) : -1;
        if (i >= 0) {
            fn(ctx, i, w);
            atomic_fetch_add_explicit(&t->done, 1, memory_order_acq_rel);
            spins = 0;
        } else if (spins < 4096) {
            cpu_relax();
        } else {
            sched_yield();
        }
    }
}

/* One gradient evaluation is one loop of the common pool (pool.h) over the workers, a chunk each:
 * worker 0, the caller's chunk (run first, on the calling thread), computes the repulsion, its
 * loops shared with the others through the team once they have taken the blocks of attractive
 * rows; then it takes the blocks left. Blocks and items are fixed, so each point's sums are the
 * same for any thread count. Helpers wait for nothing but worker 0's "over", so a helper's chunk
 * that runs late, or on a thread that already ran another (fewer threads than workers), only
 * finds the work done. (Not OpenMP: libgomp's idle threads spin for long, and on a shared machine
 * 1000 iterations with 2 threads ran slower than with 1; the pool's workers spin briefly, then
 * sleep.) */
#define GRAD_BLOCK 256
#define MAX_WORKERS 256

/* One gradient-descent step: momentum, learning rate, the embedding it moves, and the
 * per-coordinate updates and delta-bar-delta gains that persist between steps ((n, 2) each). */
typedef struct step_args {
    double mom, lr;
    double *y, *upd, *gains;
} step_args;

/* The step of coordinate t for gradient gt: the gain grows where the gradient flips against the
 * last update, shrinks where it keeps its sign (at least 0.01); returns the moved y[t]. */
static inline __attribute__((always_inline)) double step_one(double *restrict y, double *restrict upd,
                                                             double *restrict gains, double mom, double lr, size_t t,
                                                             double gt)
{
    const double u = upd[t];
    double gain = (gt > 0) != (u > 0) ? gains[t] + 0.2 : gains[t] * 0.8;
    gain = gain < 0.01 ? 0.01 : gain;
    gains[t] = gain;
    const double v = mom * u - lr * gain * gt;
    upd[t] = v;
    return y[t] += v;
}

/* The step of coordinates [t0, t1) for the gradient exag * att - rep * iz, with yf getting the
 * moved y in float: on restrict locals, without branches, and marked simd (-O2's cost model
 * would leave it scalar), so that it vectorizes: the same operations as one coordinate at a time. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
step_range(const step_args *st, size_t t0, size_t t1, const float *restrict att, const double *restrict rep,
           double exag, double iz, float *restrict yf)
{
    double *restrict y = st->y, *restrict upd = st->upd, *restrict gains = st->gains;
    const double mom = st->mom, lr = st->lr;
#pragma omp simd
    for (size_t t = t0; t < t1; t++) yf[t] = (float)step_one(y, upd, gains, mom, lr, t, exag * att[t] - rep[t] * iz);
}

/* The step for a gradient g (n, 2) (the exact method's). */
static void step_grad(const step_args *st, size_t n, const double *restrict g)
{
    for (size_t t = 0; t < 2 * n; t++) step_one(st->y, st->upd, st->gains, st->mom, st->lr, t, g[t]);
}

typedef struct grad_job {
    const sparse_p *s;
    tsne_fft *f;
    const double *y;
    float *yf;                /* y in float (attraction); with st, refreshed for the next call */
    size_t n, nblocks;
    size_t next;              /* next attractive block, taken atomically */
    double *rep, z;
    float *att;
    team *tm;                 /* helpers for the repulsion (NULL: worker 0 alone) */
    int v4;                   /* attract_rows_v4 (else _v3) */
    _Atomic size_t att_done;  /* attractive blocks finished */
    double exag, iz;          /* the gradient's exaggeration, and 1 / Z once known */
    double *grad;             /* the gradient's output (no step), else NULL */
    const step_args *st;      /* the descent step to take instead (its y is the y above, and
                               * yf is refreshed from it for the next gradient), else NULL */
    double t_rep, t_att[MAX_WORKERS];
} grad_job;

/* One block of attractive rows, if any is left (the team's filler). */
static int attract_block(void *ctx, int w)
{
    grad_job *j = ctx;
    size_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= j->nblocks) return 0;
    double t0 = now_seconds();
    size_t i1 = (b + 1) * GRAD_BLOCK < j->n ? (b + 1) * GRAD_BLOCK : j->n;
    if (j->v4)
        attract_rows_v4(j->s, j->yf, b * GRAD_BLOCK, i1, j->att);
    else
        attract_rows_v3(j->s, j->yf, b * GRAD_BLOCK, i1, j->att);
    if (w < MAX_WORKERS) j->t_att[w] += now_seconds() - t0;
    atomic_fetch_add_explicit(&j->att_done, 1, memory_order_release);
    return 1;
}

/* The gradient of points [GRAD_BLOCK * b, GRAD_BLOCK * (b + 1)), once both parts are known:
 * stored, or (st) the step taken at once, and the float copy made for the next gradient. */
static void finish_block(void *ctx, int b, int w)
{
    grad_job *j = ctx;
    (void)w;
    const size_t i0 = (size_t)b * GRAD_BLOCK, i1 = i0 + GRAD_BLOCK < j->n ? i0 + GRAD_BLOCK : j->n;
    if (j->st) {
        step_range(j->st, 2 * i0, 2 * i1, j->att, j->rep, j->exag, j->iz, j->yf);
        return;
    }
    const double exag = j->exag, iz = j->iz;
    for (size_t t = 2 * i0; t < 2 * i1; t++) j->grad[t] = exag * j->att[t] - j->rep[t] * iz;
}

/* Worker 0 computes the repulsion (its loops shared through the team), takes the attractive
 * blocks left, waits for those others hold, then shares out the finishing blocks (finish_block)
 * and releases the helpers. The points move only after every attractive block has read them. */
static void grad_worker(void *ctx, int w)
{
    grad_job *j = ctx;
    if (w == 0) {
        double t0 = now_seconds();
        tsne_fft_set_team(j->f, j->tm ? &j->tm->pub : NULL);
        j->z = tsne_fft_repulsion(j->f, j->y, j->n, j->rep);
        tsne_fft_set_team(j->f, NULL);
        j->t_rep = now_seconds() - t0;
        while (attract_block(j, 0)) {
        }
        for (int spins = 0; atomic_load_explicit(&j->att_done, memory_order_acquire) < j->nblocks; spins++) {
            if (spins < 4096) cpu_relax();
            else sched_yield();
        }
        j->iz = 1.0 / j->z;
        if (j->tm) {
            team_run(&j->tm->pub, (int)j->nblocks, finish_block, j);
            atomic_store_explicit(&j->tm->over, 1, memory_order_release);
        } else {
            for (size_t b = 0; b < j->nblocks; b++) finish_block(j, (int)b, 0);
        }
        return;
    }
    if (j->tm) team_help(j->tm, w);
}

/* pool body: workers [w0, w1) of a gradient evaluation. */
static void grad_workers(void *ctx, int w0, int w1)
{
    for (int w = w0; w < w1; w++) grad_worker(ctx, w);
}

/* grad = exag * sum_j p_ij w_ij (y_i - y_j) - rep_i / Z for the sparse P at y; returns Z. yf,
 * att: (n, 2) scratch; yf must hold y in float if yf_fresh. With st (whose y is y), grad is not
 * stored: the step is taken instead, leaving yf fresh for the next call.
 * Adds to tacc[0] the seconds of the repulsive part and to tacc[1] those of the attractive part
 * (summed over the threads that ran it: thread-seconds). */
static double grad_fft(const sparse_p *s, tsne_fft *f, team *tm, const double *y, double exag, double *rep, float *yf,
                       int yf_fresh, float *att, double *grad, const step_args *st, double *tacc)
{
    size_t n = s->n;
    if (!yf_fresh)
        for (size_t t = 0; t < 2 * n; t++) yf[t] = (float)y[t];
    grad_job j;
    memset(&j, 0, sizeof j);
    j.v4 = attract_v4();
    j.s = s;
    j.f = f;
    j.y = y;
    j.yf = yf;
    j.n = n;
    j.nblocks = (n + GRAD_BLOCK - 1) / GRAD_BLOCK;
    j.rep = rep;
    j.att = att;
    j.exag = exag;
    j.grad = grad;
    j.st = st;
    const int workers = tm->pub.workers;
    if (workers > 1) {
        j.tm = tm;
        j.tm->fill = attract_block;
        j.tm->fctx = &j;
        atomic_store_explicit(&j.tm->over, 0, memory_order_relaxed);
        pool_for_chunks(workers, 1, grad_workers, &j);
        j.tm->fctx = NULL; /* j ends here */
    } else {
        grad_worker(&j, 0);
    }
    tacc[0] += j.t_rep;
    for (int w = 0; w < workers && w < MAX_WORKERS; w++) tacc[1] += j.t_att[w];
    return j.z;
}

/* The per-row loops of the exact method and of the KL divergence: each row's result into its own
 * slot (rowz, grad, part), summed afterwards in row order. */
typedef struct pair_job {
    const double *p; /* dense P (n, n), or NULL */
    const sparse_p *s;
    const double *y;
    size_t n;
    double exag, z;
    double *rowz, *grad, *part;
} pair_job;

/* rowz[i] = sum_{j != i} w_ij, w_ij = 1 / (1 + |y_i - y_j|^2). */
static void z_rows(void *ctx, int lo, int hi)
{
    const pair_job *J = ctx;
    const double *y = J->y;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        double s = 0;
        for (size_t j = 0; j < J->n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            s += 1.0 / (1.0 + dx * dx + dy * dy);
        }
        J->rowz[i] = s;
    }
}

/* Z = sum_{i != j} w_ij over all pairs; rowz: n scratch. */
static double exact_z(size_t n, const double *y, double *rowz)
{
    pair_job J = {.y = y, .n = n, .rowz = rowz};
    rows_for(n, PAR_PAIRS, z_rows, &J);
    double z = 0;
    for (size_t i = 0; i < n; i++) z += rowz[i];
    return z;
}

/* grad_i = sum_j (exag p_ij - w_ij / Z) w_ij (y_i - y_j). */
static void grad_rows(void *ctx, int lo, int hi)
{
    const pair_job *J = ctx;
    const double *y = J->y, *p = J->p;
    const size_t n = J->n;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        double gx = 0, gy = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            double w = 1.0 / (1.0 + dx * dx + dy * dy);
            double m = (J->exag * p[i * n + j] - w / J->z) * w;
            gx += m * dx;
            gy += m * dy;
        }
        J->grad[2 * i] = gx;
        J->grad[2 * i + 1] = gy;
    }
}

/* Exact gradient over all pairs (dense P, (n, n)); returns Z. rowz: n scratch. */
static double grad_exact(const double *p, size_t n, const double *y, double exag, double *rowz, double *grad)
{
    pair_job J = {.p = p, .y = y, .n = n, .exag = exag, .grad = grad};
    J.z = exact_z(n, y, rowz);
    rows_for(n, PAR_PAIRS, grad_rows, &J);
    return J.z;
}

/* part[i] = sum_j p_ij (log p_ij + log(1 + |y_i - y_j|^2)) over row i of the sparse P. */
static void kl_sparse_rows(void *ctx, int lo, int hi)
{
    const pair_job *J = ctx;
    const sparse_p *s = J->s;
    const double *y = J->y;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        double a = 0;
        for (size_t t = s->ptr[i]; t < s->ptr[i + 1]; t++) {
            size_t j = (size_t)s->col[t];
            double p = s->val[t];
            if (p <= 0) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            a += p * (log(p) + log1p(dx * dx + dy * dy));
        }
        J->part[i] = a;
    }
}

/* KL(P || Q) for sparse P with normalisation z: sum p log p - sum p log w + log z (sum p = 1). */
static double kl_sparse(const sparse_p *s, const double *y, double z)
{
    size_t n = s->n;
    double *part = xmalloc(sizeof(double) * n), kl = 0;
    pair_job J = {.s = s, .y = y, .n = n, .part = part};
    rows_for(n, PAR_POINTS, kl_sparse_rows, &J);
    for (size_t i = 0; i < n; i++) kl += part[i];
    free(part);
    double psum = 0;
    for (size_t t = 0; t < s->nnz; t++) psum += s->val[t];
    return kl + psum * log(z);
}

/* part[i] = sum_j p_ij (log p_ij + log(1 + |y_i - y_j|^2) + log Z) over row i of the dense P. */
static void kl_dense_rows(void *ctx, int lo, int hi)
{
    const pair_job *J = ctx;
    const double *y = J->y, *p = J->p;
    const size_t n = J->n;
    for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
        double a = 0;
        for (size_t j = 0; j < n; j++) {
            double pij = p[i * n + j];
            if (j == i || pij <= 0) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            a += pij * (log(pij) + log1p(dx * dx + dy * dy) + log(J->z));
        }
        J->part[i] = a;
    }
}

static double kl_dense(const double *p, size_t n, const double *y, double z)
{
    double *part = xmalloc(sizeof(double) * n), kl = 0;
    pair_job J = {.p = p, .y = y, .n = n, .z = z, .part = part};
    rows_for(n, PAR_PAIRS, kl_dense_rows, &J);
    for (size_t i = 0; i < n; i++) kl += part[i];
    free(part);
    return kl;
}

/* ---- initialisation ---- */

static double gauss(uint64_t *s)
{
    double u = ((double)(rng_splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

int tsne_pca_init(const float *x, size_t n, int d, float *out, err *e)
{
    if (d >= 2 && n >= 2) {
        if (tsne_pca(x, n, d, 2, out, e) != 0) return -1;
    } else {
        /* One feature: its centred values, and a deterministic tiny second coordinate. */
        double mean = 0;
        for (size_t i = 0; i < n; i++) mean += x[i * (size_t)d];
        mean /= (double)n;
        uint64_t s = 42;
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = (float)(x[i * (size_t)d] - mean);
            out[2 * i + 1] = (float)(gauss(&s) * 1e-4);
        }
    }
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += out[2 * i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (out[2 * i] - m) * (out[2 * i] - m);
    double sd = sqrt(v / (double)n);
    double sc = sd > 0 ? 1e-4 / sd : 1.0;
    for (size_t t = 0; t < 2 * n; t++) out[t] = (float)(out[t] * sc);
    return 0;
}

/* ---- the run ---- */

typedef struct model {
    tsne_method method;
    sparse_p sp;
    double *dense;
    tsne_fft *fft;
    double *scratch; /* (n, 2) */
    float *yf, *att; /* fft: (n, 2) each, for the attractive forces */
    int yf_fresh;    /* fft: yf holds the embedding model_step left (its next y) */
    team tm;         /* fft: the workers of the gradient iterations (tm.pub.workers of them) */
    double t_grad[2]; /* seconds in the gradient: repulsive, attractive */
} model;

static void model_free(model *m)
{
    sparse_free(&m->sp);
    free(m->dense);
    tsne_fft_free(m->fft);
    free(m->scratch);
    free(m->yf);
    free(m->att);
}

static void model_build(const float *x, size_t n, int d, const tsne_params *p, model *m, tsne_stats *st)
{
    memset(m, 0, sizeof *m);
    m->method = p->method == TSNE_AUTO ? (n < (size_t)p->exact_below ? TSNE_EXACT : TSNE_FFT) : p->method;
    m->scratch = xmalloc(sizeof(double) * 2 * n);
    st->method = m->method;
    if (m->method == TSNE_EXACT) {
        double t0 = now_seconds();
        m->dense = dense_affinities(x, n, d, p->perplexity);
        st->k = (int)n - 1;
        st->seconds_knn = 0;
        st->seconds_affinities = st->seconds_calibrate = now_seconds() - t0;
    } else {
        sparse_affinities(x, n, d, p->perplexity, &m->sp, &st->k, st);
        m->fft = tsne_fft_new(p->interp_points, p->min_intervals, p->interval_size);
        m->yf = xmalloc(sizeof(float) * 2 * n);
        /* Small runs stay on one thread (see PAR_POINTS); the repulsion inside the gradient's loop
         * is serial (the team shares its loops). */
        m->tm.pub.run = team_run;
        m->tm.pub.workers = n >= PAR_POINTS ? pool_threads() : 1;
        tsne_fft_set_parallel(m->fft, 0);
        m->att = xmalloc(sizeof(float) * 2 * n);
    }
}

/* Gradient at y with exaggeration exag; returns Z. */
static double model_grad(model *m, size_t n, const double *y, double exag, double *grad)
{
    if (m->method == TSNE_EXACT) {
        double t0 = now_seconds(), z = grad_exact(m->dense, n, y, exag, m->scratch, grad);
        m->t_grad[1] += now_seconds() - t0;
        return z;
    }
    m->yf_fresh = 0;
    return grad_fft(&m->sp, m->fft, &m->tm, y, exag, m->scratch, m->yf, 0, m->att, grad, NULL, m->t_grad);
}

/* One descent step at y with exaggeration exag (grad: (n, 2) scratch). The fft method takes it
 * inside the gradient's threads, block by block. */
static void model_step(model *m, size_t n, double exag, const step_args *st, double *grad)
{
    if (m->method == TSNE_EXACT) {
        model_grad(m, n, st->y, exag, grad);
        step_grad(st, n, grad);
        return;
    }
    grad_fft(&m->sp, m->fft, &m->tm, st->y, exag, m->scratch, m->yf, m->yf_fresh, m->att, NULL, st, m->t_grad);
    m->yf_fresh = 1;
}

static double model_kl(model *m, size_t n, const double *y)
{
    if (m->method == TSNE_EXACT) return kl_dense(m->dense, n, y, exact_z(n, y, m->scratch));
    tsne_fft_set_parallel(m->fft, 1);
    double z = tsne_fft_repulsion(m->fft, y, n, m->scratch);
    tsne_fft_set_parallel(m->fft, 0);
    return kl_sparse(&m->sp, y, z);
}

int tsne_run(const float *x, size_t n, int d, const tsne_params *p, const float *init_y, float *out,
             tsne_stats *stats, err *e)
{
    if (tsne_check(p, n, e) != 0) return -1;
    tsne_stats st_local = {0}, *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    double *y = xmalloc(sizeof(double) * 2 * n), *upd = xcalloc(2 * n, sizeof(double));
    double *gains = xmalloc(sizeof(double) * 2 * n), *grad = xmalloc(sizeof(double) * 2 * n);
    for (size_t t = 0; t < 2 * n; t++) gains[t] = 1;
    if (init_y) {
        for (size_t t = 0; t < 2 * n; t++) y[t] = init_y[t];
    } else if (p->init == TSNE_INIT_RANDOM) {
        uint64_t s = p->seed;
        for (size_t t = 0; t < 2 * n; t++) y[t] = gauss(&s) * 1e-4;
    } else {
        float *yi = xmalloc(sizeof(float) * 2 * n);
        if (tsne_pca_init(x, n, d, yi, e) != 0) {
            free(yi);
            goto fail;
        }
        for (size_t t = 0; t < 2 * n; t++) y[t] = yi[t];
        free(yi);
    }
    model m;
    model_build(x, n, d, p, &m, st);
    double lr = p->learning_rate > 0 ? p->learning_rate : fmax((double)n / 12.0, 200.0);
    st->learning_rate = lr;
    double t0 = now_seconds();
    for (int it = 0; it < p->iters; it++) {
        int early = it < p->exag_iters;
        double exag = early ? p->exaggeration : 1.0, mom = early ? p->momentum_early : p->momentum_late;
        step_args sa = {mom, lr, y, upd, gains};
        model_step(&m, n, exag, &sa, grad);
        if (p->progress && ((it + 1) % 50 == 0 || it + 1 == p->iters)) {
            double el = now_seconds() - t0, left = el / (it + 1) * (p->iters - it - 1);
            fprintf(stderr, "tsne: iteration %d/%d  KL %.4f%s  %.1fs elapsed, %.1fs left\n", it + 1, p->iters,
                    model_kl(&m, n, y), early ? " (exaggerated phase)" : "", el, left);
        }
    }
    st->seconds_optimize = now_seconds() - t0;
    st->seconds_repulsive = m.t_grad[0];
    st->seconds_attractive = m.t_grad[1];
    if (m.fft) {
        tsne_fft_seconds(m.fft, &st->seconds_interpolate, &st->seconds_fft);
        st->fft_intervals = tsne_fft_intervals(m.fft);
    }
    /* Centred once, at the end: the gradient and the KL do not depend on a translation, and the
     * grid is placed on the embedding's box every iteration. */
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += y[2 * i];
        my += y[2 * i + 1];
    }
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] -= mx;
        y[2 * i + 1] -= my;
    }
    st->kl = model_kl(&m, n, y);
    for (size_t t = 0; t < 2 * n; t++) out[t] = (float)y[t];
    model_free(&m);
    free(y);
    free(upd);
    free(gains);
    free(grad);
    return 0;
fail:
    free(y);
    free(upd);
    free(gains);
    free(grad);
    return -1;
}

int tsne_gradient(const float *x, size_t n, int d, const tsne_params *p, const double *y, double *grad, err *e)
{
    if (tsne_check(p, n, e) != 0) return -1;
    tsne_stats st;
    model m;
    model_build(x, n, d, p, &m, &st);
    model_grad(&m, n, y, 1.0, grad);
    model_free(&m);
    return 0;
}

int tsne_kl(const float *x, size_t n, int d, const tsne_params *p, const float *y, double *kl, err *e)
{
    if (tsne_check(p, n, e) != 0) return -1;
    tsne_stats st;
    model m;
    model_build(x, n, d, p, &m, &st);
    double *yd = xmalloc(sizeof(double) * 2 * n);
    for (size_t t = 0; t < 2 * n; t++) yd[t] = y[t];
    *kl = model_kl(&m, n, yd);
    free(yd);
    model_free(&m);
    return 0;
}

double tsne_knn_agreement(const float *y, size_t n, int dims, const int *labels, int k)
{
    if (n < 2 || k < 1) return 0;
    if ((size_t)k > n - 1) k = (int)n - 1;
    int32_t *nb = xmalloc(sizeof(int32_t) * n * (size_t)k);
    float *d2 = xmalloc(sizeof(float) * n * (size_t)k);
    tsne_knn(y, n, dims, k, nb, d2);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < k; t++) same += labels[nb[i * (size_t)k + (size_t)t]] == labels[i];
    free(nb);
    free(d2);
    return (double)same / ((double)n * k);
}
